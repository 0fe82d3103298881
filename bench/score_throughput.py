"""End-to-end scoring throughput against a reference measured in the same run.

    python bench/score_throughput.py [--bundle DIR] [--pairs 5000] [--reference-pairs 600]
                                     [--backends torch,onnx,onnx-int8,openvino-int8]

Corpus: the shipped corpus documents (data/corpus/documents), repeated and shuffled until they
give at least --pairs (sentence, actor) pairs. Measured on it, in one process:

- actorstance end to end: `inference.score.score` (segmentation, actor matching, model, writing rows)
  with the default config (torch, `scoring.precision: auto`: bf16 where the CPU has native bf16)
- actorstance model only: `Predictor.predict` on the same pairs
- the same two for fp32 torch (when auto is not fp32) and every backend in --backends, with each
  variant's label agreement with fp32 torch (and of the int8 backends with onnx), the export done beforehand
- time from process start to the output file for `actorstance score` on --first-row-docs documents,
  in a subprocess, per backend (the output appears when complete, so this is a small input)
- the reference: `transformers.pipeline("text-classification")` called once per pair, on the same
  marked sentences, with the same encoder weights (a subset of --reference-pairs pairs: it is slow)
- the FP32 floor: FLOPs of the encoder on the pairs' tokens at torch's fp32 matmul speed measured now
  (fused kernels, as ONNX Runtime's, can beat it)

Machines are shared and noisy: read the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build_corpus(target_pairs: int, out: Path, seed: int = 0) -> tuple[int, int]:
    """Write shuffled copies of the shipped documents until they hold `target_pairs` pairs."""
    from inference.actors import ActorDictionary
    from inference.segment import split_sentences

    documents = [json.loads(line) for split in ("train", "dev", "test")
                 for line in open(ROOT / "data/corpus/documents" / f"{split}.jsonl", encoding="utf-8")]
    dictionary = ActorDictionary.from_paths([ROOT / "configs/actors"])
    pairs_of = {}
    for doc in documents:
        mentions = dictionary.find(doc["text"])
        pairs_of[doc["id"]] = sum(len({m.actor_id for m in mentions if s.start <= m.start and m.end <= s.end})
                                  for s in split_sentences(doc["text"]))
    rng = random.Random(seed)
    rows, total, copy = [], 0, 0
    while total < target_pairs:
        rng.shuffle(documents)
        for doc in documents:
            rows.append({**doc, "id": f"{doc['id']}#{copy}"})
            total += pairs_of[doc["id"]]
            if total >= target_pairs:
                break
        copy += 1
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return len(rows), total


def ensure_bundle(bundle: Path) -> Path:
    """Speed does not depend on what the weights learnt: a 2-step bundle is enough when none is given."""
    if (bundle / "model.json").is_file():
        return bundle
    from inference.config import TrainConfig, load_config
    from training.trainer import train

    print(f"no bundle at {bundle}: training a 2-step bundle for timing only", file=sys.stderr)
    config = load_config(ROOT / "configs/train.yaml", TrainConfig,
                         [f"output_dir={bundle}", "training.max_steps=2", "dev=[]"])
    return train(config, show_progress=False)


def first_row_seconds(bundle: Path, small: Path, backend: str, precision: str, threads: int) -> float:
    """Seconds from starting `actorstance score` on the small input to its output file existing."""
    out = small.with_name(f"first_row.{backend}.{precision}.jsonl")
    command = [str(Path(sys.executable).with_name("actorstance")), "score", str(ROOT / "configs/score.yaml"),
               "--quiet", "--set", f"model={bundle}", "--set", f"input.path={small}", "--set", f"output.path={out}",
               "--set", f"actors.paths=[{ROOT / 'configs/actors'}]", "--set", f"scoring.backend={backend}",
               "--set", f"scoring.precision={precision}", "--set", f"scoring.threads={threads}",
               "--set", "scoring.relations=false"]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    while not out.exists() and process.poll() is None:
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    if process.wait() != 0 or not out.exists():
        raise SystemExit(f"`{' '.join(command)}` failed")
    return seconds


def labels_of(path: Path) -> dict[str, list[str]]:
    import pyarrow.parquet as pq

    from inference.labels import TASKS

    table = pq.read_table(path, columns=list(TASKS))
    return {task: table.column(task).to_pylist() for task in TASKS}


def agreement(labels: dict[str, list[str]], reference: dict[str, list[str]]) -> dict[str, float]:
    return {task: round(sum(a == b for a, b in zip(labels[task], reference[task], strict=True))
                        / len(reference[task]), 4) for task in reference}


def matmul_gflops(seconds: float = 2.0) -> float:
    import torch

    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    torch.mm(a, b)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b)
        count += 1
    return 2 * 1024**3 * count / (time.perf_counter() - start) / 1e9


def encoder_flops_per_token(config) -> float:
    """Multiply-adds x 2 of one token through the encoder's dense layers (attention scores excluded)."""
    hidden, inter, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    return 2 * layers * (4 * hidden * hidden + 2 * hidden * inter)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", default=str(ROOT / "runs/bench/model"))
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--reference-pairs", type=int, default=600)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "runs/bench/throughput.json"))
    parser.add_argument("--backends", default="torch,onnx,onnx-int8,openvino-int8",
                        help="comma-separated scoring backends to compare (torch always runs)")
    parser.add_argument("--first-row-docs", type=int, default=10, help="documents of the start-to-first-row run")
    args = parser.parse_args()
    backends = ["torch", *(b for b in args.backends.split(",") if b and b != "torch")]

    import torch
    from transformers import BertForSequenceClassification, pipeline

    from inference.actors import ActorDictionary
    from inference.config import ScoreConfig
    from inference.encoding import encode_pairs, mark_actor
    from inference.io import read_rows
    from inference.predict import Predictor, resolve_precision
    from inference.score import DocumentPairer, load_predictor, score

    torch.set_num_threads(args.threads)
    bundle = ensure_bundle(Path(args.bundle))
    work = Path(tempfile.mkdtemp(prefix="actorstance-bench-"))
    docs, expected_pairs = build_corpus(args.pairs, work / "docs.jsonl")

    # every scoring variant: name -> (backend, torch precision); the torch default (precision auto) is bf16 on
    # CPUs with native bf16, and then fp32 torch is measured too, as the reference the labels are compared with
    variants = {"torch": ("torch", "auto")}
    if resolve_precision("auto", torch.device("cpu")) != "fp32":
        variants["torch-fp32"] = ("torch", "fp32")
    variants.update({b: (b, "auto") for b in backends[1:]})
    fp32_name = "torch-fp32" if "torch-fp32" in variants else "torch"

    def config_for(name: str) -> ScoreConfig:
        backend, precision = variants[name]
        return ScoreConfig.model_validate({
            "model": str(bundle), "input": {"path": str(work / "docs.jsonl")},
            "output": {"path": str(work / f"scored.{name}.parquet")},
            "actors": {"paths": [str(ROOT / "configs/actors")]},
            # per-actor work only, as the reference does; relations would add their own dyad passes
            "scoring": {"threads": args.threads, "backend": backend, "precision": precision, "relations": False},
        })

    config = config_for(fp32_name)
    predictor = Predictor.from_bundle(bundle, threads=args.threads)
    pairer = DocumentPairer(config, ActorDictionary.from_paths(config.actors.paths))
    pairs = [p.model_input() for row in read_rows(config.input.path) for p in pairer.pairs(row)[0]]
    tokens = sum(len(ids) for ids in encode_pairs(predictor.tokenizer, pairs, predictor.info.encoding))

    # reference: the same encoder as a sequence classifier, pipeline called once per pair
    reference_model = BertForSequenceClassification(predictor.model.encoder.config)
    reference_model.bert.load_state_dict(predictor.model.encoder.state_dict(), strict=False)
    reference_model.eval()
    classify = pipeline("text-classification", model=reference_model, tokenizer=predictor.tokenizer, device=-1)
    subset = random.Random(1).sample(pairs, min(args.reference_pairs, len(pairs)))
    marked = [mark_actor(p.text, p.spans, predictor.info.encoding, p.actor_type) for p in subset]
    classify(marked[0])
    started = time.perf_counter()
    for text in marked:
        classify(text)
    reference = time.perf_counter() - started

    per_backend, labels, summaries = {}, {}, {}
    for name in sorted(variants, key=lambda n: n != fp32_name):  # the fp32 labels first
        backend, precision = variants[name]
        if backend == "torch":  # precision only switches autocast: the loaded model serves every torch variant
            model = Predictor(predictor.model, predictor.tokenizer, threads=args.threads, precision=precision)
        else:
            model = load_predictor(config_for(name))
        started = time.perf_counter()
        model.predict(pairs)
        model_seconds = time.perf_counter() - started
        name_config = config_for(name)
        started = time.perf_counter()
        summaries[name] = score(name_config, show_progress=False)
        seconds = time.perf_counter() - started
        labels[name] = labels_of(Path(name_config.output.path))
        per_backend[name] = {"end_to_end_pairs_per_s": round(summaries[name].pairs / seconds, 1),
                             "model_only_pairs_per_s": round(len(pairs) / model_seconds, 1)}
        if backend == "torch":
            per_backend[name]["precision"] = model.precision
        if name != fp32_name:
            per_backend[name]["label_agreement_vs_torch_fp32"] = agreement(labels[name], labels[fp32_name])
        if name.endswith("-int8") and "onnx" in labels:
            per_backend[name]["label_agreement_vs_onnx"] = agreement(labels[name], labels["onnx"])
    summary = summaries["torch"]
    small = work / "first_row.jsonl"
    with open(work / "docs.jsonl", encoding="utf-8") as docs_file:
        small.write_text("".join(islice(docs_file, args.first_row_docs)), encoding="utf-8")
    reference_rate = round(len(subset) / reference, 1)
    for name, figures in per_backend.items():
        figures["ratio_end_to_end_vs_reference"] = round(figures["end_to_end_pairs_per_s"] / reference_rate, 2)
        figures["ratio_end_to_end_vs_torch"] = round(
            figures["end_to_end_pairs_per_s"] / per_backend["torch"]["end_to_end_pairs_per_s"], 2)
        figures["first_row_seconds"] = round(first_row_seconds(bundle, small, *variants[name], args.threads), 2)

    gflops = matmul_gflops()
    flops = encoder_flops_per_token(predictor.model.encoder.config) * tokens
    result = {
        "documents": docs, "pairs": summary.pairs, "tokens_per_pair": round(tokens / len(pairs), 1),
        "threads": args.threads,
        "end_to_end_pairs_per_s": per_backend["torch"]["end_to_end_pairs_per_s"],
        "model_only_pairs_per_s": per_backend["torch"]["model_only_pairs_per_s"],
        "reference_pipeline_per_pair_pairs_per_s": reference_rate,
        "matmul_gflops": round(gflops, 1),
        "fp32_floor_pairs_per_s": round(len(pairs) / (flops / (gflops * 1e9)), 1),
        "gflop_per_pair": round(flops / len(pairs) / 1e9, 3),
    }
    result["ratio_end_to_end_vs_reference"] = round(
        result["end_to_end_pairs_per_s"] / result["reference_pipeline_per_pair_pairs_per_s"], 2)
    fp32_model_only = per_backend[fp32_name]["model_only_pairs_per_s"]
    result["fp32_model_only_share_of_floor"] = round(fp32_model_only / result["fp32_floor_pairs_per_s"], 2)
    result["backends"] = per_backend
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    width = max([len(k) for k in result] + [len(f"{b}.{k}") for b, figures in per_backend.items() for k in figures])
    for key, value in result.items():
        if key != "backends":
            print(f"{key:<{width}}  {value}")
    for backend, figures in per_backend.items():
        for key, value in figures.items():
            print(f"{backend + '.' + key:<{width}}  {value}")
    if expected_pairs != summary.pairs:
        print(f"note: corpus builder counted {expected_pairs} pairs, scoring found {summary.pairs}", file=sys.stderr)


if __name__ == "__main__":
    main()

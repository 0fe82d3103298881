"""K-fold cross-validation over one labelled set, folds by sentence.

    python -m training.crossval configs/train.yaml --data ../shared/datasets/confli_cameo/train.jsonl \\
        --name cameo --folds 5 --tasks stance --set training.epochs=3 --set labels.relation=null

Every pair of a sentence goes to the same fold (scikit-learn's GroupKFold over the sentence text),
so no test sentence is seen in training with another actor marked. For fold k the model trains on
the config's training sets plus the other folds; a tenth of those other folds' sentences is held
out as the dev set that picks the best epoch and fits the calibration, so fold k is used for
nothing but the score. Runs go to runs/crossval/NAME/fold-K (a fold whose scores exist is not
trained again); the per-fold and mean ± std macro-F1 are printed and written to
runs/crossval/NAME/results.json and results.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sklearn.model_selection import GroupKFold, GroupShuffleSplit

from inference.config import DataSource, TrainConfig, load_config
from inference.predict import Predictor

from .data import read_source
from .metrics import spread
from .trainer import evaluate_pairs, train

INNER_DEV_SHARE = 0.1


def split_lines(lines: list[str], folds: int, seed: int) -> list[tuple[list[int], list[int], list[int]]]:
    """(train, inner dev, test) line indices per fold, all pairs of one sentence on the same side."""
    groups = [json.loads(line)["text"] for line in lines]
    splits = []
    outer = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for rest, test in outer.split(lines, groups=groups):
        inner = GroupShuffleSplit(n_splits=1, test_size=INNER_DEV_SHARE, random_state=seed)
        train_part, dev_part = next(inner.split(rest, groups=[groups[i] for i in rest]))
        splits.append(([int(rest[i]) for i in train_part], [int(rest[i]) for i in dev_part], [int(i) for i in test]))
    return splits


def run_fold(config_path: str, overrides: list[str], lines: list[str], split, tasks: list[str],
             out: Path) -> dict:
    """Train on the config's sets plus this fold's training lines; scores on its test lines."""
    scores_path = out / "scores.json"
    if scores_path.is_file():
        return json.loads(scores_path.read_text())
    out.mkdir(parents=True, exist_ok=True)
    for name, indices in zip(("train", "dev", "test"), split, strict=True):
        (out / f"{name}.jsonl").write_text("".join(lines[i] for i in indices), encoding="utf-8")
    base = load_config(config_path, TrainConfig, overrides)
    sources = [s.model_dump() for s in base.train] + [{"path": str(out / "train.jsonl"), "tasks": tasks}]
    config = TrainConfig.model_validate({
        **base.model_dump(), "output_dir": str(out / "model"), "train": sources,
        "dev": [{"path": str(out / "dev.jsonl"), "tasks": tasks}],
    })
    bundle = train(config, show_progress=False)
    predictor = Predictor.from_bundle(bundle, threads=config.training.threads)
    test_pairs = read_source(DataSource(path=str(out / "test.jsonl"), tasks=tasks), predictor.info.labels)
    metrics, _ = evaluate_pairs(predictor, test_pairs, [])
    scores = {task: {"macro_f1": m["macro_f1"], "accuracy": m["accuracy"], "n": len(test_pairs)}
              for task, m in metrics.items()}
    scores_path.write_text(json.dumps(scores, indent=2) + "\n")
    return scores


def summarise(per_fold: list[dict]) -> dict:
    summary = {}
    for task in per_fold[0]:
        for metric in ("macro_f1", "accuracy"):
            summary.setdefault(task, {})[metric] = spread([fold[task][metric] for fold in per_fold], "folds")
    return summary


def render(name: str, data: str, summary: dict) -> str:
    lines = [f"{name}: {len(next(iter(summary.values()))['macro_f1']['folds'])}-fold cross-validation over {data}"
             " (folds by sentence; mean ± sample std)", "", "| task | macro-F1 | accuracy | per-fold macro-F1 |",
             "|---|---|---|---|"]
    for task, metrics in summary.items():
        f1, acc = metrics["macro_f1"], metrics["accuracy"]
        lines.append(f"| {task} | {f1['mean']:.3f} ± {f1['std']:.3f} | {acc['mean']:.3f} ± {acc['std']:.3f} | "
                     + ", ".join(f"{v:.3f}" for v in f1["folds"]) + " |")
    return "\n".join(lines)


def run_crossval(config_path: str, data: str, name: str, folds: int, tasks: list[str], seed: int,
                 overrides: list[str], root: str = "runs/crossval") -> dict:
    lines = [line if line.endswith("\n") else line + "\n" for line in open(data, encoding="utf-8") if line.strip()]
    out = Path(root) / name
    per_fold = []
    for k, split in enumerate(split_lines(lines, folds, seed), 1):
        per_fold.append(run_fold(config_path, overrides, lines, split, tasks, out / f"fold-{k}"))
        print(f"fold {k}: " + ", ".join(f"{t} macro-F1 {s['macro_f1']:.3f}" for t, s in per_fold[-1].items()),
              flush=True)
    summary = summarise(per_fold)
    (out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "results.md").write_text(render(name, data, summary) + "\n")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="training config: its training sets are kept, its dev sets replaced")
    parser.add_argument("--data", required=True, help="labelled JSONL set to cross-validate over")
    parser.add_argument("--name", required=True)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--tasks", default="stance,sentiment", help="tasks the set labels (comma-separated)")
    parser.add_argument("--seed", type=int, default=13, help="seed of the fold assignment")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    tasks = [t for t in args.tasks.split(",") if t]
    summary = run_crossval(args.config, args.data, args.name, args.folds, tasks, args.seed, args.overrides)
    print(render(args.name, args.data, summary))


if __name__ == "__main__":
    main()

"""`actorstance evaluate`: metrics of a model bundle on named labelled sets."""

from __future__ import annotations

from pathlib import Path

import torch

from inference.config import EvaluateConfig
from inference.io import write_json
from inference.predict import Predictor

from .data import read_pairs
from .metrics import label_targets, task_metrics


def set_metrics(predictor: Predictor, pairs) -> dict:
    """{task: metrics} for the tasks this set labels (others skipped, not zero)."""
    probs = predictor.predict([p.model_input() for p in pairs])
    out = {}
    for task, names in predictor.info.labels.items():
        rows, targets = label_targets(pairs, task, names)
        if len(rows):
            out[task] = task_metrics(names, targets, probs[task][rows])
    return out


def evaluate(config: EvaluateConfig, compare: str | None = None, show_progress: bool = True) -> Path:
    if config.threads:
        torch.set_num_threads(config.threads)
    predictor = Predictor.from_bundle(config.model, config.batch_size)
    labels = predictor.info.labels
    sets = {name: read_pairs(path, labels) for name, path in config.sets.items()}
    metrics = {name: set_metrics(predictor, pairs) for name, pairs in sets.items()}
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "metrics.json", metrics)
    return out

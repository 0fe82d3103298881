"""Classification metrics per task (scikit-learn), shared by training and evaluation."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from .calibration import expected_calibration_error


def task_metrics(labels: list[str], targets: np.ndarray, probs: np.ndarray) -> dict:
    """n, accuracy, macro-F1, macro-F1 over non-neutral classes, per-class P/R/F1, ECE."""
    predicted = probs.argmax(axis=1)
    indices = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        targets, predicted, labels=indices, zero_division=0
    )
    polar = [i for i, name in enumerate(labels) if name not in ("neutral", "none")]
    return {
        "n": int(len(targets)),
        "accuracy": float(accuracy_score(targets, predicted)),
        "macro_f1": float(f1_score(targets, predicted, labels=indices, average="macro", zero_division=0)),
        "macro_f1_polar": float(f1_score(targets, predicted, labels=polar, average="macro", zero_division=0)),
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(labels)
        },
        "ece": expected_calibration_error(probs, targets),
    }


def label_targets(pairs, task: str, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the pairs labelled for `task` and their label ids."""
    rows = [i for i, p in enumerate(pairs) if p.labels.get(task) is not None]
    targets = np.array([labels.index(pairs[i].labels[task]) for i in rows], dtype=np.int64)
    return np.array(rows, dtype=np.int64), targets


def _macro_f1_from_confusion(confusion: np.ndarray) -> np.ndarray:
    """Macro-F1 for a stack of confusion matrices (..., k, k); classes absent from both sides count 0."""
    tp = np.diagonal(confusion, axis1=-2, axis2=-1).astype(float)
    predicted = confusion.sum(axis=-2)
    actual = confusion.sum(axis=-1)
    denominator = predicted + actual
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return f1.mean(axis=-1)


def bootstrap_samples(n: int, resamples: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def bootstrap_scores(targets: np.ndarray, predicted: np.ndarray, k: int, samples: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy and macro-F1 of each bootstrap resample (rows of `samples` index the pairs)."""
    t, p = targets[samples], predicted[samples]
    codes = t * k + p
    confusion = np.stack([np.bincount(row, minlength=k * k) for row in codes]).reshape(-1, k, k)
    return {"accuracy": (t == p).mean(axis=1), "macro_f1": _macro_f1_from_confusion(confusion)}


def interval(values: np.ndarray, level: float = 0.95) -> list[float]:
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return [float(low), float(high)]


def spread(values: list[float], key: str) -> dict:
    """Mean and sample standard deviation of repeated runs (0 for one run), with the runs under `key`."""
    return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            key: values}

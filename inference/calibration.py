"""Calibrated probabilities from logits, the same for every backend (numpy only).

Two steps, both fitted on dev by training and stored in the bundle per head:

1. temperature scaling (Guo et al., 2017): softmax(logits / T);
2. a beta map of the top-label confidence (Kull et al., 2017), c' = sigmoid(a ln c - b ln(1 - c) + m),
   with the other classes rescaled to keep the row's sum. A temperature stretches every confidence
   alike; the beta map can raise high confidences and lower middling ones in the same head, which is
   the shape the larger encoders' heads have.

Calibration never changes the predicted label: the top class always keeps the largest probability.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# the top class stays this much (relative) above the runner-up, so argmax cannot flip by rounding
_TOP_MARGIN = 1e-6


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def beta_map(confidence: np.ndarray, params: Sequence[float]) -> np.ndarray:
    a, b, m = params
    c = np.clip(confidence, 1e-12, 1 - 1e-12)
    return 1.0 / (1.0 + np.exp(-(a * np.log(c) - b * np.log1p(-c) + m)))


def lowest_top_confidence(probs: np.ndarray) -> np.ndarray:
    """The smallest top-class probability that, rescaling the others, still leaves it the largest."""
    ordered = np.sort(probs, axis=-1)
    top, runner_up = ordered[:, -1], ordered[:, -2]
    return runner_up / (1.0 - top + runner_up) * (1.0 + _TOP_MARGIN)


def with_top_confidence(probs: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """`probs` with the top class set to `confidence` (kept the largest) and the rest scaled to fill the row."""
    top = probs.argmax(axis=-1)
    rows = np.arange(len(probs))
    old = probs[rows, top]
    new = np.where(old >= 1.0, 1.0, np.maximum(confidence, lowest_top_confidence(probs)))
    scaled = probs * ((1.0 - new) / np.maximum(1.0 - old, np.finfo(np.float64).tiny))[:, None]
    scaled[rows, top] = new
    return scaled


def calibrated(logits: np.ndarray, temperature: float = 1.0, confidence_map: Sequence[float] | None = None
               ) -> np.ndarray:
    """Calibrated probabilities (rows sum to 1) from raw logits of one head, in the logits' dtype."""
    probs = softmax(np.asarray(logits, dtype=np.float64) / temperature)
    if confidence_map:
        probs = with_top_confidence(probs, beta_map(probs.max(axis=-1), confidence_map))
    return probs.astype(np.asarray(logits).dtype, copy=False)

"""Temperature scaling (Guo et al., 2017) and expected calibration error."""

from __future__ import annotations

import numpy as np
import torch


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The temperature T > 0 that minimises the negative log-likelihood of softmax(logits / T)."""
    logits_t = torch.as_tensor(logits, dtype=torch.float64)
    targets_t = torch.as_tensor(targets, dtype=torch.long)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits_t / log_t.exp(), targets_t)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(np.clip(log_t.exp().item(), 0.05, 20.0))


def expected_calibration_error(probs: np.ndarray, targets: np.ndarray, bins: int = 15) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == targets
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(ece)


def ece_noise_floor(probs: np.ndarray, bins: int = 15, resamples: int = 100, seed: int = 0) -> float:
    """The mean ECE of a perfectly calibrated model with these confidences on this many pairs.

    Labels are drawn from `probs` itself, so calibration is exact by construction; what the estimator
    still reads is its small-sample bias. An ECE near this floor is as calibrated as the data can show.
    """
    rng = np.random.default_rng(seed)
    cumulative = probs.cumsum(axis=1)
    last = probs.shape[1] - 1
    draws = (np.minimum((rng.random(len(probs))[:, None] > cumulative).sum(axis=1), last) for _ in range(resamples))
    return float(np.mean([expected_calibration_error(probs, drawn, bins) for drawn in draws]))

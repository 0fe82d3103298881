"""Fitting the calibration that inference.calibration applies, and expected calibration error."""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import minimize

from inference.calibration import beta_map, calibrated, lowest_top_confidence, softmax

# three parameters fitted on fewer pairs follow their noise; one temperature does not
CONFIDENCE_MAP_MIN_PAIRS = 300


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


def fit_confidence_map(logits: np.ndarray, targets: np.ndarray, temperature: float) -> list[float]:
    """The beta map (a, b, m), a, b >= 0, of the top-label confidence after `temperature`, by likelihood.

    The fit sees the floor `with_top_confidence` applies (the top class stays the largest), so it is
    not pulled by confidences it could never give.
    """
    probs = softmax(np.asarray(logits, dtype=np.float64) / temperature)
    confidence, floor = probs.max(axis=1), lowest_top_confidence(probs)
    correct = probs.argmax(axis=1) == targets

    def negative_log_likelihood(params: np.ndarray) -> float:
        p = np.clip(np.maximum(beta_map(confidence, params), floor), 1e-9, 1 - 1e-9)
        return -float(np.mean(np.where(correct, np.log(p), np.log1p(-p))))

    identity = np.array([1.0, 1.0, 0.0])  # sigmoid(ln c - ln(1 - c)) = c
    fitted = minimize(negative_log_likelihood, identity, method="L-BFGS-B",
                      bounds=[(0.0, None), (0.0, None), (None, None)])
    return [float(v) for v in fitted.x]


def fit_calibration(logits: np.ndarray, targets: np.ndarray) -> tuple[float, list[float]]:
    """Temperature, then the confidence map on top of it (empty: none) where dev has pairs enough for it."""
    temperature = fit_temperature(logits, targets)
    if len(targets) < CONFIDENCE_MAP_MIN_PAIRS:
        return temperature, []
    return temperature, fit_confidence_map(logits, targets, temperature)


def cross_fitted_ece(logits: np.ndarray, targets: np.ndarray, folds: int = 5, seed: int = 0) -> float | None:
    """ECE of calibration fitted on the other folds of dev: what it is worth on pairs it never saw.

    The ECE of calibration fitted and measured on the same dev pairs flatters a flexible calibrator.
    None where dev has fewer pairs than folds.
    """
    if len(targets) < folds:
        return None
    order = np.random.default_rng(seed).permutation(len(targets))
    probs = np.zeros(logits.shape, dtype=np.float64)
    for k in range(folds):
        held_out, fit_on = order[k::folds], np.concatenate([order[j::folds] for j in range(folds) if j != k])
        temperature, confidence_map = fit_calibration(logits[fit_on], targets[fit_on])
        probs[held_out] = calibrated(logits[held_out], temperature, confidence_map)
    return expected_calibration_error(probs, targets)

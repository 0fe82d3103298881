"""Temperature scaling, expected calibration error and the ECE noise floor."""

import numpy as np
import pytest

from inference.calibration import softmax
from training.calibration import ece_noise_floor, expected_calibration_error, fit_temperature


def drawn_labels(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.array([rng.choice(probs.shape[1], p=row) for row in probs])


def test_fit_temperature_recovers_the_temperature_that_generated_the_labels():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=4.0, size=(4000, 3))
    labels = drawn_labels(softmax(logits / 2.5), rng)
    assert fit_temperature(logits, labels) == pytest.approx(2.5, rel=0.1)


def test_ece_by_hand():
    # two bins: confidence 0.9 with 1 of 2 right, confidence 0.6 with 2 of 2 right
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    targets = np.array([0, 1, 0, 1])
    assert expected_calibration_error(probs, targets) == pytest.approx(0.5 * 0.4 + 0.5 * 0.4)


def test_ece_noise_floor_is_zero_for_certain_predictions():
    probs = np.eye(3)[np.arange(300) % 3]
    assert ece_noise_floor(probs) == 0.0


def test_ece_noise_floor_matches_calibrated_labels_and_shrinks_with_more_pairs():
    rng = np.random.default_rng(1)
    probs = softmax(rng.normal(scale=2.0, size=(3000, 3)))
    small, large = ece_noise_floor(probs[:300]), ece_noise_floor(probs)
    assert large < small / 2
    observed = np.mean([expected_calibration_error(probs[:300], drawn_labels(probs[:300], rng)) for _ in range(50)])
    assert observed == pytest.approx(small, rel=0.25)

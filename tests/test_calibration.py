"""Temperature scaling, the top-label confidence map, expected calibration error and the ECE noise floor."""

import numpy as np
import pytest

from inference.bundle import ModelInfo
from inference.calibration import beta_map, calibrated, softmax
from inference.encoding import EncodingSettings
from training.calibration import (
    CONFIDENCE_MAP_MIN_PAIRS,
    cross_fitted_ece,
    ece_noise_floor,
    expected_calibration_error,
    fit_calibration,
    fit_temperature,
)


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


def draws_with_true_confidence(logits: np.ndarray, true_confidence: np.ndarray, rng) -> np.ndarray:
    """Labels that equal the argmax with probability `true_confidence`, else one of the other classes."""
    predicted = logits.argmax(axis=1)
    wrong = (predicted + rng.integers(1, logits.shape[1], size=len(logits))) % logits.shape[1]
    return np.where(rng.random(len(logits)) < true_confidence, predicted, wrong)


def test_confidence_map_fixes_what_one_temperature_cannot():
    # the shape of the larger encoder's stance head: sure answers under-confident, middling ones over-confident
    rng = np.random.default_rng(2)
    logits = rng.normal(scale=3.0, size=(6000, 3))
    generator = [0.0, 1.7, -1.87]
    labels = draws_with_true_confidence(logits, beta_map(softmax(logits).max(axis=1), generator), rng)
    fit, fresh = slice(0, 3000), slice(3000, None)
    temperature, confidence_map = fit_calibration(logits[fit], labels[fit])
    with_map = expected_calibration_error(calibrated(logits[fresh], temperature, confidence_map), labels[fresh])
    temperature_only = expected_calibration_error(calibrated(logits[fresh], temperature), labels[fresh])
    assert temperature_only > 0.04
    assert with_map < temperature_only / 2
    assert with_map < 0.025


def test_calibration_never_changes_the_predicted_label_and_rows_sum_to_one():
    rng = np.random.default_rng(3)
    logits = np.concatenate([rng.normal(scale=2.0, size=(2000, 3)), [[50.0, -50.0, 0.0], [1.0, 1.0, 0.0]]])
    for confidence_map in ([0.0, 0.0, -5.0], [0.0, 3.0, 2.0], [2.0, 0.5, 0.0]):  # pulls far down, far up, odd
        probs = calibrated(logits.astype(np.float32), 1.3, confidence_map)
        assert probs.dtype == np.float32
        assert (probs.argmax(axis=1) == logits.argmax(axis=1)).all()
        assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
        assert (probs >= 0).all()


def test_no_confidence_map_from_a_small_dev_set_and_old_bundles_have_none():
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(CONFIDENCE_MAP_MIN_PAIRS - 1, 3))
    temperature, confidence_map = fit_calibration(logits, logits.argmax(axis=1))
    assert confidence_map == []
    assert np.allclose(calibrated(logits, temperature, confidence_map), softmax(logits / temperature))
    old = ModelInfo(labels={"stance": ["a", "b"]}, encoding=EncodingSettings()).to_dict()
    del old["confidence_maps"]
    assert ModelInfo.from_dict(old).confidence_maps == {}


def test_cross_fitted_ece_calibrates_each_fold_from_the_others():
    rng = np.random.default_rng(5)
    logits = rng.normal(scale=4.0, size=(1500, 3))
    labels = drawn_labels(softmax(logits / 2.5), rng)  # over-confident by a temperature of 2.5
    uncalibrated = expected_calibration_error(softmax(logits), labels)
    floor = ece_noise_floor(softmax(logits / 2.5))
    assert uncalibrated > 0.1
    assert cross_fitted_ece(logits, labels) < floor + 0.01

"""Realized performance with bootstrap intervals, and CBPE estimates checked against labels."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tabops.monitor.performance import (
    BINARY_METRICS,
    Calibrator,
    estimated_binary,
    realized_binary,
    realized_regression,
)


def _calibrated(rows: int, seed: int, skew: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Scores that are true probabilities, and labels drawn from them."""
    rng = np.random.default_rng(seed)
    p = rng.beta(1.0, 4.0 * skew, rows)
    return (rng.random(rows) < p).astype(int), p


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("metric", BINARY_METRICS)
def test_estimates_of_calibrated_scores_match_the_labels(metric: str, seed: int) -> None:
    truth, score = _calibrated(5_000, seed)
    realized = realized_binary(truth, score, metric, 0.3, seed)
    estimated = estimated_binary(score, metric, 0.3)
    # Labels drawn from the scores vary by chance: the estimate must sit within the realized
    # value's sampling error (the width of its 95% interval is about four standard errors).
    assert realized.low is not None and realized.high is not None
    assert abs(estimated.value - realized.value) <= realized.high - realized.low, (
        estimated,
        realized,
    )


def test_calibrating_on_reference_rows_fixes_scores_that_are_not_probabilities() -> None:
    truth, p = _calibrated(20_000, 1)
    distorted = p**3  # the same ranking, but far from probabilities
    ref, cur = slice(0, 10_000), slice(10_000, None)
    calibrate = Calibrator(truth[ref], distorted[ref])
    realized = realized_binary(truth[cur], distorted[cur], "accuracy", 0.01)
    raw = estimated_binary(distorted[cur], "accuracy", 0.01)
    fixed = estimated_binary(distorted[cur], "accuracy", 0.01, calibrate)
    assert abs(fixed.value - realized.value) < 0.02
    assert abs(raw.value - realized.value) > 0.04  # without calibration it is off


def test_covariate_shift_moves_the_estimate_with_the_realized_value() -> None:
    # A population with more high scores: AUC changes, and the estimate follows it.
    truth_a, score_a = _calibrated(8_000, 2, skew=1.0)
    truth_b, score_b = _calibrated(8_000, 3, skew=0.3)
    for truth, score in ((truth_a, score_a), (truth_b, score_b)):
        estimate = estimated_binary(score, "roc_auc", 0.5).value
        assert abs(estimate - roc_auc_score(truth, score)) < 0.02
    assert abs(roc_auc_score(truth_a, score_a) - roc_auc_score(truth_b, score_b)) > 0.02


def test_bootstrap_interval_covers_the_value_and_narrows_with_rows() -> None:
    truth, score = _calibrated(4_000, 4)
    small = realized_binary(truth[:400], score[:400], "roc_auc", 0.5)
    large = realized_binary(truth, score, "roc_auc", 0.5)
    for estimate in (small, large):
        assert estimate.low is not None and estimate.high is not None
        assert estimate.low <= estimate.value <= estimate.high
    assert small.low is not None and small.high is not None
    assert large.low is not None and large.high is not None
    assert large.high - large.low < small.high - small.low


def test_one_class_windows_have_no_auc_and_no_interval() -> None:
    estimate = realized_binary(np.zeros(50, int), np.linspace(0, 1, 50), "roc_auc", 0.5)
    assert np.isnan(estimate.value) and estimate.low is None
    assert np.isnan(estimated_binary(np.zeros(10), "roc_auc", 0.5).value)


def test_regression_errors_and_unknown_metrics() -> None:
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    assert realized_regression(truth, truth + 2, "mae").value == 2.0
    assert realized_regression(truth, truth + 2, "rmse").value == 2.0
    assert realized_regression(truth, truth, "r2").value == 1.0
    assert realized_regression(truth, np.full(4, truth.mean()), "r2").value == 0.0
    with pytest.raises(ValueError, match="use one of"):
        realized_binary(truth, truth, "brier", 0.5)

"""Prediction drift: the scores' distribution and the predicted-positive rate."""

from __future__ import annotations

import numpy as np
import pytest

from tabops.monitor.prediction import positive_rate, prediction_drift
from tabops.monitor.sketches import NumericSketch


def _scores(values: np.ndarray) -> NumericSketch:
    sketch = NumericSketch()
    sketch.update(values)
    return sketch


def test_scores_of_a_shifted_population_drift() -> None:
    rng = np.random.default_rng(0)
    reference = rng.beta(2, 8, size=50_000)
    same, shifted = rng.beta(2, 8, size=30_000), rng.beta(3, 7, size=30_000)

    steady = prediction_drift(_scores(reference), _scores(same), threshold=0.5)
    moved = prediction_drift(_scores(reference), _scores(shifted), threshold=0.5)

    assert steady.score.method == moved.score.method == "wasserstein"
    assert not steady.score.drifted and moved.score.drifted
    assert steady.reference_positive_rate == pytest.approx(np.mean(reference >= 0.5), abs=0.003)
    assert moved.current_positive_rate == pytest.approx(np.mean(shifted >= 0.5), abs=0.003)
    assert moved.current_positive_rate > 2 * moved.reference_positive_rate


def test_positive_rate_is_exact_on_few_distinct_scores() -> None:
    scores = _scores(np.array([0.2, 0.5, 0.5, 0.9, np.nan]))
    assert positive_rate(scores, 0.5) == 3 / 4
    assert prediction_drift(scores, scores).current_positive_rate is None


def test_prediction_drift_needs_scores_on_both_sides() -> None:
    with pytest.raises(ValueError, match="needs scores"):
        prediction_drift(_scores(np.array([0.1, 0.2])), NumericSketch())

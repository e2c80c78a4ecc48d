"""Prediction drift: the score distribution's drift (the same test as a numeric feature) and
the share of rows the model would call positive."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tabops.monitor.drift import ColumnDrift, column_drift
from tabops.monitor.sketches import NumericSketch

SCORE_COLUMN = "score"


@dataclass(frozen=True)
class PredictionDrift:
    score: ColumnDrift
    reference_positive_rate: float | None  # None without a decision threshold
    current_positive_rate: float | None


def prediction_drift(
    reference: NumericSketch,
    current: NumericSketch,
    threshold: float | None = None,
    *,
    min_current: int = 0,
) -> PredictionDrift:
    """Drift of the scores (tested as a small sample below ``min_current`` current scores),
    and the predicted-positive rates at ``threshold`` (scores at or above it are positive)."""
    if reference.count == 0 or current.count == 0:
        raise ValueError("prediction drift needs scores in both the reference and the current data")
    drift = column_drift(SCORE_COLUMN, reference, current, numeric=True, min_current=min_current)
    if threshold is None:
        return PredictionDrift(drift, None, None)
    return PredictionDrift(
        drift, positive_rate(reference, threshold), positive_rate(current, threshold)
    )


def positive_rate(scores: NumericSketch, threshold: float) -> float:
    """Share of scores >= ``threshold``: exact while the scores have few distinct values,
    otherwise from the sketch (within its rank error)."""
    if scores.values is not None:
        return sum(n for v, n in scores.values.items() if v >= threshold) / scores.count
    return 1.0 - float(scores.cdf(np.array([threshold]), inclusive=False)[0])

"""One monitoring window's measurements: data drift, data quality, prediction drift, and
performance realized from the labels that came plus estimated from the scores alone.

Each measurement is a row of the store's ``monitor_metrics`` table: metric, column (for
per-feature ones), value, and details (the method, threshold or interval behind the value).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tabops.model.columns import feature_names
from tabops.monitor.drift import data_drift
from tabops.monitor.performance import (
    BINARY_METRICS,
    Estimate,
    estimated_binary,
    realized_binary,
    realized_regression,
)
from tabops.monitor.prediction import prediction_drift
from tabops.monitor.profile import profile_frame
from tabops.monitor.reference import Reference
from tabops.monitor.sketches import CategorySketch
from tabops.spec import METRICS, ProjectSpec, Task
from tabops.store.monitoring import PredictionWindow

Row = dict[str, Any]


def measure_window(spec: ProjectSpec, reference: Reference, window: PredictionWindow) -> list[Row]:
    """Every measurement of one window of one model version's predictions."""
    served = window.served
    rows: list[Row] = [_row("rows", len(served))]
    if served.empty:
        return rows
    features = window.features.reindex(columns=feature_names(spec))
    score = pd.to_numeric(served["score"], errors="coerce").to_numpy(dtype=float)
    rows += _drift(spec, reference, features, score)
    rows += _quality(reference, features)
    rows += _performance(spec, reference, served, score)
    return rows


def _row(metric: str, value: float, column: str | None = None, **details: Any) -> Row:
    return {"metric": metric, "column_name": column, "value": float(value),
            "details": details or None}  # fmt: skip


def _drift(
    spec: ProjectSpec, reference: Reference, features: pd.DataFrame, score: np.ndarray
) -> list[Row]:
    current = profile_frame(spec, features, score)
    drift = data_drift(reference.profile, current, drift_share=spec.monitor.drift_share,
                       exclude=spec.monitor.drift_exclude)  # fmt: skip
    rows = [_row("drift_share", drift.share_drifted, drifted=drift.drifted,
                 threshold=drift.drift_share, skipped=drift.skipped)]  # fmt: skip
    for column in drift.columns:
        method = {"method": column.method, "threshold": column.threshold}
        rows += [
            _row("drift_score", column.statistic, column.column, **method),
            _row("drifted", float(column.drifted), column.column, **method),
            _row("psi", column.psi, column.column),
        ]
    if reference.profile.score is not None and current.score is not None and current.score.count:
        scores = prediction_drift(reference.profile.score, current.score, reference.threshold)
        test = scores.score
        rows.append(_row("score_drift", test.statistic, method=test.method,
                         threshold=test.threshold, drifted=test.drifted))  # fmt: skip
        if scores.current_positive_rate is not None:
            rows.append(_row("positive_rate", scores.current_positive_rate,
                             reference=scores.reference_positive_rate))  # fmt: skip
    return rows


def _quality(reference: Reference, features: pd.DataFrame) -> list[Row]:
    rows = []
    for name in features.columns:
        values = features[name]
        rows.append(_row("missing_rate", float(values.isna().mean()), name))
        known = reference.profile.features.get(name)
        if isinstance(known, CategorySketch) and known.other == 0:  # every category is known
            present = values.dropna().astype(str)
            unseen = float((~present.isin(set(known.counts))).mean()) if len(present) else 0.0
            rows.append(_row("unseen_rate", unseen, name))
    return rows


def _performance(
    spec: ProjectSpec, reference: Reference, served: pd.DataFrame, score: np.ndarray
) -> list[Row]:
    labelled = served["label"].notna().to_numpy()
    rows = [_row("label_coverage", float(labelled.mean()), labelled=int(labelled.sum()))]
    if spec.task == Task.REGRESSION:
        truth = pd.to_numeric(served["label"][labelled], errors="coerce").to_numpy(dtype=float)
        known = np.isfinite(truth) & np.isfinite(score[labelled])
        for metric in METRICS[Task.REGRESSION]:
            if known.any():
                rows.append(_estimate_row(metric, realized_regression(
                    truth[known], score[labelled][known], metric)))  # fmt: skip
        return rows
    if reference.positive is None or reference.threshold is None:
        return rows  # multiclass: no single score to judge
    threshold, metrics = (
        reference.threshold,
        [m for m in BINARY_METRICS if m in spec.monitor_metrics],
    )
    truth = (served["label"][labelled].astype(str) == reference.positive).to_numpy()
    if labelled.any():
        for metric in metrics:
            rows.append(
                _estimate_row(metric, realized_binary(truth, score[labelled], metric, threshold))
            )
    calibrate = reference.calibrator()
    for metric in metrics:
        estimate = estimated_binary(score, metric, threshold, calibrate)
        rows.append(_estimate_row(f"estimated_{metric}", estimate))
    return rows


def _estimate_row(metric: str, estimate: Estimate) -> Row:
    return _row(metric, estimate.value, rows=estimate.rows, low=estimate.low, high=estimate.high)

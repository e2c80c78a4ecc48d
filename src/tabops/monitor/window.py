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
    MULTICLASS_METRICS,
    Estimate,
    estimated_binary,
    realized_binary,
    realized_multiclass,
    realized_regression,
)
from tabops.monitor.prediction import prediction_drift
from tabops.monitor.profile import DatasetProfile, ProfileBuilder
from tabops.monitor.reference import Reference
from tabops.monitor.sketches import CategorySketch
from tabops.spec import METRICS, ColumnType, ProjectSpec, Task
from tabops.store.monitoring import PredictionWindow

Row = dict[str, Any]


def measure_window(spec: ProjectSpec, reference: Reference, window: PredictionWindow) -> list[Row]:
    """Every measurement of one window of one model version's predictions."""
    measuring = WindowMeasurement(spec, reference)
    served = window.served
    if not served.empty:
        score = pd.to_numeric(served["score"], errors="coerce").to_numpy(dtype=float)
        measuring.add(window.features, score, served["label"], served["answer"])
    return measuring.finish()


class WindowMeasurement:
    """One window measured from chunks of its rows in turn (the prediction log's window in
    one chunk, a file or table in many): holds the sketches of the features and scores, the
    quality counts, and the scores and labels that performance needs (one number each per
    row), so memory is bounded by the window's row count, not its width."""

    def __init__(self, spec: ProjectSpec, reference: Reference) -> None:
        self._spec, self._reference = spec, reference
        self._profile = ProfileBuilder(spec)
        self._names = feature_names(spec)
        self._missing = dict.fromkeys(self._names, 0)
        self._unseen: dict[str, list[int]] = {  # feature -> [unseen, present]
            name: [0, 0] for name, known in reference.profile.features.items()
            if _closed_categories(reference, name, known)
        }  # fmt: skip
        self._scores: list[np.ndarray] = []
        self._labelled: list[np.ndarray] = []
        self._truth: list[np.ndarray] = []  # binary: 1.0 positive; regression: the value
        # Three classes or more: the model's answers (class names) for the labelled rows
        multiclass = spec.task == Task.CLASSIFICATION and reference.positive is None
        self._answers: list[np.ndarray] | None = [] if multiclass else None
        self._refused: dict[str, dict[str, int]] | None = None
        self._refused_rows = 0
        self.rows = 0

    def add(
        self, features: pd.DataFrame, score: np.ndarray, labels: pd.Series,
        answers: pd.Series | None = None,
    ) -> None:  # fmt: skip
        """Rows of the window: their feature values (any columns beyond the spec's ignored),
        the model's scores, their labels (missing where none came) and, for a multiclass
        model, its answers (the classes it predicted)."""
        features = features.reindex(columns=self._names)
        self.rows += len(features)
        self._profile.add(features, score)
        for name in self._names:
            values = features[name]
            self._missing[name] += int(values.isna().sum())
            if name in self._unseen:
                present = values.dropna().astype(str)
                known = self._reference.profile.features[name]
                assert isinstance(known, CategorySketch)
                self._unseen[name][0] += int((~present.isin(set(known.counts))).sum())
                self._unseen[name][1] += len(present)
        self._scores.append(np.asarray(score, dtype=float))
        labelled = labels.notna().to_numpy()
        self._labelled.append(labelled)
        self._truth.append(self._truth_of(labels[labelled]))
        if self._answers is not None:
            if answers is None:  # a source without them: coverage only, from now on
                self._answers = None
            else:
                self._answers.append(answers[labelled].astype(str).to_numpy())

    def refused(self, rows: int, values: dict[str, dict[str, int]]) -> None:
        """Rows the data contract refused (a value of the wrong type, out of range, missing
        where it may not be), with the refused values per column and check: counted, never
        measured, as ingest quarantines them."""
        self._refused_rows += rows
        counts = self._refused if self._refused is not None else {}
        for column, checks in values.items():
            for check, n in checks.items():
                if n:
                    kept = counts.setdefault(column, {})
                    kept[check] = kept.get(check, 0) + n
        self._refused = counts

    def _truth_of(self, labels: pd.Series) -> np.ndarray:
        if self._spec.task == Task.REGRESSION:
            return pd.to_numeric(labels, errors="coerce").to_numpy(dtype=float)
        positive = self._reference.positive
        if positive is None:  # multiclass: the class names
            return labels.astype(str).to_numpy()
        return (labels.astype(str) == positive).to_numpy(dtype=float)

    def finish(self) -> list[Row]:
        """The window's measurements."""
        rows: list[Row] = [_row("rows", self.rows)]
        if self._refused is not None:
            total = self.rows + self._refused_rows
            rows.append(_row("refused_rows", self._refused_rows,
                             rate=self._refused_rows / total if total else 0.0))  # fmt: skip
            for column, checks in sorted(self._refused.items()):
                rows.append(_row("refused_values", sum(checks.values()), column, **checks))
        if self.rows == 0:
            return rows
        score = np.concatenate(self._scores)
        rows += _drift(self._spec, self._reference, self._profile.build())
        for name in self._names:
            rows.append(_row("missing_rate", self._missing[name] / self.rows, name))
            if name in self._unseen:
                unseen, present = self._unseen[name]
                rows.append(_row("unseen_rate", unseen / present if present else 0.0, name))
        labelled = np.concatenate(self._labelled)
        truth = np.concatenate(self._truth)
        answers = None if self._answers is None else np.concatenate(self._answers)
        rows += _performance(self._spec, self._reference, score, labelled, truth, answers)
        return rows


def _closed_categories(reference: Reference, name: str, known: object) -> bool:
    """Whether every category of a categorical feature is known (none was cut off by the
    sketch's cap): then a value outside them is unseen. (Booleans have two values only.)"""
    return (
        isinstance(known, CategorySketch)
        and known.other == 0
        and reference.profile.types.get(name) == ColumnType.CATEGORICAL
    )


def _row(metric: str, value: float, column: str | None = None, **details: Any) -> Row:
    return {"metric": metric, "column_name": column, "value": float(value),
            "details": details or None}  # fmt: skip


def _drift(spec: ProjectSpec, reference: Reference, current: DatasetProfile) -> list[Row]:
    monitor = spec.monitor
    drift = data_drift(
        reference.profile,
        current,
        drift_share=monitor.drift_share,
        exclude=monitor.drift_exclude,
        min_current=monitor.drift_min_rows,
    )
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
        scores = prediction_drift(reference.profile.score, current.score, reference.threshold,
                                  min_current=monitor.drift_min_rows)  # fmt: skip
        test = scores.score
        rows.append(_row("score_drift", test.statistic, method=test.method,
                         threshold=test.threshold, drifted=test.drifted))  # fmt: skip
        if scores.current_positive_rate is not None:
            rows.append(_row("positive_rate", scores.current_positive_rate,
                             reference=scores.reference_positive_rate))  # fmt: skip
    return rows


def _performance(
    spec: ProjectSpec,
    reference: Reference,
    score: np.ndarray,
    labelled: np.ndarray,
    truth: np.ndarray,
    answers: np.ndarray | None,
) -> list[Row]:
    """Realized performance over the labelled rows (``truth`` holds theirs, and ``answers``
    a multiclass model's for them), estimated over every row."""
    rows = [_row("label_coverage", float(labelled.mean()), labelled=int(labelled.sum()))]
    if spec.task == Task.REGRESSION:
        known = np.isfinite(truth) & np.isfinite(score[labelled])
        for metric in METRICS[Task.REGRESSION]:
            if known.any():
                rows.append(_estimate_row(metric, realized_regression(
                    truth[known], score[labelled][known], metric)))  # fmt: skip
        return rows
    if reference.positive is None:  # multiclass: from its answers, no score to estimate from
        if answers is not None and labelled.any():
            rows += [_estimate_row(m, realized_multiclass(truth, answers, m))
                     for m in MULTICLASS_METRICS if m in spec.monitor_metrics]  # fmt: skip
        return rows
    if reference.threshold is None:
        return rows
    threshold, metrics = (
        reference.threshold,
        [m for m in BINARY_METRICS if m in spec.monitor_metrics],
    )
    if labelled.any():
        for metric in metrics:
            rows.append(
                _estimate_row(metric, realized_binary(truth, score[labelled], metric, threshold))
            )
    calibrate = reference.calibrator()
    for metric in metrics:
        estimate = estimated_binary(score, metric, threshold, calibrate)
        row = _estimate_row(f"estimated_{metric}", estimate)
        row["details"]["calibration"] = reference.calibrated_on
        rows.append(row)
    return rows


def _estimate_row(metric: str, estimate: Estimate) -> Row:
    return _row(metric, estimate.value, rows=estimate.rows, low=estimate.low, high=estimate.high)

"""Model performance in production: realized from late labels, estimated before they arrive.

Realized performance comes with a percentile bootstrap confidence interval, because a window
with a few hundred labels moves by chance. Estimated performance is confidence-based
performance estimation (CBPE, as NannyML does it): a calibrated probability ``p`` is the
chance that the row is positive, so every row contributes ``p`` of a positive and ``1 - p`` of
a negative to the expected confusion matrix and ROC curve. Scores are first calibrated on the
reference rows (the model's frozen test rows, whose labels are known) with isotonic
regression, so that a model whose scores are ranks rather than probabilities still estimates
well; the estimate assumes only covariate shift (no concept drift), as CBPE does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

#: Binary classification metrics that can be both realized and estimated.
BINARY_METRICS = ("roc_auc", "pr_auc", "log_loss", "accuracy", "f1", "precision", "recall")
#: Regression metrics: realized only (a point prediction carries no confidence to estimate from).
REGRESSION_METRICS = ("rmse", "mae", "r2")
#: Metrics realized from a model's answers when it has three classes or more (F1 averaged
#: over the classes, as training reports it); no single score to estimate them from.
MULTICLASS_METRICS = ("accuracy", "f1")

#: Bootstrap resamples per interval: enough for a stable 95% interval of a window's metric.
BOOTSTRAP_SAMPLES = 200


@dataclass(frozen=True)
class Estimate:
    """A metric's value over a window, with a 95% interval when one exists."""

    metric: str
    value: float
    low: float | None = None
    high: float | None = None
    rows: int = 0


def realized_binary(
    truth: np.ndarray, score: np.ndarray, metric: str, threshold: float, seed: int = 0
) -> Estimate:
    """``metric`` of scores against labels (1 = positive), with a bootstrap 95% interval."""
    compute = _binary_metric(metric, threshold)
    return _with_interval(metric, compute, truth.astype(float), score.astype(float), seed)


def realized_regression(
    truth: np.ndarray, predicted: np.ndarray, metric: str, seed: int = 0
) -> Estimate:
    """``metric`` of regression predictions, with a bootstrap 95% interval."""
    if metric not in REGRESSION_METRICS:
        raise ValueError(f"unknown regression metric {metric!r}; use one of {REGRESSION_METRICS}")

    def compute(y: np.ndarray, p: np.ndarray) -> float:
        error = p - y
        if metric == "r2":
            spread = float(np.sum((y - y.mean()) ** 2))
            return 1 - float(np.sum(error**2)) / spread if spread > 0 else float("nan")
        return float(np.sqrt(np.mean(error**2)) if metric == "rmse" else np.mean(np.abs(error)))

    return _with_interval(metric, compute, truth.astype(float), predicted.astype(float), seed)


def realized_multiclass(
    truth: np.ndarray, answered: np.ndarray, metric: str, seed: int = 0
) -> Estimate:
    """``metric`` of a multiclass model's answers against the labels (class names): accuracy,
    or F1 averaged over the classes either holds (scikit-learn's macro F1), with a bootstrap
    95% interval."""
    if metric not in MULTICLASS_METRICS:
        raise ValueError(f"unknown multiclass metric {metric!r}; use one of {MULTICLASS_METRICS}")
    classes, codes = np.unique(np.concatenate([truth, answered]).astype(str), return_inverse=True)
    k = len(classes)

    def compute(y: np.ndarray, q: np.ndarray) -> float:
        if metric == "accuracy":
            return float(np.mean(y == q)) if len(y) else float("nan")
        confusion = np.bincount((y * k + q).astype(np.int64), minlength=k * k).reshape(k, k)
        hits = np.diag(confusion)
        either = confusion.sum(axis=0) + confusion.sum(axis=1)  # 2 tp + fp + fn
        held = either > 0
        return float(np.mean(2 * hits[held] / either[held])) if held.any() else float("nan")

    return _with_interval(metric, compute, codes[: len(truth)], codes[len(truth) :], seed)


class Calibrator:
    """Maps a model's scores to calibrated probabilities, fitted on labelled reference rows."""

    def __init__(self, reference_truth: np.ndarray, reference_score: np.ndarray) -> None:
        self._isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        self._isotonic.fit(reference_score.astype(float), reference_truth.astype(float))

    def __call__(self, score: np.ndarray) -> np.ndarray:
        return np.asarray(self._isotonic.predict(score.astype(float)), dtype=float)

    def points(self) -> tuple[list[float], list[float]]:
        """The fit's (score, probability) breakpoints: refitting on them gives the same map."""
        iso = self._isotonic
        return [float(v) for v in iso.X_thresholds_], [float(v) for v in iso.y_thresholds_]


def estimated_binary(
    score: np.ndarray, metric: str, threshold: float, calibrate: Calibrator | None = None
) -> Estimate:
    """``metric`` expected from the scores alone (no labels), by CBPE.

    ``threshold`` applies to the model's raw scores (as serving decides); ``calibrate`` turns
    them into the probabilities the expectation needs.
    """
    raw = score.astype(float)
    p = calibrate(raw) if calibrate is not None else np.clip(raw, 0.0, 1.0)
    if metric in ("roc_auc", "pr_auc"):
        return Estimate(metric, _expected_curve_area(metric, raw, p), rows=len(p))
    if metric == "log_loss":
        return Estimate(metric, _expected_log_loss(raw, p), rows=len(p))
    flagged = raw >= threshold
    tp, fp = float(p[flagged].sum()), float((1 - p[flagged]).sum())
    fn, tn = float(p[~flagged].sum()), float((1 - p[~flagged]).sum())
    return Estimate(metric, _from_confusion(metric, tp, fp, fn, tn), rows=len(p))


def _expected_curve_area(metric: str, raw: np.ndarray, p: np.ndarray) -> float:
    """The area under the ROC or precision-recall curve expected when each row is positive
    with probability ``p``: the curves of expected true and false positive counts."""
    if len(p) == 0 or p.sum() == 0 or (1 - p).sum() == 0:
        return float("nan")
    order = np.argsort(-raw, kind="stable")
    # Tied scores move together along the curve: cumulate at the last row of each tie.
    ranked = raw[order]
    ends = np.r_[np.flatnonzero(np.diff(ranked) != 0), len(ranked) - 1]
    tp = np.cumsum(p[order])[ends]
    fp = np.cumsum(1 - p[order])[ends]
    recall = np.r_[0.0, tp / p.sum()]
    if metric == "roc_auc":
        return float(np.trapezoid(recall, np.r_[0.0, fp / (1 - p).sum()]))
    precision = tp / (tp + fp)  # average precision, as scikit-learn computes it
    return float(np.sum(np.diff(recall) * precision))


def _expected_log_loss(raw: np.ndarray, p: np.ndarray) -> float:
    """The log loss of the model's probabilities expected under the calibrated ones."""
    q = np.clip(raw, 1e-15, 1 - 1e-15)
    return float(-np.mean(p * np.log(q) + (1 - p) * np.log(1 - q))) if len(p) else float("nan")


def _binary_metric(metric: str, threshold: float) -> Callable[[np.ndarray, np.ndarray], float]:
    if metric not in BINARY_METRICS:
        raise ValueError(f"unknown binary metric {metric!r}; use one of {BINARY_METRICS}")

    def compute(truth: np.ndarray, score: np.ndarray) -> float:
        both = 0 < truth.sum() < len(truth)
        if metric in ("roc_auc", "pr_auc"):
            area = roc_auc_score if metric == "roc_auc" else average_precision_score
            return float(area(truth, score)) if both else float("nan")
        if metric == "log_loss":
            q = np.clip(score, 1e-15, 1 - 1e-15)
            return float(log_loss(truth, q, labels=[0, 1])) if len(truth) else float("nan")
        flagged = score >= threshold
        tp = float(np.sum(truth[flagged]))
        fp = float(np.sum(1 - truth[flagged]))
        fn = float(np.sum(truth[~flagged]))
        tn = float(np.sum(1 - truth[~flagged]))
        return _from_confusion(metric, tp, fp, fn, tn)

    return compute


def _from_confusion(metric: str, tp: float, fp: float, fn: float, tn: float) -> float:
    def ratio(a: float, b: float) -> float:
        return a / b if b > 0 else float("nan")

    if metric == "accuracy":
        return ratio(tp + tn, tp + fp + fn + tn)
    if metric == "precision":
        return ratio(tp, tp + fp)
    if metric == "recall":
        return ratio(tp, tp + fn)
    return ratio(2 * tp, 2 * tp + fp + fn)  # f1


def _with_interval(
    metric: str,
    compute: Callable[[np.ndarray, np.ndarray], float],
    truth: np.ndarray,
    score: np.ndarray,
    seed: int,
) -> Estimate:
    rows = len(truth)
    if rows == 0:
        return Estimate(metric, float("nan"))
    value = compute(truth, score)
    rng = np.random.default_rng(seed)
    # One resample at a time (the same draws as one (samples, rows) matrix): memory stays at a
    # few copies of the window, however many rows a file's window has.
    samples = np.empty(BOOTSTRAP_SAMPLES)
    for i in range(BOOTSTRAP_SAMPLES):
        draw = rng.integers(0, rows, size=rows)
        samples[i] = compute(truth[draw], score[draw])
    samples = samples[np.isfinite(samples)]
    if len(samples) < BOOTSTRAP_SAMPLES // 2:  # too few labels of one class to say
        return Estimate(metric, value, rows=rows)
    low, high = np.quantile(samples, [0.025, 0.975])
    return Estimate(metric, value, float(low), float(high), rows)

"""Metrics of predictions against the truth, by task; one function per task, plain floats out."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn import metrics as skm

from tabops.spec import LOWER_IS_BETTER


@dataclass(frozen=True)
class Scores:
    """What a fitted pipeline says about some rows: labels' probabilities or values."""

    classes: list[str] | None  # classification: the column order of ``values``
    values: np.ndarray  # (n, classes) probabilities, or (n,) regression values

    @classmethod
    def of(cls, pipeline: Any, x: Any) -> Scores:
        """A fitted classifier's probabilities for rows ``x``, labelled by class."""
        return cls([str(c) for c in pipeline.classes_], pipeline.predict_proba(x))

    def positive(self, wanted: str | None) -> str:
        """``wanted`` if it is a class, else the last one (scikit-learn's positive label)."""
        classes = self.classes or []
        return wanted if wanted in classes else classes[-1]

    def rows(self, mask: np.ndarray) -> Scores:
        """The scores of the rows ``mask`` selects."""
        return Scores(self.classes, self.values[mask])

    def of_class(self, label: str) -> np.ndarray:
        """The probability of ``label`` for every row."""
        return np.asarray(self.values[:, (self.classes or []).index(label)], dtype=float)


@dataclass
class Evaluation:
    """Metrics (name -> value) plus the decision threshold and confusion matrix if binary."""

    metrics: dict[str, float]
    threshold: float | None = None
    confusion: list[list[int]] | None = None
    labels: list[str] | None = field(default=None)


def better(metric: str, candidate: float, reference: float) -> bool:
    """Whether ``candidate`` beats ``reference`` on ``metric``."""
    return candidate < reference if metric in LOWER_IS_BETTER else candidate > reference


def orient(metric: str, value: float) -> float:
    """``value`` made larger-is-better (for maximising optimisers)."""
    return -value if metric in LOWER_IS_BETTER else value


def evaluate_regression(y: np.ndarray, predicted: np.ndarray) -> Evaluation:
    return Evaluation(
        {
            "rmse": float(np.sqrt(skm.mean_squared_error(y, predicted))),
            "mae": float(skm.mean_absolute_error(y, predicted)),
            "r2": float(skm.r2_score(y, predicted)),
        }
    )


def evaluate_classification(
    y: np.ndarray, scores: Scores, positive: str | None, threshold: float | None = None
) -> Evaluation:
    """Metrics of probabilities ``scores`` for labels ``y``.

    Binary targets are decided at ``threshold`` on the positive class's probability (the
    second class when ``positive`` is unset); without one, the threshold that maximises F1 is
    chosen.
    """
    classes = scores.classes or []
    probabilities = scores.values
    # A class of these rows the model never saw (a rare class that no earlier row of a time
    # split holds) gets probability 0 from it: scored so, rather than failing every metric.
    unseen = sorted({str(label) for label in np.unique(y)} - set(classes))
    if len(classes) == 2 and not unseen:
        positive = scores.positive(positive)
        return _binary(y, scores.of_class(positive), positive, classes, threshold)
    if unseen:
        classes = [*classes, *unseen]
        probabilities = np.hstack([probabilities, np.zeros((len(y), len(unseen)))])
    order = np.argsort(classes)  # scikit-learn's multi-class metrics want sorted labels
    classes = [classes[i] for i in order]
    probabilities = probabilities[:, order]
    predicted = np.asarray(classes, dtype=object)[probabilities.argmax(axis=1)]
    values = {
        "accuracy": float(skm.accuracy_score(y, predicted)),
        "f1": float(skm.f1_score(y, predicted, average="macro")),
        "log_loss": float(skm.log_loss(y, probabilities, labels=classes)),
        "roc_auc": _ovr_roc_auc(y, probabilities, classes),
    }
    confusion = skm.confusion_matrix(y, predicted, labels=classes).tolist()
    return Evaluation(values, None, confusion, classes)


def _binary(
    y: np.ndarray, score: np.ndarray, positive: str, classes: list[str], threshold: float | None
) -> Evaluation:
    truth = (y == positive).astype(int)
    if threshold is None:
        threshold = max_f1_threshold(truth, score)
    decided = (score >= threshold).astype(int)
    values = {
        "roc_auc": _safe(lambda: skm.roc_auc_score(truth, score)),
        "pr_auc": _safe(lambda: skm.average_precision_score(truth, score)),
        "log_loss": float(skm.log_loss(truth, score, labels=[0, 1])),
        "brier": float(skm.brier_score_loss(truth, score)),
        "accuracy": float(skm.accuracy_score(truth, decided)),
        "precision": float(skm.precision_score(truth, decided, zero_division=0)),
        "recall": float(skm.recall_score(truth, decided, zero_division=0)),
        "f1": float(skm.f1_score(truth, decided, zero_division=0)),
    }
    negative = next(c for c in classes if c != positive)
    confusion = skm.confusion_matrix(truth, decided, labels=[0, 1]).tolist()
    return Evaluation(values, float(threshold), confusion, [negative, positive])


def max_f1_threshold(truth: np.ndarray, score: np.ndarray) -> float:
    """The score threshold with the highest F1 (0.5 when nothing is positive)."""
    if truth.sum() == 0:
        return 0.5
    precision, recall, thresholds = skm.precision_recall_curve(truth, score)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))])


def _ovr_roc_auc(y: np.ndarray, probabilities: np.ndarray, classes: list[str]) -> float:
    """Macro one-vs-rest ROC AUC (scikit-learn's ``multi_class="ovr"``) over the classes
    present in ``y``: a class absent from the rows scored (a rare class, or one that fell out
    of use, in a time split's later folds) has no AUC of its own. Left in, it made the whole
    metric NaN and every tuning trial fail."""
    aucs = [
        skm.roc_auc_score(y == label, probabilities[:, column])
        for column, label in enumerate(classes)
        if 0 < int(np.sum(y == label)) < len(y)
    ]
    return float(np.mean(aucs)) if aucs else float("nan")


def _safe(compute: Any) -> float:
    """A metric that is undefined on some data (one class only) as NaN instead of an error,
    or of a warning and a made-up value (average precision without a positive row is 0)."""
    with warnings.catch_warnings(record=True) as undefined:
        warnings.simplefilter("always")
        try:
            value = float(compute())
        except ValueError:
            return float("nan")
    return float("nan") if undefined else value

"""Judging a fitted pipeline beyond one number: the cost-based threshold, metrics per slice,
and behavioural checks (invariance and directional expectations from the spec)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from tabops.model.columns import MISSING_CATEGORY
from tabops.model.metrics import (
    Evaluation,
    Scores,
    evaluate_classification,
    evaluate_regression,
    max_f1_threshold,
)
from tabops.spec import BehaviouralCheck, CostSpec, ProjectSpec, Task

#: Slices with fewer rows than this are reported without metrics (too noisy to compare).
MIN_SLICE_ROWS = 20


@dataclass(frozen=True)
class CheckResult:
    name: str
    kind: str
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def predictions(pipeline: Any, x: pd.DataFrame, spec: ProjectSpec) -> Scores:
    """What the pipeline says about rows ``x``: class probabilities, or regression values.
    Computed once and handed to the functions below, which would otherwise each predict."""
    if spec.task == Task.REGRESSION:
        return Scores(None, np.asarray(pipeline.predict(x), dtype=float))
    return Scores.of(pipeline, x)


def model_score(scores: Scores, spec: ProjectSpec) -> np.ndarray:
    """One number per row: the positive class's probability, or the regression prediction."""
    if scores.classes is None:
        return scores.values
    return scores.of_class(scores.positive(spec.positive_class))


def evaluate(
    pipeline: Any, x: pd.DataFrame, y: np.ndarray, spec: ProjectSpec,
    threshold: float | None = None, scores: Scores | None = None,
) -> Evaluation:  # fmt: skip
    """Every metric of the task. Binary decisions are made at ``threshold``, else at the
    cost-optimal threshold (``evaluate.costs``), else at the max-F1 one. ``scores``: the
    pipeline's :func:`predictions` for ``x``, when the caller has them."""
    scores = scores or predictions(pipeline, x, spec)
    if spec.task == Task.REGRESSION:
        return evaluate_regression(y, scores.values)
    if threshold is None and spec.evaluate.costs is not None and len(scores.classes or []) == 2:
        positive = scores.positive(spec.positive_class)
        truth = (y == positive).astype(int)
        threshold = decision_threshold(truth, scores.of_class(positive), spec)
    return evaluate_classification(y, scores, spec.positive_class, threshold)


def decision_threshold(truth: np.ndarray, score: np.ndarray, spec: ProjectSpec) -> float:
    """A binary classifier's threshold on rows with ``truth`` (1: positive): the one of least
    cost (``evaluate.costs``), else the one of highest F1."""
    if spec.evaluate.costs is not None:
        return cost_threshold(truth, score, spec.evaluate.costs)
    return max_f1_threshold(truth, score)


def cost_threshold(truth: np.ndarray, score: np.ndarray, costs: CostSpec) -> float:
    """The threshold (among the observed scores) with the lowest total cost on these rows."""
    order = np.argsort(-score, kind="stable")
    ranked_truth, ranked_score = truth[order], score[order]
    # Flagging the top k rows: false positives are negatives among them, false negatives
    # the positives left out.
    flagged_negatives = np.concatenate(([0], np.cumsum(1 - ranked_truth)))
    missed_positives = truth.sum() - np.concatenate(([0], np.cumsum(ranked_truth)))
    cost = costs.false_positive * flagged_negatives + costs.false_negative * missed_positives
    best = int(np.argmin(cost))
    if best == 0:  # flag nothing: a threshold above every score
        return float(np.nextafter(ranked_score[0], np.inf))
    return float(ranked_score[best - 1])


def slice_metrics(
    pipeline: Any, x: pd.DataFrame, y: np.ndarray, raw: pd.DataFrame, spec: ProjectSpec,
    threshold: float | None, scores: Scores | None = None,
) -> dict[str, dict[str, dict[str, float]]]:  # fmt: skip
    """Metrics per value of each slice column (``raw`` holds the rows' original columns)."""
    result: dict[str, dict[str, dict[str, float]]] = {}
    if not spec.evaluate.slices:
        return result
    scores = scores or predictions(pipeline, x, spec)
    for column in spec.evaluate.slices:
        values = raw[column].astype("object").where(raw[column].notna(), MISSING_CATEGORY)
        per_value: dict[str, dict[str, float]] = {}
        for value in sorted({str(v) for v in values}):
            mask = (values.astype(str) == value).to_numpy()
            rows = int(mask.sum())
            metrics: dict[str, float] = {"rows": float(rows)}
            if rows >= MIN_SLICE_ROWS:
                subset = scores.rows(mask)
                metrics |= evaluate(pipeline, x[mask], y[mask], spec, threshold, subset).metrics
            per_value[value] = metrics
        result[column] = per_value
    return result


def behavioural_checks(
    pipeline: Any, x: pd.DataFrame, spec: ProjectSpec, scores: Scores | None = None
) -> list[CheckResult]:
    """Run every check of ``spec.evaluate.checks`` on rows ``x`` (the model's input frame);
    ``scores``: the pipeline's :func:`predictions` for ``x``, when the caller has them."""
    if not spec.evaluate.checks:
        return []
    before = model_score(scores or predictions(pipeline, x, spec), spec)
    return [_check(pipeline, x, before, check, spec) for check in spec.evaluate.checks]


def _check(
    pipeline: Any, x: pd.DataFrame, before: np.ndarray, check: BehaviouralCheck, spec: ProjectSpec
) -> CheckResult:
    changed = x.copy()
    if check.kind == "invariance":
        changed[check.column] = check.value
        moved = np.abs(model_score(predictions(pipeline, changed, spec), spec) - before)
        worst = float(moved.max(initial=0.0))
        passed = worst <= check.tolerance
        detail = f"setting {check.column}={check.value!r} moves scores by up to {worst:.4f}"
    else:
        assert check.delta is not None
        changed[check.column] = changed[check.column] + check.delta
        shift = model_score(predictions(pipeline, changed, spec), spec) - before
        against = -shift if check.direction == "increase" else shift
        worst = float(against.max(initial=0.0))
        passed = worst <= check.tolerance
        detail = (
            f"{check.column} {check.delta:+g} should {check.direction} scores; worst move "
            f"against it {worst:.4f}"
        )
    return CheckResult(check.name, check.kind, passed, f"{detail} (tolerance {check.tolerance})")

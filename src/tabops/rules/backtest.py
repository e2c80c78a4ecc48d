"""Backtest: how the rules, the model and the combined policy would have done on labelled rows.

Each policy gives every row an outcome: reject, review or pass.

- rules alone: the rules' decision (reject, review; approve and no decision pass);
- model alone: reject when the score is at least ``threshold``, review when it is at least
  ``review_threshold`` (if given) and below ``threshold``, else pass (a missing score passes);
- combined: reject if either rejects, else review if either asks for review, else pass. An
  approve rule does not override the model (:mod:`tabops.rules.policy`, which serving uses too).

A row is an *alert* when it is rejected or sent to review. Precision is the share of alerts
that are positive, recall the share of positives alerted, the alert rate the share of rows
alerted; the cost is ``false_positive`` per alerted negative plus ``false_negative`` per
missed positive (the spec's ``evaluate.costs``). Rows without a label are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from tabops.errors import DataError, TabopsError
from tabops.rules.engine import Action, RuleSet
from tabops.rules.policy import APPROVE, REJECT, REVIEW, combine, score_outcomes
from tabops.spec import CostSpec


@dataclass(frozen=True)
class PolicyMetrics:
    """How one policy did on the labelled rows."""

    policy: str
    rows: int
    positives: int
    rejected: int
    reviewed: int
    alerts: int
    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float | None  # None when nothing was alerted
    recall: float | None  # None when there is no positive
    alert_rate: float
    cost: float | None  # None without a cost matrix

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RuleStats:
    """How often one rule fired on the labelled rows, and how often on a positive."""

    id: str
    action: str
    fired: int
    fired_positive: int
    precision: float | None  # None when the rule never fired
    fire_rate: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BacktestResult:
    """Metrics per policy ("rules", and "model" and "combined" when scores are given)."""

    rules_version: str
    rows: int
    unlabelled: int
    positives: int
    threshold: float | None
    review_threshold: float | None
    costs: dict[str, float] | None
    policies: dict[str, PolicyMetrics]
    rules: tuple[RuleStats, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rules_version": self.rules_version,
            "rows": self.rows,
            "unlabelled": self.unlabelled,
            "positives": self.positives,
            "threshold": self.threshold,
            "review_threshold": self.review_threshold,
            "costs": self.costs,
            "policies": {name: m.to_dict() for name, m in self.policies.items()},
            "rules": [r.to_dict() for r in self.rules],
        }


def backtest(
    data: pd.DataFrame,
    rules: RuleSet,
    label: str,
    *,
    positive: Any = None,
    score: str | None = None,
    threshold: float | None = None,
    review_threshold: float | None = None,
    costs: CostSpec | Mapping[str, float] | None = None,
) -> BacktestResult:
    """Score the rules alone, the model alone and the combined policy on labelled rows.

    Args:
        data: The rows, with the fields the rules read, the label and optionally a score.
        rules: The rule set.
        label: The label column; null labels are left out.
        positive: The positive label; default True for booleans, 1 for 0/1 numbers.
        score: A column of model scores (higher means more likely positive).
        threshold: Scores at or above it are rejected; required with ``score``.
        review_threshold: Scores at or above it (and below ``threshold``) go to review.
        costs: ``false_positive`` and ``false_negative`` costs (e.g. the spec's
            ``evaluate.costs``).

    Raises:
        DataError: a column is missing, or the labels cannot be told positive or negative.
        TabopsError: inconsistent thresholds.
    """
    if label not in data.columns:
        raise DataError(f"The data has no label column '{label}'; pass the right --label.")
    cost_matrix = _costs(costs)
    truth, labelled = _truth(data[label], positive, label)
    if not labelled.any():
        raise DataError(f"No row has a label in column '{label}': nothing to backtest.")
    verdict = rules.evaluate_frame(data)
    rules_outcome = np.zeros(len(data), dtype=np.int8)
    for action, code in ((Action.REVIEW, REVIEW), (Action.REJECT, REJECT)):
        rules_outcome[verdict.any_fired(action)] = code
    outcomes = {"rules": rules_outcome}
    if score is not None:
        model_outcome = model_outcomes(data, score, threshold, review_threshold)
        outcomes["model"] = model_outcome
        outcomes["combined"] = combine(rules_outcome, model_outcome)
    elif threshold is not None or review_threshold is not None:
        raise TabopsError("A threshold needs a score column (--score COLUMN).")
    kept = truth[labelled]
    policies = {
        name: _metrics(name, outcome[labelled], kept, cost_matrix)
        for name, outcome in outcomes.items()
    }
    fired = verdict.fired.to_numpy()[labelled]
    stats = tuple(
        _rule_stats(rule.id, rule.action.value, fired[:, i], kept)
        for i, rule in enumerate(rules.rules)
    )
    return BacktestResult(
        rules_version=rules.version,
        rows=int(labelled.sum()),
        unlabelled=int((~labelled).sum()),
        positives=int(kept.sum()),
        threshold=threshold,
        review_threshold=review_threshold,
        costs=cost_matrix,
        policies=policies,
        rules=stats,
    )


def model_outcomes(
    data: pd.DataFrame, score: str, threshold: float | None, review_threshold: float | None
) -> np.ndarray:
    """Reject (2), review (1) or pass (0) per row from a score column and thresholds."""
    if threshold is None:
        raise TabopsError("A score column needs a decision threshold (--threshold X).")
    if review_threshold is not None and review_threshold >= threshold:
        raise TabopsError(
            f"The review threshold ({review_threshold}) must be below the reject threshold "
            f"({threshold})."
        )
    if score not in data.columns:
        raise DataError(f"The data has no score column '{score}'.")
    try:
        values = pd.to_numeric(data[score], errors="raise").to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"Score column '{score}' is not numeric: {exc}") from exc
    return score_outcomes(values, threshold, review_threshold)


def _costs(costs: CostSpec | Mapping[str, float] | None) -> dict[str, float] | None:
    if costs is None:
        return None
    if isinstance(costs, CostSpec):
        return {"false_positive": costs.false_positive, "false_negative": costs.false_negative}
    unknown = set(costs) - {"false_positive", "false_negative"}
    if unknown or len(costs) != 2:
        raise TabopsError(
            "Costs need exactly false_positive and false_negative (as in evaluate.costs)."
        )
    return {key: float(value) for key, value in costs.items()}


_TRUE_WORDS = {"true", "1", "yes", "y", "t"}
_FALSE_WORDS = {"false", "0", "no", "n", "f"}


def _truth(column: pd.Series, positive: Any, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Whether each row is positive, and whether it has a label at all."""
    labelled = column.notna().to_numpy()
    values = column.to_numpy(dtype=object)
    if positive is None:
        distinct = set(column.dropna().unique().tolist())
        if distinct <= {True, False}:  # booleans, and 0/1 numbers (1 == True)
            positive = True
        else:
            shown = ", ".join(repr(v) for v in sorted(distinct, key=str)[:5])
            raise DataError(
                f"Which value of '{label}' is positive? It holds {shown}; pass --positive VALUE "
                "(or set positive_class in the spec)."
            )
    else:
        positive = _coerce(positive, column)
    truth = np.fromiter((bool(v == positive) for v in values), dtype=bool, count=len(values))
    return truth & labelled, labelled


def _coerce(positive: Any, column: pd.Series) -> Any:
    """A positive label given as text (on the command line) as the label column holds it."""
    if not isinstance(positive, str):
        return positive
    distinct = column.dropna().unique().tolist()
    for value in distinct:
        if str(value) == positive:
            return value
    word = positive.strip().lower()
    if set(distinct) <= {True, False}:  # booleans, or 0/1 numbers
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    try:
        return float(positive)
    except ValueError:
        return positive


def _metrics(
    name: str, outcome: np.ndarray, truth: np.ndarray, costs: dict[str, float] | None
) -> PolicyMetrics:
    alerted = outcome > APPROVE
    rows = len(truth)
    positives = int(truth.sum())
    alerts = int(alerted.sum())
    true_positives = int((alerted & truth).sum())
    false_positives = alerts - true_positives
    false_negatives = positives - true_positives
    cost = None
    if costs is not None:
        cost = false_positives * costs["false_positive"] + false_negatives * costs["false_negative"]
    return PolicyMetrics(
        policy=name,
        rows=rows,
        positives=positives,
        rejected=int((outcome == REJECT).sum()),
        reviewed=int((outcome == REVIEW).sum()),
        alerts=alerts,
        true_positives=true_positives,
        false_positives=false_positives,
        false_negatives=false_negatives,
        precision=true_positives / alerts if alerts else None,
        recall=true_positives / positives if positives else None,
        alert_rate=alerts / rows if rows else 0.0,
        cost=cost,
    )


def _rule_stats(rule_id: str, action: str, fired: np.ndarray, truth: np.ndarray) -> RuleStats:
    count = int(fired.sum())
    hits = int((fired & truth).sum())
    return RuleStats(
        id=rule_id,
        action=action,
        fired=count,
        fired_positive=hits,
        precision=hits / count if count else None,
        fire_rate=count / len(truth) if len(truth) else 0.0,
    )

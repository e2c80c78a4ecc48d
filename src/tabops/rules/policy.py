"""The decision policy: the rules' verdict and the model's score combined into one outcome.

One implementation for serving, the rules backtest and batch scoring. Outcomes are ordered
codes, so combining two policies is their maximum: reject if either rejects, else review if
either asks for review, else approve. An approve rule does not override the model.
"""

from __future__ import annotations

import numpy as np

#: Outcome codes, ordered so that combining two policies is their maximum.
APPROVE, REVIEW, REJECT = 0, 1, 2
DECISIONS = ("approve", "review", "reject")
_RULE_OUTCOMES = {"review": REVIEW, "reject": REJECT}  # rule actions (engine.Action values)


def rule_outcome(decision: str | None) -> int:
    """The outcome of the rules' decision for one row (an approve rule, or none fired: approve)."""
    return APPROVE if decision is None else _RULE_OUTCOMES.get(decision, APPROVE)


def score_outcomes(scores: np.ndarray, reject_at: float, review_at: float | None) -> np.ndarray:
    """Reject where the score is at least ``reject_at``, review where it is at least
    ``review_at`` (when set), else approve; a missing (NaN) score approves."""
    outcome = np.full(len(scores), APPROVE, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        if review_at is not None:
            outcome[scores >= review_at] = REVIEW
        outcome[scores >= reject_at] = REJECT
    return outcome


def combine(rules: np.ndarray, model: np.ndarray) -> np.ndarray:
    """The combined policy's outcome per row."""
    combined: np.ndarray = np.maximum(rules, model)
    return combined

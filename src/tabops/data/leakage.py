"""Target leakage at ``init``: columns that predict the target almost perfectly on their own.

A column that is the label, or is computed from it (a status set after the outcome, a refund
flag on fraudulent rows), trains to a perfect held-out score and then fails in production,
where its value is not known yet. ``tabops init`` marks such columns ``ignored`` with the
reason and a warning; a user who knows the column is available at prediction time sets its role
back to ``feature``. The promotion gate refuses perfect scores too (``gate.allow_perfect``).
"""

from __future__ import annotations

import pandas as pd

from tabops.spec import ColumnType, Task

#: On its own, a column at or above this score (ROC AUC, purity, rank correlation, R²) leaks.
LEAK_SCORE = 0.995
_MIN_ROWS = 30  # fewer rows with a value say nothing either way
_MIN_GROUP = 5  # rows per distinct value, on average, before groups can be judged: fewer
# groups than that would "predict" any target by memorising it (an id does)
_NUMERIC = (ColumnType.NUMERIC, ColumnType.INTEGER)
_GROUPED = (ColumnType.CATEGORICAL, ColumnType.BOOLEAN, *_NUMERIC)


def leak_reason(
    values: pd.Series, kind: ColumnType, target: pd.Series, task: Task, positive: str | None
) -> str | None:
    """Why ``values`` leaks ``target`` (None when it does not), both on the same rows.

    ``values`` holds numbers for numeric and integer columns, strings otherwise, and nulls
    where missing; ``target`` holds labels (classification) or numbers (regression).
    """
    labelled = target.notna()  # rows without a label are quarantined, never trained on
    values, target = values[labelled], target[labelled]
    present = values.notna()
    if min(int(present.sum()), int((~present).sum())) >= _MIN_ROWS:
        # A value recorded only after the outcome (a cause of death, a refund date) leaks
        # through being there at all, whatever the value.
        share = _explained(pd.Series(present.to_numpy()), target.reset_index(drop=True), task)
        if share >= LEAK_SCORE:
            what = "explains" if task == Task.REGRESSION else "determines"
            return f"whether it is missing {what} {share:.1%} of the target on its own"
    values, target = values[present], target[present]
    if len(values) < _MIN_ROWS or target.nunique() < 2:
        return None
    if kind in _NUMERIC and task == Task.REGRESSION:
        rho = abs(float(values.rank().corr(target.rank())))
        if rho >= LEAK_SCORE:
            return f"rank correlation {rho:.3f} with the target on its own"
    if kind in _NUMERIC and positive is not None:
        auc = _roc_auc(values.astype(float), target == positive)
        if max(auc, 1 - auc) >= LEAK_SCORE:
            return f"ROC AUC {max(auc, 1 - auc):.3f} for the target on its own"
    if kind in _GROUPED and values.nunique() * _MIN_GROUP <= len(values):
        share = _explained(values, target, task)
        if share >= LEAK_SCORE:
            what = "R² of its group means" if task == Task.REGRESSION else "its values determine"
            return f"{what} {share:.1%} of the target on its own"
    return None


def _roc_auc(scores: pd.Series, positive: pd.Series) -> float:
    """ROC AUC from ranks (Mann-Whitney U), ties counted half."""
    ranks = scores.rank()
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return 0.5
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _explained(values: pd.Series, target: pd.Series, task: Task) -> float:
    """How much of the target the groups of ``values`` fix: the accuracy of predicting each
    group's most common label (classification), the R² of group means (regression)."""
    if task == Task.REGRESSION:
        numbers = target.astype(float)
        total = float(((numbers - numbers.mean()) ** 2).sum())
        within = numbers - numbers.groupby(values.to_numpy()).transform("mean")
        return 1 - float((within**2).sum()) / total if total > 0 else 0.0
    counts = pd.crosstab(values.to_numpy(), target.to_numpy())
    majority = counts.sum().max() / len(target)
    if majority >= LEAK_SCORE:  # a near-constant target: every column "predicts" it
        return 0.0
    return float(counts.max(axis=1).sum() / len(target))

"""Target leakage at ``init``: columns that predict the target almost perfectly on their own,
and groups of columns that do so together.

A column that is the label, or is computed from it (a status set after the outcome, a refund
flag on fraudulent rows), trains to a perfect held-out score and then fails in production,
where its value is not known yet. ``tabops init`` marks such columns ``ignored`` with the
reason and a warning; a user who knows the column is available at prediction time sets its role
back to ``feature``. The promotion gate refuses perfect scores too (``gate.allow_perfect``).

A group is only warned about, not ignored: a class fixed by two columns together is also what
an honest rule-made label looks like, and which column is late only the user knows. Genotype
counts (``apoe2``, ``apoe3``) that spell out a genotype target, and a ``Price`` that is the
mean of ``Min.Price`` and ``Max.Price``, are the cases in point.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tabops.spec import ColumnType, Task

#: On its own, a column at or above this score (ROC AUC, purity, rank correlation, R²) leaks.
LEAK_SCORE = 0.995
_MIN_ROWS = 30  # fewer rows with a value say nothing either way
_MIN_GROUP = 5  # rows per distinct value, on average, before groups can be judged: fewer
# groups than that would "predict" any target by memorising it (an id does)
_NUMERIC = (ColumnType.NUMERIC, ColumnType.INTEGER)
_GROUPED = (ColumnType.CATEGORICAL, ColumnType.BOOLEAN, *_NUMERIC)
#: Pairs are judged among the first columns of at most this many distinct values (more are no
#: categories), at most this many columns (pairs grow as their square) and rows.
PAIR_VALUES, _PAIR_COLUMNS, _PAIR_ROWS = 20, 40, 100_000


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
        changes = _running(values) and _running(target)
        if changes:  # running totals rank alike for growing, leak or not: compare their steps
            values, target = values.diff().iloc[1:], target.diff().iloc[1:]
        rho = abs(float(values.rank().corr(target.rank())))
        if rho >= LEAK_SCORE:
            steps = " of its changes from row to row (both are running totals)" if changes else ""
            return f"rank correlation {rho:.3f}{steps} with the target on its own"
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


#: Most steps against a running total's direction, as a share of its steps: corrections (a
#: daily count revised down) do not make it less of a total.
_CORRECTIONS = 0.05


def _running(values: pd.Series) -> bool:
    """Whether ``values`` keep one direction down the rows, but for a few corrections: a
    running total, such as a daily series' cases and deaths to date."""
    steps = np.sign(values.diff().dropna().to_numpy(dtype=float))
    up, down = int((steps > 0).sum()), int((steps < 0).sum())
    return up + down >= _MIN_ROWS and min(up, down) <= _CORRECTIONS * (up + down)


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


def pair_leaks(columns: dict[str, pd.Series], target: pd.Series) -> list[tuple[str, str, float]]:
    """Pairs of columns whose combined values determine a class ``target`` almost perfectly:
    ``(first, second, share of rows)``, best first. Each column holds a few distinct values
    (strings, nulls where missing), on the same rows as ``target``; a pair must leave at least
    :data:`_MIN_GROUP` rows per combination on average, so that it cannot memorise."""
    labelled = target.notna().to_numpy()
    labels, _ = pd.factorize(target[labelled].iloc[:_PAIR_ROWS])
    rows = len(labels)
    if rows < _MIN_ROWS or np.bincount(labels).max() >= LEAK_SCORE * rows:
        return []  # too few rows, or a near-constant target every column "predicts"
    codes: dict[str, tuple[np.ndarray, int]] = {}
    for name, values in columns.items():
        coded, distinct = pd.factorize(values[labelled].iloc[:_PAIR_ROWS], use_na_sentinel=False)
        if 2 <= len(distinct) <= PAIR_VALUES and len(codes) < _PAIR_COLUMNS:
            codes[name] = (coded, len(distinct))
    classes = int(labels.max()) + 1
    found = []
    names = list(codes)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            (a, a_values), (b, b_values) = codes[first], codes[second]
            combinations = a * b_values + b
            counts = np.bincount(combinations * classes + labels,
                                 minlength=a_values * b_values * classes)  # fmt: skip
            per_combination = counts.reshape(a_values * b_values, classes)
            if np.count_nonzero(per_combination.sum(axis=1)) * _MIN_GROUP > rows:
                continue
            share = per_combination.max(axis=1).sum() / rows
            if share >= LEAK_SCORE:
                found.append((first, second, float(share)))
    return sorted(found, key=lambda pair: -pair[2])


#: A linear combination of at most this many numeric features is looked for, among the first
#: of them (each step fits one least-squares model per candidate).
_COMBINED_COLUMNS, _COMBINED_CANDIDATES = 5, 60


def linear_leak(columns: dict[str, pd.Series], target: pd.Series) -> tuple[list[str], float]:
    """The fewest numeric ``columns`` (at most :data:`_COMBINED_COLUMNS`, chosen greedily) of
    which a linear combination explains a numeric ``target`` almost perfectly (R² at or above
    :data:`LEAK_SCORE`): a mean of two bounds, subgroups' rates that make up the whole's.
    ``([], best R²)`` when none does. Each fit uses the rows where its columns have values.
    A running total is compared by its changes from row to row (the combination holds for
    them as well): totals to date all grow, so levels would fit each other whatever they are."""
    candidates = dict(list(columns.items())[:_COMBINED_CANDIDATES])
    frame = pd.concat({**candidates, "__target__": target}, axis=1).iloc[:_PAIR_ROWS]
    if _running(target.dropna()):
        frame = frame.diff().iloc[1:]
    y = frame.pop("__target__").to_numpy(dtype=float)
    values = frame.to_numpy(dtype=float)
    present = ~np.isnan(values)
    labelled = ~np.isnan(y)
    names = list(frame.columns)
    chosen: list[int] = []
    best = 0.0
    while len(chosen) < _COMBINED_COLUMNS:
        fits = {}
        for i in range(len(names)):
            if i in chosen:
                continue
            rows = labelled & present[:, [*chosen, i]].all(axis=1)
            if rows.sum() >= _MIN_ROWS and float(y[rows].var()) > 0.0:
                fits[i] = _r2(values[np.ix_(rows, [*chosen, i])], y[rows])
        if not fits:
            break
        pick = max(fits, key=lambda i: fits[i])
        if fits[pick] <= best + 1e-3:  # nothing more to explain
            break
        chosen.append(pick)
        best = fits[pick]
        if best >= LEAK_SCORE:
            return [names[i] for i in chosen], best
    return [], best


def _r2(x: np.ndarray, y: np.ndarray) -> float:
    """R² of the least-squares fit of ``y`` on ``x`` and an intercept."""
    design = np.column_stack([x, np.ones(len(y))])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coefficients
    return 1.0 - float(residual @ residual) / float(((y - y.mean()) ** 2).sum())

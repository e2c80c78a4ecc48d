"""Data drift between a reference profile and a current one: per feature Evidently 0.7's
default test for the column's type and size (so verdicts match its DataDriftPreset) plus
PSI, and the dataset verdict from the share of drifted features."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from tabops.monitor import stats
from tabops.monitor.profile import CATEGORY_TYPES, DatasetProfile
from tabops.monitor.sketches import CategorySketch, ColumnSketch, NumericSketch
from tabops.spec import ColumnType

#: Evidently's DataDriftPreset: the dataset drifts when at least this share of columns do.
DEFAULT_DRIFT_SHARE = 0.5
#: Above this many reference values Evidently swaps tests for distances.
SMALL_REFERENCE_ROWS = 1000
#: With ``min_current`` set, a counted column with fewer current values than this per distinct
#: value is tested as a small sample: Jensen-Shannon between two draws of one 51-category law
#: of 1,000 values is at least 0.1 (drift) in 9 of 10 draws; of 1,500, in none.
VALUES_PER_CATEGORY = 30
#: At most this many distinct values, Evidently tests a numeric column as categories.
FEW_VALUES = 5


@dataclass(frozen=True)
class Method:
    """A drift test: p-values drift below the threshold, distances at or above it."""

    name: str  # Evidently's stattest name
    threshold: float
    is_pvalue: bool

    def drifted(self, statistic: float) -> bool:
        if not self.is_pvalue:
            return statistic >= self.threshold
        # Evidently's ks test counts p == threshold as drift, chisquare and z do not.
        return statistic <= self.threshold if self.name == "ks" else statistic < self.threshold


KS = Method("ks", 0.05, is_pvalue=True)
CHI_SQUARE = Method("chisquare", 0.05, is_pvalue=True)
Z_TEST = Method("z", 0.05, is_pvalue=True)
JENSEN_SHANNON = Method("jensenshannon", 0.1, is_pvalue=False)
WASSERSTEIN = Method("wasserstein", 0.1, is_pvalue=False)
METHODS = {m.name: m for m in (KS, CHI_SQUARE, Z_TEST, JENSEN_SHANNON, WASSERSTEIN)}


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    column_type: str  # "numerical" or "categorical", as Evidently names them
    method: str
    statistic: float  # a p-value or a distance, per the method
    threshold: float
    drifted: bool
    psi: float
    reference_count: int  # values compared (missing and infinite ones left out)
    current_count: int


@dataclass(frozen=True)
class DataDrift:
    columns: list[ColumnDrift]
    #: Features not compared, with the reason.
    skipped: dict[str, str]
    share_drifted: float
    drift_share: float
    drifted: bool


def data_drift(
    reference: DatasetProfile,
    current: DatasetProfile,
    *,
    drift_share: float = DEFAULT_DRIFT_SHARE,
    exclude: Collection[str] = (),
    min_current: int = 0,
) -> DataDrift:
    """Drift of every feature the reference profiles but those in ``exclude``, and the
    dataset verdict. A feature with fewer than ``min_current`` current values is tested for
    a small sample (see ``default_method``)."""
    columns: list[ColumnDrift] = []
    skipped = dict(reference.skipped)
    for name, ref in reference.features.items():
        kind = reference.types[name]
        cur = current.features.get(name)
        if name in exclude:
            skipped[name] = "excluded by monitor.drift_exclude"
        elif kind == ColumnType.DATETIME:
            # Time moves on, so a date always "drifts"; Evidently's preset skips them too.
            skipped[name] = "datetime: compared through its parts, not its instants"
        elif cur is None:
            skipped[name] = "not in the current data"
        elif ref.count == 0 or cur.count == 0:
            skipped[name] = "no values in the " + ("reference" if ref.count == 0 else "current")
        else:
            numeric = kind not in CATEGORY_TYPES
            columns.append(column_drift(name, ref, cur, numeric=numeric, min_current=min_current))
    share = sum(c.drifted for c in columns) / len(columns) if columns else 0.0
    return DataDrift(columns, skipped, share, drift_share, bool(columns) and share >= drift_share)


def column_drift(
    name: str, ref: ColumnSketch, cur: ColumnSketch, *, numeric: bool, min_current: int = 0
) -> ColumnDrift:
    """One column's drift by Evidently's default method for its type and reference size, or
    its small-sample test when the current values are fewer than ``min_current`` (or, for
    counted values, than ``VALUES_PER_CATEGORY`` per distinct value)."""
    counts = _value_counts(ref, cur)
    distinct = len(counts[0]) if counts is not None else FEW_VALUES + 1
    small = ref.count <= SMALL_REFERENCE_ROWS or cur.count < min_current
    if min_current and counts is not None and cur.count < VALUES_PER_CATEGORY * distinct:
        small = True  # many categories: a distance over a few hundred values is large by chance
    method = default_method(distinct, numeric=numeric, small_sample=small)
    if method in (WASSERSTEIN, KS):
        assert isinstance(ref, NumericSketch) and isinstance(cur, NumericSketch)
        if method is WASSERSTEIN:
            statistic = stats.wasserstein_normed(ref, cur)
        else:
            statistic = stats.ks_pvalue(stats.ks_statistic(ref, cur), ref.count, cur.count)
    else:
        assert counts is not None  # few distinct values, or categories: counted exactly
        statistic = _count_test(method, *counts)
    if counts is not None:
        psi = stats.psi(*counts)
    else:
        assert isinstance(ref, NumericSketch) and isinstance(cur, NumericSketch)
        psi = stats.psi(*stats.decile_shares(ref, cur))
    return ColumnDrift(
        column=name,
        column_type="numerical" if numeric else "categorical",
        method=method.name,
        statistic=statistic,
        threshold=method.threshold,
        drifted=method.drifted(statistic),
        psi=psi,
        reference_count=ref.count,
        current_count=cur.count,
    )


def default_method(distinct: int, *, numeric: bool, small_sample: bool) -> Method:
    """Evidently 0.7's choice (registry.py, ``_get_default_stattest``): by whether the sample
    is small (Evidently: at most 1,000 reference values; tabops also: a current window too
    small for a distance) and the distinct values of both samples together. A small sample
    gets a test whose p-value allows for its size; a large one a distance."""
    few = not numeric or distinct <= FEW_VALUES
    if small_sample:
        if not few:
            return KS
        return CHI_SQUARE if distinct > 2 else Z_TEST
    return JENSEN_SHANNON if few else WASSERSTEIN


def _value_counts(ref: ColumnSketch, cur: ColumnSketch) -> tuple[np.ndarray, np.ndarray] | None:
    """Both samples' counts over the union of their values, when counted exactly: categories
    (with the folded rare ones as one more value) or numbers with few distinct values."""
    if isinstance(ref, CategorySketch) and isinstance(cur, CategorySketch):
        keys = sorted(ref.counts.keys() | cur.counts.keys())
        ref_counts = [ref.counts.get(k, 0) for k in keys]
        cur_counts = [cur.counts.get(k, 0) for k in keys]
        if ref.other or cur.other:
            ref_counts.append(ref.other)
            cur_counts.append(cur.other)
        return np.array(ref_counts, dtype=np.float64), np.array(cur_counts, dtype=np.float64)
    if isinstance(ref, NumericSketch) and isinstance(cur, NumericSketch):
        if ref.values is None or cur.values is None:
            return None
        values = sorted(ref.values.keys() | cur.values.keys())
        return (
            np.array([ref.values.get(v, 0) for v in values], dtype=np.float64),
            np.array([cur.values.get(v, 0) for v in values], dtype=np.float64),
        )
    raise ValueError("cannot compare a numeric summary with a category summary")


def _count_test(method: Method, ref: np.ndarray, cur: np.ndarray) -> float:
    if method is JENSEN_SHANNON:
        return stats.jensen_shannon(ref, cur)
    if method is CHI_SQUARE:
        return stats.chi_square_pvalue(ref, cur)
    if len(ref) == 1:  # one value in both samples: nothing changed
        return 1.0
    return stats.z_test_pvalue(ref, cur)

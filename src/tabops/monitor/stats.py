"""Two-sample statistics from summaries rather than rows: distribution distances from KLL
CDFs, tests from category counts. Each mirrors the Evidently 0.7 stattest of the same name
(src/evidently/legacy/calculations/stattests/), which computes it from the raw rows, but for
chi-square, which tests both samples rather than taking the reference as exact."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats  # type: ignore[import-untyped]
from scipy.spatial import distance  # type: ignore[import-untyped]

from tabops.monitor.sketches import NumericSketch

#: Rank grid the quantile functions are read on, fine enough to hit every retained item of a
#: k=2000 sketch of up to ~8,000 rows and far below KLL's rank error beyond.
_GRID = np.linspace(0.0, 1.0, 8193)
#: Share given to an empty bin in PSI, so the log stays finite (Evidently's value).
PSI_EMPTY_SHARE = 1e-4


def common_points(a: NumericSketch, b: NumericSketch) -> np.ndarray:
    """Sorted distinct values at which both summaries' CDFs are compared: each one's
    quantiles on a fine rank grid and its exactly kept tail values."""
    points = [a.sketch.get_quantiles(_GRID), b.sketch.get_quantiles(_GRID)]
    return np.unique(np.concatenate([*points, a.low, a.high, b.low, b.high]))


def ks_statistic(a: NumericSketch, b: NumericSketch) -> float:
    """Kolmogorov-Smirnov D: the largest gap between the two CDFs."""
    points = common_points(a, b)
    return float(np.max(np.abs(a.cdf(points) - b.cdf(points))))


def ks_pvalue(d: float, n1: int, n2: int) -> float:
    """Two-sided p-value of D, by the distribution ``scipy.stats.ks_2samp`` uses for large
    samples (Kolmogorov's with the effective size n1*n2/(n1+n2)); ks_2samp switches to an
    exact lattice count below 10,000 rows a side, which an approximate D cannot enter."""
    effective = round(n1 * n2 / (n1 + n2))
    return float(stats.kstwo.sf(d, effective))


def wasserstein_normed(a: NumericSketch, b: NumericSketch) -> float:
    """First Wasserstein distance (the area between the CDFs) divided by the reference's
    standard deviation (floored at 0.001), as Evidently's ``wasserstein`` test."""
    points = common_points(a, b)
    if len(points) < 2:
        return 0.0
    gaps = np.abs(a.cdf(points) - b.cdf(points))[:-1]
    distance_ = float(np.sum(gaps * np.diff(points)))
    return distance_ / max(a.std, 0.001)


def chi_square_pvalue(reference: np.ndarray, current: np.ndarray) -> float:
    """Pearson's chi-square test that both count vectors come from one distribution (the
    2 x k contingency table of the two samples). Evidently's ``chisquare`` instead tests the
    current counts against the reference's shares as if they were exact, and a category absent
    from the reference gives it p = 0: between two samples of one 10-category law of 800
    values each it "drifts" in 55% of draws (this test: 6%); the two agree as the reference
    grows."""
    table = np.vstack([reference, current])
    return float(stats.chi2_contingency(table, correction=False).pvalue)


def z_test_pvalue(reference: np.ndarray, current: np.ndarray) -> float:
    """Two-sided z-test of two proportions (of the first of two values), as Evidently's
    ``z`` test; 1 when both samples hold the same single value."""
    n1, n2 = reference.sum(), current.sum()
    p1, p2 = reference[0] / n1, current[0] / n2
    pooled = (reference[0] + current[0]) / (n1 + n2)
    if pooled in (0.0, 1.0):
        return 1.0
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return float(2 * (1 - stats.norm.cdf(abs(z))))


def jensen_shannon(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance (natural log) of two count vectors over the same keys."""
    return float(distance.jensenshannon(reference / reference.sum(), current / current.sum()))


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index of two count vectors over the same bins; a share below
    PSI_EMPTY_SHARE (an empty bin) counts as PSI_EMPTY_SHARE."""
    ref = np.maximum(reference / reference.sum(), PSI_EMPTY_SHARE)
    cur = np.maximum(current / current.sum(), PSI_EMPTY_SHARE)
    return float(np.sum((ref - cur) * np.log(ref / cur)))


def decile_shares(a: NumericSketch, b: NumericSketch) -> tuple[np.ndarray, np.ndarray]:
    """Both samples' shares in the bins cut at the reference's deciles."""
    edges = np.unique(a.sketch.get_quantiles(np.linspace(0.1, 0.9, 9)))

    def shares(s: NumericSketch) -> np.ndarray:
        return np.diff(s.cdf(edges), prepend=0.0, append=1.0)

    return shares(a), shares(b)

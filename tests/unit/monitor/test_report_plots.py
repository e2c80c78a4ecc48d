"""The report's distribution plots read the sketches right: shares that sum to one, a shift
where the data shifted, rare categories folded, and SVG fit to be inlined."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tabops.monitor.report import FeatureView
from tabops.monitor.report_plots import _category_shares, _histogram, distribution
from tabops.monitor.sketches import CategorySketch, NumericSketch
from tabops.spec import ColumnType


def _numbers(values: np.ndarray) -> NumericSketch:
    sketch = NumericSketch()
    sketch.update(values)
    return sketch


def _categories(counts: dict[str, int]) -> CategorySketch:
    sketch = CategorySketch()
    sketch.add_counts(counts)
    return sketch


def test_histogram_shares_sum_to_one_and_show_the_shift() -> None:
    rng = np.random.default_rng(3)
    reference, current = _numbers(rng.normal(0, 1, 20_000)), _numbers(rng.normal(2, 1, 5_000))
    edges, (ref, cur) = _histogram(reference, current)
    assert np.isclose(ref.sum(), 1) and np.isclose(cur.sum(), 1)
    middles = (edges[:-1] + edges[1:]) / 2
    assert abs(float(middles @ ref)) < 0.2 and abs(float(middles @ cur) - 2) < 0.2


def test_category_shares_keep_the_top_and_fold_the_rest() -> None:
    reference = _categories({f"c{i:02d}": 100 - i for i in range(12)})
    current = _categories({"c00": 10, "new": 90})
    labels, (ref, cur) = _category_shares(reference, current)
    assert labels[0] == "new" and labels[-1] == "(others)" and len(labels) == 11
    assert np.isclose(ref.sum(), 1) and np.isclose(cur.sum(), 1)
    assert cur[0] == 0.9 and ref[0] == 0.0


def test_distribution_is_inline_svg_or_nothing_without_values() -> None:
    view = FeatureView("amount", ColumnType.NUMERIC, _numbers(np.arange(100.0)),
                       _numbers(np.arange(50.0, 150.0)))  # fmt: skip
    svg = distribution(view)
    assert svg is not None and svg.startswith("<svg") and "<?xml" not in svg
    assert ">reference<" in svg and ">current<" in svg
    empty = FeatureView("amount", ColumnType.NUMERIC, view.reference, _numbers(np.array([np.nan])))
    assert distribution(empty) is None
    when = _numbers(pd.to_datetime(["2026-01-01", "2026-03-01"]).astype("int64").to_numpy() / 1e9)
    assert distribution(FeatureView("when", ColumnType.DATETIME, when, when)) is not None

"""Profiles: built in chunks, merged across partitions, stored and read back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tabops.monitor.profile import DatasetProfile, profile_chunks, profile_frame
from tabops.monitor.sketches import EXACT_VALUES_CAP, CategorySketch, NumericSketch
from tabops.spec import ProjectSpec
from tests.unit.monitor.conftest import make_rows


def _rank_error(sketch: NumericSketch, data: np.ndarray) -> float:
    """Largest gap between the sketch's CDF and the data's exact CDF at the data's deciles."""
    finite = np.sort(data[np.isfinite(data)])
    points = np.unique(np.quantile(finite, np.linspace(0.05, 0.95, 19)))
    exact = np.searchsorted(finite, points, side="right") / len(finite)
    approx = np.asarray(sketch.sketch.get_cdf(points.tolist(), inclusive=True)[:-1])
    return float(np.max(np.abs(exact - approx)))


def test_profile_of_parts_merges_into_profile_of_whole(spec: ProjectSpec) -> None:
    rows = make_rows(30_000, seed=1)
    scores = np.random.default_rng(2).random(len(rows))
    part_a = profile_frame(spec, rows.iloc[:12_000], scores[:12_000])
    part_b = profile_frame(spec, rows.iloc[12_000:], scores[12_000:])
    merged, whole = part_a.merge(part_b), profile_frame(spec, rows, scores)

    assert merged.rows == whole.rows == 30_000
    for name in ("amount", "items", "opened"):
        m, w = merged.features[name], whole.features[name]
        assert isinstance(m, NumericSketch) and isinstance(w, NumericSketch)
        assert (m.count, m.missing, m.min, m.max) == (w.count, w.missing, w.min, w.max)
        assert m.mean == pytest.approx(w.mean, rel=1e-12)
        assert m.std == pytest.approx(w.std, rel=1e-9)
        assert m.values == w.values
        assert np.array_equal(m.low, w.low) and np.array_equal(m.high, w.high)
    amount = merged.features["amount"]
    assert isinstance(amount, NumericSketch)
    assert amount.missing == int(rows["amount"].isna().sum()) > 0
    assert amount.std == pytest.approx(float(np.nanstd(rows["amount"])), rel=1e-9)
    # The merged sketch is as accurate as one built on all rows (KLL's bound, k=2000: ~0.2%).
    assert _rank_error(amount, rows["amount"].to_numpy()) < 0.005
    assert merged.features["color"] == whole.features["color"]
    assert merged.features["flag"] == whole.features["flag"]
    assert merged.target == whole.target
    assert merged.score is not None and merged.score.count == 30_000
    assert _rank_error(merged.score, scores) < 0.005


def test_profile_counts_what_it_sees(spec: ProjectSpec) -> None:
    rows = make_rows(5_000, seed=3)
    profile = profile_frame(spec, rows)

    color = profile.features["color"]
    assert isinstance(color, CategorySketch)
    assert color.counts == rows["color"].value_counts().to_dict()
    flag = profile.features["flag"]
    assert isinstance(flag, CategorySketch)
    assert flag.counts == {"true": int(rows["flag"].sum()), "false": int((~rows["flag"]).sum())}
    opened = profile.features["opened"]
    assert isinstance(opened, NumericSketch)
    assert opened.min == rows["opened"].min().timestamp()
    assert opened.max == rows["opened"].max().timestamp()
    assert profile.skipped == {"note": "free text has no distribution to compare"}
    assert "id" not in profile.features and "label" not in profile.features
    assert profile.label_rate == pytest.approx(float((rows["label"] == "yes").mean()))
    assert profile.score is None


def test_arrow_batches_stream_into_the_same_profile(spec: ProjectSpec) -> None:
    rows = make_rows(20_000, seed=4)
    batches = pa.Table.from_pandas(rows, preserve_index=False).to_batches(max_chunksize=3_000)
    assert len(batches) > 1
    streamed, whole = profile_chunks(spec, batches), profile_frame(spec, rows)
    assert streamed.rows == whole.rows
    assert streamed.features["color"] == whole.features["color"]
    s, w = streamed.features["amount"], whole.features["amount"]
    assert isinstance(s, NumericSketch) and isinstance(w, NumericSketch)
    assert (s.count, s.missing, s.min, s.max) == (w.count, w.missing, w.min, w.max)
    assert s.mean == pytest.approx(w.mean, rel=1e-12)


def test_profile_round_trips_through_bytes(spec: ProjectSpec) -> None:
    rows = make_rows(8_000, seed=5)
    profile = profile_frame(spec, rows, np.random.default_rng(6).random(len(rows)))
    restored = DatasetProfile.from_bytes(profile.to_bytes())

    assert restored.to_dict() == profile.to_dict()
    assert restored.types == profile.types
    amount, again = profile.features["amount"], restored.features["amount"]
    assert isinstance(amount, NumericSketch) and isinstance(again, NumericSketch)
    grid = np.linspace(0, 1, 11)
    assert again.sketch.get_quantiles(grid) == amount.sketch.get_quantiles(grid)


def test_unknown_format_is_refused(spec: ProjectSpec) -> None:
    stored = profile_frame(spec, make_rows(10, seed=0)).to_dict()
    stored["format"] = 99
    with pytest.raises(ValueError, match="unsupported profile format"):
        DatasetProfile.from_dict(stored)


def test_many_categories_keep_the_top_ones_and_fold_the_rest() -> None:
    sketch = CategorySketch(cap=3)
    sketch.update(pd.Series([*"aaaabbbccd", None]))
    other = CategorySketch(cap=3)
    other.update(pd.Series(list("ddddde")))
    assert (sketch.counts, sketch.other, sketch.missing) == ({"a": 4, "b": 3, "c": 2}, 1, 1)

    merged = sketch.merge(other)
    # d: 1 folded on the left + 5 kept on the right = 6 true rows, 5 counted (the bound).
    assert merged.counts == {"d": 5, "a": 4, "b": 3}
    assert merged.other == 1 + 2 + 1  # left's d, c (2), right's e
    assert merged.count == 10 + 6  # every present value is counted once, kept or folded


def test_numbers_track_missing_infinite_and_exact_values() -> None:
    sketch = NumericSketch()
    sketch.update(np.array([1.0, 2.0, 2.0, np.nan, np.inf, -np.inf]))
    assert (sketch.count, sketch.missing, sketch.infinite) == (3, 1, 2)
    assert sketch.values == {1.0: 1, 2.0: 2}
    assert (sketch.min, sketch.max) == (1.0, 2.0)
    sketch.update(np.arange(100, dtype=np.float64))
    assert sketch.values is None  # too many distinct values to count exactly


def test_cdf_is_exact_in_the_tails() -> None:
    data = np.random.default_rng(8).lognormal(size=200_000)
    sketch = NumericSketch()
    for chunk in np.array_split(data, 7):
        sketch.update(chunk)
    ordered = np.sort(data)
    tails = np.concatenate([ordered[:900:37], ordered[-900::37]])
    for inclusive, side in ((True, "right"), (False, "left")):
        exact = np.searchsorted(ordered, tails, side=side) / len(data)
        assert np.array_equal(sketch.cdf(tails, inclusive=inclusive), exact)


def test_a_regression_target_is_profiled_as_numbers(spec: ProjectSpec) -> None:
    regression = spec.model_copy(update={"task": "regression", "positive_class": None})
    rows = make_rows(1_000, seed=9).assign(label=np.arange(1_000, dtype=np.float64))
    profile = profile_frame(regression, rows)
    assert isinstance(profile.target, NumericSketch)
    assert (profile.target.count, profile.target.max) == (1_000, 999.0)
    assert profile.label_rate is None


def test_columns_profiled_in_parallel_match_a_serial_build(spec: ProjectSpec) -> None:
    frame = make_rows(60_000, seed=4)  # one chunk past PARALLEL_ROWS: columns in threads
    parallel = profile_frame(spec, frame)
    serial = profile_chunks(spec, (frame.iloc[i : i + 10_000] for i in range(0, 60_000, 10_000)))
    assert set(parallel.features) == set(serial.features)
    for name, ours in parallel.features.items():
        theirs = serial.features[name]
        if isinstance(ours, CategorySketch):
            assert isinstance(theirs, CategorySketch)
            assert (ours.counts, ours.missing) == (theirs.counts, theirs.missing), name
            continue
        assert isinstance(theirs, NumericSketch)
        assert (ours.count, ours.missing, ours.values) == (theirs.count, theirs.missing,
                                                           theirs.values), name  # fmt: skip
        assert ours.mean == pytest.approx(theirs.mean) and ours.m2 == pytest.approx(theirs.m2)
        assert np.array_equal(ours.low, theirs.low) and np.array_equal(ours.high, theirs.high)
        assert ours.sketch.n == theirs.sketch.n == ours.count


def test_exact_values_stop_at_the_cap_however_the_chunk_is_ordered() -> None:
    rng = np.random.default_rng(0)
    at_cap = rng.permutation(np.repeat(np.arange(EXACT_VALUES_CAP, dtype=np.float64), 5))
    sketch = NumericSketch()
    sketch.update(at_cap)
    assert sketch.values == {float(v): 5 for v in range(EXACT_VALUES_CAP)}
    sketch.update(np.array([-1.0], dtype=np.float32))  # one value more than the cap
    assert sketch.values is None

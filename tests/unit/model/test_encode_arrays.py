"""The Arrow encoder (batch scoring) against the pandas one, on random typed columns."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.pipeline import Pipeline

from tabops.model.candidates import FAMILIES
from tabops.model.columns import MISSING_CATEGORY
from tabops.model.compile import PARITY_TOLERANCE, EncoderPlan, OnnxPredictor, compile_pipeline
from tabops.model.exact import ExactTrees, split_thresholds
from tabops.model.features import build_preprocessor
from tabops.model.frame import model_frame, target_values
from tabops.model.tune import build_pipeline
from tabops.spec import ProjectSpec, parse_spec
from tests.unit.model.conftest import synthetic_spec, synthetic_table


def _spec_with_time() -> ProjectSpec:
    raw = synthetic_spec().model_dump(mode="json")
    raw["columns"]["when"] = {"type": "datetime", "nullable": True}
    return parse_spec(raw)


def _fitted(seed: int = 0) -> tuple[ProjectSpec, Pipeline]:
    spec = _spec_with_time()
    table = synthetic_table(600, seed=seed)
    pipeline = build_pipeline(spec, FAMILIES[spec.task]["lightgbm"], {"n_estimators": 30})
    pipeline.fit(model_frame(table, spec), target_values(table, spec))
    return spec, pipeline


def _random_columns(rows: int, seed: int) -> dict[str, pa.Array]:
    """Typed columns as the data contract gives them, with nulls, NaN, unseen categories
    and times beyond pandas' nanosecond range."""
    rng = np.random.default_rng(seed)

    def holes(values: list[object], share: float = 0.15) -> list[object]:
        return [None if rng.random() < share else v for v in values]

    x = rng.normal(size=rows) * 10.0 ** rng.integers(-3, 4, rows)
    x[rng.random(rows) < 0.05] = np.nan
    colors = rng.choice(["red", "blue", "green", "ultraviolet", "", "Red"], rows).tolist()
    micros = rng.integers(-(2**60), 2**60, rows)  # about years -34000..38000: clipped below
    micros = np.clip(micros, -62_000_000_000_000_000, 250_000_000_000_000_000)
    return {
        "x": pa.array(holes(x.tolist()), pa.float64()),
        "n": pa.array(holes(rng.integers(-(2**62), 2**62, rows).tolist()), pa.int64()),
        "color": pa.array(holes(colors), pa.string()),
        "flag": pa.array(holes((rng.random(rows) > 0.5).tolist()), pa.bool_()),
        "when": pa.array(holes(micros.tolist()), pa.int64()).cast(pa.timestamp("us", "UTC")),
    }


def _reference(plan: EncoderPlan, frame: pd.DataFrame) -> np.ndarray:
    """The encoder as it was before preallocation (blocks stacked), kept as the oracle."""
    blocks: list[np.ndarray] = []
    if plan.numeric:
        values = plan._numbers(frame)
        missing = np.isnan(values)
        imputed = np.where(missing, np.asarray(plan.medians), values)
        matrix = np.hstack([imputed, missing[:, plan.indicators].astype(np.float64)])
        blocks.append((matrix - np.asarray(plan.means)) / np.asarray(plan.scales))
    onehot = []
    for name, lookup, unknown, width in zip(
        plan.categorical, plan.lookups, plan.unknown, plan.widths, strict=True
    ):
        block = np.zeros((len(frame), width))
        text = frame[name].astype("object")
        text = text.where(text.notna(), MISSING_CATEGORY).astype(str)
        positions = text.map(lookup).fillna(-1 if unknown is None else unknown)
        positions = positions.to_numpy(dtype=np.int64)
        hit = positions >= 0
        block[np.flatnonzero(hit), positions[hit]] = 1.0
        onehot.append(block)
    if onehot:
        blocks.insert(len(blocks) if plan.numeric_first else 0, np.hstack(onehot))
    return np.hstack(blocks)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("numeric_first", [True, False])
def test_arrow_encoding_equals_the_frame_encoding_bit_for_bit(
    seed: int, numeric_first: bool
) -> None:
    spec, pipeline = _fitted()
    plan = compile_pipeline(pipeline, model_frame(synthetic_table(50), spec)).plan
    assert plan is not None and plan.datetimes == ["when"] and plan.categorical == ["color"]
    plan = replace(plan, numeric_first=numeric_first)
    if seed % 2:  # an unseen category with no column of its own, and with one
        plan = replace(plan, unknown=[None if seed % 4 == 1 else 0])
    rows = 1 + seed * 97
    columns = _random_columns(rows, seed)
    frame = model_frame(pa.table(columns), spec)
    by_frame = plan.encode_frame(frame)
    np.testing.assert_array_equal(by_frame, _reference(plan, frame))
    np.testing.assert_array_equal(plan.encode_arrays(columns, rows, np.float64), by_frame)
    single = plan.encode_arrays(columns, rows)
    assert single.dtype == np.float32
    np.testing.assert_array_equal(single, by_frame.astype(np.float32))


def test_scores_from_arrow_columns_equal_the_frames_with_split_ties(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows whose value sits on a LightGBM split in float32 are rescored from float64 rows
    in both paths, and in blocks as in one go."""
    spec = parse_spec({
        "name": "ties", "task": "classification", "target": "y", "source": {"path": "x.csv"},
        "columns": {"x": {"type": "numeric"}, "c": {"type": "categorical"},
                    "y": {"type": "categorical", "role": "target"}},
    })  # fmt: skip
    rng = np.random.default_rng(0)
    base = rng.choice([10.0, 20.0, 30.0], 2000)
    bump = rng.random(2000) < 0.5
    x = np.where(bump, np.nextafter(base, np.inf), base)
    table = pa.table({"x": x, "c": rng.choice(["a", "b"], 2000)})
    frame = model_frame(table, spec)
    model = FAMILIES[spec.task]["lightgbm"].build({"n_estimators": 20, "min_child_samples": 5}, 0)
    pipeline = Pipeline([("features", build_preprocessor(spec)), ("model", model)])
    pipeline.fit(frame, np.where(bump, "yes", "no"))
    compiled = compile_pipeline(pipeline, frame)
    assert compiled.kind == "onnx" and compiled.plan is not None
    predictor = OnnxPredictor(compiled.plan, compiled.onnx_model, compiled.classes,
                              compiled.exact_model)  # fmt: skip
    columns = {name: table.column(name).combine_chunks() for name in ("x", "c")}
    whole = predictor.predict_arrays(columns, len(x))
    np.testing.assert_array_equal(whole, predictor.predict_frame(frame))
    reference = pipeline.predict_proba(frame)
    assert np.abs(whole - reference).max() <= PARITY_TOLERANCE
    plain = OnnxPredictor(compiled.plan, compiled.onnx_model, compiled.classes)
    assert np.abs(plain.predict_arrays(columns, len(x)) - reference).max() > 0.1  # the trap

    import tabops.model.compile as compile_module

    monkeypatch.setattr(compile_module, "_BLOCK_BYTES", 4 * compiled.plan.width * 64)
    np.testing.assert_array_equal(predictor.predict_arrays(columns, len(x)), whole)


def _on_a_split(model_text: str, single: np.ndarray) -> np.ndarray:
    """The reference: numpy's membership test, column by column, against each threshold."""
    expected = np.zeros(len(single), dtype=bool)
    for column, values in split_thresholds(model_text):
        expected |= np.isin(single[:, column], np.fromiter(values, np.float32))
    return expected


def test_the_frame_threshold_check_finds_exactly_the_values_on_a_split() -> None:
    """As numpy's own membership test: -0.0 on a 0.0 split counts, NaN never does, and a
    one-hot column is checked for its 0/1 thresholds only; in a dense matrix and in one of
    mostly zeros (text terms)."""
    text = "\n".join([
        "Tree=0", "split_feature=0 1 0 2 3", "threshold=0 1.5 -2.25 1.0000000180025095e-35 1",
        "decision_type=2 2 2 2 2",
    ])  # fmt: skip
    trees = ExactTrees(text, classifier=True, binary=frozenset({2, 3}))
    rng = np.random.default_rng(4)
    pool = np.array([0.0, -0.0, 1.5, -2.25, np.nan, 1.0, 2.0, 1e-35], np.float32)
    single = rng.choice(pool, size=(500, 4)).astype(np.float32)
    single[:, 2:] = rng.integers(0, 2, size=(500, 2))  # one-hot: 0.0 or 1.0
    expected = _on_a_split(text, single)
    found = trees.on_threshold(single)
    np.testing.assert_array_equal(found, expected)
    assert found.any() and not found.all()
    assert found[(single[:, 0] == 0) & np.signbit(single[:, 0])].all()  # -0.0 on 0.0
    for position in range(50):  # the one-row path (serving) agrees
        assert trees.on_threshold(single[position : position + 1])[0] == expected[position]


def test_the_threshold_check_of_a_matrix_of_mostly_zeros_finds_the_same_rows() -> None:
    """Text terms make most of a matrix zeros: its nonzero values are looked up all at once,
    and a column split at 0.0 still flags its zeros (and -0.0)."""
    rng = np.random.default_rng(5)
    values = np.array([0.25, 0.5, -1.5, 0.75, 1e-35], np.float32)
    features = [0] + [c for c in range(1, 20) for _ in range(2)]
    thresholds = [0.0] + [float(rng.choice(values)) for _ in features[1:]]
    text = "\n".join([
        "Tree=0", "split_feature=" + " ".join(map(str, features)),
        "threshold=" + " ".join(repr(t) for t in thresholds),
        "decision_type=" + " ".join(["2"] * len(features)),
    ])  # fmt: skip
    trees = ExactTrees(text, classifier=True)
    single = np.zeros((2000, 24), np.float32)
    single[:, 0] = rng.choice(np.array([0.0, -0.0, 0.3, 0.6, 0.9, 1.2, 2.0, np.nan]), 2000)
    terms = rng.random((2000, 23)) < 0.05
    single[:, 1:][terms] = rng.choice(np.append(values, [0.33, np.nan]), terms.sum())
    assert np.count_nonzero(single[:, :20]) * 4 < single[:, :20].size  # the sparse path
    found_rows = trees.on_threshold(single)
    np.testing.assert_array_equal(found_rows, _on_a_split(text, single))
    assert found_rows.any() and not found_rows.all()
    assert found_rows[single[:, 0] == 0].all()  # the zeros of the column split at 0.0

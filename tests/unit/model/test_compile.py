"""The compiled predictor against the sklearn pipeline it was made from."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import sparse
from sklearn.pipeline import Pipeline

from tabops.model.candidates import FAMILIES
from tabops.model.compile import (
    PARITY_TOLERANCE,
    EncoderPlan,
    OnnxPredictor,
    SklearnPredictor,
    _max_difference,
    compile_pipeline,
    plan_from_pipeline,
)
from tabops.model.exact import split_thresholds
from tabops.model.features import build_preprocessor
from tabops.model.frame import model_frame, target_values
from tabops.model.tune import build_pipeline
from tabops.spec import ProjectSpec, parse_spec
from tests.unit.model.conftest import synthetic_spec, synthetic_table


def _with_missing(frame: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """Missing numbers and categories, and categories never seen in training."""
    rng = np.random.default_rng(seed)
    frame = frame.copy()
    frame.loc[rng.random(len(frame)) < 0.1, "x"] = np.nan
    frame.loc[rng.random(len(frame)) < 0.1, "color"] = np.nan
    frame.loc[rng.random(len(frame)) < 0.05, "color"] = "ultraviolet"
    return frame


def _fitted(spec: ProjectSpec, estimator: str, rows: int = 500) -> tuple[Pipeline, pd.DataFrame]:
    table = synthetic_table(rows, classes=2)
    frame = _with_missing(model_frame(table, spec))
    family = FAMILIES[spec.task][estimator]
    params = {"n_estimators": 40} if estimator in ("lightgbm", "random_forest") else {}
    pipeline = Pipeline(
        [("features", build_preprocessor(spec)), ("model", family.build(params, 0))]
    )
    pipeline.fit(frame, target_values(table, spec))
    return pipeline, frame


@pytest.mark.parametrize(
    ("task", "estimator"),
    [("classification", "linear"), ("classification", "lightgbm"),
     ("regression", "linear"), ("regression", "lightgbm")],
)  # fmt: skip
def test_compiled_scores_match_the_pipeline(task: str, estimator: str) -> None:
    spec = synthetic_spec(task)
    pipeline, frame = _fitted(spec, estimator)
    compiled = compile_pipeline(pipeline, frame)
    assert compiled.kind == "onnx", compiled.reason
    assert compiled.parity is not None and compiled.parity <= PARITY_TOLERANCE
    predictor = OnnxPredictor(compiled.plan, compiled.onnx_model, compiled.classes)  # type: ignore[arg-type]
    fresh = _with_missing(model_frame(synthetic_table(300, seed=7), spec), seed=3)
    reference = (
        pipeline.predict_proba(fresh) if task == "classification" else pipeline.predict(fresh)
    )
    scale = 1.0 if task == "classification" else np.maximum(1.0, np.abs(reference))
    assert np.max(np.abs(predictor.predict_frame(fresh) - reference) / scale) <= PARITY_TOLERANCE


def test_row_and_frame_encodings_agree_including_missing_and_unknown_values() -> None:
    spec = synthetic_spec()
    pipeline, frame = _fitted(spec, "linear")
    plan = plan_from_pipeline(pipeline)
    rows = frame.to_dict(orient="records")
    by_row = plan.encode_rows(rows)
    np.testing.assert_allclose(by_row, plan.encode_frame(frame), rtol=0, atol=1e-12)
    np.testing.assert_allclose(plan.encode_frame(frame), pipeline[0].transform(frame), atol=1e-12)


def test_the_plan_survives_its_json_form() -> None:
    pipeline, frame = _fitted(synthetic_spec(), "linear")
    plan = plan_from_pipeline(pipeline)
    again = EncoderPlan.from_json(plan.to_json())
    assert again == plan
    np.testing.assert_array_equal(again.encode_frame(frame), plan.encode_frame(frame))


WORDS = ["Apple", "banana", "CHERRY", "plum", "crème", "brûlée", "don't", "x", "naïve", "3d",
         "42", "über-cool", "tea_time", "日本語", "a.b", "  "]  # fmt: skip
WORDS += [f"term{i}" for i in range(300)]  # enough terms that the matrix is mostly zeros


def _notes(rows: int, seed: int) -> list[str | None]:
    """Documents of random words: case, accents, apostrophes, digits, one-letter words, other
    scripts, punctuation, blanks, and some missing."""
    rng = np.random.default_rng(seed)
    notes: list[str | None] = [
        " ".join(rng.choice(WORDS, rng.integers(0, 7)).tolist()) for _ in range(rows)
    ]
    for row in np.flatnonzero(rng.random(rows) < 0.1):
        notes[row] = None
    return notes


def _with_text(estimator: str, **tfidf: object) -> tuple[Pipeline, pd.DataFrame, ProjectSpec]:
    raw = synthetic_spec().model_dump(mode="json")
    raw["columns"]["note"] = {"type": "text"}
    raw["columns"]["title"] = {"type": "text"}
    spec = parse_spec(raw)
    table = synthetic_table(400)
    table = table.append_column("note", [_notes(400, 1)]).append_column("title", [_notes(400, 2)])
    frame = model_frame(table, spec)
    features = build_preprocessor(spec)
    if tfidf:
        features.set_params(text_note__analyzer=tfidf["analyzer"])
    params = {"n_estimators": 30} if estimator == "lightgbm" else {}
    model = FAMILIES[spec.task][estimator].build(params, 0)
    pipeline = Pipeline([("features", features), ("model", model)])
    pipeline.fit(frame, target_values(table, spec))
    return pipeline, frame, spec


@pytest.mark.parametrize("estimator", ["linear", "lightgbm"])
def test_text_columns_compile_to_the_pipelines_tfidf(estimator: str) -> None:
    pipeline, frame, spec = _with_text(estimator)
    compiled = compile_pipeline(pipeline, frame)
    assert compiled.kind == "onnx", compiled.reason
    plan = compiled.plan
    assert plan is not None and plan.texts == ["note", "title"]
    assert compiled.parity is not None and compiled.parity <= PARITY_TOLERANCE
    fresh = model_frame(
        synthetic_table(200, seed=5)
        .append_column("note", [_notes(200, 8)])
        .append_column("title", [[f"plum {chr(0x100 + i)}mbra {i}" for i in range(200)]]),
        spec,
    )  # unseen words among the seen ones
    transformed = pipeline[0].transform(fresh)
    assert sparse.issparse(transformed)  # the text terms make it mostly zeros
    expected = transformed.toarray()
    np.testing.assert_allclose(plan.encode_frame(fresh), expected, rtol=0, atol=1e-12)
    rows = fresh.to_dict(orient="records")
    np.testing.assert_allclose(plan.encode_rows(rows), expected, rtol=0, atol=1e-12)
    columns = {name: pa.array(fresh[name].tolist()) for name in plan.columns}
    encoded = plan.encode_arrays(columns, len(fresh), np.float64)
    np.testing.assert_allclose(encoded, expected, rtol=0, atol=1e-12)
    assert EncoderPlan.from_json(plan.to_json()) == plan


def test_a_text_step_other_than_the_default_tfidf_falls_back_with_a_reason() -> None:
    pipeline, frame, _ = _with_text("linear", analyzer="char")
    compiled = compile_pipeline(pipeline, frame)
    assert compiled.kind == "sklearn" and "TF-IDF" in compiled.reason


def test_a_parity_failure_serves_the_pipeline_never_a_mismatch() -> None:
    pipeline, frame = _fitted(synthetic_spec(), "linear")
    pipeline[-1].coef_ = pipeline[-1].coef_ * np.nan  # NaN scores never pass the check
    broken = compile_pipeline(pipeline, frame)
    assert broken.kind == "sklearn" and "parity check failed" in broken.reason


def test_regression_parity_is_relative_to_the_largest_prediction() -> None:
    reference = np.array([3.0, 400.0, -250.0])
    # float32 sums err in proportion to the ensemble's size: 2e-3 on a 3-minute delay among
    # predictions in the hundreds is 5e-6 of the largest, within the tolerance
    assert _max_difference(reference + np.array([2e-3, 0.0, 0.0]), reference) == pytest.approx(5e-6)
    assert _max_difference(reference + np.array([0.0, 0.01, 0.0]), reference) > PARITY_TOLERANCE
    small = np.array([0.2, 0.5])  # below 1: absolute
    assert _max_difference(small + 2e-5, small) == pytest.approx(2e-5)
    probabilities = np.array([[0.2, 0.8]])
    assert _max_difference(probabilities + 2e-5, probabilities) == pytest.approx(2e-5)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_values_on_a_lightgbm_split_in_float32_get_lightgbm_own_score(task: str) -> None:
    # x takes pairs of adjacent doubles (the same float32) with opposite labels: LightGBM
    # splits between them, which a float32 ONNX graph cannot see.
    target = {"type": "categorical" if task == "classification" else "numeric", "role": "target"}
    spec = parse_spec({
        "name": "ties", "task": task, "target": "y", "source": {"path": "x.csv"},
        "columns": {"x": {"type": "numeric"}, "z": {"type": "numeric"}, "y": target},
    })  # fmt: skip
    rng = np.random.default_rng(0)
    base = rng.choice([10.0, 20.0, 30.0], 2000)
    bump = rng.random(2000) < 0.5
    frame = pd.DataFrame({"x": np.where(bump, np.nextafter(base, np.inf), base),
                          "z": rng.normal(size=2000)})  # fmt: skip
    model = FAMILIES[spec.task]["lightgbm"].build({"n_estimators": 20, "min_child_samples": 5}, 0)
    pipeline = Pipeline([("features", build_preprocessor(spec)), ("model", model)])
    if task == "classification":
        pipeline.fit(frame, np.where(bump, "yes", "no"))
        reference = pipeline.predict_proba(frame)
    else:
        pipeline.fit(frame, np.where(bump, 1.0, 0.0) + rng.normal(0, 0.01, 2000))
        reference = pipeline.predict(frame)
    compiled = compile_pipeline(pipeline, frame)
    assert compiled.kind == "onnx" and compiled.exact_model is not None, compiled.reason
    plain = OnnxPredictor(compiled.plan, compiled.onnx_model, compiled.classes)  # type: ignore[arg-type]
    assert np.abs(plain.predict_frame(frame) - reference).max() > 0.1  # the float32 trap
    guarded = OnnxPredictor(
        compiled.plan,
        compiled.onnx_model,
        compiled.classes,
        compiled.exact_model,  # type: ignore[arg-type]
    )
    assert np.abs(guarded.predict_frame(frame) - reference).max() <= PARITY_TOLERANCE
    rows = frame.head(100).to_dict(orient="records")
    one_by_one = np.concatenate([guarded.predict_rows([row]) for row in rows])
    assert one_by_one.shape == reference[:100].shape
    assert np.abs(one_by_one - reference[:100]).max() <= PARITY_TOLERANCE
    # Batch work does not preload LightGBM: the first row on a threshold loads it.
    lazy = OnnxPredictor(compiled.plan, compiled.onnx_model, compiled.classes,  # type: ignore[arg-type]
                         compiled.exact_model, preload_exact=False)  # fmt: skip
    assert lazy._exact is not None and not lazy._exact._loaded.is_set()
    assert np.abs(lazy.predict_frame(frame) - reference).max() <= PARITY_TOLERANCE


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_thresholds_read_from_lightgbm_text_are_the_onnx_graphs(task: str) -> None:
    # Serving reads the split thresholds from LightGBM's text (no onnx import); the graph
    # ONNX Runtime runs is the authority on which float32 values it compares with.
    import onnx

    spec = synthetic_spec(task)
    pipeline, frame = _fitted(spec, "lightgbm")
    compiled = compile_pipeline(pipeline, frame)
    assert compiled.kind == "onnx" and compiled.exact_model is not None
    graph = onnx.load_from_string(compiled.onnx_model).graph
    expected: dict[int, set[float]] = {}
    for node in graph.node:
        if node.op_type.startswith("TreeEnsemble"):
            attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            for column, value, mode in zip(attributes["nodes_featureids"],
                                           attributes["nodes_values"],
                                           attributes["nodes_modes"], strict=True):  # fmt: skip
                if mode not in (b"LEAF", "LEAF"):
                    expected.setdefault(int(column), set()).add(float(np.float32(value)))
    found = dict(split_thresholds(compiled.exact_model))
    assert expected and found == {column: frozenset(v) for column, v in expected.items()}


@pytest.mark.parametrize("estimator", ["lightgbm", "linear"])
def test_every_output_has_a_dynamic_batch_dimension(estimator: str) -> None:
    # A fixed batch of 1 (onnxmltools' LightGBM label) makes ONNX Runtime warn on every call.
    import onnx

    pipeline, frame = _fitted(synthetic_spec(), estimator)
    compiled = compile_pipeline(pipeline, frame)
    graph = onnx.load_from_string(compiled.onnx_model).graph
    first = [output.type.tensor_type.shape.dim[0] for output in graph.output]
    assert first and not any(d.dim_value for d in first), first  # a name or unknown


def test_large_frames_are_scored_in_blocks_with_the_same_scores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tabops.model.compile as compile_module

    pipeline, frame = _fitted(synthetic_spec(), "lightgbm")
    compiled = compile_pipeline(pipeline, frame)
    predictor = OnnxPredictor(compiled.plan, compiled.onnx_model, compiled.classes)  # type: ignore[arg-type]
    whole = predictor.predict_frame(frame)
    encoded: list[int] = []
    encode = compile_module.EncoderPlan.encode_frame

    def counting(plan: compile_module.EncoderPlan, part: pd.DataFrame) -> np.ndarray:
        encoded.append(len(part))
        return encode(plan, part)

    monkeypatch.setattr(compile_module.EncoderPlan, "encode_frame", counting)
    monkeypatch.setattr(compile_module, "_BLOCK_BYTES", 8 * predictor.plan.width * 64)
    np.testing.assert_array_equal(predictor.predict_frame(frame), whole)
    assert max(encoded) == 64 and sum(encoded) == len(frame)


def test_a_compiled_form_that_fails_to_run_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline, frame = _fitted(synthetic_spec(), "linear")

    def broken(self: OnnxPredictor, frame: pd.DataFrame) -> np.ndarray:
        raise RuntimeError("InvalidArgument: wrong input width")

    monkeypatch.setattr(OnnxPredictor, "predict_frame", broken)
    compiled = compile_pipeline(pipeline, frame)
    assert compiled.kind == "sklearn" and "RuntimeError" in compiled.reason


def test_datetimes_are_expanded_by_the_pipelines_own_step_in_every_path() -> None:
    """The pipeline takes raw datetime columns; the compiled plan expands them with that
    step's columns, for a frame and for rows as serving sends them (naive UTC, None)."""
    raw = synthetic_spec().model_dump(mode="json")
    raw["columns"]["when"] = {"type": "datetime", "nullable": True}  # a feature now
    spec = parse_spec(raw)
    rng = np.random.default_rng(5)
    table = synthetic_table(600)
    when = table.column("when").to_pandas()
    years = rng.choice([1850, 2026, 2600], len(when))  # beyond pandas' nanosecond range too
    stamps = [
        None if rng.random() < 0.1 else t.replace(year=int(y))
        for t, y in zip(when, years, strict=True)
    ]
    table = table.set_column(
        table.column_names.index("when"), "when", pa.array(stamps, pa.timestamp("us", "UTC"))
    )
    frame = model_frame(table, spec)
    pipeline = build_pipeline(spec, FAMILIES[spec.task]["lightgbm"], {"n_estimators": 30})
    labels = target_values(table, spec)
    labels[(years == 2600) & frame["when"].notna().to_numpy()] = "yes"  # the model needs "when"
    pipeline.fit(frame, labels)
    assert pipeline.steps[0][1].columns == ("when",)
    compiled = compile_pipeline(pipeline, frame)
    assert compiled.kind == "onnx", compiled.reason
    assert compiled.plan is not None and compiled.plan.datetimes == ["when"]
    assert "when" in compiled.plan.columns and "when__year" not in compiled.plan.columns
    predictor = OnnxPredictor(compiled.plan, compiled.onnx_model, compiled.classes,
                              compiled.exact_model)  # fmt: skip
    reference = pipeline.predict_proba(frame)
    np.testing.assert_allclose(predictor.predict_frame(frame), reference, atol=PARITY_TOLERANCE)
    rows = [
        {**row, "when": None if row["when"] is pd.NaT else row["when"].to_pydatetime()}
        for row in frame.head(200).to_dict(orient="records")
    ]
    assert {type(row["when"]) for row in rows} == {datetime, type(None)}
    for path in (predictor, SklearnPredictor(pipeline, list(frame.columns))):
        by_row = path.predict_rows(rows)
        np.testing.assert_allclose(by_row, reference[:200], atol=PARITY_TOLERANCE)

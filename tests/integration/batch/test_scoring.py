"""The batch scorer gives serving's answers for the same rows, rejects (never drops) the rows
the contract refuses, and is a picklable recipe (what Spark ships to executors).

A LightGBM champion is scored by its native code (lleaves, float64: LightGBM's own scores)
with ``TABOPS_BATCH_KERNEL=native`` (and by default on large runs), or with ``onnx`` by the
ONNX graph serving runs (float32: serving's scores to the last bit). Native scores equal the
training pipeline's, and serving's to float32's precision; so do the labels, but for a score
that close to the threshold."""

from __future__ import annotations

import pickle
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from tabops.batch.scoring import (
    KERNEL_ENV,
    LINEAGE,
    NATIVE_MIN_ROWS,
    REJECT_COLUMN,
    REJECT_REASON,
    recipe_for,
)
from tabops.errors import TabopsError
from tabops.model.frame import json_records, model_frame
from tabops.model.kernel import CACHE_ENV
from tabops.registry.models import CHAMPION, registry_for
from tabops.serve.model import load_served
from tests.integration.serve.conftest import ServedProject, make_project, served_spec_dict
from tests.unit.model.conftest import synthetic_table

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("mlflow")]

RUN_DATE = date(2026, 12, 1)
#: How far serving's float32 graph may be from LightGBM's float64 scores (relative).
FLOAT32 = 2e-6


@pytest.fixture(params=["native", "onnx"])
def kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The batch model kernel a test runs with (native needs lleaves: the batch extra)."""
    if request.param == "native":
        pytest.importorskip("lleaves")
    monkeypatch.setenv(KERNEL_ENV, str(request.param))
    return str(request.param)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> ServedProject:
    return make_project(tmp_path_factory.mktemp("batch-scoring"), rows=600)


def _as_text(table: pa.Table) -> pa.RecordBatch:
    """The rows as a CSV reader gives them: every value a string (or null)."""
    text = {n: table.column(n).combine_chunks().cast(pa.string()) for n in table.column_names}
    return pa.RecordBatch.from_pydict(text)


def test_batch_scores_equal_serving_scores(project: ServedProject, kernel: str) -> None:
    spec, ctx = project.spec, project.ctx
    rows = synthetic_table(200, seed=11)
    recipe = recipe_for(spec, ctx, run_date=RUN_DATE, batch_id="b1")
    assert (recipe.native is not None) == (kernel == "native")
    scorer = pickle.loads(pickle.dumps(recipe)).build()  # as shipped to another process
    chunk = scorer.score(rows.combine_chunks().to_batches()[0])
    assert chunk.rejects.num_rows == 0 and chunk.scored.num_rows == 200
    assert chunk.scored.schema == scorer.output_schema

    served = load_served(spec, registry_for(spec, ctx), CHAMPION)
    features = [n for n in rows.column_names if n not in ("label", "id", "value")]
    outputs, _ = served.predict(json_records(rows.select(features).to_pandas()), batch=True)
    scored = chunk.scored.to_pydict()
    serving = np.array([o["score"] for o in outputs])
    if kernel == "onnx":
        np.testing.assert_allclose(scored["score"], serving, rtol=0, atol=1e-12)
        assert scored["label"] == [o["label"] for o in outputs]
    else:
        pipeline = registry_for(spec, ctx).load_pipeline(served.version)
        frame = model_frame(rows.select(features), spec)
        positive = [str(c) for c in pipeline.classes_].index(str(served.positive))
        reference = pipeline.predict_proba(frame)[:, positive]
        np.testing.assert_allclose(scored["score"], reference, rtol=0, atol=1e-12)
        np.testing.assert_allclose(scored["score"], serving, rtol=0, atol=FLOAT32)
        clear = np.abs(serving - scored["threshold"][0]) > FLOAT32  # not a float32 tie
        assert clear.sum() > 150
        labels = np.array([o["label"] for o in outputs])
        assert (np.array(scored["label"])[clear] == labels[clear]).all()
    assert scored["threshold"] == [o["threshold"] for o in outputs]
    assert scored["id"] == rows.column("id").to_pylist()
    assert set(scored["model_version"]) == {served.version.version}
    assert set(scored["run_date"]) == {RUN_DATE} and set(scored["batch_id"]) == {"b1"}
    assert scored["spec_hash"][0] == served.version.tags["tabops.spec_hash"]

    # The same rows read from a CSV (every value text) score the same.
    again = scorer.score(_as_text(rows))
    np.testing.assert_allclose(again.scored.column("score"), scored["score"], atol=1e-12)


def test_auto_compiles_the_native_code_for_large_runs_and_uses_it_once_compiled(
    project: ServedProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("lleaves")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "kernels"))
    monkeypatch.delenv(KERNEL_ENV, raising=False)  # auto
    spec, ctx = project.spec, project.ctx
    small = recipe_for(spec, ctx, run_date=RUN_DATE, batch_id="s", rows=NATIVE_MIN_ROWS - 1)
    assert small.native is None  # a minute of compiling is not repaid on a small file
    unknown = recipe_for(spec, ctx, run_date=RUN_DATE, batch_id="u", rows=None)
    assert unknown.native is None  # a .gz file or a query: maybe small, so not compiled
    assert not list((tmp_path / "kernels").glob("*.o"))
    large = recipe_for(spec, ctx, run_date=RUN_DATE, batch_id="l", rows=NATIVE_MIN_ROWS)
    assert large.native is not None and len(list((tmp_path / "kernels").glob("*.o"))) == 1
    again = recipe_for(spec, ctx, run_date=RUN_DATE, batch_id="a", rows=10)
    assert again.native == large.native  # compiled now: small runs use it too
    monkeypatch.setenv(KERNEL_ENV, "fast")
    with pytest.raises(TabopsError, match="TABOPS_BATCH_KERNEL='fast' is not a batch kernel"):
        recipe_for(spec, ctx, run_date=RUN_DATE, batch_id="x")


def test_refused_rows_go_to_the_rejects_with_column_and_reason(project: ServedProject) -> None:
    scorer = recipe_for(project.spec, project.ctx, run_date=RUN_DATE, batch_id="b2").build()
    text = _as_text(synthetic_table(50, seed=12)).to_pydict()
    text["x"][3] = "not-a-number"
    text["color"][7] = "purple"
    text["x"][9] = "1000"  # above the contract's max (100)
    text["x"][11], text["color"][11] = "abc", "purple"  # two failures: one reject row
    chunk = scorer.score(pa.RecordBatch.from_pydict(text))
    assert chunk.scored.num_rows + chunk.rejects.num_rows == 50
    assert chunk.rejects.num_rows == 4
    rejects = chunk.rejects.to_pydict()
    assert rejects["id"] == [text["id"][i] for i in (3, 7, 9, 11)]
    first = min(("x", "color"), key=scorer.required_columns.index)
    assert rejects[REJECT_COLUMN] == ["x", "color", "x", first]
    assert "not-a-number" in rejects[REJECT_REASON][0]
    assert (
        rejects[REJECT_REASON][1].startswith("category") and "purple" in rejects[REJECT_REASON][1]
    )
    assert rejects[REJECT_REASON][2].startswith("max")
    assert rejects["x"][0] == "not-a-number"
    assert all(name in rejects for name in LINEAGE)
    assert chunk.rejects.schema == scorer.rejects_schema
    assert 3 not in chunk.scored.column("id").to_pylist()


def test_decisions_and_fired_rules_match_serving(tmp_path: Path) -> None:
    raw = served_spec_dict()
    raw["decision"] = {"rules": "rules.yaml", "review_at": 0.3}
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "rules.yaml").write_text(
        "version: r1\nrules:\n"
        "  - {id: big-x, condition: 'x > 1', action: review, explanation: large x}\n"
        "  - {id: red, condition: \"color == 'red'\", action: reject, explanation: red}\n"
    )
    project = make_project(tmp_path / "p", raw, rows=400)
    spec, ctx = project.spec, project.ctx
    rows = synthetic_table(120, seed=13)
    scorer = recipe_for(spec, ctx, run_date=RUN_DATE, batch_id="b3").build()
    scored = scorer.score(rows.combine_chunks().to_batches()[0]).scored.to_pydict()
    served = load_served(spec, registry_for(spec, ctx), CHAMPION)
    features = [n for n in rows.column_names if n not in ("label", "id", "value")]
    outputs, _ = served.predict(json_records(rows.select(features).to_pandas()), batch=True)
    assert scored["decision"] == [o["decision"] for o in outputs]
    assert len(set(scored["decision"])) > 1  # the rules and the score both decide something
    assert scored["fired_rules"] == [
        ",".join(f["id"] for f in o["rules"]["fired"]) for o in outputs
    ]
    assert set(scored["rules_version"]) == {"r1"}


def test_regression_predictions_equal_serving(tmp_path: Path, kernel: str) -> None:
    raw = served_spec_dict()
    raw.pop("positive_class")
    raw["task"], raw["target"] = "regression", "value"
    raw["columns"]["value"]["role"] = "target"
    raw["columns"]["label"]["role"] = "ignored"
    project = make_project(tmp_path / "r", raw, rows=400)
    rows = synthetic_table(80, seed=14)
    scorer = recipe_for(project.spec, project.ctx, run_date=RUN_DATE, batch_id="b4").build()
    scored = scorer.score(rows.combine_chunks().to_batches()[0]).scored.to_pydict()
    assert "label" not in scored and "threshold" not in scored
    served = load_served(project.spec, registry_for(project.spec, project.ctx), CHAMPION)
    features = [n for n in rows.column_names if n not in ("label", "id", "value")]
    outputs, _ = served.predict(json_records(rows.select(features).to_pandas()), batch=True)
    serving = [o["prediction"] for o in outputs]
    if kernel == "onnx":
        np.testing.assert_allclose(scored["prediction"], serving, atol=1e-9)
    else:
        pipeline = registry_for(project.spec, project.ctx).load_pipeline(served.version)
        reference = pipeline.predict(model_frame(rows.select(features), project.spec))
        np.testing.assert_allclose(scored["prediction"], reference, rtol=1e-13, atol=1e-12)
        np.testing.assert_allclose(scored["prediction"], serving, rtol=FLOAT32, atol=1e-6)
    assert scored["score"] == scored["prediction"]

"""The native kernel (lleaves) gives LightGBM's own scores, on split thresholds too; its cache
is shared safely by processes and filled from shipped code; without lleaves the ONNX graph
scores."""

from __future__ import annotations

import hashlib
import multiprocessing
import sys
from contextlib import AbstractContextManager, nullcontext
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.pipeline import Pipeline

from tabops.batch.scoring import Lineage, ScorerRecipe
from tabops.model.candidates import FAMILIES
from tabops.model.compile import PARITY_TOLERANCE, Compiled, OnnxPredictor, compile_pipeline
from tabops.model.features import build_preprocessor
from tabops.model.kernel import CACHE_ENV, NativeCode, NativePredictor, compile_native
from tabops.spec import parse_spec

TIES_SPEC = {
    "name": "ties", "task": "classification", "target": "y", "source": {"path": "x.csv"},
    "columns": {"x": {"type": "numeric"}, "c": {"type": "categorical"},
                "y": {"type": "categorical", "role": "target"}},
}  # fmt: skip


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "kernels"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


@pytest.fixture(scope="module")
def ties() -> tuple[Pipeline, pd.DataFrame, Compiled]:
    """x takes pairs of adjacent doubles (the same float32) with opposite labels: LightGBM
    splits between them, on values a float32 graph cannot tell apart."""
    rng = np.random.default_rng(0)
    base = rng.choice([10.0, 20.0, 30.0], 2000)
    bump = rng.random(2000) < 0.5
    frame = pd.DataFrame({"x": np.where(bump, np.nextafter(base, np.inf), base),
                          "c": rng.choice(["a", "b"], 2000).astype(object)})  # fmt: skip
    spec = parse_spec(TIES_SPEC)
    model = FAMILIES[spec.task]["lightgbm"].build({"n_estimators": 20, "min_child_samples": 5}, 0)
    pipeline = Pipeline([("features", build_preprocessor(spec)), ("model", model)])
    pipeline.fit(frame, np.where(bump, "yes", "no"))
    compiled = compile_pipeline(pipeline, frame)
    assert compiled.kind == "onnx" and compiled.exact_model is not None
    return pipeline, frame, compiled


def _native(compiled: Compiled, shipped: NativeCode | None = None) -> NativePredictor:
    assert compiled.plan is not None and compiled.exact_model is not None
    return NativePredictor(compiled.plan, compiled.exact_model, compiled.classes, shipped)


def test_native_scores_are_lightgbm_own_on_split_thresholds(
    ties: tuple[Pipeline, pd.DataFrame, Compiled],
) -> None:
    pytest.importorskip("lleaves")
    import lightgbm

    pipeline, frame, compiled = ties
    assert compiled.plan is not None and compiled.exact_model is not None
    shipped = compile_native(compiled.exact_model)
    assert shipped is not None
    native = _native(compiled, shipped)
    reference = pipeline.predict_proba(frame)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    columns = {name: table.column(name).combine_chunks() for name in compiled.plan.columns}
    scores = native.predict_arrays(columns, len(frame))
    np.testing.assert_allclose(scores, reference, rtol=0, atol=1e-12)
    plain = OnnxPredictor(compiled.plan, compiled.onnx_model, compiled.classes)
    assert np.abs(plain.predict_frame(frame) - reference).max() > 0.1  # the rows are ties

    # Serving's predictor (the graph, LightGBM on the ties) one row at a time, as it serves.
    served = OnnxPredictor(compiled.plan, compiled.onnx_model, compiled.classes,
                           compiled.exact_model)  # fmt: skip
    rows = frame.head(200).to_dict(orient="records")
    serving = np.vstack([served.predict_rows([row]) for row in rows])
    assert np.abs(serving - scores[:200]).max() <= PARITY_TOLERANCE
    assert (serving.argmax(axis=1) == scores[:200].argmax(axis=1)).all()

    # The encoded matrix with every split's threshold itself and its neighbouring doubles.
    booster = lightgbm.Booster(model_str=compiled.exact_model)
    matrix = native.plan.encode_frame(frame.head(300))
    for line in compiled.exact_model.splitlines():
        key, _, value = line.partition("=")
        if key == "split_feature":
            features = [int(f) for f in value.split()]
        elif key == "threshold":
            for position, (feature, text) in enumerate(zip(features, value.split(), strict=True)):
                threshold = float(text)
                for offset, target in enumerate((-np.inf, None, np.inf)):
                    row = (3 * position + offset) % len(matrix)
                    on = threshold if target is None else np.nextafter(threshold, target)
                    matrix[row, feature] = on
    expected = booster.predict(matrix, num_threads=1)
    got = native._run(matrix.copy())[:, 1]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def _compile_in_child(text: str) -> str:
    code = compile_native(text)
    assert code is not None
    return hashlib.sha256(code.code).hexdigest()


def test_processes_compiling_at_once_share_one_cached_file(
    ties: tuple[Pipeline, pd.DataFrame, Compiled], cache: Path
) -> None:
    pytest.importorskip("lleaves")
    text = ties[2].exact_model
    assert text is not None
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        digests = pool.map(_compile_in_child, [text, text])
    assert digests[0] == digests[1]
    assert len(list(cache.glob("*.o"))) == 1 and not list(cache.glob("*.tmp-*"))

    compiles: list[str] = []

    def status(description: str) -> AbstractContextManager[None]:
        compiles.append(description)
        return nullcontext()

    again = compile_native(text, status)  # a cache hit: no status line, the same code
    assert again is not None and compiles == []
    assert hashlib.sha256(again.code).hexdigest() == digests[0]
    (cache / f"{again.key}.o").unlink()
    assert compile_native(text, status) is not None and len(compiles) == 1


def test_shipped_code_fills_an_empty_cache_and_a_foreign_one_is_ignored(
    ties: tuple[Pipeline, pd.DataFrame, Compiled],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("lleaves")
    pipeline, frame, compiled = ties
    assert compiled.exact_model is not None
    shipped = compile_native(compiled.exact_model)
    assert shipped is not None
    executor = tmp_path / "executor"  # another machine's empty cache
    monkeypatch.setenv(CACHE_ENV, str(executor))
    native = _native(compiled, shipped)
    assert (executor / f"{shipped.key}.o").read_bytes() == shipped.code
    reference = pipeline.predict_proba(frame)
    np.testing.assert_allclose(native.predict_frame(frame), reference, rtol=0, atol=1e-12)

    # Code compiled for another CPU or version (another key) is never loaded: it compiles.
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv(CACHE_ENV, str(elsewhere))
    foreign = NativeCode("0" * 32, b"not object code")
    native = _native(compiled, foreign)
    assert not (elsewhere / f"{foreign.key}.o").exists()
    np.testing.assert_allclose(native.predict_frame(frame), reference, rtol=0, atol=1e-12)


def test_without_lleaves_the_onnx_graph_scores(
    ties: tuple[Pipeline, pd.DataFrame, Compiled], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, frame, compiled = ties
    assert compiled.plan is not None and compiled.exact_model is not None
    monkeypatch.setitem(sys.modules, "lleaves", None)  # as if not installed
    assert compile_native(compiled.exact_model) is None
    recipe = ScorerRecipe(
        spec=parse_spec(TIES_SPEC).model_dump(mode="json"),
        plan_json=compiled.plan.to_json(),
        onnx_model=compiled.onnx_model,
        exact_model=compiled.exact_model,
        pipeline=None,
        classes=compiled.classes,
        threshold=None,
        positive="yes",
        rules_text=None,
        lineage=Lineage("ties", "1", "h", None, date(2026, 12, 1), "b"),
        native=NativeCode("0" * 32, b""),  # shipped, but this process cannot load it
    )
    scorer = recipe.build()
    assert scorer.predictor is not None and scorer.predictor.kind == "onnx"
    chunk = scorer.score(pa.RecordBatch.from_pandas(frame, preserve_index=False))
    assert chunk.scored.num_rows == len(frame)


def _large_regression() -> str:
    """A LightGBM regression on prices near 1e9: float64 sums in lleaves' order differ from
    LightGBM's in their last bits (about 1e-7 here)."""
    import lightgbm

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 8))
    y = 1e8 + 8e8 * rng.random(3000) + 1e7 * x[:, 0]
    model = lightgbm.LGBMRegressor(n_estimators=40, verbose=-1).fit(x, y)
    return str(model.booster_.model_to_string())


def test_large_scores_are_checked_relative_to_their_size() -> None:
    pytest.importorskip("lleaves")
    assert compile_native(_large_regression()) is not None


def test_a_model_the_check_refuses_is_not_compiled_again(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("lleaves")
    from tabops.model import kernel

    checks: list[str] = []

    def refuse(model: object, text: str) -> None:
        checks.append(text)
        raise ValueError("native scores differ from LightGBM's by 0.5")

    monkeypatch.setattr(kernel, "_check", refuse)
    text = _large_regression()
    assert compile_native(text) is None and compile_native(text) is None
    assert len(checks) == 1  # the second call read the refusal
    (refused,) = cache.glob("*.refused")
    assert refused.read_text() == "native scores differ from LightGBM's by 0.5"
    assert not list(cache.glob("*.o"))

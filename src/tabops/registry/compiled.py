"""The compiled predictor of a model version: made at registration, verified when loaded.

The compiled files (ONNX graph, encoder plan, parity report, a request example) are logged
under ``compiled/`` in the version's run, and their SHA-256 hashes are tags on the version, so
serving refuses a changed file exactly as it refuses a changed pipeline.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tabops.digest import file_sha256
from tabops.errors import TabopsError
from tabops.model.columns import feature_names
from tabops.model.compile import (
    Compiled,
    EncoderPlan,
    OnnxPredictor,
    Predictor,
    SklearnPredictor,
    compile_pipeline,
)
from tabops.registry.client import registry_errors
from tabops.registry.models import ModelVersion, Registry
from tabops.spec import ProjectSpec

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

COMPILED_DIR = "compiled"
ONNX_FILE, PLAN_FILE, REPORT_FILE, EXAMPLE_FILE, EXACT_FILE = (
    "model.onnx",
    "plan.json",
    "compile.json",
    "request_example.json",
    "lightgbm.txt",  # LightGBM's own model, for rows on a split threshold (compile.py)
)
KIND_TAG = "tabops.compiled"
_HASH_TAGS = {
    ONNX_FILE: "tabops.onnx_sha256",
    PLAN_FILE: "tabops.plan_sha256",
    EXAMPLE_FILE: "tabops.example_sha256",
    EXACT_FILE: "tabops.exact_sha256",
}
EXAMPLE_ROWS = 5


def compile_version(
    spec: ProjectSpec, registry: Registry, version: ModelVersion, test_rows: pa.Table,
    pipeline: Any, expected: np.ndarray | None = None,
) -> tuple[ModelVersion, Compiled]:  # fmt: skip
    """Compile ``version``'s ``pipeline``, check parity on its frozen test rows, log the
    result. ``expected``: the pipeline's own scores of the rows, when the caller has them."""
    from tabops.model.frame import model_frame  # pyarrow: registration only, never serving

    compiled = compile_pipeline(pipeline, model_frame(test_rows, spec), expected)
    folder = Path(tempfile.mkdtemp(prefix="tabops-compiled-"))
    files = {
        REPORT_FILE: json.dumps(compiled.report(), indent=2).encode(),
        EXAMPLE_FILE: json.dumps(request_records(test_rows, spec, EXAMPLE_ROWS)).encode(),
    }
    if compiled.kind == "onnx" and compiled.plan is not None:
        files[ONNX_FILE] = compiled.onnx_model
        files[PLAN_FILE] = compiled.plan.to_json().encode()
        if compiled.exact_model is not None:
            files[EXACT_FILE] = compiled.exact_model.encode()
    tags = {KIND_TAG: compiled.kind}
    for name, content in files.items():
        (folder / name).write_bytes(content)
        if name in _HASH_TAGS:
            tags[_HASH_TAGS[name]] = file_sha256(folder / name)
    with registry_errors(registry.uri):
        registry.client.log_artifacts(version.run_id, str(folder), COMPILED_DIR)
        for key, value in tags.items():
            registry.client.set_model_version_tag(registry.name, version.version, key, value)
    return registry.version(version.version), compiled


def request_records(rows: pa.Table, spec: ProjectSpec, limit: int) -> list[dict[str, Any]]:
    """Rows as the JSON records a client sends (features only; datetimes as ISO strings)."""
    from tabops.model.frame import json_records

    return json_records(rows.select(feature_names(spec)).slice(0, limit).to_pandas())


def load_predictor(
    registry: Registry, version: ModelVersion, columns: list[str], preload_exact: bool = True
) -> Predictor:
    """The version's compiled predictor (hash-verified), or its sklearn pipeline when the
    version was not compiled or failed its parity check; refused when it reads columns other
    than ``columns`` (the model frame's). ``preload_exact``: see :class:`OnnxPredictor`."""
    if version.tags.get(KIND_TAG) != "onnx":
        pipeline = registry.load_pipeline(version)
        _check_inputs(registry, version, getattr(pipeline, "feature_names_in_", columns), columns)
        return SklearnPredictor(pipeline, columns)
    onnx_model = _verified(registry, version, ONNX_FILE).read_bytes()
    plan = EncoderPlan.from_json(_verified(registry, version, PLAN_FILE).read_text("utf-8"))
    _check_inputs(registry, version, plan.columns, columns)
    report = json.loads(registry.run_artifact(version.run_id, _path(REPORT_FILE)).read_text())
    classes = report.get("classes")
    exact = None
    if _HASH_TAGS[EXACT_FILE] in version.tags:
        exact = _verified(registry, version, EXACT_FILE).read_text("utf-8")
    return OnnxPredictor(plan, onnx_model, classes, exact, preload_exact)


def _check_inputs(
    registry: Registry, version: ModelVersion, reads: Any, columns: list[str]
) -> None:
    """A version built for other model-frame columns (one trained before its pipeline took raw
    datetime columns reads their expanded parts) is refused, never fed missing values."""
    unknown = [str(name) for name in reads if name not in columns]
    if unknown:
        raise TabopsError(
            f"Refusing to load {registry.name} version {version.version}: it reads columns "
            f"{unknown[:5]} that the model frame does not have (trained with an older tabops?). "
            "Retrain and register a new version."
        )


def request_example(registry: Registry, version: ModelVersion) -> list[dict[str, Any]]:
    """The records logged with the compiled version (for smoke tests and the API docs)."""
    if _HASH_TAGS[EXAMPLE_FILE] not in version.tags:
        return []
    return list(json.loads(_verified(registry, version, EXAMPLE_FILE).read_text("utf-8")))


def _path(name: str) -> str:
    return f"{COMPILED_DIR}/{name}"


def _verified(registry: Registry, version: ModelVersion, name: str) -> Path:
    path = registry.run_artifact(version.run_id, _path(name))
    expected = version.tags.get(_HASH_TAGS[name], "")
    actual = file_sha256(path)
    if not expected or actual != expected:
        raise TabopsError(
            f"Refusing to load {registry.name} version {version.version}: the SHA-256 of its "
            f"compiled {name} ({actual[:16]}) differs from the one recorded at registration "
            f"({expected[:16] or 'none'}). The artifact was changed."
        )
    return path

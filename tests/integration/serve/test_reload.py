"""Hot reload against real ``tabops serve`` processes (S9, S10).

S9: the champion alias moved 20 times between two versions under load: every answer 2xx,
both versions served, one load per move, each answer logged under the version that made it.
S10: four bad versions (tampered artifact, changed input schema, NaN outputs, a predictor that
raises) are refused with a reason while the serving version keeps answering.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import httpx
import numpy as np
import pytest
import yaml

from tabops.digest import file_sha256
from tabops.model.train import Candidate, run_train
from tabops.registry.client import connect
from tabops.registry.compiled import ONNX_FILE, PLAN_FILE, compile_version
from tabops.registry.models import CHAMPION, ModelVersion, Registry, registry_for
from tabops.registry.tracking import MODEL_ARTIFACT, VERSION_TAGS, MlflowTracking, trusted_types
from tabops.release.gate import frozen_test_rows
from tabops.spec import ProjectSpec, parse_spec
from tests.integration.serve.chaos import Load, metric, wait_drained, wait_logged
from tests.integration.serve.conftest import (
    ServedProject,
    make_project,
    running_server,
    served_spec_dict,
    valid_record,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve-reload")]

MOVES = 20
LINEAR = {"trials": 1, "cv_folds": 2, "candidates": [{"estimator": "linear", "search": {}}]}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> ServedProject:
    """Two good versions (1 and 2); the gate made version 2 the champion."""
    project = make_project(tmp_path_factory.mktemp("served"))
    assert project.train_and_register(force=True) == "2"
    return project


def registry_of(project: ServedProject) -> Registry:
    return registry_for(project.spec, project.ctx)


def reload(url: str) -> dict[str, Any]:
    response = httpx.post(f"{url}/admin/reload", timeout=60)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_20_alias_moves_under_load_answer_only_2xx_from_both_versions(
    project: ServedProject,
) -> None:
    registry = registry_of(project)
    champion = registry.by_alias(CHAMPION)
    assert champion is not None
    versions = ["1", "2"] if champion.version == "2" else ["2", "1"]  # first move: away
    results: list[str] = []
    seconds: list[float] = []
    with (
        running_server(project) as server,
        Load(server.url, "s9", threads=3, pause=0.002) as load,
    ):
        load.wait_for(100)
        loaded_before = metric(server.url, "tabops_model_reloads_total", result="loaded")
        for move in range(MOVES):
            target = versions[move % 2]
            registry.set_alias(CHAMPION, target)
            moved = time.monotonic()
            if move % 2 == 0:  # half the moves through POST /admin/reload...
                answer = reload(server.url)
                assert answer["version"] == target, answer
                results.append(answer["result"])
            else:  # ...half noticed by the watcher (serve.reload_interval: 0.5 s)
                wait_serving(server.url, target)
                results.append("watcher")
            seconds.append(time.monotonic() - moved)
            load.wait_for(30)  # traffic on every version served
        loaded = metric(server.url, "tabops_model_reloads_total", result="loaded") - loaded_before
        refused = metric(server.url, "tabops_model_reloads_total", result="refused")
        load.stop()
        wait_drained(server.url)
        rows = wait_logged(project.settings.store_url, load.ok_ids(), "s9-%", timeout=30)
    served = {v: sum(o.version == v for o in load.ok) for v in versions}
    print(
        f"\nS9: {load.summary()}; {MOVES} moves ({results.count('loaded')} loaded by "
        f"/admin/reload, {results.count('unchanged')} already loaded by the watcher, "
        f"{results.count('watcher')} by the watcher alone), swap within "
        f"{max(seconds):.2f} s (mean {sum(seconds) / len(seconds):.2f} s); reloads loaded "
        f"{loaded:.0f}, refused {refused:.0f}; answers per version {served}; logged {len(rows)}"
    )
    assert not load.not_ok and not load.errors(), load.summary()
    assert all(served.values()), served  # both versions answered
    assert loaded == MOVES and refused == 0  # one load per alias move, none refused
    assert set(rows) == load.ok_ids()
    mislogged = [o.request_id for o in load.ok if rows[o.request_id] != o.version]
    assert not mislogged  # each row carries the version that answered it (S8)


def wait_serving(url: str, version: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while httpx.get(f"{url}/readyz", timeout=10).json()["version"] != version:
        assert time.monotonic() < deadline, f"version {version} not loaded by the watcher"
        time.sleep(0.02)


# -- S10: bad versions ---------------------------------------------------------------------


def train(project: ServedProject, **overrides: Any) -> tuple[ProjectSpec, Candidate]:
    """Train the spec with ``overrides`` (top-level keys); the spec and the best candidate."""
    raw = yaml.safe_load((project.folder / "tabops.yaml").read_text())
    raw.update(overrides)
    spec = parse_spec(raw)
    result = run_train(spec, project.ctx, MlflowTracking(project.settings, spec))
    return spec, result.best


def register_only(project: ServedProject, spec: ProjectSpec, run_id: str) -> ModelVersion:
    """Register and compile a run as ``tabops register`` does, but without the gate: the
    champion alias stays where it is (the test moves it)."""
    registry = registry_for(spec, project.ctx)
    run = MlflowTracking(project.settings, spec).run(run_id)
    tags = {k: v for k, v in run.data.tags.items() if k in VERSION_TAGS}
    version = registry.register(run_id, run.data.tags["tabops.model_uri"], tags)
    rows = frozen_test_rows(spec, project.ctx, registry, version)
    version, _ = compile_version(spec, registry, version, rows, registry.load_pipeline(version))
    return version


def relog(project: ServedProject, run_id: str, pipeline: Any) -> None:
    """Log ``pipeline`` as the run's model the way ``MlflowRun.finish`` does (skops with the
    trusted types, its SHA-256 and URI as run tags). finish itself cannot log a broken
    pipeline: it predicts the test rows for the report and the signature first."""
    import mlflow
    import mlflow.artifacts
    import mlflow.sklearn

    connect(project.settings.mlflow_uri)
    with mlflow.start_run(run_id=run_id):
        info = mlflow.sklearn.log_model(
            pipeline,
            name=MODEL_ARTIFACT,
            serialization_format="skops",
            skops_trusted_types=trusted_types(pipeline),
        )
        folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=info.model_uri))
        model_file = folder / info.flavors["sklearn"]["pickled_model"]
        mlflow.set_tags(
            {"tabops.artifact_sha256": file_sha256(model_file), "tabops.model_uri": info.model_uri}
        )


def compiled_file(registry: Registry, version: ModelVersion, name: str) -> Path:
    """Where the embedded tracking store keeps a version's compiled file."""
    root = urlparse(registry.client.get_run(version.run_id).info.artifact_uri)
    return Path(url2pathname(root.path)) / "compiled" / name


@pytest.fixture(scope="module")
def bad_versions(project: ServedProject) -> list[tuple[str, str, str]]:
    """Four registered versions that must not serve: (what is wrong, version, the refusal's
    words). None of them is made champion here."""
    registry = registry_of(project)
    bad = []

    # (a) Tampered artifact: a byte of the compiled ONNX graph changed after registration.
    spec, best = train(project)
    version = register_only(project, spec, best.run_id)
    onnx = compiled_file(registry, version, ONNX_FILE)
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx.write_bytes(bytes(data))
    bad.append(("tampered artifact", version.version, "SHA-256"))

    # (b) Changed input schema: trained with one more feature than the served spec has.
    columns = {**served_spec_dict()["columns"], "value": {"type": "numeric", "nullable": False}}
    spec, best = train(project, columns=columns)
    bad.append(("changed schema", register_only(project, spec, best.run_id).version, "schema"))

    # (c) NaN outputs: a logistic regression whose coefficients are NaN. Compiling it fails
    # the parity check (NaN), so its sklearn pipeline serves, and predicts NaN.
    spec, best = train(project, train=LINEAR)
    best.pipeline[-1].coef_[:] = np.nan
    relog(project, best.run_id, best.pipeline)
    bad.append(("NaN outputs", register_only(project, spec, best.run_id).version, "non-finite"))

    # (d) A predictor that raises on predict: the compiled encoder plan makes one feature
    # more than the ONNX graph takes (as a faulty compiler would), recorded with its own
    # hash, so it loads and then fails at its first prediction. (A pipeline that raises
    # cannot be registered: compile_version's parity check predicts with it first.)
    spec, best = train(project)
    version = register_only(project, spec, best.run_id)
    plan_file = compiled_file(registry, version, PLAN_FILE)
    plan = json.loads(plan_file.read_text())
    for key, value in (("numeric", "x"), ("medians", 0.0), ("means", 0.0), ("scales", 1.0)):
        plan[key].append(value)
    plan_file.write_text(json.dumps(plan))
    registry.client.set_model_version_tag(
        registry.name, version.version, "tabops.plan_sha256", file_sha256(plan_file)
    )
    bad.append(("raises on predict", version.version, "smoke prediction"))
    return bad


def test_bad_versions_are_refused_and_the_serving_version_keeps_answering(
    project: ServedProject, bad_versions: list[tuple[str, str, str]]
) -> None:
    registry = registry_of(project)
    champion = registry.by_alias(CHAMPION)
    assert champion is not None
    good = champion.version
    refusals: dict[str, str] = {}
    with (
        running_server(project, "--set", "serve.reload_interval=3600") as server,
        Load(server.url, "s10", threads=2, pause=0.005) as load,
    ):
        try:
            load.wait_for(50)
            for count, (what, version, words) in enumerate(bad_versions, start=1):
                registry.set_alias(CHAMPION, version)
                answer = reload(server.url)
                refusals[what] = answer.get("reason", "")
                assert answer["result"] == "refused", (what, answer)
                assert answer["candidate"] == version and answer["version"] == good
                assert words in answer["reason"], (what, answer["reason"])
                one = httpx.post(f"{server.url}/predict", json=valid_record(), timeout=10)
                assert one.status_code == 200 and one.json()["version"] == good
                refused = metric(server.url, "tabops_model_reloads_total", result="refused")
                assert refused == count, (what, refused)
                load.wait_for(30)
        finally:
            registry.set_alias(CHAMPION, good)
        back = reload(server.url)
        ready = httpx.get(f"{server.url}/readyz", timeout=10)
        load.stop()
    print(f"\nS10: {load.summary()}; refused {len(refusals)}/4: {refusals}")
    assert back == {"result": "unchanged", "version": good}
    assert ready.status_code == 200 and ready.json()["version"] == good
    assert not load.not_ok and not load.errors(), load.summary()
    assert {o.version for o in load.ok} == {good}


def test_a_version_that_could_not_be_fetched_is_tried_again(
    project: ServedProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A registry or network failure while loading a new version is not a verdict on it: the
    reload fails, and the next check loads it (only failed checks are remembered)."""
    from tabops.errors import RegistryError
    from tabops.serve import state as state_module
    from tabops.serve.state import ServeState

    registry = registry_of(project)
    champion = registry.by_alias(CHAMPION)
    assert champion is not None
    other = "1" if champion.version == "2" else "2"
    state = ServeState(spec=project.spec, settings=project.settings)
    state.start()
    real_load, calls = state_module.load_version, []

    def flaky(*args: Any) -> Any:
        calls.append(args[2].version)
        if len(calls) == 1:
            raise RegistryError("The MLflow tracking store failed: connection refused.")
        return real_load(*args)

    monkeypatch.setattr(state_module, "load_version", flaky)
    try:
        registry.set_alias(CHAMPION, other)
        first = asyncio.run(state.reload())
        second = asyncio.run(state.reload())
    finally:
        registry.set_alias(CHAMPION, champion.version)
        state.stop()
    assert first["result"] == "failed" and first["candidate"] == other
    assert "connection refused" in first["reason"]
    assert second == {"result": "loaded", "version": other, "previous": champion.version}
    assert calls == [other, other] and not state.refused

"""The registry read over a tracking server's REST API (what serving uses) answers as MLflow's
own client does: the same versions, run metrics and artifact bytes, and the same errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tabops.errors import NotFoundError, RegistryError
from tabops.registry.compiled import ONNX_FILE, PLAN_FILE
from tabops.registry.models import CHAMPION, Registry, _version
from tabops.registry.rest import rest_supported
from tests.integration.serve.chaos import ConfiguredProject, make_configured_project

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.xdist_group("serve-install")]


@pytest.fixture(scope="module")
def project(mlflow_server_uri: str, tmp_path_factory: pytest.TempPathFactory) -> ConfiguredProject:
    return make_configured_project(tmp_path_factory.mktemp("rest"), tracking_uri=mlflow_server_uri)


@pytest.fixture
def registry(project: ConfiguredProject, mlflow_server_uri: str) -> Registry:
    assert rest_supported(mlflow_server_uri)
    return Registry(mlflow_server_uri, project.spec.name)


def test_rest_reads_equal_the_mlflow_clients(registry: Registry) -> None:
    import mlflow.artifacts

    found = registry.by_alias(CHAMPION)
    assert found is not None
    assert found == _version(registry.client.get_model_version_by_alias(registry.name, CHAMPION))
    assert registry.version(found.version) == found
    run = registry.client.get_run(found.run_id)
    assert registry.run_summary(found.run_id) == (run.data.metrics, run.info.start_time)
    for name in (ONNX_FILE, PLAN_FILE):
        by_client = mlflow.artifacts.download_artifacts(
            run_id=found.run_id, artifact_path=f"compiled/{name}", tracking_uri=registry.uri
        )
        rest = registry.run_artifact(found.run_id, f"compiled/{name}")
        assert rest.read_bytes() == Path(by_client).read_bytes()


def test_missing_things_are_none_or_not_found(registry: Registry) -> None:
    assert registry.by_alias("no-such-alias") is None
    assert Registry(registry.uri, "no-such-model").by_alias(CHAMPION) is None
    with pytest.raises(NotFoundError, match="has no version 999"):
        registry.version("999")
    found = registry.by_alias(CHAMPION)
    assert found is not None
    with pytest.raises(RegistryError, match=r"has no artifact compiled/missing\.bin"):
        registry.run_artifact(found.run_id, "compiled/missing.bin")


def test_an_unreachable_server_is_a_registry_error(project: ConfiguredProject) -> None:
    from tabops.devtools.postgres import free_port

    registry = Registry(f"http://127.0.0.1:{free_port()}", project.spec.name)
    with pytest.raises(RegistryError, match="Cannot reach the MLflow tracking server"):
        registry.by_alias(CHAMPION)

"""The registry read over a tracking server's REST API (what serving uses) answers as MLflow's
own client does: the same versions, run metrics and artifact bytes, and the same errors."""

from __future__ import annotations

import pytest

from tabops.errors import RegistryError
from tabops.registry.models import CHAMPION, Registry
from tabops.registry.rest import rest_supported
from tests.integration.serve.chaos import ConfiguredProject, make_configured_project
from tests.integration.serve.checks import check_registry_reads

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.xdist_group("serve-install")]


@pytest.fixture(scope="module")
def project(mlflow_server_uri: str, tmp_path_factory: pytest.TempPathFactory) -> ConfiguredProject:
    return make_configured_project(tmp_path_factory.mktemp("rest"), tracking_uri=mlflow_server_uri)


@pytest.fixture
def registry(project: ConfiguredProject, mlflow_server_uri: str) -> Registry:
    assert rest_supported(mlflow_server_uri)
    return Registry(mlflow_server_uri, project.spec.name)


def test_rest_reads_answer_as_the_mlflow_client(registry: Registry) -> None:
    check_registry_reads(registry)


def test_an_unreachable_server_is_a_registry_error(project: ConfiguredProject) -> None:
    from tabops.devtools.postgres import free_port

    registry = Registry(f"http://127.0.0.1:{free_port()}", project.spec.name)
    with pytest.raises(RegistryError, match="Cannot reach the MLflow tracking server"):
        registry.by_alias(CHAMPION)

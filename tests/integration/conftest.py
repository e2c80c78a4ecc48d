"""Fixtures of the integration tests: a real ``mlflow server`` backed by PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tabops.devtools.mlflow_server import backend_store_url, mlflow_server
from tabops.devtools.postgres import PostgresCluster


@pytest.fixture(scope="session")
def mlflow_server_uri(
    pg_cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Tracking URI of an ``mlflow server`` on 127.0.0.1 (one per test worker), its backend
    store a database of the throwaway PostgreSQL cluster, its artifacts in a temporary folder."""
    backend = backend_store_url(pg_cluster.create_database("mlflow"))
    with mlflow_server(backend, tmp_path_factory.mktemp("mlflow-server") / "artifacts") as uri:
        yield uri

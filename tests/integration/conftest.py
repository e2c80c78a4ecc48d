"""Fixtures of the integration tests: a real ``mlflow server`` backed by PostgreSQL, and a
real S3 server over HTTP (moto in server mode) on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tabops.devtools.mlflow_server import backend_store_url, mlflow_server
from tabops.devtools.postgres import PostgresCluster
from tabops.devtools.s3 import S3Server, s3_server


@pytest.fixture(scope="session")
def mlflow_server_uri(
    pg_cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Tracking URI of an ``mlflow server`` on 127.0.0.1 (one per test worker), its backend
    store a database of the throwaway PostgreSQL cluster, its artifacts in a temporary folder."""
    backend = backend_store_url(pg_cluster.create_database("mlflow"))
    with mlflow_server(backend, tmp_path_factory.mktemp("mlflow-server") / "artifacts") as uri:
        yield uri


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """An S3 server on 127.0.0.1 (``moto_server``, one per test worker): point a client at
    it with ``s3.env``, make buckets with ``s3.create_bucket``."""
    with s3_server(tmp_path_factory.mktemp("s3") / "moto.log") as server:
        yield server

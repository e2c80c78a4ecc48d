"""A registry outage against a real ``tabops serve`` process (S8, S6).

The project is trained and registered on a real ``mlflow server`` (PostgreSQL backend); the
server loads its champion from there. Then the tracking server is stopped while clients keep
predicting: no request fails, every answer and log row still carries the model name and the
resolved version, the probes stay 200, and the reload watcher's failed checks are counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import pytest

from tabops.devtools.mlflow_server import backend_store_url, mlflow_server
from tabops.devtools.postgres import PostgresCluster
from tests.integration.serve.chaos import (
    ConfiguredProject,
    Load,
    Probe,
    make_configured_project,
    metric,
    wait_drained,
    wait_logged,
)
from tests.integration.serve.conftest import running_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.xdist_group("serve-registry"),
]

#: Failed alias checks to see counted after the tracking server stopped (with the default
#: MLflow client retries, the first is counted ~12 s after the stop, the next ~25 s later).
FAILED_CHECKS = 1


@dataclass
class TrackingServer:
    uri: str
    stop: Callable[[], None]


@pytest.fixture(scope="module")
def tracking(
    pg_cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TrackingServer]:
    """This module's own ``mlflow server`` (the shared one must not be stopped), which a test
    may stop early."""
    backend = backend_store_url(pg_cluster.create_database("serve_registry_mlflow"))
    with ExitStack() as stack:
        artifacts = tmp_path_factory.mktemp("mlflow-server") / "artifacts"
        uri = stack.enter_context(mlflow_server(backend, artifacts))
        yield TrackingServer(uri, stack.close)


@pytest.fixture(scope="module")
def project(
    tracking: TrackingServer, tmp_path_factory: pytest.TempPathFactory
) -> ConfiguredProject:
    return make_configured_project(tmp_path_factory.mktemp("served"), tracking_uri=tracking.uri)


def test_tracking_server_outage_never_unloads_the_model(
    project: ConfiguredProject, tracking: TrackingServer
) -> None:
    with (
        running_server(project, env=project.env()) as server,
        Probe(server.url, "/livez") as live,
        Probe(server.url, "/readyz", interval=0.25) as ready,
        Load(server.url, "s8", threads=2, pause=0.005) as load,
    ):
        load.wait_for(100)
        version = httpx.get(f"{server.url}/readyz", timeout=10).json()["version"]
        failed_before = metric(server.url, "tabops_model_reloads_total", result="failed")
        tracking.stop()
        stopped = time.monotonic()
        failures: list[float] = []  # seconds after the stop when each failed check was counted
        while len(failures) < FAILED_CHECKS and time.monotonic() - stopped < 90:
            failed = metric(server.url, "tabops_model_reloads_total", result="failed")
            while len(failures) < failed - failed_before:
                failures.append(round(time.monotonic() - stopped, 1))
            time.sleep(0.2)
        model = httpx.get(f"{server.url}/model", timeout=10)
        load.stop()
        wait_drained(server.url)
        rows = wait_logged(project.settings.store_url, load.ok_ids(), "s8-%", timeout=30)
        during = [o for o in load.ok if o.sent >= stopped]
    print(
        f"\nS8: {load.summary()}; {len(during)} answered after the tracking server stopped; "
        f"failed alias checks counted at {failures} s; livez {live.tally()}; "
        f"readyz {ready.tally()}; logged {len(rows)}"
    )
    assert not load.not_ok and not load.errors(), load.summary()
    assert len(failures) >= FAILED_CHECKS  # the watcher keeps checking, and counts failures
    assert during
    assert {(o.model, o.version) for o in load.ok} == {("synthetic", version)}
    assert model.status_code == 200 and model.json()["version"] == version
    assert set(rows) == load.ok_ids() and set(rows.values()) == {version}
    assert set(live.tally()) == {200} and set(ready.tally()) == {200}

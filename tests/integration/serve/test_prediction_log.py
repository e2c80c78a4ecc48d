"""The prediction log under failures, against real ``tabops serve`` processes (L1, L2, S6).

L1: a PostgreSQL store stopped for several seconds under load: no request fails or waits for
it, the rows spill to the journal and are copied when it is back, exactly once each.
L2: the server killed with SIGKILL mid-flush and restarted on the same workspace: the new
process replays the dead one's journal; rows = distinct request_ids = 2xx answers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tabops.devtools.postgres import PostgresCluster, postgres_cluster
from tests.integration.serve.chaos import (
    ConfiguredProject,
    Load,
    Probe,
    latencies,
    logged,
    make_configured_project,
    metric,
    wait_drained,
    wait_logged,
)
from tests.integration.serve.conftest import (
    ServedProject,
    make_project,
    running_server,
    valid_record,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve-log")]

#: Seconds PostgreSQL stays down under load (RELIABILITY.md's 60 s, shortened for CI).
OUTAGE_SECONDS = 8.0


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster for this module alone: stopping it cannot disturb the session's
    shared cluster (nor an MLflow server another test of this worker keeps on it)."""
    with postgres_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def pg_project(
    own_cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
) -> ConfiguredProject:
    url = own_cluster.create_database("serve_log")
    return make_configured_project(tmp_path_factory.mktemp("served-pg"), database_url=url)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> ServedProject:
    return make_project(tmp_path_factory.mktemp("served"))


@pytest.mark.postgres
def test_postgres_outage_under_load_fails_no_request_and_loses_no_row(
    pg_project: ConfiguredProject, own_cluster: PostgresCluster
) -> None:
    store = pg_project.settings.store_url
    with (
        running_server(pg_project, env=pg_project.env()) as server,
        Probe(server.url, "/livez") as live,
        Probe(server.url, "/readyz", interval=0.25) as ready,
        Load(server.url, "l1", threads=3) as load,
    ):
        load.wait_for(300)
        assert metric(server.url, "tabops_prediction_log_store_up") == 1
        own_cluster.stop()
        down = time.monotonic()
        try:
            load.wait_for(300)
            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down)))
            assert logged_fails(store), "PostgreSQL should be down"
            store_up_during = metric(server.url, "tabops_prediction_log_store_up")
            spilled_during = metric(server.url, "tabops_prediction_log_spilled_rows")
        finally:
            own_cluster.start()
            up = time.monotonic()
        load.wait_for(300)  # keep sending while the backlog is copied
        load.stop()
        drained = wait_drained(server.url)
        spilled = metric(server.url, "tabops_prediction_log_spilled_rows")
        dropped = metric(server.url, "tabops_prediction_log_dropped_rows")
    outcomes = load.snapshot()
    during = [o.seconds for o in outcomes if o.status and down <= o.sent < up]
    before = [o.seconds for o in outcomes if o.status and o.sent < down]
    rows = wait_logged(store, load.ok_ids(), "l1-%", timeout=30)
    print(
        f"\nL1: {load.summary()}; PostgreSQL down {up - down:.1f} s; spilled {spilled:.0f}; "
        f"logged {len(rows)}; latency before {latencies(before)}, during {latencies(during)}; "
        f"livez {live.tally()}; readyz {ready.tally()}; drained {drained}"
    )
    assert not load.not_ok and not load.errors(), load.summary()
    assert store_up_during == 0 and spilled_during > 0 and spilled >= spilled_during
    assert dropped == 0
    assert set(rows) == load.ok_ids()  # rows = 2xx answers = distinct request ids
    assert set(live.tally()) == {200}  # S6: liveness never touched the store
    assert set(ready.tally()) == {200}  # a store outage alone keeps the server ready


def logged_fails(store: str) -> bool:
    try:
        logged(store)
    except Exception:
        return True
    return False


def test_kill_9_mid_flush_then_restart_logs_each_request_once(project: ServedProject) -> None:
    store = project.settings.store_url
    journal = project.home / "journal" / project.spec.name
    with running_server(project) as first:
        load = Load(first.url, "l2", threads=3, retry=True)
        with load:
            load.wait_for(500)
            # A 1000-row batch answered (so journaled) right before the kill: its rows cannot
            # all have been copied yet, so the restart has rows to replay, not only repeats.
            batch = [valid_record(x=i / 100) for i in range(1000)]
            answer = httpx.post(
                f"{first.url}/predict", json=batch, headers={"x-request-id": "l2-batch"}, timeout=30
            )
            first.process.kill()  # SIGKILL: no drain, no flush, the journal stays as it was
            first.process.wait(10)
            left, dead_files = journal_ids(journal), set(journal.glob("*.jsonl"))
            copied = logged(store, "l2-%")
            with running_server(project) as second:
                load.url = second.url  # clients retry what got no answer, same request id
                load.wait_for(500)
                load.stop()
                answered = load.ok_ids() | {f"l2-batch-{i}" for i in range(len(batch))}
                wait_drained(second.url)
                rows = wait_logged(store, answered, "l2-%", timeout=30)
                replayed = wait_gone(dead_files)
    retried = {o.request_id for o in load.ok if o.attempts > 1}
    print(
        f"\nL2: {load.summary()}; dead journal {len(left)} rows, {len(set(left) & copied.keys())}"
        f" of them already in the store, {len(set(left) - copied.keys())} not; "
        f"{len(retried & set(left))} journaled by the dead server and retried; logged {len(rows)}"
        f" (2xx rows: {len(answered)})"
    )
    assert answer.status_code == 200
    assert not load.not_ok and not load.errors(), load.summary()
    assert len(left) == len(set(left))
    assert set(left) - copied.keys(), "the kill should leave rows to replay"
    assert set(left) & copied.keys(), "the replay should meet rows already copied"
    assert set(rows) == answered  # nothing lost, nothing doubled (unique request_id)
    assert replayed, "the dead server's journal was not replayed and removed"


def journal_ids(folder: Path) -> list[str]:
    """The request ids in the journal files of ``folder`` (a line torn by the kill skipped)."""
    ids = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            try:
                ids.append(str(orjson.loads(line)[0]))
            except orjson.JSONDecodeError:
                continue
    return ids


def wait_gone(paths: set[Path], timeout: float = 30) -> bool:
    """True once none of ``paths`` exists (a dead server's journal, replayed and removed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(path.exists() for path in paths):
            return True
        time.sleep(0.25)
    return False

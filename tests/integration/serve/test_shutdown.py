"""SIGTERM under load, against real ``tabops serve`` processes (S7).

Every request that got an HTTP answer got 2xx (a connection refused once the listener closed is
no answer: counted apart); the server exits 0 within its grace period; every answered
prediction is in the store when the process has exited, and no journal is left behind.
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.integration.serve.chaos import DISCONNECTED, REFUSED, Load, logged
from tests.integration.serve.conftest import (
    ServedProject,
    make_project,
    running_server,
    served_spec_dict,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve-shutdown")]

GRACE_SECONDS = 10.0
TRIALS = 3


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> ServedProject:
    spec = served_spec_dict(grace_period=GRACE_SECONDS)
    return make_project(tmp_path_factory.mktemp("served"), spec)


@pytest.mark.parametrize("trial", range(TRIALS))
def test_sigterm_under_load_answers_2xx_exits_0_and_logs_every_answer(
    project: ServedProject, trial: int
) -> None:
    store = project.settings.store_url
    journal = project.home / "journal" / project.spec.name
    # Single records from three clients, and 200-record batches from a fourth (longer
    # requests, so that some are in flight when the signal arrives).
    with (
        running_server(project, "--log-level", "info") as server,
        Load(server.url, f"s7-{trial}", threads=3, pause=0.0) as load,
        Load(server.url, f"s7b-{trial}", threads=1, pause=0.0, batch=200) as batches,
    ):
        load.wait_for(400)
        batches.wait_for(3)
        server.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        drained = None
        while server.process.poll() is None and time.monotonic() - signalled < GRACE_SECONDS + 15:
            if drained is None and "Application shutdown complete" in server.output():
                drained = time.monotonic() - signalled  # uvicorn and the lifespan are done
            time.sleep(0.01)
        code = server.process.wait(1)
        seconds = time.monotonic() - signalled
        time.sleep(0.2)  # clients meet the closed port
    # Read the store only after the process is gone: what it holds was written before exit.
    rows = logged(store, f"s7-{trial}-%") | logged(store, f"s7b-{trial}-%")
    left = list(journal.glob("*.jsonl"))
    answered = load.ok_ids() | batches.ok_ids()
    print(
        f"\nS7 trial {trial}: exit {code} after {seconds:.2f} s (drained after {drained} s); "
        f"singles {load.summary()}; "
        f"batches {batches.summary()}; logged {len(rows)} rows for {len(answered)} answered; "
        f"journal files left {len(left)}"
    )
    assert code == 0, server.output()[-3000:]
    assert seconds <= GRACE_SECONDS
    assert not load.not_ok and not batches.not_ok  # every HTTP answer was 2xx
    unexpected = {
        o.error for o in load.errors() + batches.errors() if o.error not in (REFUSED, DISCONNECTED)
    }
    assert not unexpected, unexpected
    assert set(rows) == answered  # 0 lost, and nothing logged that was not answered
    assert not left
    assert "Traceback" not in server.output()

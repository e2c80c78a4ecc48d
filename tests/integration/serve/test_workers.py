"""tabops serve --workers N: every worker serves, metrics add up across them."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.integration.serve.conftest import ServedProject, running_server, valid_record

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve")]


def test_two_workers_serve_and_metrics_sum_over_both(project: ServedProject) -> None:
    with running_server(project, "--workers", "2", ready_timeout=120) as server:
        with httpx.Client(base_url=server.url) as client:
            deadline, pids = time.monotonic() + 90, set()
            while len(pids) < 2 and time.monotonic() < deadline:  # both workers started
                text = client.get("/metrics").text
                pids = set(re.findall(r'tabops_model_info\{[^}]*pid="(\d+)"', text))
                time.sleep(0.5)
            answers = [client.post("/predict", json=valid_record()) for _ in range(40)]
            text = client.get("/metrics").text
        assert server.stop() == 0
    assert len(pids) == 2
    assert all(a.status_code == 200 for a in answers)
    served = re.search(
        r'tabops_request_duration_seconds_count\{route="/predict",status="200"\} (\S+)', text
    )
    assert served is not None and float(served.group(1)) == 40

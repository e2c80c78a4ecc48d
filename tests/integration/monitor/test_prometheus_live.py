"""The generated Prometheus configuration and rules, run by a real Prometheus scraping a real
``tabops serve`` whose store is PostgreSQL: every PromQL panel of the service dashboard
evaluates, and stopping the store drives TabopsPredictionLogStoreDown to firing."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from tabops.devtools.postgres import PostgresCluster, postgres_cluster
from tabops.monitor.provision import provision
from tests.integration.monitor.grafana_macros import expand_promql
from tests.integration.serve.chaos import ConfiguredProject, make_configured_project
from tests.integration.serve.conftest import (
    free_port,
    running_server,
    served_spec_dict,
    valid_record,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SCRAPE = "1s"
#: Panels that only have data after an incident (no overload is provoked here).
QUIET_PANELS = {"Overload rejections per second"}
T = TypeVar("T")


def poll(check: Callable[[], T | None], what: str, timeout: float = 60) -> T:
    """``check()``'s first non-None answer, polled until ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer is not None:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[PostgresCluster]:
    """A cluster of this module's own: the test stops it."""
    with postgres_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def project(own_cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
            ) -> ConfiguredProject:  # fmt: skip
    spec = served_spec_dict() | {"monitor": {"alerts": [
        {"name": "auc-drop", "metric": "roc_auc", "below": 0.7}]}}  # fmt: skip
    url = own_cluster.create_database("prometheus_live")
    return make_configured_project(tmp_path_factory.mktemp("prom"), database_url=url, spec=spec)


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, **params: str) -> Any:
        body = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10).json()
        assert body["status"] == "success", body
        return body["data"]

    def alerts(self) -> dict[str, str]:
        return {a["labels"]["alertname"]: a["state"] for a in self.get("alerts")["alerts"]}


@pytest.fixture
def deployed(project: ConfiguredProject, tmp_path: Path) -> Iterator[tuple[Any, Prometheus]]:
    """``tabops serve`` and Prometheus started on the generated files (scraping every
    second), with the rules' ``for`` durations cut to 1 s so no test waits minutes."""
    assert shutil.which("prometheus"), "prometheus is missing: run make setup-prometheus"
    with running_server(project, env=project.env()) as server:
        deploy = tmp_path / "deploy"
        provision(project.spec, deploy, server.url.removeprefix("http://"), interval=SCRAPE)
        folder = deploy / "prometheus"
        config = yaml.safe_load((folder / "prometheus.yml").read_text())
        rules_path = folder / config["rule_files"][0]
        checked = subprocess.run(["promtool", "check", "config", str(folder / "prometheus.yml")],
                                 capture_output=True, text=True, check=False)  # fmt: skip
        assert checked.returncode == 0, checked.stdout + checked.stderr
        rules = yaml.safe_load(rules_path.read_text())
        for group in rules["groups"]:
            for rule in group["rules"]:
                rule["for"] = "1s"
        rules_path.write_text(yaml.safe_dump(rules))
        port = free_port()
        log = tmp_path / "prometheus.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                ["prometheus", f"--config.file={folder / 'prometheus.yml'}",
                 f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{port}"],
                stdout=sink, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            prometheus = Prometheus(f"http://127.0.0.1:{port}")

            def ready() -> bool | None:
                if process.poll() is not None:
                    raise AssertionError(f"prometheus exited:\n{log.read_text()}")
                try:
                    return (
                        httpx.get(f"{prometheus.url}/-/ready", timeout=1).status_code == 200 or None
                    )
                except httpx.TransportError:
                    return None

            poll(ready, "prometheus to be ready")
            yield server, prometheus
        finally:
            process.terminate()
            process.wait(30)


def _service_queries(project: ConfiguredProject, deploy: Path) -> dict[str, str]:
    board = json.loads(next((deploy / "grafana/dashboards").glob("*-service.json")).read_text())
    return {f"{panel['title']} [{target['refId']}]": target["expr"]
            for panel in board["panels"] for target in panel["targets"]}  # fmt: skip


def test_rules_load_panels_evaluate_and_a_stopped_store_fires_its_alert(
    deployed: tuple[Any, Prometheus], project: ConfiguredProject, own_cluster: PostgresCluster,
    tmp_path: Path,
) -> None:  # fmt: skip
    server, prometheus = deployed
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for n in range(20):
            assert client.post("/predict", json=valid_record(x=n)).status_code == 200
        assert client.post("/predict", json=valid_record(x="bad")).status_code == 422

    # Every rule loaded and evaluates without error; nothing fires while all is well.
    def evaluated() -> list[dict[str, Any]] | None:
        rules = [r for g in prometheus.get("rules")["groups"] for r in g["rules"]]
        done = rules and all(r["health"] == "ok" and r["lastEvaluation"] > "2" for r in rules)
        return rules if done else None  # a rule not evaluated yet dates from year 1

    rules = poll(evaluated, "every rule loaded and evaluated")
    assert len(rules) == 6  # the spec's one alert and the five service rules
    assert {r["state"] for r in rules} == {"inactive"}

    # Each panel's query, expanded as Grafana would, evaluates; all but the quiet ones have data.
    queries = _service_queries(project, tmp_path / "deploy")
    assert len(queries) == 12
    for title, expr in queries.items():
        query = expand_promql(expr, SCRAPE)
        if title.split(" [")[0] in QUIET_PANELS:
            assert prometheus.get("query", query=query)["resultType"] == "vector"
            continue
        poll(lambda q=query: prometheus.get("query", query=q)["result"] or None,
             f"data for {title}: {query}")  # fmt: skip
    errors = prometheus.get("query", query=expand_promql(queries["Errors per second by status [A]"],
                                                         SCRAPE))["result"]  # fmt: skip
    assert {e["metric"]["status"] for e in errors} == {"422"}
    refused = prometheus.get("query", query=expand_promql(
        queries["Refused records per second by field [A]"], SCRAPE))["result"]  # fmt: skip
    assert [(r["metric"]["field"], r["metric"]["reason"]) for r in refused] == [("x", "type")]
    assert "TabopsPredictionLogStoreDown" not in prometheus.alerts()

    # The store stops: the next write fails, the gauge drops to 0, the alert fires.
    own_cluster.stop()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:

            def firing() -> bool | None:
                assert client.post("/predict", json=valid_record()).status_code == 200
                return prometheus.alerts().get("TabopsPredictionLogStoreDown") == "firing" or None

            poll(firing, "TabopsPredictionLogStoreDown to fire", timeout=90)
        up = prometheus.get("query", query="min(tabops_prediction_log_store_up)")["result"]
        assert up[0]["value"][1] == "0"
        assert prometheus.alerts().get("TabopsServerErrors") is None  # serving never failed
    finally:
        own_cluster.start()

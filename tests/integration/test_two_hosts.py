"""Two hosts, one deployment: the lifecycle split across two separate homes that share only
PostgreSQL (the tabops store and the MLflow server's backend), the MLflow server and S3.

Host A ingests and trains; then its folder is deleted, and host B registers (the gate reads
the frozen test rows from the snapshot in S3), serves the champion and scores a batch to S3.
Every command is the ``tabops`` CLI in a subprocess with the host's own cwd, HOME and
TABOPS_* settings.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from tabops.devtools.mlflow_server import backend_store_url, mlflow_server
from tabops.devtools.postgres import PostgresCluster, free_port
from tabops.devtools.s3 import S3Server

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.xdist_group("postgres")]

TABOPS = str(Path(sys.executable).with_name("tabops"))
BUCKET = "tabops-two-hosts"


@dataclass
class Host:
    """One machine: its own folder (project, HOME, workspace) and environment."""

    root: Path
    env: dict[str, str]

    @property
    def project(self) -> Path:
        return self.root / "project"

    def tabops(self, *args: str, code: int = 0) -> Any:
        """The JSON document ``tabops ARGS --json`` prints, checking its exit code."""
        return json.loads(self.run(*args, "--json", code=code))

    def run(self, *args: str, code: int = 0) -> str:
        """What ``tabops ARGS`` prints, checking its exit code."""
        done = subprocess.run(
            [TABOPS, *args], cwd=self.project, env=self.env, capture_output=True, text=True,
            timeout=900, check=False,
        )  # fmt: skip
        assert done.returncode == code, (done.stdout, done.stderr)
        return done.stdout


def _host(root: Path, shared: dict[str, str]) -> Host:
    (root / "home").mkdir(parents=True)
    (root / "project").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TABOPS_", "MLFLOW_", "AWS_"))}
    env |= shared | {"HOME": str(root / "home"), "COLUMNS": "200"}
    return Host(root, env)


@pytest.fixture(scope="module")
def shared(
    pg_cluster: PostgresCluster, s3: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """What the hosts share: the store's database, an MLflow server on PostgreSQL with its
    artifacts in S3, and the storage bucket; as the environment a host sets."""
    bucket = s3.create_bucket(BUCKET)
    backend = backend_store_url(pg_cluster.create_database("two_hosts_mlflow"))
    log = tmp_path_factory.mktemp("two-hosts-mlflow") / "mlflow-server.log"
    with mlflow_server(backend, f"{bucket}/mlflow", log_path=log, env=s3.env) as uri:
        yield {
            "TABOPS_DATABASE_URL": pg_cluster.create_database("two_hosts_store"),
            "MLFLOW_TRACKING_URI": uri,
            "TABOPS_STORAGE_URL": f"{bucket}/data",
            "AWS_ENDPOINT_URL": s3.endpoint,
            "AWS_ACCESS_KEY_ID": s3.access_key,
            "AWS_SECRET_ACCESS_KEY": s3.secret_key,
            "AWS_DEFAULT_REGION": s3.region,
        }


def test_ingest_and_train_on_one_host_register_serve_and_score_on_another(
    shared: dict[str, str], s3: S3Server, tmp_path: Path
) -> None:
    a = _host(tmp_path / "host-a", shared)
    a.tabops("examples", "export", "churn", "-o", "data")
    a.tabops("init", "--data", "data/churn.csv", "--target", "churn", "--name", "churn")
    ingested = a.tabops("ingest")
    assert (ingested["status"], ingested["rows_loaded"]) == ("loaded", 7043)
    snapshot = f"s3://{BUCKET}/data/snapshots/churn/{ingested['snapshot_hash']}.parquet"
    assert ingested["snapshot_path"] == snapshot
    assert not list((a.project / ".tabops" / "snapshots").rglob("*.parquet"))  # uploaded
    trained = a.tabops("train", "--trials", "1")
    reports = f"s3://{BUCKET}/data/reports/churn"
    assert trained["best_report"] == f"{reports}/{trained['best_run_id']}/report.html"

    b = _host(tmp_path / "host-b", shared)
    b.tabops("examples", "export", "churn", "-o", "data")  # host B's batch to score
    spec = (a.project / "tabops.yaml").read_text()  # the project as version control has it
    shutil.rmtree(a.root)  # host B can reach nothing of host A's disk
    (b.project / "tabops.yaml").write_text(spec)

    history = b.tabops("data", "history")
    assert [s["path"] for s in history] == [snapshot]
    registered = b.tabops("register")
    assert (registered["version"], registered["run_id"]) == ("1", trained["best_run_id"])
    assert registered["decision"]["promoted"]

    with _serving(b) as url:
        schema = httpx.get(f"{url}/openapi.json", timeout=30).json()["components"]["schemas"]
        record = schema["Record"]["examples"][0]
        for _ in range(3):
            answer = httpx.post(f"{url}/predict", json=record, timeout=30)
            assert answer.status_code == 200, answer.text
            assert (answer.json()["model"], answer.json()["version"]) == ("churn", "1")

    # Artifacts named relatively (or not at all) go to the storage, kind by kind.
    evaluated = b.tabops("evaluate")
    assert evaluated["report"] == f"{reports}/v1/report.html"
    exported = b.tabops("quarantine", "export")
    assert exported["output"] == f"s3://{BUCKET}/data/exports/churn/quarantine.csv"
    b.tabops("monitor", "run")
    assert f"{reports}/monitor-report.html" in b.run("monitor", "report")

    output = f"s3://{BUCKET}/data/batch/churn/scores.parquet"
    scored = b.tabops("predict", "--input", "data/churn.csv", "--output", "scores.parquet")
    assert (scored["rows_in"], scored["scored"], scored["rejected"]) == (7043, 7043, 0)
    assert scored["outputs"]["scored"] == output
    s3fs = pafs.S3FileSystem(
        endpoint_override=s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key,
        region=s3.region,
    )  # fmt: skip
    assert pq.read_table(output.removeprefix("s3://"), filesystem=s3fs).num_rows == 7043

    keys = s3.keys(BUCKET)
    assert f"data/snapshots/churn/{ingested['snapshot_hash']}.parquet" in keys
    batch = "data/batch/churn"
    assert f"{batch}/scores.parquet" in keys and f"{batch}/scores.rejects.parquet" in keys
    for report in (f"{trained['best_run_id']}/report.html", "v1/report.html",
                   "monitor-report.html", "v1/confusion.png"):  # fmt: skip
        assert f"data/reports/churn/{report}" in keys, keys
    assert "data/exports/churn/quarantine.csv" in keys
    assert any(k.startswith("mlflow/") and k.endswith("model.skops") for k in keys), keys
    assert not (tmp_path / "host-a").exists()


@contextmanager
def _serving(host: Host) -> Iterator[str]:
    """``tabops serve`` on host B, on a free loopback port, until ready."""
    port = free_port()
    log = host.root / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [TABOPS, "serve", "--port", str(port)], cwd=host.project, env=host.env,
            stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            assert process.poll() is None, log.read_text(errors="replace")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

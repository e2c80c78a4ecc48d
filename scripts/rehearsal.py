"""`make rehearsal`: a production deployment, as processes on loopback, end to end.

Starts PostgreSQL (the tabops store and the MLflow backend, password-protected), an S3 server
(moto), an MLflow tracking server on PostgreSQL with its artifacts in S3, `tabops serve
--workers 2` in production mode with API keys, and Prometheus scraping it. Runs ingest, train,
register, serve, simulate, batch scoring and monitoring on the churn and fraud examples, with
every file in S3 (TABOPS_STORAGE_URL). Checks the counts (rows, predictions logged = answered,
artifacts in the bucket), then greps every log for the secrets it set (none may appear), and
tears everything down. Exits 1 with the reason on the first failed check.

Usage: python scripts/rehearsal.py [--keep DIR]   (DIR keeps the logs and projects)
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tabops.devtools.mlflow_server import backend_store_url, mlflow_server
from tabops.devtools.postgres import free_port, postgres_cluster
from tabops.devtools.s3 import S3Server, s3_server

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TABOPS = str(BIN / "tabops")
BUCKET = "tabops-rehearsal"
CHURN_REQUESTS = 200


class RehearsalError(RuntimeError):
    """A failed check: the message says which."""


def check(condition: bool, what: str) -> None:
    if not condition:
        raise RehearsalError(what)
    print(f"  ok  {what}", flush=True)


def poll(probe: Callable[[], Any], what: str, timeout: float = 180) -> Any:
    """``probe()``'s first truthy answer, polled until ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise RehearsalError(f"timed out waiting for {what}")
        time.sleep(0.5)


class Deployment:
    """The running services and the environment every tabops command gets."""

    def __init__(self, root: Path, env: dict[str, str], s3: S3Server, store_url: str) -> None:
        self.root, self.env, self.s3, self.store_url = root, env, s3, store_url
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self._count = 0

    def tabops(self, project: Path, *args: str, json_output: bool = True) -> Any:
        """``tabops ARGS --json`` in ``project``; its output kept under logs/; the JSON
        (``json_output=False``: commands without ``--json``; None)."""
        self._count += 1
        log = self.logs / f"{self._count:02d}-{project.name}-{args[0]}.log"
        print(f"$ tabops {' '.join(args)}   ({project.name})", flush=True)
        done = subprocess.run(
            [TABOPS, *args, *(["--json"] if json_output else [])],
            cwd=project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        log.write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
        if done.returncode != 0:
            raise RehearsalError(f"tabops {' '.join(args)} exited {done.returncode}: see {log}")
        return json.loads(done.stdout) if json_output else None

    def sql(self, query: str, *params: Any) -> Any:
        with psycopg.connect(self.store_url) as conn:
            return conn.execute(query, params).fetchone()[0]

    @contextmanager
    def serving(self, project: Path) -> Iterator[str]:
        """``tabops serve --workers 2`` in production mode; yields its URL once ready."""
        port = free_port()
        log = self.logs / f"serve-{project.name}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [TABOPS, "serve", "--workers", "2", "--port", str(port)],
                cwd=project,
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            if process.poll() is not None:
                raise RehearsalError(f"tabops serve exited {process.returncode}: see {log}")
            with contextlib.suppress(httpx.TransportError):
                return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
            return False

        try:
            poll(ready, f"tabops serve ({project.name}) to be ready", timeout=600)
            yield url
        finally:
            process.send_signal(signal.SIGTERM)  # drains in-flight requests and the log
            try:
                code = process.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                raise RehearsalError(f"tabops serve ({project.name}) did not stop") from None
            check(code == 0, f"tabops serve ({project.name}) stopped cleanly")

    @contextmanager
    def prometheus(self, project: Path, target: str) -> Iterator[str]:
        """Prometheus on the configuration ``tabops monitor provision`` writes."""
        if shutil.which("prometheus") is None:
            raise RehearsalError("prometheus is missing: run make setup-prometheus")
        deploy = project / "deploy"
        self.tabops(
            project,
            "monitor",
            "provision",
            "--out",
            str(deploy),
            "--target",
            target,
            "--interval",
            "1s",
            json_output=False,
        )
        port = free_port()
        log = self.logs / "prometheus.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [
                    "prometheus",
                    f"--config.file={deploy / 'prometheus' / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self.root / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(60)


def _records(path: Path, count: int, example: dict[str, Any]) -> list[dict[str, Any]]:
    """The CSV's first rows as JSON records: the fields and types of the server's own example
    record (the OpenAPI document's)."""

    def typed(name: str, value: str) -> Any:
        if value == "":
            return None
        kind = type(example.get(name))
        return kind(float(value)) if kind in (int, float) else value

    with path.open(newline="") as rows:
        reader = itertools.islice(csv.DictReader(rows), count)
        return [{k: typed(k, v) for k, v in row.items() if k in example} for row in reader]


def rehearse_churn(deployment: Deployment, api_key: str) -> None:
    project = deployment.root / "churn"
    project.mkdir()
    deployment.tabops(project, "examples", "export", "churn", "-o", "data")
    deployment.tabops(
        project, "init", "--data", "data/churn.csv", "--target", "churn", "--name", "churn"
    )
    ingested = deployment.tabops(project, "ingest")
    check(ingested["rows_loaded"] == 7043, "churn: 7,043 rows ingested")
    check(
        ingested["snapshot_path"].startswith(f"s3://{BUCKET}/files/snapshots/churn/"),
        "churn: the snapshot is in S3",
    )
    deployment.tabops(project, "train", "--trials", "2")
    registered = deployment.tabops(project, "register")
    check(registered["decision"]["promoted"], "churn: version 1 is the champion")

    headers = {"authorization": f"Bearer {api_key}"}
    with deployment.serving(project) as url:
        schema = httpx.get(f"{url}/openapi.json", headers=headers, timeout=30).json()
        example = schema["components"]["schemas"]["Record"]["examples"][0]
        steady = project / "data" / "churn_steady.csv"
        records = _records(steady, CHURN_REQUESTS, example)
        target = url.removeprefix("http://")
        with deployment.prometheus(project, target) as prometheus:
            check(
                httpx.post(f"{url}/predict", json=records[0]).status_code in (401, 403),
                "churn: /predict refuses a request without a key",
            )
            answered = sum(
                httpx.post(f"{url}/predict", json=r, headers=headers, timeout=30).status_code == 200
                for r in records
            )
            check(answered == CHURN_REQUESTS, f"churn: {answered} of {CHURN_REQUESTS} answered")

            def scraped() -> bool:
                with contextlib.suppress(httpx.TransportError):
                    body = httpx.get(f"{prometheus}/api/v1/query", params={"query": "up"}).json()
                    return any(r["value"][1] == "1" for r in body["data"]["result"])
                return False

            poll(scraped, "Prometheus to scrape tabops serve")
            check(True, "churn: Prometheus scrapes tabops serve (up == 1)")
    logged = deployment.sql("SELECT count(*) FROM predictions WHERE model_name = 'churn'")
    check(logged == answered, f"churn: predictions logged ({logged}) = answered ({answered})")

    batch = deployment.tabops(  # a relative name: to the storage's batch/churn/ folder
        project,
        "predict",
        "--input",
        "data/churn_drifted.csv",
        "--output",
        "scores",
        "--run-date",
        "2026-12-01",
    )
    check(
        batch["scored"] + batch["rejected"] == batch["rows_in"],
        f"churn: batch rows in ({batch['rows_in']}) = scored + rejected",
    )
    keys = deployment.s3.keys(BUCKET, "files/batch/churn")
    check(
        "files/batch/churn/scores/run_date=2026-12-01/part-00000.parquet" in keys,
        "churn: batch scores in S3",
    )
    deployment.tabops(project, "monitor", "run", "--data", "data/churn_drifted.csv")
    deployment.tabops(project, "monitor", "run")  # the prediction log's windows
    deployment.tabops(project, "monitor", "report", json_output=False)  # the default name
    check(
        "files/reports/churn/monitor-report.html" in deployment.s3.keys(BUCKET, "files/reports"),
        "churn: monitoring report in S3",
    )


def rehearse_fraud(deployment: Deployment) -> None:
    project = deployment.root / "fraud"
    project.mkdir()
    for name in ("tabops.yaml", "rules.yaml", "synth.yaml", "month.yaml"):
        shutil.copy(ROOT / "examples" / "fraud" / name, project / name)
    synth = "synth fraud --config synth.yaml --days 40 --customers 500 --seed 7 -o data/train"
    deployment.tabops(project, *synth.split(), "--format", "csv")
    ingested = deployment.tabops(project, "ingest")
    check(ingested["rows_loaded"] > 0, f"fraud: {ingested['rows_loaded']:,} transactions ingested")
    deployment.tabops(project, "train", "--trials", "1")
    registered = deployment.tabops(project, "register")
    check(registered["decision"]["promoted"], "fraud: version 1 is the champion")
    with deployment.serving(project) as url:
        # month.yaml's drifts start on day 15: generate the month, stop after 500 sent.
        month = "simulate --config month.yaml --days 30 --customers 200 --seed 8"
        simulated = deployment.tabops(
            project, *month.split(), "--start-date", "2026-04-01", "--to", url,
            "--count", "500", "--rate", "100", "--concurrency", "4",
        )  # fmt: skip
    answered = simulated["answered"]
    check(answered > 0 and simulated["errors"] == 0, f"fraud: {answered} transactions answered")
    logged = deployment.sql("SELECT count(*) FROM predictions WHERE model_name = 'fraud'")
    check(logged == answered, f"fraud: predictions logged ({logged}) = answered ({answered})")
    deployment.tabops(project, "monitor", "run")


def check_bucket(deployment: Deployment) -> None:
    keys = deployment.s3.keys(BUCKET)
    for project in ("churn", "fraud"):
        check(
            any(k.startswith(f"files/snapshots/{project}/") for k in keys),
            f"{project}: snapshot in the bucket",
        )
        check(
            any(re.fullmatch(f"files/reports/{project}/[0-9a-f]+/report.html", k) for k in keys),
            f"{project}: training report in the bucket",
        )
    models = [k for k in keys if k.startswith("mlflow/") and k.endswith("model.skops")]
    check(len(models) >= 2, f"MLflow model artifacts in the bucket ({len(models)} models)")


def check_no_secret_logged(root: Path, secret_values: dict[str, str]) -> None:
    """Every file under ``root`` (logs, outputs, configuration written) is free of them."""
    found = []
    for path in root.rglob("*"):
        if not path.is_file() or path.suffix in (".parquet", ".db") or "tsdb" in path.parts:
            continue
        text = path.read_bytes()
        found += [f"{name} in {path}" for name, v in secret_values.items() if v.encode() in text]
    check(not found, "no secret in any log or file: " + ("; ".join(found) or "none found"))


def rehearse(root: Path) -> None:
    secret_values = {
        "database password": "pw-" + secrets.token_hex(12),
        "S3 secret key": "s3-" + secrets.token_hex(16),
        "API key": "key-" + secrets.token_hex(16),
        "admin key": "admin-" + secrets.token_hex(16),
    }
    with (
        postgres_cluster() as cluster,
        s3_server(root / "logs" / "moto.log") as plain_s3,
    ):
        password = secret_values["database password"]
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            conn.execute(f"ALTER USER \"{cluster.user}\" PASSWORD '{password}'")
        authed = f"{cluster.user}:{password}@"
        store = cluster.create_database("tabops").replace(f"{cluster.user}@", authed)
        backend = cluster.create_database("mlflow").replace(f"{cluster.user}@", authed)
        s3 = S3Server(plain_s3.endpoint, secret_key=secret_values["S3 secret key"])
        bucket = s3.create_bucket(BUCKET)
        with mlflow_server(
            backend_store_url(backend),
            f"{bucket}/mlflow",
            log_path=root / "logs" / "mlflow-server.log",
            env=s3.env,
        ) as tracking:
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("TABOPS_", "MLFLOW_", "AWS_"))
            }
            env |= s3.env | {
                "TABOPS_ENV": "production",
                "TABOPS_DATABASE_URL": store,
                "MLFLOW_TRACKING_URI": tracking,
                "TABOPS_STORAGE_URL": f"{bucket}/files",
                "TABOPS_API_KEYS": secret_values["API key"],
                "TABOPS_ADMIN_KEY": secret_values["admin key"],
                "COLUMNS": "200",
            }
            deployment = Deployment(root, env, s3, store)
            rehearse_churn(deployment, secret_values["API key"])
            rehearse_fraud(deployment)
            check_bucket(deployment)
        shutil.copy(cluster.datadir / "server.log", root / "logs" / "postgres.log")
    check_no_secret_logged(root, secret_values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the projects and logs in this folder")
    args = parser.parse_args()
    root = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="tabops-rehearsal-"))
    root.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        rehearse(root)
    except RehearsalError as error:  # the folder stays, for its logs
        print(f"REHEARSAL FAILED: {error}\nLogs: {root / 'logs'}", file=sys.stderr)
        return 1
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    print(f"Rehearsal passed in {time.monotonic() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Tools of the serving reliability tests: client threads that post predictions with unique
request ids and record every outcome, probes, the prediction rows in the store, metrics."""

from __future__ import annotations

import itertools
import sqlite3
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tabops.settings import Settings
from tests.integration.serve.conftest import ServedProject, served_spec_dict, valid_record
from tests.unit.model.conftest import add_snapshot, synthetic_table

#: What a request that got no HTTP answer ran into.
REFUSED, DISCONNECTED, TIMEOUT = "refused", "disconnected", "timeout"


@dataclass
class Outcome:
    """One request as the client saw it: an HTTP status, or the transport error instead."""

    request_id: str
    status: int | None
    error: str | None = None
    version: str | None = None
    model: str | None = None
    seconds: float = 0.0
    sent: float = 0.0  # time.monotonic() when sent
    attempts: int = 1


def _transport_error(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return REFUSED  # nothing listens (or the connection was refused before a request)
    if isinstance(exc, httpx.TimeoutException):
        return TIMEOUT
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return DISCONNECTED  # the connection closed before an answer
    return type(exc).__name__


class Load:
    """``threads`` clients posting one record (or a list of ``batch`` records) to ``/predict``
    in a loop, each request with a unique ``X-Request-ID`` (``<prefix>-<thread>-<n>``), until
    :meth:`stop`. A client that got no HTTP answer waits 50 ms before its next request.

    With ``retry``, a request that got no HTTP answer is sent again with the same request id
    (as a careful client does) until it gets one; ``url`` may be changed meanwhile, e.g. to a
    restarted server's.
    """

    def __init__(
        self,
        url: str,
        prefix: str,
        threads: int = 3,
        pause: float = 0.005,
        retry: bool = False,
        record: Callable[[int], dict[str, Any]] = lambda n: valid_record(x=(n % 199) / 10 - 9.9),
        timeout: float = 60.0,
        batch: int = 0,
    ) -> None:
        self.url, self.prefix, self.pause, self.retry = url, prefix, pause, retry
        self.batch = batch
        self.record, self.timeout = record, timeout
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._stop, self._halt = threading.Event(), threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(i,), name=f"load-{prefix}-{i}", daemon=True)
            for i in range(threads)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(wait=5)

    def stop(self, wait: float = 30.0) -> None:
        """No new requests; wait up to ``wait`` s for the current ones (retried ones included)."""
        self._stop.set()
        deadline = time.monotonic() + wait
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._halt.set()
        for thread in self._threads:
            thread.join(5)

    def _run(self, index: int) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            for n in itertools.count():
                if self._stop.is_set():
                    return
                request_id = f"{self.prefix}-{index}-{n}"
                payload: Any = self.record(n)
                if self.batch:
                    payload = [self.record(n + i) for i in range(self.batch)]
                outcome = self._send(client, request_id, payload)
                with self._lock:
                    self.outcomes.append(outcome)
                if self.pause:
                    time.sleep(self.pause)

    def _send(self, client: httpx.Client, request_id: str, payload: Any) -> Outcome:
        attempts = 0
        sent = time.monotonic()
        while True:
            attempts += 1
            started = time.perf_counter()
            try:
                response = client.post(
                    f"{self.url}/predict", json=payload, headers={"x-request-id": request_id}
                )
            except httpx.TransportError as exc:
                error = _transport_error(exc)
                time.sleep(0.05)  # back off, as clients do: no connect storm at a closed port
                if not self.retry or self._halt.is_set():
                    return Outcome(request_id, None, error, sent=sent, attempts=attempts)
                continue
            seconds = time.perf_counter() - started
            body: dict[str, Any] = {}
            if response.headers.get("content-type", "").startswith("application/json"):
                body = response.json()
            return Outcome(
                request_id,
                response.status_code,
                None,
                body.get("version"),
                body.get("model"),
                seconds,
                sent,
                attempts,
            )

    # -- what happened ------------------------------------------------------------------

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    @property
    def ok(self) -> list[Outcome]:
        return [o for o in self.snapshot() if o.status is not None and 200 <= o.status < 300]

    @property
    def not_ok(self) -> list[Outcome]:
        """Requests that got an HTTP answer other than 2xx."""
        return [o for o in self.snapshot() if o.status is not None and not 200 <= o.status < 300]

    def errors(self, kind: str | None = None) -> list[Outcome]:
        """Requests that got no HTTP answer (of one kind, or any)."""
        return [o for o in self.snapshot() if o.error is not None and kind in (None, o.error)]

    def ok_ids(self) -> set[str]:
        """The request ids of the prediction rows the 2xx answers promise (a batch logs one
        row per record, ``<request id>-<position>``)."""
        ids = {o.request_id for o in self.ok}
        if self.batch:
            return {f"{i}-{n}" for i in ids for n in range(self.batch)}
        return ids

    def wait_for(self, count: int, timeout: float = 120) -> None:
        """Until ``count`` more requests got a 2xx answer."""
        target = len(self.ok) + count
        deadline = time.monotonic() + timeout
        while len(self.ok) < target:
            if time.monotonic() > deadline:
                raise AssertionError(f"load stalled: {self.summary()}")
            time.sleep(0.05)

    def summary(self) -> dict[str, Any]:
        outcomes = self.snapshot()
        statuses: dict[str, int] = {}
        for o in outcomes:
            key = str(o.status) if o.status is not None else o.error or "?"
            statuses[key] = statuses.get(key, 0) + 1
        return {
            "requests": len({o.request_id for o in outcomes}),
            "outcomes": statuses,
            "2xx": len(self.ok),
            "retried": sum(o.attempts > 1 for o in outcomes),
            **latencies([o.seconds for o in self.ok]),
        }


def latencies(seconds: list[float]) -> dict[str, float]:
    if len(seconds) < 2:
        return {}
    cuts = statistics.quantiles(seconds, n=100)
    return {"p50_ms": round(cuts[49] * 1000, 2), "p99_ms": round(cuts[98] * 1000, 2)}


@dataclass
class Probe:
    """Polls ``path`` every ``interval`` s on fresh connections; records what it got."""

    url: str
    path: str = "/livez"
    interval: float = 0.1
    answers: list[int | str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Probe:
        self._thread = threading.Thread(target=self._run, name=f"probe{self.path}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                answer: int | str = httpx.get(f"{self.url}{self.path}", timeout=5).status_code
            except httpx.TransportError as exc:
                answer = _transport_error(exc)
            self.answers.append(answer)
            self._stop.wait(self.interval)

    def tally(self) -> dict[int | str, int]:
        counts: dict[int | str, int] = {}
        for answer in list(self.answers):
            counts[answer] = counts.get(answer, 0) + 1
        return counts


def logged(store_url: str, like: str = "%") -> dict[str, str]:
    """request_id -> model_version of the prediction rows whose request id matches ``like``;
    raises if a request id appears twice."""
    query = "SELECT request_id, model_version FROM predictions WHERE request_id LIKE %s"
    if store_url.startswith("sqlite:///"):
        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as conn:
            try:
                rows = conn.execute(query.replace("%s", "?"), (like,)).fetchall()
            except sqlite3.OperationalError:  # no predictions table yet
                rows = []
    else:
        import psycopg

        with psycopg.connect(store_url, connect_timeout=5) as conn:
            rows = conn.execute(query, (like,)).fetchall()
    found = {str(r[0]): str(r[1]) for r in rows}
    assert len(found) == len(rows), "a request_id was logged twice"
    return found


def wait_logged(
    store_url: str, wanted: set[str], like: str = "%", timeout: float = 60
) -> dict[str, str]:
    """The logged rows once every id of ``wanted`` is among them (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        found = logged(store_url, like)
        if wanted <= found.keys() or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


def metric(url: str, name: str, **labels: str) -> float:
    """A sample's value from ``/metrics`` (0 when absent)."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def wait_drained(url: str, timeout: float = 120) -> dict[str, Any]:
    """``/readyz``'s prediction_log once the store is up and nothing is left to copy."""
    deadline = time.monotonic() + timeout
    while True:
        log = httpx.get(f"{url}/readyz", timeout=10).json()["prediction_log"]
        if (log["store_up"] and log["queue_rows"] == 0) or time.monotonic() > deadline:
            return dict(log)
        time.sleep(0.25)


@dataclass
class ConfiguredProject(ServedProject):
    """A served project whose tabops store is ``database_url`` (e.g. PostgreSQL) and/or whose
    MLflow tracking server is ``tracking_uri``, for training and registering as for serving."""

    database_url: str | None = None
    tracking_uri: str | None = None

    @property
    def settings(self) -> Settings:
        return Settings(
            home=self.home, database_url=self.database_url, tracking_uri=self.tracking_uri
        )

    def env(self, **extra: str) -> dict[str, str]:
        configured = {
            "TABOPS_DATABASE_URL": self.database_url,
            "TABOPS_TRACKING_URI": self.tracking_uri,
        }
        return super().env(**{k: v for k, v in configured.items() if v}, **extra)


def make_configured_project(
    folder: Path,
    database_url: str | None = None,
    tracking_uri: str | None = None,
    spec: dict[str, Any] | None = None,
    rows: int = 600,
) -> ConfiguredProject:
    """As :func:`tests.integration.serve.conftest.make_project`, with the store and/or
    tracking server."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tabops.yaml").write_text(yaml.safe_dump(spec or served_spec_dict()))
    project = ConfiguredProject(folder, folder / ".tabops", database_url, tracking_uri)
    add_snapshot(project.ctx, project.spec, synthetic_table(rows))
    project.train_and_register()
    return project

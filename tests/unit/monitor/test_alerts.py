"""Alerts: transitions from a metric's series, recorded once, delivered to a real loopback
webhook (and retried after it failed), on SQLite and a real PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tabops.monitor.alerts import Observation, transitions
from tabops.monitor.notify import notify
from tabops.spec import AlertSpec
from tabops.store.alerts import events, firing
from tabops.store.db import Store, open_store

DAY0 = datetime(2026, 11, 1, tzinfo=UTC)


def _series(*values: float | None, rows: int = 500) -> list[Observation]:
    return [Observation(DAY0 + timedelta(days=i), v, rows) for i, v in enumerate(values)]


def _states(alert: AlertSpec, series: list[Observation]) -> list[tuple[int, str]]:
    return [((t.window_end - DAY0).days, t.state) for t in transitions(alert, series)]


def test_fires_after_enough_windows_in_a_row_and_resolves_at_the_first_good_one() -> None:
    alert = AlertSpec(name="psi", metric="psi", column="x", above=0.2, windows=2)
    series = _series(0.1, 0.3, 0.1, 0.3, 0.4, 0.5, 0.1, 0.25)
    assert _states(alert, series) == [(4, "firing"), (6, "resolved")]


def test_small_and_empty_windows_are_not_judged() -> None:
    alert = AlertSpec(name="auc", metric="roc_auc", below=0.7, windows=2, min_rows=100)
    series = _series(0.6, None, 0.6)
    series.insert(1, Observation(DAY0 + timedelta(hours=12), 0.9, 10))  # too few rows
    assert _states(alert, series) == [(2, "firing")]
    assert transitions(alert, _series(float("nan"), float("nan"))) == []


def test_the_order_windows_arrive_in_does_not_matter() -> None:
    alert = AlertSpec(name="auc", metric="roc_auc", below=0.7)
    series = _series(0.9, 0.6, 0.8)
    assert (
        _states(alert, series[::-1]) == _states(alert, series) == [(1, "firing"), (2, "resolved")]
    )


class _Receiver:
    """A loopback webhook that records JSON bodies, answering ``status``."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["content-length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    hook = _Receiver()
    yield hook
    hook.server.shutdown()


def _deliver_twice_with_an_outage(store: Store, receiver: _Receiver) -> None:
    alert = AlertSpec(name="drift", metric="psi", column="amount", above=0.2, severity="critical")
    first = transitions(alert, _series(0.1, 0.5))
    receiver.status = 503  # the hook is down: recorded, not lost
    outcome = notify(store, "shop", "shop-model", first, receiver.url)
    assert (outcome.recorded, outcome.delivered, outcome.failed) == (1, 0, 1)
    receiver.status = 200
    again = notify(store, "shop", "shop-model", first, receiver.url)  # the same run, re-run
    assert (again.recorded, again.delivered, again.failed) == (0, 1, 0)
    later = transitions(alert, _series(0.1, 0.5, 0.6, 0.1))
    assert notify(store, "shop", "shop-model", later, receiver.url).delivered == 1  # resolved
    assert notify(store, "shop", "shop-model", later, receiver.url).delivered == 0

    assert [b["state"] for b in receiver.bodies] == ["firing", "firing", "resolved"]
    body = receiver.bodies[1]
    assert body["alert"] == "drift" and body["column"] == "amount" and body["value"] == 0.5
    assert "FIRING (critical): psi[amount] = 0.5" in body["text"]
    recorded = events(store, "shop")
    assert [(e["state"], e["attempts"]) for e in recorded] == [("firing", 2), ("resolved", 1)]
    assert firing(store, "shop", "shop-model") == {}
    assert all(e["notified_at"] is not None for e in recorded)


def test_transitions_are_delivered_once_and_retried_after_a_failure_sqlite(
    tmp_path: Path, receiver: _Receiver
) -> None:
    _deliver_twice_with_an_outage(open_store(f"sqlite:///{tmp_path / 's.db'}"), receiver)


@pytest.mark.postgres
def test_transitions_are_delivered_once_and_retried_after_a_failure_postgres(
    pg_url: str, receiver: _Receiver
) -> None:
    _deliver_twice_with_an_outage(open_store(pg_url), receiver)


def test_without_a_webhook_transitions_go_to_the_log_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    alert = AlertSpec(name="rows", metric="rows", below=1000)
    found = transitions(alert, _series(500, 400))
    with caplog.at_level("INFO"):
        notify(store, "shop", "m", found, None)
        notify(store, "shop", "m", found, None)
    fired = [r for r in caplog.records if "alert 'rows' FIRING" in r.getMessage()]
    assert len(fired) == 1 and fired[0].levelname == "WARNING"
    assert set(firing(store, "shop", "m")) == {"rows"}

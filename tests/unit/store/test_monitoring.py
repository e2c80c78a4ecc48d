"""Monitoring's reads and writes: a window of predictions with late labels joined, and window
results replaced as a whole; on SQLite and a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from tabops.store import schema
from tabops.store.db import Store, open_store
from tabops.store.monitoring import prediction_window, replace_window_metrics, window_metrics

DAY = datetime(2026, 11, 3, tzinfo=UTC)


def _fill(store: Store) -> None:
    def prediction(i: int, hours: float, entity: str | None, model: str = "m") -> dict[str, object]:
        return {
            "request_id": f"r{i}", "project": "p", "model_name": model, "model_version": "2",
            "created_at": DAY + timedelta(hours=hours), "entity_id": entity,
            "features": orjson.dumps({"amount": 10.0 * i, "city": f"c{i % 2}"}).decode(),
            "outputs": "{}", "score": i / 10, "decision": None, "rules": None, "latency_ms": 1.0,
        }  # fmt: skip

    def label(request: str | None, entity: str | None, value: str, event: datetime | None,
              received: int) -> dict[str, object]:  # fmt: skip
        return {"project": "p", "request_id": request, "entity_id": entity,
                "event_time": event, "label": value, "source": "t",
                "received_at": DAY + timedelta(days=received)}  # fmt: skip

    with store.connect() as conn:
        conn.execute(schema.predictions.insert(), [
            prediction(1, 1, "e1"), prediction(2, 5, "e2"), prediction(3, 23.5, "e3"),
            prediction(4, 24, "e1"),  # the next window
            prediction(5, 2, "e1", model="other"),
        ])  # fmt: skip
        conn.execute(schema.labels.insert(), [
            label("r1", None, "1", None, 1),
            label(None, "e1", "0", DAY + timedelta(hours=3), 1),  # after r1: r1 has its own
            label(None, "e2", "0", DAY + timedelta(hours=2), 1),  # before r2: does not apply
            label(None, "e3", "0", None, 1),
            label(None, "e3", "1", None, 2),  # the later of two entity labels wins
        ])  # fmt: skip


def _check(store: Store) -> None:
    _fill(store)
    window = prediction_window(store, "p", "m", DAY, DAY + timedelta(days=1))
    assert list(window.served["request_id"]) == ["r1", "r2", "r3"]
    assert list(window.served["label"]) == ["1", None, "1"]
    assert list(window.served["score"]) == [0.1, 0.2, 0.3]
    assert list(window.features.columns) == ["amount", "city"]
    assert list(window.features["amount"]) == [10.0, 20.0, 30.0]
    empty = prediction_window(store, "p", "m", DAY - timedelta(days=1), DAY)
    assert empty.served.empty and empty.features.empty

    bounds = (DAY, DAY + timedelta(days=1))
    replace_window_metrics(store, "p", "m", "2", bounds, [
        {"metric": "rows", "value": 3.0}, {"metric": "psi", "column_name": "amount", "value": 0.4},
    ])  # fmt: skip
    later = (bounds[1], bounds[1] + timedelta(days=1))
    replace_window_metrics(store, "p", "m", "2", later, [{"metric": "rows", "value": 1.0}])
    replace_window_metrics(store, "p", "m", "2", bounds, [{"metric": "rows", "value": 4.0}])
    stored = window_metrics(store, "p", "m")
    assert list(zip(stored["metric"], stored["value"], strict=True)) == [
        ("rows", 4.0),
        ("rows", 1.0),
    ]
    assert list(window_metrics(store, "p", metric="psi")["value"]) == []


def test_windows_and_results_on_sqlite(tmp_path: Path) -> None:
    _check(open_store(f"sqlite:///{tmp_path / 's.db'}"))


@pytest.mark.postgres
def test_windows_and_results_on_postgresql(pg_url: str) -> None:
    _check(open_store(pg_url))

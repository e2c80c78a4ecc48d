"""The prediction log's rows in the store: the journaled format maps onto the tables, inserts
are idempotent on the key on both backends, and the server's store fails fast."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from tabops.store import schema
from tabops.store.db import Store, Timeouts, open_store
from tabops.store.predictions import (
    PREDICTION_FIELDS,
    SHADOW_FIELDS,
    Prediction,
    PredictionWriter,
    ShadowPrediction,
    is_data_error,
)

STAMP = 1_790_000_000.123456


def _journaled(rows: list[Prediction | ShadowPrediction]) -> list[object]:
    """The rows as the journal hands them back."""
    return [orjson.loads(row.encode()) for row in rows]


def _served(i: int) -> Prediction:
    return Prediction(f"r{i}", "m", "3", STAMP, f"e{i}", {"x": i}, {"label": "yes"}, 0.25, "yes",
                      1.5, {"fired": ["big"]} if i % 2 else None)  # fmt: skip


def _shadow(i: int) -> ShadowPrediction:
    return ShadowPrediction(f"r{i}", "m", "4", STAMP, {"label": "no"}, 0.75, "no", 2.5)


def test_the_journaled_fields_are_the_tables_columns_but_project() -> None:
    for table, fields in (
        (schema.predictions, PREDICTION_FIELDS),
        (schema.shadow_predictions, SHADOW_FIELDS),
    ):
        assert sorted(fields) == sorted(c.name for c in table.columns if c.name != "project")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        return Store(f"sqlite:///{tmp_path / 'store.db'}")
    return Store(request.getfixturevalue("pg_url"))


def test_rows_are_stored_once_with_their_values(store: Store) -> None:
    writer = PredictionWriter(store)
    rows = _journaled([_served(0), _served(1), _shadow(0)])
    assert writer.write("p", rows) == 3  # migrates an empty store first
    assert writer.write("p", rows + _journaled([_served(2)])) == 1  # a replay: only the new one
    with store.connect() as conn:
        served = conn.execute(sa.select(schema.predictions).order_by("request_id")).all()
        [shadow] = conn.execute(sa.select(schema.shadow_predictions)).all()
    assert [r.request_id for r in served] == ["r0", "r1", "r2"]
    first, second = served[0], served[1]
    assert first.project == "p" and first.model_version == "3" and first.entity_id == "e0"
    assert first.created_at.replace(tzinfo=UTC) == datetime.fromtimestamp(STAMP, UTC)
    assert orjson.loads(first.features) == {"x": 0}
    assert orjson.loads(first.outputs) == {"label": "yes"}
    assert (first.score, first.decision, first.latency_ms) == (0.25, "yes", 1.5)
    assert first.rules is None and orjson.loads(second.rules) == {"fired": ["big"]}
    assert (shadow.request_id, shadow.model_version, shadow.score) == ("r0", "4", 0.75)
    store.engine.dispose()


def test_a_malformed_row_is_a_data_error(store: Store) -> None:
    writer = PredictionWriter(store)
    for bad in ([["r-bad", "m"]], [{"other": 1}], [{"shadow": 7}]):
        with pytest.raises(Exception) as caught:
            writer.write("p", bad)
        assert is_data_error(caught.value), caught.value
    store.engine.dispose()


def test_sqlite_writes_without_fsync_and_gives_the_connection_its_sync_back(
    tmp_path: Path,
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    seen: list[int] = []

    @sa.event.listens_for(store.engine, "before_cursor_execute")
    def record(conn: sa.Connection, cursor: Any, statement: str, *_: object) -> None:
        if statement.startswith("INSERT INTO predictions"):
            seen.append(cursor.connection.execute("PRAGMA synchronous").fetchone()[0])

    PredictionWriter(store).write("p", _journaled([_served(0)]))
    assert seen == [1]  # NORMAL: the journal on disk holds the rows
    with store.connect() as conn:  # the pooled connection, back at FULL for everyone else
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2
    store.engine.dispose()


@pytest.mark.postgres
def test_the_servers_timeouts_reach_postgresql(pg_url: str) -> None:
    store = Store(pg_url, Timeouts(connect=3, statement=15))
    with store.connect() as conn:
        assert conn.exec_driver_sql("SHOW statement_timeout").scalar_one() == "15s"
    with store.bulk() as transaction:  # the ADBC connection too
        cursor = transaction._cursor  # type: ignore[attr-defined]
        cursor.execute("SELECT current_setting('statement_timeout')")
        assert cursor.fetchone() == ("15s",)
    store.engine.dispose()

"""The ledger's one writer: an ingest's rows and a quarantine replay's, on both backends; a
replay that lost its entries to a concurrent one writes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from tabops.errors import DataError
from tabops.store import schema
from tabops.store.bulk import TableWrite
from tabops.store.db import Store, open_store
from tabops.store.ledger import (
    BatchRecord,
    ReplayLoad,
    SnapshotRecord,
    list_batches,
    list_snapshots,
    record_load,
    record_replay,
)
from tabops.store.quarantine import open_ids, quarantined_rows

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        return open_store(f"sqlite:///{tmp_path / 'store.db'}")
    return open_store(request.getfixturevalue("pg_url"))


def _batch(batch_id: str, status: str) -> BatchRecord:
    return BatchRecord(batch_id, "p", "data.csv", f"c-{batch_id}", "s", status, 3, 1, 2, 0,
                       f"h-{batch_id}", {"mode": "append"}, NOW, NOW)  # fmt: skip


def _snapshot(batch_id: str) -> SnapshotRecord:
    return SnapshotRecord("p", f"h-{batch_id}", f"/s/{batch_id}", 1, 1, batch_id, None, "x", NOW)


def _quarantined(row_number: int) -> dict[str, object]:
    reasons = [{"column": "x", "check": "type", "message": "not a number"}]
    return {"project": "p", "batch_id": "b1", "kind": "contract", "line": row_number + 1,
            "row_number": row_number, "raw": '{"x": "bad"}', "status": "open", "created_at": NOW,
            "reasons": json.dumps(reasons)}  # fmt: skip


def test_an_ingest_and_its_replays_go_through_one_writer(store: Store) -> None:
    with store.bulk() as transaction:
        record_load(transaction, _batch("b1", "committed"), _snapshot("b1"),
                    [_quarantined(2), _quarantined(3)])  # fmt: skip
    first, second = (row.id for row in quarantined_rows(store, "p", None, "open", None))
    assert [b.batch_id for b in list_batches(store, "p")] == ["b1"]
    assert json.loads(list_batches(store, "p")[0].report) == {"mode": "append"}

    fixed = TableWrite("clean_rows", pa.table({"x": [7]}))
    better = [{"column": "x", "check": "range", "message": "too big"}]
    record_replay(store, {second: better}, ReplayLoad(_batch("b2", "replayed"),
                                                      _snapshot("b2"), [first], fixed))  # fmt: skip
    assert open_ids(store, "p", [first, second]) == {second}
    [replayed] = quarantined_rows(store, "p", None, "replayed", None)
    assert replayed.replayed_batch_id == "b2"
    assert json.loads(quarantined_rows(store, "p", None, "open", None)[0].reasons) == better
    assert {s.snapshot_hash for s in list_snapshots(store, "p")} == {"h-b1", "h-b2"}

    with pytest.raises(DataError, match="replayed by another run"):  # a concurrent replay's
        record_replay(store, {}, ReplayLoad(_batch("b3", "replayed"), _snapshot("b3"), [first],
                                            fixed))  # fmt: skip
    assert {b.batch_id for b in list_batches(store, "p")} == {"b1", "b2"}  # no b3
    assert {s.snapshot_hash for s in list_snapshots(store, "p")} == {"h-b1", "h-b2"}
    with store.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM clean_rows")).scalar_one() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.quarantine)).scalar() == 2
    store.engine.dispose()

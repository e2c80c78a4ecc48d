"""The ingestion ledger (batches, the snapshot catalogue, quarantined rows): one writer for
every load, ingest and quarantine replay alike, and the ledger's reads."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tabops.errors import DataError
from tabops.store import schema
from tabops.store.bulk import BulkTransaction, SqlTransaction, TableWrite, rows_for
from tabops.store.db import Store


@dataclass(frozen=True)
class BatchRecord:
    """One load as the ledger keeps it (an ``ingest_batches`` row)."""

    batch_id: str
    project: str
    source: str
    content_hash: str
    spec_hash: str
    status: str  # committed | blocked | replayed
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    rows_rejected: int
    snapshot_hash: str | None
    report: dict[str, Any]
    started_at: datetime
    finished_at: datetime


@dataclass(frozen=True)
class SnapshotRecord:
    """A snapshot in the catalogue (a ``snapshots`` row)."""

    project: str
    snapshot_hash: str
    path: str
    rows: int
    columns: int
    batch_id: str
    parent_hash: str | None
    source: str
    created_at: datetime


@dataclass(frozen=True)
class ReplayLoad:
    """What a quarantine replay loads: its batch and snapshot, the quarantine entries it
    replays, and their rows for the spec's ``ingest.table``, if any."""

    batch: BatchRecord
    snapshot: SnapshotRecord
    replayed: list[int]
    published: TableWrite | None = None


def record_load(
    transaction: BulkTransaction,
    batch: BatchRecord,
    snapshot: SnapshotRecord | None = None,
    quarantined: list[dict[str, Any]] | None = None,
) -> None:
    """Write a load's ledger rows in ``transaction``: its quarantined rows (``quarantine``
    columns), its snapshot when the catalogue does not hold it yet, and its batch."""
    if quarantined:
        transaction.append("quarantine", rows_for(schema.quarantine, quarantined))
    if snapshot is not None:
        transaction.append("snapshots", rows_for(schema.snapshots, [asdict(snapshot)]))
    row = asdict(batch) | {"report": json.dumps(batch.report)}
    transaction.append("ingest_batches", rows_for(schema.ingest_batches, [row]))


def record_blocked_batch(store: Store, batch: BatchRecord) -> None:
    """Record a blocked batch in the ledger (nothing else of it is written)."""
    with store.bulk() as transaction:
        record_load(transaction, batch)


def record_replay(
    store: Store,
    still_bad: dict[int, list[dict[str, Any]]],
    load: ReplayLoad | None = None,
) -> None:
    """In one transaction: record the replay's ``load`` (its quarantine entries, still open,
    marked replayed), and give the ``still_bad`` entries their new reasons. Raises
    :class:`DataError` when a concurrent replay took some of the entries meanwhile (nothing is
    written then)."""
    q = schema.quarantine
    with store.connect() as conn:
        if load is not None:
            marked = conn.execute(
                q.update()
                .where(q.c.id.in_(load.replayed), q.c.status == "open")
                .values(status="replayed", replayed_batch_id=load.batch.batch_id)
            )
            if marked.rowcount != len(load.replayed):  # a concurrent replay took some: undo ours
                raise DataError("These rows were replayed by another run meanwhile; run again.")
            transaction = SqlTransaction(conn)
            record_load(transaction, load.batch, load.snapshot)
            if load.published is not None:
                transaction.append(load.published.table, load.published.rows)
        for entry_id, reasons in still_bad.items():
            conn.execute(q.update().where(q.c.id == entry_id).values(reasons=json.dumps(reasons)))


def is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is a unique-key violation from either backend."""
    if isinstance(exc, sa.exc.IntegrityError):
        return True
    try:
        from adbc_driver_manager import IntegrityError
    except ImportError:  # pragma: no cover - adbc is a dependency
        return False
    return isinstance(exc, IntegrityError)


def find_committed_batch(store: Store, project: str, content_hash: str) -> sa.Row[Any] | None:
    """The committed batch that loaded this content, if any."""
    t = schema.ingest_batches
    query = sa.select(t).where(
        t.c.project == project, t.c.content_hash == content_hash, t.c.status == "committed"
    )
    with store.connect() as conn:
        return conn.execute(query).first()


def latest_snapshot(store: Store, project: str) -> sa.Row[Any] | None:
    """The newest snapshot of ``project``."""
    t = schema.snapshots
    query = sa.select(t).where(t.c.project == project).order_by(t.c.created_at.desc()).limit(1)
    with store.connect() as conn:
        return conn.execute(query).first()


def snapshot_exists(store: Store, project: str, snapshot_hash: str) -> bool:
    """Whether the catalogue already holds this snapshot."""
    t = schema.snapshots
    query = sa.select(t.c.snapshot_hash).where(
        t.c.project == project, t.c.snapshot_hash == snapshot_hash
    )
    with store.connect() as conn:
        return conn.execute(query).first() is not None


def list_snapshots(store: Store, project: str) -> list[sa.Row[Any]]:
    """Every snapshot of ``project``, newest first."""
    t = schema.snapshots
    query = sa.select(t).where(t.c.project == project).order_by(t.c.created_at.desc())
    with store.connect() as conn:
        return list(conn.execute(query))


def find_snapshot(store: Store, project: str, prefix: str) -> sa.Row[Any] | None:
    """The snapshot whose hash starts with ``prefix``; None if none or several do."""
    found = snapshots_with_prefix(store, project, prefix, limit=2)
    return found[0] if len(found) == 1 else None


def snapshots_with_prefix(store: Store, project: str, prefix: str, limit: int) -> list[sa.Row[Any]]:
    """At most ``limit`` snapshots whose hash starts with ``prefix``, newest first.

    The prefix is compared literally ('%' and '_' are no LIKE wildcards); an empty one matches
    nothing.
    """
    if not prefix:
        return []
    t = schema.snapshots
    query = (
        sa.select(t)
        .where(t.c.project == project, t.c.snapshot_hash.startswith(prefix, autoescape=True))
        .order_by(t.c.created_at.desc())
        .limit(limit)
    )
    with store.connect() as conn:
        return list(conn.execute(query))


def list_batches(store: Store, project: str, limit: int = 50) -> list[sa.Row[Any]]:
    """The newest ingest batches of ``project``, blocked ones included."""
    t = schema.ingest_batches
    query = sa.select(t).where(t.c.project == project).order_by(t.c.started_at.desc()).limit(limit)
    with store.connect() as conn:
        return list(conn.execute(query))

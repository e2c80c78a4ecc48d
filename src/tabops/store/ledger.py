"""Reads and small writes of the ingestion ledger and the snapshot catalogue."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from tabops.store import schema
from tabops.store.db import Store


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


def record_blocked_batch(store: Store, row: pa.Table) -> None:
    """Record a blocked batch in the ledger (nothing else of it is written)."""
    with store.connect() as conn:
        conn.execute(schema.ingest_batches.insert(), row.to_pylist())


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

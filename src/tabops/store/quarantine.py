"""Reads of the quarantine (rows kept with their reasons); its writes are the ledger's
(:mod:`tabops.store.ledger`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tabops.store import schema
from tabops.store.db import Store


def quarantined_rows(
    store: Store, project: str, batch_id: str | None, status: str | None, limit: int | None
) -> list[sa.Row[Any]]:
    """Quarantined rows of ``project``, oldest first, filtered by batch and status."""
    t = schema.quarantine
    query = sa.select(t).where(t.c.project == project).order_by(t.c.id)
    if batch_id is not None:
        query = query.where(t.c.batch_id == batch_id)
    if status is not None:
        query = query.where(t.c.status == status)
    if limit is not None:
        query = query.limit(limit)
    with store.connect() as conn:
        return list(conn.execute(query))


def quarantined_row(store: Store, project: str, entry_id: int) -> sa.Row[Any] | None:
    """One quarantined row of ``project`` by id."""
    t = schema.quarantine
    query = sa.select(t).where(t.c.project == project, t.c.id == entry_id)
    with store.connect() as conn:
        return conn.execute(query).first()


def open_ids(store: Store, project: str, ids: list[int]) -> set[int]:
    """The ones of ``ids`` that name a quarantined row of ``project`` not replayed yet."""
    q = schema.quarantine
    query = sa.select(q.c.id).where(q.c.project == project, q.c.status == "open", q.c.id.in_(ids))
    with store.connect() as conn:
        return {row.id for row in conn.execute(query)}

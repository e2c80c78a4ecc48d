"""Ground-truth labels arriving late (``POST /feedback``, label loads), upserted by request id."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tabops.store import schema
from tabops.store.db import Store


def logged_request_ids(store: Store, project: str, request_ids: list[str]) -> set[str]:
    """The ones of ``request_ids`` that name a logged prediction of ``project``."""
    store.ensure_migrated()
    table = schema.predictions
    found: set[str] = set()
    with store.connect() as conn:
        for start in range(0, len(request_ids), 500):  # within SQLite's bound-parameter limit
            query = sa.select(table.c.request_id).where(
                table.c.project == project,
                table.c.request_id.in_(request_ids[start : start + 500]),
            )
            found.update(conn.execute(query).scalars())
    return found


def upsert_labels(store: Store, rows: list[dict[str, Any]]) -> None:
    """Insert labels; a label for a request_id that already has one replaces it."""
    store.ensure_migrated()
    table = schema.labels
    dialect = postgresql if store.is_postgres else sqlite
    by_request = [r for r in rows if r["request_id"] is not None]
    by_entity = [r for r in rows if r["request_id"] is None]
    with store.connect() as conn:
        if by_request:
            insert = dialect.insert(table)
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["project", "request_id"],
                    set_={
                        c: insert.excluded[c]
                        for c in ("label", "source", "received_at", "entity_id", "event_time")
                    },
                ),
                by_request,
            )
        if by_entity:
            conn.execute(sa.insert(table), by_entity)


def entity_labels(store: Store, project: str, entity_ids: list[str]) -> dict[str, str]:
    """The label of each of ``entity_ids`` that has one (the newest received, if several)."""
    store.ensure_migrated()
    table = schema.labels
    found: dict[str, str] = {}
    with store.connect() as conn:
        for start in range(0, len(entity_ids), 500):  # within SQLite's bound-parameter limit
            query = (
                sa.select(table.c.entity_id, table.c.label)
                .where(
                    table.c.project == project,
                    table.c.entity_id.in_(entity_ids[start : start + 500]),
                )
                .order_by(table.c.received_at, table.c.id)
            )
            found.update({str(e): str(label) for e, label in conn.execute(query)})
    return found

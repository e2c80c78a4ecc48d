"""Alert transitions in the store: recorded once each, delivered until a notifier takes them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tabops.store import schema
from tabops.store.db import Store
from tabops.store.monitoring import LOG_SOURCE

_table = schema.alert_events
_KEY = ["project", "model_name", "alert", "window_end", "state", "source"]


def record_transitions(
    store: Store,
    project: str,
    model_name: str,
    rows: Sequence[dict[str, Any]],
    source: str = LOG_SOURCE,
    correct: bool = False,
) -> int:
    """Insert transitions not recorded yet (keyed by alert, window, state and the source of
    the series judged); returns how many were new. Each row holds alert, window_end, state,
    severity, metric, column_name, value and threshold. With ``correct`` (the series,
    measured again, says another state than the latest recorded one), a transition already
    recorded at that window and state becomes the latest again and is delivered again."""
    if not rows:
        return 0
    now = datetime.now(UTC)
    values = [{**row, "project": project, "model_name": model_name, "source": source,
               "created_at": now, "attempts": 0} for row in rows]  # fmt: skip
    insert = (postgresql if store.is_postgres else sqlite).insert(_table)
    if correct:
        excluded = insert.excluded
        again = {"created_at": now, "notified_at": None, "attempts": 0, "last_error": None,
                 "value": excluded.value, "threshold": excluded.threshold}  # fmt: skip
        upsert = insert.on_conflict_do_update(index_elements=_KEY, set_=again)
    else:
        upsert = insert.on_conflict_do_nothing(index_elements=_KEY)
    with store.connect() as conn:
        # RETURNING counts the rows written: rowcount is not reliable for executemany on psycopg.
        return len(conn.execute(upsert.returning(_table.c.id), values).all())


def undelivered(
    store: Store, project: str, model_name: str, source: str = LOG_SOURCE
) -> list[dict[str, Any]]:
    """A source's transitions no notifier has taken yet, oldest window first."""
    query = (
        sa.select(_table)
        .where(
            _table.c.project == project,
            _table.c.model_name == model_name,
            _table.c.source == source,
            _table.c.notified_at.is_(None),
        )
        .order_by(_table.c.window_end, _table.c.id)
    )
    with store.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def mark_delivered(store: Store, event_id: int) -> None:
    with store.connect() as conn:
        conn.execute(
            sa.update(_table)
            .where(_table.c.id == event_id)
            .values(notified_at=datetime.now(UTC), attempts=_table.c.attempts + 1, last_error=None)
        )


def mark_failed(store: Store, event_id: int, error: str) -> None:
    with store.connect() as conn:
        conn.execute(
            sa.update(_table)
            .where(_table.c.id == event_id)
            .values(attempts=_table.c.attempts + 1, last_error=error[:2000])
        )


def events(
    store: Store, project: str, model_name: str | None = None, source: str | None = None
) -> list[dict[str, Any]]:
    """Every recorded transition of ``project`` (optionally one model's, one source's),
    oldest first."""
    query = sa.select(_table).where(_table.c.project == project)
    if model_name is not None:
        query = query.where(_table.c.model_name == model_name)
    if source is not None:
        query = query.where(_table.c.source == source)
    with store.connect() as conn:
        # A window's latest state last: a correction of one recorded earlier is newer.
        ordered = query.order_by(_table.c.window_end, _table.c.created_at, _table.c.id)
        return [dict(r._mapping) for r in conn.execute(ordered)]


def firing(
    store: Store, project: str, model_name: str, source: str = LOG_SOURCE
) -> dict[str, dict[str, Any]]:
    """Each alert's latest transition on ``source`` (the prediction log), where that is a
    firing: the alerts firing now."""
    latest: dict[str, dict[str, Any]] = {}
    for event in events(store, project, model_name, source):
        latest[event["alert"]] = event
    return {name: e for name, e in latest.items() if e["state"] == "firing"}

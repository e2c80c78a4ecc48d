"""The audit: every gate decision, promotion and rollback, and every retrain trigger, skip and
result of the daily loop, with reasons and details."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from tabops.store import schema
from tabops.store.db import Store


def record_decision(
    store: Store,
    project: str,
    model: str,
    action: str,
    promoted: bool,
    versions: tuple[str | None, str | None],
    reasons: list[str],
    metrics: dict[str, Any],
    actor: str,
) -> None:
    """Append one decision; ``versions`` is (from, to): the champion and the candidate."""
    verdict = "promoted" if promoted else "refused"
    record_event(store, project, model, action, verdict, versions, reasons, metrics, actor)


def record_event(
    store: Store,
    project: str,
    model: str,
    action: str,
    decision: str,
    versions: tuple[str | None, str | None],
    reasons: list[str],
    details: dict[str, Any],
    actor: str,
) -> None:
    """Append one audited event: ``action`` (gate, promote, rollback, retrain) and its
    ``decision`` (at most 16 characters), with reasons and JSON details."""
    with store.connect() as conn:
        conn.execute(
            schema.promotion_audit.insert().values(
                project=project,
                model_name=model,
                action=action,
                decision=decision,
                from_version=versions[0],
                to_version=versions[1],
                reasons=json.dumps(reasons),
                metrics=json.dumps(details, default=str),
                actor=actor,
                created_at=datetime.now(UTC),
            )
        )


def events_of(store: Store, project: str, action: str) -> list[dict[str, Any]]:
    """Every audited event of ``project`` with ``action``, oldest first, decoded."""
    table = schema.promotion_audit
    query = (
        sa.select(table)
        .where(table.c.project == project, table.c.action == action)
        .order_by(table.c.created_at, table.c.id)
    )
    with store.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query)]
    for row in rows:
        row["reasons"], row["metrics"] = json.loads(row["reasons"]), json.loads(row["metrics"])
    return rows


def decisions(store: Store, project: str, limit: int) -> list[dict[str, Any]]:
    """Audited decisions of ``project``, newest first, with reasons and metrics decoded."""
    table = schema.promotion_audit
    query = (
        sa.select(table)
        .where(table.c.project == project)
        .order_by(table.c.created_at.desc(), table.c.id.desc())
        .limit(limit)
    )
    with store.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query)]
    for row in rows:
        row["reasons"], row["metrics"] = json.loads(row["reasons"]), json.loads(row["metrics"])
    return rows

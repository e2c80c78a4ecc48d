"""The promotion audit: every gate decision, promotion and rollback, with reasons and metrics."""

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
    with store.connect() as conn:
        conn.execute(
            schema.promotion_audit.insert().values(
                project=project,
                model_name=model,
                action=action,
                decision="promoted" if promoted else "refused",
                from_version=versions[0],
                to_version=versions[1],
                reasons=json.dumps(reasons),
                metrics=json.dumps(metrics),
                actor=actor,
                created_at=datetime.now(UTC),
            )
        )


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

"""The retrain audit: every trigger, skip and result as a row of the promotion audit
(action ``retrain``), keyed by logical date and by what ran it (``daily`` or ``manual``), so
``tabops history`` shows them and a rerun finds what an earlier run decided."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

from tabops.context import Context
from tabops.release.gate import actor
from tabops.spec import ProjectSpec
from tabops.store.audit import events_of, record_event

RETRAIN_ACTION = "retrain"
TRIGGERED, SKIPPED = "triggered", "skipped"
#: Decisions of a retrain's result: the gate's, or why it stopped before the gate.
RESULTS = ("promoted", "refused", "blocked", "failed")


def record(
    spec: ProjectSpec, ctx: Context, day: date, via: str, decision: str, reasons: list[str],
    details: dict[str, Any], versions: tuple[str | None, str | None] = (None, None),
) -> None:  # fmt: skip
    """Audit one retrain event of ``day``."""
    document = {"logical_date": day.isoformat(), "via": via, **details}
    record_event(ctx.store, spec.name, spec.name, RETRAIN_ACTION, decision, versions, reasons,
                 document, actor())  # fmt: skip


def find(
    spec: ProjectSpec, ctx: Context, day: date, via: str, decisions: Collection[str]
) -> dict[str, Any] | None:
    """The latest audited retrain event of ``day`` and ``via`` with one of ``decisions``."""
    found = None
    for event in events_of(ctx.store, spec.name, RETRAIN_ACTION):
        details = event["metrics"]
        if (
            details.get("logical_date") == day.isoformat()
            and details.get("via") == via
            and event["decision"] in decisions
        ):
            found = event
    return found


def started(spec: ProjectSpec, ctx: Context) -> tuple[date, ...]:
    """The logical dates of every retrain the guardrails let start."""
    return tuple(
        date.fromisoformat(e["metrics"]["logical_date"])
        for e in events_of(ctx.store, spec.name, RETRAIN_ACTION)
        if e["decision"] == TRIGGERED
    )

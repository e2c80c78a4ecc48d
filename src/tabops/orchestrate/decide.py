"""The decide task (the daily flow's branch): gather the facts of the logical date, judge
them by the guardrails, and audit every trigger and skip."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tabops.context import Context
from tabops.orchestrate import audit
from tabops.orchestrate.guardrails import Facts, judge
from tabops.orchestrate.monitor import firing_alerts
from tabops.registry.models import CHAMPION, registry_for
from tabops.spec import ProjectSpec
from tabops.store.batch import labelled_run_rows, run_summaries

DAILY, MANUAL = "daily", "manual"


def run_decide(
    spec: ProjectSpec, ctx: Context, day: date, via: str = DAILY, reason: str | None = None
) -> dict[str, Any]:
    """Whether to retrain on ``day``: ``{"retrain": bool, "reason", "guardrail", ...}``.

    A trigger's verdict is audited once per logical date and ``via`` (``daily`` or
    ``manual``); a rerun returns the audited verdict unchanged. A day without a trigger is
    not audited.
    """
    earlier = audit.find(spec, ctx, day, via, (audit.TRIGGERED, audit.SKIPPED))
    if earlier is not None:
        return _summary(day, earlier["decision"] == audit.TRIGGERED, earlier["reasons"][0],
                        earlier["metrics"]) | {"audited": "earlier"}  # fmt: skip
    facts = gather(spec, ctx, day, via, reason)
    verdict = judge(spec.orchestration.retrain, facts)
    details = {"trigger": verdict.trigger, "guardrail": verdict.guardrail,
               "new_labels": facts.new_labels, "reason_given": reason,
               "guardrails": spec.orchestration.retrain.model_dump(mode="json")}  # fmt: skip
    if verdict.trigger is not None:
        champion = registry_for(spec, ctx).by_alias(CHAMPION)
        audit.record(spec, ctx, day, via, audit.TRIGGERED if verdict.retrain else audit.SKIPPED,
                     [verdict.reason], details,
                     (champion.version if champion else None, None))  # fmt: skip
    return _summary(day, verdict.retrain, verdict.reason, details) | {
        "audited": "now" if verdict.trigger is not None else None
    }


def gather(
    spec: ProjectSpec, ctx: Context, day: date, via: str, reason: str | None = None
) -> Facts:
    """The facts of ``day``: its triggers, the labelled rows since the last retrain, and the
    dates of earlier retrains."""
    retrains = audit.started(spec, ctx)
    last = max((d for d in retrains if d <= day), default=None)
    triggers = _triggers(spec, ctx, day, via, last, reason)
    return Facts(day, triggers, _new_labels(spec, ctx, day, last), retrains)


def _triggers(
    spec: ProjectSpec, ctx: Context, day: date, via: str, last: date | None, reason: str | None
) -> tuple[str, ...]:
    triggers = spec.orchestration.retrain.triggers
    if via == MANUAL:
        return (f"manual: {reason}",) if triggers.manual else ()
    named = triggers.alerts
    asking = [f"alert:{name}" for name in sorted(firing_alerts(spec, ctx, day))
              if named is None or name in named]  # fmt: skip
    if triggers.every_days is not None:
        scored = list(run_summaries(ctx.store, spec.name))
        since = last or (scored[0] if scored else None)
        if since is not None and day - since >= timedelta(days=triggers.every_days):
            asking.append(f"schedule: every {triggers.every_days} days")
    return tuple(asking)


def _new_labels(spec: ProjectSpec, ctx: Context, day: date, last: date | None) -> int:
    """Scored production rows (run dates after the last retrain, up to ``day``) whose label
    has arrived."""
    return labelled_run_rows(ctx.store, spec.name, last, day)


def _summary(day: date, retrain: bool, reason: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"date": day.isoformat(), "retrain": retrain, "reason": reason,
            "guardrail": details.get("guardrail"), "trigger": details.get("trigger"),
            "new_labels": details.get("new_labels")}  # fmt: skip

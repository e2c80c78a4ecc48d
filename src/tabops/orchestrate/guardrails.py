"""The retrain guardrails as one pure function: the facts of a logical date in, a verdict out.

A trigger (an alert, the schedule, a person) asks for a retrain; the guardrails are checked in
a fixed order and the first that holds stops it: ``max_retrains`` (0 disables retraining),
``cooldown``, ``max_retrains`` per period, then ``min_new_labels``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from tabops.spec import RetrainSpec


@dataclass(frozen=True)
class Facts:
    """What the verdict rests on, as of the logical date ``day``."""

    day: date
    triggers: tuple[str, ...]  # e.g. ("alert:recall_low", "schedule", "manual")
    new_labels: int  # labelled production rows scored since the last retrain
    retrains: tuple[date, ...]  # logical dates of the retrains started before


@dataclass(frozen=True)
class Verdict:
    """Retrain or not, why, and the guardrail that said no (None when none did)."""

    retrain: bool
    reason: str
    guardrail: str | None
    trigger: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge(settings: RetrainSpec, facts: Facts) -> Verdict:
    """The verdict on ``facts`` under ``settings`` (``orchestration.retrain``)."""
    if not facts.triggers:
        return Verdict(False, "no trigger: no retrain alert firing, none scheduled", None, None)
    trigger = ", ".join(facts.triggers)
    asked = f"{trigger} asked for a retrain on {facts.day}"

    def stop(guardrail: str, why: str) -> Verdict:
        return Verdict(False, f"{asked}; {why}", guardrail, trigger)

    if settings.max_retrains == 0:
        return stop("max_retrains", "orchestration.retrain.max_retrains is 0 (disabled)")
    earlier = sorted(d for d in facts.retrains if d <= facts.day)
    if earlier and (facts.day - earlier[-1]).days < settings.cooldown_days:
        days = (facts.day - earlier[-1]).days
        return stop("cooldown", f"the last retrain was {days} day(s) before, on {earlier[-1]} "
                                f"(cooldown_days {settings.cooldown_days})")  # fmt: skip
    since = facts.day - timedelta(days=settings.period_days)
    recent = [d for d in earlier if d > since]
    if len(recent) >= settings.max_retrains:
        return stop("max_retrains", f"{len(recent)} retrain(s) in the last {settings.period_days} "
                    f"days (max_retrains {settings.max_retrains})")  # fmt: skip
    if facts.new_labels < settings.min_new_labels:
        return stop("min_new_labels", f"{facts.new_labels} new labelled row(s) since the last "
                    f"retrain (min_new_labels {settings.min_new_labels})")  # fmt: skip
    return Verdict(True, f"{asked}; guardrails passed "
                   f"({facts.new_labels} new labelled rows)", None, trigger)  # fmt: skip

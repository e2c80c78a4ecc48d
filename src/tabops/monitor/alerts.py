"""Alerts: when a monitored metric crossed its threshold, judged over the windows in order.

An alert's state is a function of its metric's series, so recomputing windows and running the
monitor twice give the same transitions; the store keeps one row per transition, which is what
makes notifications happen once (:mod:`tabops.store.alerts`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from tabops.spec import AlertSpec

State = Literal["firing", "resolved"]


@dataclass(frozen=True)
class Observation:
    """One window's value of an alert's metric, and the rows it was computed on."""

    window_end: datetime
    value: float | None
    rows: int


@dataclass(frozen=True)
class Transition:
    """An alert starting to fire, or resolving, at the end of a window."""

    alert: str
    state: State
    window_end: datetime
    value: float
    threshold: float
    severity: str
    metric: str
    column: str | None

    def describe(self) -> str:
        about = f"{self.metric}[{self.column}]" if self.column else self.metric
        verb = "FIRING" if self.state == "firing" else "resolved"
        return (
            f"alert '{self.alert}' {verb}: {about} = {self.value:.4g} "
            f"(threshold {self.threshold:g}) in the window ending {self.window_end.isoformat()}"
        )


def threshold_of(alert: AlertSpec) -> float:
    """The alert's threshold (``above`` or ``below``, exactly one is set)."""
    value = alert.above if alert.above is not None else alert.below
    assert value is not None  # the spec validates it
    return value


def breached(alert: AlertSpec, value: float) -> bool:
    """Whether ``value`` is past the alert's threshold."""
    if alert.above is not None:
        return value > alert.above
    return alert.below is not None and value < alert.below


def transitions(alert: AlertSpec, series: Sequence[Observation]) -> list[Transition]:
    """Every firing and resolution of ``alert`` over ``series``, oldest first.

    A window with fewer than ``min_rows`` rows, or no value, is not judged: it neither extends
    nor breaks a streak. The alert fires at the ``windows``-th breaching window in a row and
    resolves at the first judged window within the threshold.
    """
    found: list[Transition] = []
    firing, streak = False, 0
    for seen in sorted(series, key=lambda s: s.window_end):
        if seen.value is None or not math.isfinite(seen.value) or seen.rows < alert.min_rows:
            continue
        past = breached(alert, seen.value)
        streak = streak + 1 if past else 0
        if not firing and streak >= alert.windows:
            firing = True
            found.append(_transition(alert, "firing", seen))
        elif firing and not past:
            firing = False
            found.append(_transition(alert, "resolved", seen))
    return found


def _transition(alert: AlertSpec, state: State, seen: Observation) -> Transition:
    assert seen.value is not None
    return Transition(
        alert.name, state, seen.window_end, seen.value, threshold_of(alert),
        alert.severity, alert.metric, alert.column,
    )  # fmt: skip

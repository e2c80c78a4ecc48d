"""``tabops monitor``: measure every window of the prediction log, store the results, judge
the spec's alerts and deliver their transitions.

Windows are aligned to UTC (hour, day or week) and measured per model version against that
version's reference (stored at registration). Recomputing a window replaces its results, and
alerts are judged from the stored series, so running the monitor twice changes nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from tabops.context import Context
from tabops.errors import TabopsError
from tabops.monitor.alerts import (
    Observation,
    State,
    Transition,
    threshold_of,
    transitions,
)
from tabops.monitor.drift import METHODS
from tabops.monitor.notify import Delivery, notify
from tabops.monitor.reference import Reference, reference_for
from tabops.monitor.rejections import monitored_span, rejection_rows, with_refusing_versions
from tabops.monitor.window import measure_window
from tabops.spec import MONITOR_WINDOWS, AlertSpec, ProjectSpec
from tabops.store.alerts import events
from tabops.store.db import Store
from tabops.store.monitoring import (
    LOG_SOURCE,
    PredictionWindow,
    logged_span,
    prediction_window,
    replace_window_metrics,
    window_metrics,
)
from tabops.store.rejections import refused_counts


@dataclass
class WindowSummary:
    start: datetime
    end: datetime
    model_version: str
    rows: int
    metrics: int
    drifted: list[str] = field(default_factory=list)  # the features judged drifted
    compared: int = 0  # the features judged

    @classmethod
    def of(
        cls, bounds: tuple[datetime, datetime], version: str, rows: int,
        measured: list[dict[str, Any]],
    ) -> WindowSummary:  # fmt: skip
        """The summary of one window's measurements (``measure_window``'s rows)."""
        judged = [m for m in measured if m["metric"] == "drifted"]
        drifted = sorted(str(m["column_name"]) for m in judged if m["value"])
        return cls(*bounds, version, rows, len(measured), drifted, len(judged))


@dataclass
class DataCounts:
    """Where the rows of a file or table went (``monitor run --data``): read = measured +
    refused + unplaced + outside; rejected records never became rows."""

    read: int = 0
    measured: int = 0
    refused: int = 0  # a value the data contract refused: counted in its window, not measured
    unplaced: int = 0  # refused, and no valid timestamp to count it in a window
    outside: int = 0  # timestamped outside --since/--until
    rejected: int = 0  # CSV records that could not be split into the header's columns


@dataclass
class MonitorResult:
    """What a run measured, which versions it could not (and why), and the alerts it judged."""

    windows: list[WindowSummary] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # model version -> reason
    transitions: list[Transition] = field(default_factory=list)
    delivery: Delivery | None = None
    source: str = LOG_SOURCE
    data: DataCounts | None = None  # a file or table's rows (None: the prediction log)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            **({} if self.data is None else {"data": self.data.__dict__}),
            "windows": [{**w.__dict__, "start": w.start.isoformat(), "end": w.end.isoformat()}
                        for w in self.windows],
            "skipped_versions": self.skipped,
            "alerts": [{"alert": t.alert, "state": t.state, "window_end": t.window_end.isoformat(),
                        "value": t.value, "threshold": t.threshold} for t in self.transitions],
            "delivery": None if self.delivery is None else self.delivery.__dict__,
        }  # fmt: skip


def window_bounds(
    spec: ProjectSpec, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """The UTC-aligned windows that cover ``[start, end)``."""
    size = timedelta(seconds=MONITOR_WINDOWS[spec.monitor.window])
    epoch = datetime(1970, 1, 5, tzinfo=UTC)  # a Monday: weeks start on Mondays
    first = epoch + size * ((start.astimezone(UTC) - epoch) // size)
    while first < end:
        yield first, first + size
        first += size


def run_monitor(
    spec: ProjectSpec,
    ctx: Context,
    start: datetime | None = None,
    end: datetime | None = None,
) -> MonitorResult:
    """Measure the windows in ``[start, end)`` (default: all logged predictions and refused
    requests), then judge and deliver the alerts over every stored window."""
    result, store = MonitorResult(), ctx.store
    span = monitored_span(store, spec.name, spec.name, logged_span(store, spec.name, spec.name))
    if span is not None:
        first = start or span[0]
        last = end or span[1] + timedelta(microseconds=1)
        references: dict[str, Reference | str] = {}
        for bounds in window_bounds(spec, first, last):
            _measure(spec, ctx, bounds, references, result)
    judge_and_notify(spec, store, result)
    return result


def judge_and_notify(spec: ProjectSpec, store: Store, result: MonitorResult) -> None:
    """Judge the spec's alerts over every stored window of ``result``'s source (each
    source's series apart: a batch file cannot fire or resolve the log's alerts), then record
    and deliver their transitions."""
    source = result.source
    judged = [_judge(spec, store, alert, source) for alert in spec.monitor.alerts]
    found = [t for transitions_, _ in judged for t in transitions_]
    corrections = [t for _, corrected in judged for t in corrected]
    result.transitions = found + corrections
    result.delivery = notify(
        store, spec.name, spec.name, found, spec.monitor.webhook, source, corrections
    )


def _measure(
    spec: ProjectSpec,
    ctx: Context,
    bounds: tuple[datetime, datetime],
    references: dict[str, Reference | str],
    result: MonitorResult,
) -> None:
    store = ctx.store
    window = prediction_window(store, spec.name, spec.name, *bounds)
    refused = refused_counts(store, spec.name, spec.name, *bounds)
    groups = with_refusing_versions(window.served.groupby("model_version").indices, refused)
    for version, positions in groups.items():
        if version not in references:
            try:
                references[version] = reference_for(spec, ctx, version)
            except TabopsError as exc:  # e.g. its snapshot is gone: measure the others
                references[version] = f"no reference profile: {exc}"
        reference = references[version]
        if isinstance(reference, str):
            result.skipped[version] = reference
            continue
        part = PredictionWindow(window.served.iloc[positions], window.features.iloc[positions])
        rows = measure_window(spec, reference, part) + rejection_rows(
            refused, version, len(positions)
        )
        store_window(store, spec, version, bounds, rows, LOG_SOURCE)
        result.windows.append(WindowSummary.of(bounds, version, len(positions), rows))


def store_window(
    store: Store,
    spec: ProjectSpec,
    version: str,
    bounds: tuple[datetime, datetime],
    rows: list[dict[str, Any]],
    source: str,
) -> None:
    """Store one window's measurements, replacing an earlier computation's."""
    stored = [{**r, "details": _json(r["details"])} for r in rows]
    replace_window_metrics(store, spec.name, spec.name, version, bounds, stored, source)


def _judge(
    spec: ProjectSpec, store: Store, alert: AlertSpec, source: str
) -> tuple[list[Transition], list[Transition]]:
    """The alert's transitions over every stored window of ``source`` (and the correction of
    its recorded state, if it needs one: :func:`_correction`); where several
    versions served in a window, the one that served the most rows speaks for it."""
    stored = window_metrics(store, spec.name, spec.name, source=source)
    served = stored[stored["metric"] == "rows"].sort_values("value", kind="stable")
    main = served.drop_duplicates("window_end", keep="last")
    window_rows = dict(zip(main["window_end"], main["value"], strict=True))
    speaking = set(zip(main["window_end"], main["model_version"], strict=True))
    series = [
        Observation(_utc(row["window_end"]), _comparable(alert, row),
                    _rows(row["details"], window_rows[row["window_end"]]))
        for row in stored.to_dict("records")
        if row["metric"] == alert.metric
        and (alert.column is None or row["column_name"] == alert.column)
        and (row["window_end"], row["model_version"]) in speaking
    ]  # fmt: skip
    found = transitions(alert, series)
    return found, _correction(spec, store, alert, source, found, series)


def _correction(
    spec: ProjectSpec, store: Store, alert: AlertSpec, source: str, found: list[Transition],
    series: list[Observation],
) -> list[Transition]:  # fmt: skip
    """The transition that sets the alert's recorded state right when its windows, measured
    again, say otherwise: a day rescored from corrected data no longer breaches (resolved), or
    a bad feed back on that day breaches again (firing). Recording ``found`` alone would leave
    the first firing forever, and could never record the second: a window holds one event per
    state, and its latest one is the alert's state."""
    recorded = [e for e in events(store, spec.name, spec.name, source) if e["alert"] == alert.name]
    known = {(_utc(e["window_end"]), e["state"]) for e in recorded}
    now = datetime.now(UTC)
    states = [(_utc(e["window_end"]), _utc(e["created_at"]), e["state"]) for e in recorded]
    states += [(t.window_end, now, t.state) for t in found if (t.window_end, t.state) not in known]
    if not states:
        return []
    was_firing = max(states)[2] == "firing"  # the latest once ``found`` is recorded
    firing_now = bool(found) and found[-1].state == "firing"
    judged = [s for s in series if s.value is not None and math.isfinite(s.value)
              and s.rows >= alert.min_rows]  # fmt: skip
    if was_firing == firing_now or not judged:
        return []
    last = max(judged, key=lambda s: s.window_end)
    assert last.value is not None
    state: State = "firing" if firing_now else "resolved"
    return [Transition(alert.name, state, last.window_end, last.value, threshold_of(alert),
                       alert.severity, alert.metric, alert.column)]  # fmt: skip


def _comparable(alert: AlertSpec, row: Mapping[Hashable, Any]) -> float | None:
    """The row's value, or None (not judged) where a drift statistic is of the other kind
    than the alert reads: ``above`` reads distances (more drift: higher), ``below`` reads
    p-values (more drift: lower). A feature is tested by a p-value in a window too small for
    a distance (``monitor.drift_min_rows``), where a p-value of 0.9 (no drift) is "above 0.15"."""
    value = _number(row["value"])
    method = METHODS.get(_details(row["details"]).get("method", ""))
    if method is not None and method.is_pvalue != (alert.below is not None):
        return None
    return value


def _details(details: str | None) -> dict[str, Any]:
    return json.loads(details) if details else {}


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _rows(details: str | None, window_rows: Any) -> int:
    """The rows a value rests on: its own count (labelled rows, for realized performance)."""
    counted = _details(details).get("rows")
    return int(counted if counted is not None else window_rows)


def _json(details: dict[str, Any] | None) -> str | None:
    return None if details is None else json.dumps(details, default=_plain)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else str(value)


def _utc(moment: Any) -> datetime:
    stamp = pd.Timestamp(moment)
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).to_pydatetime()

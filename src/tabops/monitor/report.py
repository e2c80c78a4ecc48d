"""What ``tabops monitor report`` shows, gathered from the store: the stored window results,
the alert transitions, the reference profiles, and the latest window's logged predictions
(profiled again, for the current distributions beside the reference's).

Where several model versions served in a window, the one that served the most rows speaks
for it, as when alerts are judged; the page lists every version and its rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from tabops.context import Context
from tabops.errors import TabopsError
from tabops.model.columns import feature_names
from tabops.monitor.profile import DatasetProfile, profile_frame
from tabops.monitor.reference import Reference
from tabops.monitor.sketches import ColumnSketch
from tabops.spec import MONITOR_CADENCE, ColumnType, ProjectSpec, Task
from tabops.store.alerts import events, firing
from tabops.store.monitoring import (
    LOG_SOURCE,
    measured_sources,
    prediction_window,
    window_metrics,
)
from tabops.store.references import load_reference


@dataclass(frozen=True)
class FeatureView:
    """One feature in the latest window: both distributions and its drift verdict."""

    name: str
    kind: ColumnType | None
    reference: ColumnSketch | None
    current: ColumnSketch | None
    method: str | None = None
    score: float | None = None
    threshold: float | None = None
    drifted: bool | None = None
    psi: float | None = None
    note: str | None = None  # why it was not compared, when it was not


@dataclass(frozen=True)
class MonitorReport:
    """Everything the page shows.

    Attributes:
        series: One row per stored value of the speaking version of each window:
            window_start, window_end (UTC), model_version, metric, column_name, value and
            details (a dict).
        versions: Rows served per model version, over the windows covered.
        features: The latest window's features, drifted first.
        transitions: The stored alert transitions in the range, oldest first.
        firing: The alerts firing now (their latest transition is a firing).
    """

    project: str
    task: Task
    primary_metric: str
    window: str
    series: pd.DataFrame
    versions: dict[str, int]
    latest: tuple[datetime, datetime]
    latest_version: str
    features: list[FeatureView]
    reference_note: str | None
    transitions: list[dict[str, Any]]
    firing: list[str]
    source: str = LOG_SOURCE  # the series: the prediction log's, or a batch's or a file's

    @property
    def logged(self) -> bool:
        """Whether the series is the prediction log's, whose rows (and labels) are kept."""
        return self.source == LOG_SOURCE

    @property
    def windows(self) -> list[datetime]:
        """The covered windows' starts, oldest first."""
        return sorted(set(self.series["window_start"]))

    @property
    def cadence(self) -> str:
        """The window as an adjective: hourly, daily, weekly."""
        return MONITOR_CADENCE[self.window]

    @property
    def rows(self) -> int:
        return sum(self.versions.values())

    def values(self, metric: str, column: str | None = None) -> pd.DataFrame:
        """One metric's rows (one column's, for a per-feature metric), oldest first."""
        rows = self.series[self.series["metric"] == metric]
        if column is not None:
            rows = rows[rows["column_name"] == column]
        return rows.sort_values("window_start", kind="stable")


def gather_report(
    spec: ProjectSpec,
    ctx: Context,
    since: datetime | None = None,
    until: datetime | None = None,
    source: str | None = None,
) -> MonitorReport:
    """The report of ``source``'s windows (None: the prediction log's) overlapping
    ``[since, until)`` (default: every stored one). The latest window's distributions are
    drawn for the prediction log, whose rows are kept; another source (a batch run, a
    ``--data`` file) has its verdicts only."""
    source = source or LOG_SOURCE
    stored = window_metrics(ctx.store, spec.name, spec.name, source=source)
    stored = _in_range(stored, since, until)
    if stored.empty:
        raise TabopsError(_nothing_measured(spec, ctx, source, since, until))
    series = _speaking(stored)
    latest_rows = series[series["window_end"] == series["window_end"].max()].iloc[0]
    latest = (
        latest_rows["window_start"].to_pydatetime(),
        latest_rows["window_end"].to_pydatetime(),
    )
    version = str(latest_rows["model_version"])
    reference, note = _reference(spec, ctx, version)
    current = None
    if reference is not None and source == LOG_SOURCE:
        current = _current_profile(spec, ctx, latest, version)
    rows = stored[stored["metric"] == "rows"].groupby("model_version")["value"].sum()
    transitions = [
        e for e in events(ctx.store, spec.name, spec.name, source) if _within(e, since, until)
    ]
    return MonitorReport(
        project=spec.name,
        task=spec.task,
        primary_metric=spec.metric,
        window=spec.monitor.window,
        series=series,
        versions={str(v): int(n) for v, n in rows.items()},
        latest=latest,
        latest_version=version,
        features=_features(spec, series, latest[1], reference, current),
        reference_note=note,
        transitions=transitions,
        firing=sorted(firing(ctx.store, spec.name, spec.name, source)),
        source=source,
    )


def _nothing_measured(
    spec: ProjectSpec, ctx: Context, source: str, since: datetime | None, until: datetime | None
) -> str:
    scope = "" if since is None and until is None else " in the range asked"
    what = "the prediction log" if source == LOG_SOURCE else f"the source '{source}'"
    others = [s for s in measured_sources(ctx.store, spec.name) if s != source]
    hint = (
        f" Measured sources: {', '.join(others)} (pass --source NAME)."
        if others
        else " Run 'tabops monitor run' first (it measures the prediction log's windows; "
        "with --data, a file's), then make the report."
    )
    return f"Nothing measured yet for project '{spec.name}' on {what}{scope}.{hint}"


def _in_range(stored: pd.DataFrame, since: datetime | None, until: datetime | None) -> pd.DataFrame:
    stored = stored.assign(
        window_start=pd.to_datetime(stored["window_start"], utc=True),
        window_end=pd.to_datetime(stored["window_end"], utc=True),
        details=pd.Series(
            [json.loads(d) if d else {} for d in stored["details"]],
            index=stored.index,
            dtype=object,
        ),
    )
    if since is not None:
        stored = stored[stored["window_end"] > pd.Timestamp(since)]
    if until is not None:
        stored = stored[stored["window_start"] < pd.Timestamp(until)]
    return stored


def _speaking(stored: pd.DataFrame) -> pd.DataFrame:
    """Each window's values of the version that served the most rows in it."""
    served = stored[stored["metric"] == "rows"].sort_values("value", kind="stable")
    main = served.drop_duplicates("window_end", keep="last")[["window_end", "model_version"]]
    columns = ["window_start", "window_end", "model_version", "metric", "column_name", "value",
               "details"]  # fmt: skip
    return stored.merge(main, on=["window_end", "model_version"])[columns]


def _within(event: dict[str, Any], since: datetime | None, until: datetime | None) -> bool:
    end = pd.Timestamp(event["window_end"])
    end = end.tz_localize("UTC") if end.tzinfo is None else end
    return (since is None or end > pd.Timestamp(since)) and (
        until is None or end <= pd.Timestamp(until)
    )


def _reference(
    spec: ProjectSpec, ctx: Context, version: str
) -> tuple[Reference | None, str | None]:
    """The version's stored reference; never built here (a report only reads)."""
    doc = load_reference(ctx.store, spec.name, spec.name, version)
    if doc is None:
        return None, f"version {version} has no reference profile in the store"
    return Reference.from_json(doc), None


def _current_profile(
    spec: ProjectSpec, ctx: Context, window: tuple[datetime, datetime], version: str
) -> DatasetProfile:
    """The profile of what ``version`` served in the window, as the monitor measured it."""
    logged = prediction_window(ctx.store, spec.name, spec.name, *window)
    mine = (logged.served["model_version"] == version).to_numpy()
    features = logged.features[mine].reindex(columns=feature_names(spec))
    score = pd.to_numeric(logged.served["score"][mine], errors="coerce").to_numpy(dtype=float)
    return profile_frame(spec, features, score)


def _features(
    spec: ProjectSpec,
    series: pd.DataFrame,
    latest_end: pd.Timestamp,
    reference: Reference | None,
    current: DatasetProfile | None,
) -> list[FeatureView]:
    latest = series[series["window_end"] == latest_end]
    skipped = (latest[latest["metric"] == "drift_share"]["details"].tolist() or [{}])[0]
    views = []
    for name in feature_names(spec):
        verdict = latest[latest["column_name"] == name].set_index("metric")
        profile = reference.profile if reference is not None else None
        views.append(
            FeatureView(
                name=name,
                kind=profile.types.get(name) if profile is not None else None,
                reference=profile.features.get(name) if profile is not None else None,
                current=current.features.get(name) if current is not None else None,
                note=(skipped.get("skipped") or {}).get(name)
                or (profile.skipped.get(name) if profile is not None else None),
                **_verdict(verdict),
            )
        )
    return sorted(views, key=lambda v: (not v.drifted, v.name))


def _verdict(rows: pd.DataFrame) -> dict[str, Any]:
    """The drift fields of a FeatureView from a feature's rows, indexed by metric."""
    found: dict[Any, dict[Any, Any]] = rows.to_dict("index")
    if "drift_score" not in found:
        return {}
    score, drifted, psi = found["drift_score"], found.get("drifted"), found.get("psi")
    return {
        "method": score["details"].get("method"),
        "score": float(score["value"]),
        "threshold": score["details"].get("threshold"),
        "drifted": None if drifted is None else bool(drifted["value"]),
        "psi": None if psi is None else float(psi["value"]),
    }

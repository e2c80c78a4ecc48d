"""The monitor task: measure the days up to the logical date (drift, and realized performance
as their labels arrive) under the source ``daily``, and judge the spec's alerts on it."""

from __future__ import annotations

import logging
import tempfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tabops.context import Context
from tabops.errors import SpecError, StoreError, TabopsError
from tabops.monitor.batch import DataSource, run_data_monitor
from tabops.orchestrate.labelled import labelled_day
from tabops.spec import ColumnRole, ProjectSpec
from tabops.store.alerts import events
from tabops.store.batch import run_summaries

log = logging.getLogger(__name__)

#: The monitoring series of the daily loop (the prediction log's is ``predictions``).
DAILY_SOURCE = "daily"


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def run_day_monitor(spec: ProjectSpec, ctx: Context, day: date) -> dict[str, Any]:
    """Measure each scored day of the last ``orchestration.monitor_days`` up to ``day`` with
    the version that scored it. Windows are replaced and alert transitions recorded once, so a
    rerun changes nothing unless labels arrived in between."""
    first = day - timedelta(days=spec.orchestration.monitor_days - 1)
    scored = {d: run for d, run in run_summaries(ctx.store, spec.name).items() if first <= d <= day}
    # A run date scored by 'tabops predict' alone (an ad-hoc rescore, days before the flow)
    # has no day batch to read the rows from: it is skipped and named, not a failed day.
    days: dict[date, pa.Table] = {}
    skipped: dict[str, str] = {}
    for run_date in scored:
        try:
            days[run_date] = labelled_day(spec, ctx, run_date)
        except (StoreError, SpecError):
            raise  # the store or the spec is wrong, not the day
        except TabopsError as exc:
            skipped[run_date.isoformat()] = str(exc)
            log.warning(
                "Run date %s is not monitored with the daily flow's days: %s", run_date, exc
            )
    timed = bool(spec.columns_with_role(ColumnRole.TIMESTAMP))
    # With a timestamp column the windows come from the rows: one pass per scoring version;
    # without one, each day is measured as the window holding its midnight.
    groups: dict[tuple[str, date | None], list[date]] = {}
    for run_date in days:
        version = scored[run_date].model_version
        groups.setdefault((version, None if timed else run_date), []).append(run_date)
    measured: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="tabops-monitor-") as folder:
        for (version, _), run_dates in groups.items():
            rows = pa.concat_tables([days[d] for d in run_dates], promote_options="permissive")
            path = Path(folder) / "rows.parquet"
            pq.write_table(rows, path)
            start, end = midnight(run_dates[0]), midnight(run_dates[-1] + timedelta(days=1))
            result = run_data_monitor(
                spec, ctx, DataSource(str(path)), name=DAILY_SOURCE, version=version,
                start=start if timed else None, end=end if timed else None, at=start,
            )  # fmt: skip
            unlabelled = rows.column(spec.target).null_count
            measured.append({"dates": [d.isoformat() for d in run_dates], "version": version,
                             "rows": rows.num_rows, "labelled": rows.num_rows - unlabelled,
                             "windows": len(result.windows)})  # fmt: skip
    return {"date": day.isoformat(), "source": DAILY_SOURCE, "measured": measured,
            "skipped": skipped, "firing": sorted(firing_alerts(spec, ctx, day))}  # fmt: skip


def firing_alerts(spec: ProjectSpec, ctx: Context, day: date) -> dict[str, dict[str, Any]]:
    """The alerts of the daily series firing at the end of ``day``: those whose latest
    transition up to then is a firing (later windows, e.g. of a backfill, do not count)."""
    cut = midnight(day + timedelta(days=1))
    latest: dict[str, dict[str, Any]] = {}
    for event in events(ctx.store, spec.name, spec.name, DAILY_SOURCE):
        end = event["window_end"]
        end = end if end.tzinfo is not None else end.replace(tzinfo=UTC)
        if end <= cut:
            latest[event["alert"]] = event
    return {name: e for name, e in latest.items() if e["state"] == "firing"}

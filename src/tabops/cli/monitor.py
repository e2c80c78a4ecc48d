"""Commands for watching a model in production: ``tabops monitor run`` (measure the
prediction log's windows, judge the alerts), ``tabops monitor report`` (one HTML page of what
was measured) and ``tabops monitor provision`` (Grafana and Prometheus files generated from the
spec)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tabops.cli.app import (
    Group,
    JsonOption,
    SetOption,
    SpecOption,
    VersionOption,
    app,
    make_context,
    read_spec,
)
from tabops.console import key_values, out, print_json
from tabops.errors import TabopsError
from tabops.spec import MONITOR_CADENCE

if TYPE_CHECKING:
    from tabops.context import Context
    from tabops.monitor.run import MonitorResult
    from tabops.spec import ProjectSpec

monitor_app = typer.Typer(
    cls=Group,
    help="Watch the model in production: drift, performance and alerts per window; Grafana "
    "dashboards and Prometheus rules.",
    no_args_is_help=True,
)
app.add_typer(monitor_app, name="monitor")


@monitor_app.command("run")
def run_command(
    since: Annotated[
        str | None,
        typer.Option(
            help="First day (or time) to measure, ISO 8601 (UTC unless it has an offset). "
            "Default: the first logged prediction."
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            help="End of the range, exclusive, ISO 8601 (UTC unless it has an offset). "
            "Default: after the last logged prediction."
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            help="Measure this file (CSV, compressed CSV or Parquet; a path, an s3:// or "
            "other object storage URL, or an http(s) URL) or, with --table, this "
            "database's table (an SQLAlchemy URL, as source.url in the spec) instead of the "
            "prediction log: rows scored by the model, windows by the spec's timestamp column "
            "when the data has one, else one window (the one the run falls in).",
        ),
    ] = None,
    table: Annotated[
        str | None,
        typer.Option("--table", help="With --data URL: the table to read (as source.table)."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="With --data: the name its results and alerts are stored under (a series "
            "apart from the log's). Default: the table's name or the file's up to its first dot.",
        ),
    ] = None,
    version: VersionOption = None,
    chunk_rows: Annotated[
        int,
        typer.Option(
            "--chunk-rows",
            min=1,
            help="With --data: rows read, scored and profiled at once (memory per chunk).",
        ),
    ] = 100_000,
    spec: SpecOption = None,
    overrides: SetOption = None,
    json_output: JsonOption = False,
) -> None:
    """Measure every window of the prediction log against each served version's reference
    (data and prediction drift, data quality, realized and estimated performance), store the
    results, then judge the spec's alerts and deliver their firings and resolutions (log,
    webhook). Windows already measured are replaced: run it on a schedule.

    With --data, measure a file or table the same way, scored by the champion (or
    --version), read in chunks; its results and alerts are kept apart under --name. Values the
    data contract refuses are counted (refused_rows, refused_values), not measured.

    Example: tabops monitor run --since 2026-11-01 --until 2026-12-01

    Example: tabops monitor run --data scored/2026-11.parquet --name november
    """
    project = read_spec(spec, overrides)
    start, end = _moment(since, "--since"), _moment(until, "--until")
    if start is not None and end is not None and end <= start:
        raise TabopsError(f"--until {until} is not after --since {since}.")
    if data is None:
        for option, given in (("--table", table), ("--name", name), ("--version", version)):
            if given is not None:
                raise TabopsError(f"{option} goes with --data (a file or table to measure).")
    ctx = make_context(json_output)
    _store_exists(ctx)
    result: MonitorResult
    if data is None:
        # Monitoring's stack (scikit-learn, SciPy) loads after the arguments are checked.
        from tabops.monitor.run import run_monitor

        result = run_monitor(project, ctx, start, end)
    else:
        result = _run_data(project, ctx, data, table, name, version, start, end, chunk_rows,
                           json_output)  # fmt: skip
    if json_output:
        print_json(result.to_dict())
        return
    versions = sorted({w.model_version for w in result.windows})
    delivery = result.delivery
    counted = result.data
    cadence = MONITOR_CADENCE[project.monitor.window]
    out.print(key_values("Monitoring" if counted is None else f"Monitoring {result.source}", [
        ("windows measured", f"{len(result.windows):,} ({cadence})"),
        ("model versions", ", ".join(versions) or "-"),
        ("predictions" if counted is None else "rows measured",
         f"{sum(w.rows for w in result.windows):,}"),
        *([] if counted is None else [
            ("rows read", f"{counted.read:,}"),
            ("refused by the contract", f"{counted.refused + counted.unplaced:,}"
                                        + (f" ({counted.unplaced:,} without a timestamp)"
                                           if counted.unplaced else "")),
            ("outside --since/--until", f"{counted.outside:,}"),
            ("malformed records", f"{counted.rejected:,}"),
        ]),
        ("alert transitions", f"{len(result.transitions):,} (all windows)"),
        ("delivered now", "-" if delivery is None else f"{delivery.delivered:,} "
                          f"({delivery.failed:,} failed, retried next run)"),
    ]))  # fmt: skip
    _print_drift(result)
    for version, reason in result.skipped.items():
        out.print(f"[yellow]version {version} not measured:[/] {reason}")
    for transition in result.transitions:
        out.print(transition.describe())


#: Windows whose drifted features the human output lists (the latest ones).
_DRIFT_LINES = 10


def _print_drift(result: MonitorResult) -> None:
    """The drifted features of the latest windows (all of them are in --json)."""
    windows = result.windows[-_DRIFT_LINES:]
    if len(result.windows) > len(windows):
        out.print(f"Drift in the latest {len(windows)} windows (--json has all):")
    for window in windows:
        when = f"{window.start:%Y-%m-%d %H:%M} version {window.model_version}"
        if window.drifted:
            out.print(f"{when}: [yellow]drifted[/] {', '.join(window.drifted)}")
        else:
            out.print(f"{when}: no feature drifted ({window.rows:,} rows)")


@monitor_app.command("report")
def report_command(
    out_path: Annotated[
        str,
        typer.Option(
            "--out",
            help="The HTML file to write (its folder must exist), or an s3://bucket/key URL. "
            "With TABOPS_STORAGE_URL set, a relative name goes to "
            "STORAGE/reports/PROJECT/NAME.",
        ),
    ] = "monitor-report.html",
    since: Annotated[
        str | None,
        typer.Option(
            help="Show windows from this day (or time), ISO 8601 (UTC unless it has an "
            "offset). Default: all."
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            help="Show windows before this day (or time), ISO 8601 (UTC unless it has an offset)."
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="Whose results: the prediction log (default), 'batch' (tabops predict "
            "--monitor) or the --name of a 'monitor run --data' run. A source other than the "
            "log has its verdicts and series, not the latest window's distributions.",
        ),
    ] = None,
    spec: SpecOption = None,
    overrides: SetOption = None,
) -> None:
    """Write one self-contained HTML page of what 'tabops monitor run' stored: per-feature
    reference vs current distributions with their drift verdicts, drift over time, prediction
    drift, realized and estimated performance with label coverage, data quality and the alert
    transitions. Needs matplotlib (tabops[train]).

    Example: tabops monitor report --out report.html --since 2026-11-01

    Example: tabops monitor report --source churn_drifted --out drifted.html
    """
    from tabops.cli.app import output_location
    from tabops.monitor.report import gather_report
    from tabops.monitor.report_html import write_report
    from tabops.storage import is_remote

    project = read_spec(spec, overrides)
    ctx = make_context(False)
    _store_exists(ctx)
    out_path = output_location(out_path, "--out", ctx.settings, "reports", project.name)
    start, end = _moment(since, "--since"), _moment(until, "--until")
    if start is not None and end is not None and end <= start:
        raise TabopsError(f"--until {until} is not after --since {since}.")
    report = gather_report(project, ctx, start, end, source)
    write_report(report, out_path)
    judged = [f for f in report.features if f.drifted is not None]  # not drift_exclude's
    drifted = sum(1 for f in judged if f.drifted)
    left = len(report.features) - len(judged)
    unjudged = f" ({left} not compared)" if left else ""
    out.print(out_path if is_remote(out_path) else str(Path(out_path).resolve()))
    out.print(
        f"{len(report.windows):,} {report.cadence} windows, {report.rows:,} "
        f"predictions, versions {', '.join(sorted(report.versions))}; latest window: "
        f"{drifted} of {len(judged)} features drifted{unjudged}; alerts firing: "
        f"{', '.join(report.firing) or 'none'}"
    )


def _run_data(
    project: ProjectSpec,
    ctx: Context,
    data: str,
    table: str | None,
    name: str | None,
    version: str | None,
    start: datetime | None,
    end: datetime | None,
    chunk_rows: int,
    json_output: bool,
) -> MonitorResult:
    from tabops.console import RichProgress
    from tabops.monitor.batch import DataSource, run_data_monitor
    from tabops.progress import SILENT
    from tabops.storage import is_file_url
    from tabops.store.db import redact

    is_url = not is_file_url(data)
    if is_url and table is None:
        raise TabopsError(
            f"--data {redact(data)} is a database URL: name the table to read with --table."
        )
    if table is not None and not is_url:
        raise TabopsError(
            f"--table goes with a database URL in --data (e.g. postgresql://host/db), not "
            f"with the file {data}."
        )
    return run_data_monitor(
        project, ctx, DataSource(data, table), name=name, version=version, start=start,
        end=end, chunk_rows=chunk_rows, progress=SILENT if json_output else RichProgress(),
    )  # fmt: skip


def _moment(text: str | None, option: str) -> datetime | None:
    """An ISO 8601 date or time, read as UTC when it has no offset."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise TabopsError(
            f"{option} {text!r} is not an ISO 8601 date or time: use e.g. 2026-11-01 or "
            "2026-11-01T06:00:00+00:00."
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@monitor_app.command("provision")
def provision_command(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for grafana/ and prometheus/ (created).")
    ] = Path("deploy"),
    target: Annotated[
        str, typer.Option(help="host:port where Prometheus scrapes tabops serve's /metrics.")
    ] = "127.0.0.1:8000",
    table: Annotated[
        str | None,
        typer.Option(
            "--table",
            help="The transactions table 'tabops simulate --table' fills: adds the "
            "authorization decisions dashboard.",
        ),
    ] = None,
    interval: Annotated[
        str, typer.Option(help="Prometheus' scrape and rule evaluation interval.")
    ] = "15s",
    spec: SpecOption = None,
    overrides: SetOption = None,
) -> None:
    """Write Grafana provisioning (datasources, dashboards) and Prometheus' configuration
    with the spec's alerting rules under --out. No secret is written: Grafana reads the
    store's connection from TABOPS_PG* environment variables (see deploy/README.md).

    Example: tabops monitor provision --out deploy --target 10.0.0.5:8000 --table banking_data
    """
    from tabops.cli.app import check_output
    from tabops.monitor.provision import provision

    check_output(out_dir, "--out", folder=True)
    project = read_spec(spec, overrides)
    for path in provision(project, out_dir, target, table, interval):
        out.print(str(path))


def _store_exists(ctx: Context) -> None:
    """Refuse an embedded store file that is not there: opening it would create an empty one,
    and a scheduled monitor (or report) pointed at a mistyped path would watch nothing, exit 0,
    forever."""
    url = ctx.settings.store_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise TabopsError(
            f"The tabops store {url.removeprefix('sqlite:///')} does not exist: nothing was "
            "served, scored or ingested there. Check TABOPS_DATABASE_URL (or TABOPS_HOME, "
            "whose tabops.db is the default store)."
        )

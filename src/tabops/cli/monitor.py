"""Commands for watching a model in production: ``tabops monitor run`` (measure the
prediction log's windows, judge the alerts), ``tabops monitor report`` (one HTML page of what
was measured) and ``tabops monitor provision`` (Grafana and Prometheus files generated from the
spec)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from tabops.cli.app import Group, JsonOption, SetOption, SpecOption, app, make_context, read_spec
from tabops.console import key_values, out, print_json
from tabops.errors import TabopsError

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
            help="First day (or time) to measure, ISO 8601 in UTC. Default: the first "
            "logged prediction."
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            help="End of the range, exclusive, ISO 8601 in UTC. Default: after the "
            "last logged prediction."
        ),
    ] = None,
    spec: SpecOption = None,
    overrides: SetOption = None,
    json_output: JsonOption = False,
) -> None:
    """Measure every window of the prediction log against each served version's reference
    (data and prediction drift, data quality, realized and estimated performance), store the
    results, then judge the spec's alerts and deliver their firings and resolutions (log,
    webhook). Windows already measured are replaced: run it on a schedule.

    Example: tabops monitor run --since 2026-11-01 --until 2026-12-01
    """
    from tabops.monitor.run import run_monitor

    project = read_spec(spec, overrides)
    start, end = _moment(since, "--since"), _moment(until, "--until")
    if start is not None and end is not None and end <= start:
        raise TabopsError(f"--until {until} is not after --since {since}.")
    ctx = make_context(json_output)
    result = run_monitor(project, ctx, start, end)
    if json_output:
        print_json(result.to_dict())
        return
    versions = sorted({w.model_version for w in result.windows})
    delivery = result.delivery
    out.print(key_values("Monitoring", [
        ("windows measured", f"{len(result.windows):,} ({project.monitor.window}ly)"),
        ("model versions", ", ".join(versions) or "-"),
        ("predictions", f"{sum(w.rows for w in result.windows):,}"),
        ("alert transitions", f"{len(result.transitions):,} (all windows)"),
        ("delivered now", "-" if delivery is None else f"{delivery.delivered:,} "
                          f"({delivery.failed:,} failed, retried next run)"),
    ]))  # fmt: skip
    for version, reason in result.skipped.items():
        out.print(f"[yellow]version {version} not measured:[/] {reason}")
    for transition in result.transitions:
        out.print(transition.describe())


@monitor_app.command("report")
def report_command(
    out_path: Annotated[
        Path, typer.Option("--out", help="The HTML file to write (its folder must exist).")
    ] = Path("monitor-report.html"),
    since: Annotated[
        str | None,
        typer.Option(help="Show windows from this day (or time), ISO 8601 in UTC. Default: all."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Show windows before this day (or time), ISO 8601 in UTC."),
    ] = None,
    spec: SpecOption = None,
    overrides: SetOption = None,
) -> None:
    """Write one self-contained HTML page of what 'tabops monitor run' stored: per-feature
    reference vs current distributions with their drift verdicts, drift over time, prediction
    drift, realized and estimated performance with label coverage, data quality and the alert
    transitions. Needs matplotlib (tabops[train]).

    Example: tabops monitor report --out report.html --since 2026-11-01
    """
    from tabops.cli.app import check_output
    from tabops.monitor.report import gather_report
    from tabops.monitor.report_html import write_report

    check_output(out_path, "--out", folder=False)
    project = read_spec(spec, overrides)
    start, end = _moment(since, "--since"), _moment(until, "--until")
    if start is not None and end is not None and end <= start:
        raise TabopsError(f"--until {until} is not after --since {since}.")
    report = gather_report(project, make_context(False), start, end)
    written = write_report(report, out_path)
    drifted = sum(1 for f in report.features if f.drifted)
    out.print(str(written.resolve()))
    out.print(
        f"{len(report.windows):,} {report.cadence} windows, {report.rows:,} "
        f"predictions, versions {', '.join(sorted(report.versions))}; latest window: "
        f"{drifted} of {len(report.features)} features drifted; alerts firing: "
        f"{', '.join(report.firing) or 'none'}"
    )


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

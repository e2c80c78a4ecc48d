"""Commands for watching a model in production: ``tabops monitor provision`` (Grafana and
Prometheus files generated from the spec)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tabops.cli.app import Group, SetOption, SpecOption, app, read_spec
from tabops.console import out

monitor_app = typer.Typer(
    cls=Group,
    help="Watch the model in production: Grafana dashboards and Prometheus rules.",
    no_args_is_help=True,
)
app.add_typer(monitor_app, name="monitor")


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

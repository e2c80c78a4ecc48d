"""Commands for synthetic data: ``tabops synth fraud``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from tabops.cli.app import Group, JsonOption, app, check_output, make_context
from tabops.console import key_values, out, print_json, table
from tabops.errors import TabopsError

synth_app = typer.Typer(
    cls=Group,
    help="Synthetic datasets with known ground truth: frauds, late labels, drift.",
    no_args_is_help=True,
)
app.add_typer(synth_app, name="synth")

DEFAULT_OUTPUT = Path("data/fraud")


@synth_app.command("fraud")
def fraud(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="YAML file of generator settings (see docs/synth.md). Default: the built-in "
            "defaults (5,000 customers, 90 days, the handbook's three fraud scenarios).",
        ),
    ] = None,
    days: Annotated[
        int | None, typer.Option(min=1, help="Number of simulated days (overrides 'days').")
    ] = None,
    customers: Annotated[
        int | None,
        typer.Option(min=1, help="Number of customers (overrides 'n_customers')."),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(min=0, help="Random seed (overrides 'seed'); same seed, same data."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Folder for transactions, labels, drift_calendar and config.yaml (replaced if "
            f"present). Default: {DEFAULT_OUTPUT} when --table is not given.",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="File format: parquet or csv.")] = "parquet",
    table_name: Annotated[
        str | None,
        typer.Option(
            "--table",
            help="Write tables NAME, NAME_labels and NAME_drift in the tabops store "
            "(TABOPS_DATABASE_URL, default the workspace's SQLite), replacing their rows, in "
            "one transaction.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Generate card transactions with frauds, late labels and a drift calendar.

    Modelled on the Fraud Detection Handbook's simulator; the same config and seed always
    give the same data. Writes transactions, labels (one event per transaction, when its truth
    becomes known) and the drift calendar as applied (the ground truth).

    Example: tabops synth fraud --days 60 --customers 2000 --seed 7 -o data/fraud
    """
    from tabops.synth.config import load_fraud_config
    from tabops.synth.fraud import generate_fraud
    from tabops.synth.output import (
        FORMATS,
        table_names,
        write_fraud_files,
        write_fraud_tables,
    )

    if fmt not in FORMATS:
        raise TabopsError(f"--format '{fmt}' is not valid; use parquet or csv.")
    if table_name is not None:
        table_names(table_name)  # a bad name fails before any work
    if output is None and table_name is None:
        output = DEFAULT_OUTPUT
    if output is not None:
        check_output(output, "--output", folder=True)
    overrides = {"days": days, "n_customers": customers, "seed": seed}
    settings = load_fraud_config(config, overrides)
    ctx = make_context(json_output)
    dataset = generate_fraud(settings, ctx.progress)
    files = write_fraud_files(dataset, output, fmt, ctx.progress) if output is not None else []
    tables = (
        write_fraud_tables(dataset, ctx.store, table_name, ctx.progress)
        if table_name is not None
        else []
    )
    summary = dataset.summary() | {"files": [str(p) for p in files], "tables": tables}
    if json_output:
        print_json(summary)
    else:
        _print_summary(summary)


def _print_summary(summary: dict[str, Any]) -> None:
    rate = summary["transactions_per_second"]
    pairs = [
        ("seed", summary["seed"]),
        ("period", f"{summary['start_date']}, {summary['days']} days"),
        ("customers", f"{summary['customers']:,}"),
        ("terminals", f"{summary['terminals']:,}"),
        ("transactions", f"{summary['transactions']:,}"),
        ("frauds", f"{summary['frauds']:,} ({summary['fraud_rate']:.2%})"),
        ("label events", f"{summary['label_events']:,} (last: {summary['last_label_time']})"),
        (
            "generated in",
            f"{summary['seconds']:.2f} s" + (f" ({rate:,.0f} transactions/s)" if rate else ""),
        ),
    ]
    if summary["files"]:
        pairs.append(("files", escape(", ".join(summary["files"]))))
    if summary["tables"]:
        pairs.append(("tables", ", ".join(summary["tables"])))
    out.print(key_values("Synthetic fraud data", pairs))
    by_scenario = [(name, f"{count:,}") for name, count in summary["frauds_by_scenario"].items()]
    out.print(table("Frauds by scenario", ["scenario", "frauds"], by_scenario))
    if summary["drift"]:
        rows = [
            (d["scenario"], f"{d['start_day']} to {d['end_day']}", f"{d['start']} to {d['end']}",
             escape(", ".join(f"{k}={v}" for k, v in d["params"].items())), f"{d['rows']:,}")
            for d in summary["drift"]
        ]  # fmt: skip
        columns = ["scenario", "days", "dates", "params", "rows"]
        out.print(table("Drift calendar (ground truth; end day excluded)", columns, rows))

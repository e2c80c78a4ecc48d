"""``tabops predict``: batch scoring of a file, folder or table into a file, folder or table."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from tabops.cli.app import JsonOption, SetOption, SpecOption, VersionOption, app, read_spec
from tabops.console import err, key_values, out, print_json, table
from tabops.errors import TabopsError

if TYPE_CHECKING:
    from tabops.context import Context
    from tabops.spec import ProjectSpec


class Engine(StrEnum):
    LOCAL = "local"
    SPARK = "spark"


@app.command("predict")
def predict_command(
    source: Annotated[
        str,
        typer.Option(
            "--input",
            "-i",
            help="What to score: a CSV or Parquet file, a folder or glob of them (local, or "
            "in object storage: s3://bucket/prefix/), an http(s) URL of one file, or a "
            "database URL (SQLAlchemy, as source.url in the spec) with --table or --query.",
        ),
    ],
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            help="Where the scored rows go: a .csv, .csv.gz or .parquet file, a folder "
            "(Parquet, one run_date=D partition per run date) or table:NAME (a table of the "
            "tabops store's database); each a path or an s3://bucket/key URL. With "
            "TABOPS_STORAGE_URL set, a relative name goes to STORAGE/batch/PROJECT/NAME.",
        ),
    ],
    table: Annotated[
        str | None, typer.Option("--table", help="With --input URL: the table to score.")
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="With --input URL: the SQL query to score.")
    ] = None,
    run_date: Annotated[
        str | None,
        typer.Option(
            "--run-date",
            help="The run's date (YYYY-MM-DD), stamped on every row: rerunning a date replaces "
            "its rows. Default: today (UTC).",
        ),
    ] = None,
    version: VersionOption = None,
    alias: Annotated[
        str | None,
        typer.Option("--alias", help="Score with the version this registry alias points at."),
    ] = None,
    rejects: Annotated[
        str | None,
        typer.Option(
            "--rejects",
            help="Where rows the model cannot score go, with the column and the reason (same "
            "forms as --output). Default: beside the output (X.rejects.csv, FOLDER.rejects, "
            "table:NAME_rejects).",
        ),
    ] = None,
    chunk_rows: Annotated[
        int, typer.Option("--chunk-rows", min=1, help="Rows read and scored at once.")
    ] = 100_000,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", min=1, help="Processes scoring chunks in parallel (local engine)."
        ),
    ] = 1,
    engine: Annotated[
        Engine,
        typer.Option(
            "--engine",
            help="local: this machine (--workers). spark: Apache Spark executors "
            "(pip install 'tabops[spark]'; CSV or Parquet input).",
        ),
    ] = Engine.LOCAL,
    spark_master: Annotated[
        str,
        typer.Option(
            "--spark-master",
            help="With --engine spark: the master URL (local[N], spark://HOST:PORT, yarn, "
            "k8s://...).",
        ),
    ] = "local[2]",
    monitor: Annotated[
        bool,
        typer.Option(
            "--monitor",
            help="Also measure the run like a window of the prediction log (drift against the "
            "version's reference, refused rows), stored under the source 'batch' for the run "
            "date's window; the spec's alerts are judged on that series.",
        ),
    ] = False,
    keep: Annotated[
        list[str] | None,
        typer.Option(
            "--keep",
            "-k",
            metavar="COLUMNS",
            help="Input columns to copy into the output and the rejects beside the id "
            "columns, to join the scores back or read them in context (repeat, or "
            "comma-separate; '*': every column). A model feature is written as the model "
            "read it, any other column as text.",
        ),
    ] = None,
    allow_empty: Annotated[
        bool,
        typer.Option(
            "--allow-empty",
            help="Let an input without a row to score (empty, or every row rejected) replace a "
            "run date's earlier rows (refused by default: a broken export would wipe a day's "
            "scores), and let a run whose every row is rejected end with exit 0 (else 3).",
        ),
    ] = False,
    spec: SpecOption = None,
    overrides: SetOption = None,
    json_output: JsonOption = False,
) -> None:
    """Score a file, folder or table with the champion (or --version / --alias) into a file,
    folder or table, with the same checks and decision policy as serving. Rows the data
    contract refuses go to the rejects with their reason: rows in = scored + rejected. Every
    row carries lineage (model, version, spec hash, rules version, run date, batch id), and the
    scores are kept in the store's batch history for monitoring. Rerunning a run date replaces
    its rows; a killed run leaves the previous output whole.

    Example: tabops predict --input data/customers.csv --output table:churn_scores

    Example: tabops predict -i postgresql://db/crm --table customers -o scores --run-date 2026-12-01
    """
    from tabops.batch.run import run_predict
    from tabops.batch.sinks import parse_destination
    from tabops.batch.sources import Input
    from tabops.cli.app import make_context
    from tabops.console import RichProgress
    from tabops.progress import SILENT

    if version is not None and alias is not None:
        raise TabopsError("Pass --version or --alias, not both.")
    day = _run_date(run_date)
    project = read_spec(spec, overrides)
    ctx = make_context(json_output)
    destination = parse_destination(_placed(output, ctx, project), "--output")
    refused = (
        destination.sibling(".rejects")
        if rejects is None
        else parse_destination(_placed(rejects, ctx, project), "--rejects")
    )
    if refused.describe == destination.describe:
        raise TabopsError(f"--rejects {rejects} is --output: name another place for them.")
    result = run_predict(
        project, ctx, Input(source, table, query), destination, refused, run_date=day,
        version=version, alias=alias, chunk_rows=chunk_rows, monitor=monitor,
        progress=SILENT if json_output else RichProgress(), workers=workers,
        spark_master=spark_master if engine is Engine.SPARK else None,
        keep=[n.strip() for text in keep or () for n in text.split(",") if n.strip()],
        allow_empty=allow_empty,
    )  # fmt: skip
    # A non-empty input none of whose rows could be scored is a failed run for a scheduler,
    # whatever was written: a wrong export, or a contract the data has outgrown.
    nothing_scored = result.rows_in > 0 and result.scored == 0 and not allow_empty
    if json_output:
        print_json(result.to_dict())
        if nothing_scored:
            raise typer.Exit(3)
        return
    out.print(key_values(f"Scored {project.name}", [
        ("rows in", f"{result.rows_in:,}"),
        ("scored", f"{result.scored:,}"),
        ("rejected", f"{result.rejected:,}"),
        ("model", f"{result.model_name} version {result.model_version}"),
        ("run date", day.isoformat()),
        ("batch id", result.batch_id),
        *[("output" if k == "scored" else k, where) for k, where in result.outputs.items()],
        ("seconds", f"{result.seconds:.1f}"),
    ]))  # fmt: skip
    if result.monitoring is not None:
        _print_monitoring(result.monitoring)
    for warning in result.warnings:
        err.print(f"[yellow]Warning:[/yellow] {escape(warning)}")
    if result.rejected_by:
        _explain_rejects(result.rejected_by, result.outputs["rejects"])
    if result.replaced is not None:
        out.print(
            f"Replaced the earlier run of {day.isoformat()} (batch {result.replaced['batch_id']}, "
            f"{result.replaced['rows']:,} rows) in the store's batch history: it keeps one run "
            "per run date. Pass --run-date to keep both."
        )
    if nothing_scored:
        err.print(
            f"[red bold]Error:[/red bold] None of the {result.rows_in:,} rows could be scored: "
            "every one was rejected (the reasons are above). Fix the input or the spec's "
            "contract and run it again; pass --allow-empty where a day without scores is normal."
        )
        raise typer.Exit(3)


def _print_monitoring(monitoring: dict[str, Any]) -> None:
    """The run's monitoring window: its drift verdicts and the alerts it moved."""
    drifted = monitoring["drifted"]
    verdict = f"{len(drifted)} of {monitoring['features_compared']} features drifted"
    out.print(
        f"Monitored as the window of {monitoring['window_start'][:10]} in the "
        f"'{monitoring['source']}' series: {verdict}{': ' + ', '.join(drifted) if drifted else ''}."
    )
    for alert in monitoring["alerts"]:
        out.print(f"  alert {alert}")
    out.print(f"The series' report: tabops monitor report --source {monitoring['source']}.")


def _explain_rejects(rejected_by: dict[str, dict[str, int]], where: str) -> None:
    """Which columns' checks the rejected rows failed, and the way out of the commonest."""
    rows = sorted(
        ((column, check, count) for column, checks in rejected_by.items()
         for check, count in checks.items()),
        key=lambda row: -row[2],
    )  # fmt: skip
    out.print(table("Rejected rows", ["column", "check", "rows"],
                    [(c, k, f"{n:,}") for c, k, n in rows]))  # fmt: skip
    out.print(f"Each row's reason is in {where}.")
    missing = sorted(c for c, k, _ in rows if k == "missing")
    if missing:
        out.print(
            f"Missing values in {', '.join(missing)}: the data contract has these columns "
            "never missing (as in the training file). To score such rows, set 'nullable: "
            "true' under the column in tabops.yaml: the model fills a missing value in "
            "as it did in training, no retraining needed."
        )


def _placed(text: str, ctx: Context, project: ProjectSpec) -> str:
    """A file or folder output in the storage's batch folder when named relatively
    (:meth:`Settings.placed`); a table stays in the store's database."""
    from tabops.batch.sinks import TABLE_PREFIX

    if text.startswith(TABLE_PREFIX):
        return text
    return ctx.settings.placed(text, "batch", project.name)


def _run_date(text: str | None) -> date:
    if text is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise TabopsError(f"--run-date {text!r} is not a date: use YYYY-MM-DD.") from None

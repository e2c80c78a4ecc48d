"""``tabops pipeline``: the daily loop's task graph run in-process (cron-friendly), one task at
a time for the Airflow DAGs (one JSON summary on stdout), and the manual retrain trigger."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tabops.cli.app import Group, app
from tabops.errors import TabopsError

pipeline_app = typer.Typer(
    cls=Group,
    help="The daily loop without Airflow: ingest, score, monitor, decide and retrain, "
    "idempotent by logical date.",
    no_args_is_help=True,
)
app.add_typer(pipeline_app, name="pipeline")

ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project",
        "-p",
        help="The project's folder (or its tabops.yaml); the task runs there, so the "
        "embedded store and relative paths resolve as from that folder. Default: the "
        "current folder.",
    ),
]
DateOption = Annotated[
    str, typer.Option("--date", "-d", help="The logical date (YYYY-MM-DD) the task runs for.")
]


@pipeline_app.command("task")
def task_command(
    flow: Annotated[str, typer.Argument(help="The flow: ingest, daily or retrain.")],
    task: Annotated[str, typer.Argument(help="The task of that flow, e.g. score.")],
    date: DateOption,
    project: ProjectOption = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the task's summary as one JSON object.")
    ] = False,
) -> None:
    """Run one task of a flow for one logical date and print its small summary (batch id,
    snapshot hash, model version, counts; the decide task's {"retrain": true|false}). Exit 0
    on success, non-zero on failure. This is what each Airflow task runs.

    Example: tabops pipeline task daily score --date 2026-12-01 --project examples/fraud --json
    """
    raise TabopsError("tabops pipeline task is not built yet (issue 15, in progress).")

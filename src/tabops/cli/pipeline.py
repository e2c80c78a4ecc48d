"""``tabops pipeline``: the daily loop's task graph run in-process (cron-friendly), one task at
a time for the Airflow DAGs (one JSON summary on stdout), and the manual retrain trigger."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from tabops.cli.app import Group, JsonOption, SetOption, app, make_context, read_spec
from tabops.console import err, key_values, out, print_json, table
from tabops.errors import TabopsError

if TYPE_CHECKING:
    from tabops.orchestrate.runner import TaskRun
    from tabops.spec import ProjectSpec

pipeline_app = typer.Typer(
    cls=Group,
    help="The daily loop without Airflow: ingest the day's rows, score them, monitor, decide "
    "and retrain within the spec's guardrails (orchestration: in tabops.yaml), idempotent by "
    "logical date. The Airflow DAGs of 'tabops dags write' run the same tasks.",
    no_args_is_help=True,
)
app.add_typer(pipeline_app, name="pipeline")

ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project",
        "-p",
        "--spec",
        "-s",
        help="The project's folder (or its tabops.yaml). The command runs in that folder, so "
        "the embedded store (./.tabops) and relative paths resolve as from there. Default: "
        "the current folder.",
    ),
]
DateOption = Annotated[
    str, typer.Option("--date", "-d", help="The logical date (YYYY-MM-DD) to run for.")
]
FlowArgument = Annotated[
    str, typer.Argument(help="The flow: ingest, daily or retrain.", show_default=False)
]


@pipeline_app.command("run")
def run_command(
    flow: FlowArgument,
    day: DateOption,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Last logical date of a backfill (inclusive): every date from --date to --to "
            "runs in order, one partition each.",
        ),
    ] = None,
    project: ProjectOption = None,
    overrides: SetOption = None,
    json_output: JsonOption = False,
) -> None:
    """Run a flow in-process for a logical date, or a range of them (a backfill). Each task
    is idempotent by date: running a date again changes nothing. Exit 0 when every date ran,
    1 when a task failed (the other dates still run).

    Example: tabops pipeline run daily --date 2026-04-01 --to 2026-04-30
    """
    from tabops.orchestrate.runner import dates, run_flow

    spec = _spec(project, overrides)
    days = dates(_date(day, "--date"), None if to is None else _date(to, "--to"))
    ctx = make_context(json_output)

    def show(when: date, task: TaskRun) -> None:
        if not json_output:
            err.print(_line(flow, when, task))

    runs = run_flow(spec, ctx, flow, days, show)
    if json_output:
        print_json({"flow": flow, "dates": [r.to_dict() for r in runs]})
    else:
        rows = [(r.day.isoformat(), *[_cell(t) for t in r.tasks]) for r in runs]
        names = [t.task for t in runs[0].tasks] if runs else []
        out.print(table(f"{flow} flow of {spec.name}", ["date", *names], rows))
    if any(r.failed for r in runs):
        raise typer.Exit(1)


@pipeline_app.command("task")
def task_command(
    flow: FlowArgument,
    task: Annotated[
        str, typer.Argument(help="The task of that flow, e.g. score.", show_default=False)
    ],
    day: DateOption,
    project: ProjectOption = None,
    overrides: SetOption = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the task's summary as one JSON object.")
    ] = False,
) -> None:
    """Run one task of a flow for one logical date and print its small summary (batch id,
    snapshot hash, model version, counts; the decide task's {"retrain": true|false}). Exit 0
    on success, 3 when refused (a day blocked by the data contract, a retrain stopped by a
    guardrail), 2 or 1 on other failures. This is what each Airflow task runs.

    Example: tabops pipeline task daily score --date 2026-04-01 --project examples/fraud --json
    """
    from tabops.orchestrate.runner import run_task

    spec = _spec(project, overrides)
    summary = run_task(spec, make_context(json_output), flow, task, _date(day, "--date"))
    if json_output:
        print_json(summary)
    else:
        out.print(key_values(f"{flow}/{task} of {spec.name}", _pairs(summary)))


@pipeline_app.command("retrain")
def retrain_command(
    reason: Annotated[
        str,
        typer.Option("--reason", "-r", help="Why (audited with the trigger, shown in history)."),
    ],
    day: Annotated[
        str | None,
        typer.Option("--date", "-d", help="The logical date (YYYY-MM-DD). Default: today (UTC)."),
    ] = None,
    project: ProjectOption = None,
    overrides: SetOption = None,
    json_output: JsonOption = False,
) -> None:
    """Ask for a retrain by hand. The guardrails of orchestration.retrain decide (a skip is
    audited with the guardrail that stopped it, exit 3); an allowed retrain builds the
    training set (latest snapshot + labelled production rows), trains, registers and gates:
    the gate alone promotes (exit 3 when it refuses). 'tabops history' shows every step.

    Example: tabops pipeline retrain --reason "new fraud pattern reported by the analysts"
    """
    from tabops.orchestrate.decide import MANUAL, run_decide
    from tabops.orchestrate.retrain import run_retrain

    spec = _spec(project, overrides)
    when = _date(day, "--date") if day is not None else datetime.now(UTC).date()
    ctx = make_context(json_output)
    verdict = run_decide(spec, ctx, when, MANUAL, reason)
    result: dict[str, Any] = {"decision": verdict}
    if verdict["retrain"]:
        result["retrain"] = run_retrain(spec, ctx, when, MANUAL)
    if json_output:
        print_json(result)
    else:
        out.print(key_values(f"Manual retrain of {spec.name}", _pairs(verdict)))
        if "retrain" in result:
            out.print(key_values("Result", _pairs(result["retrain"])))
    if not verdict["retrain"] or not result["retrain"]["promoted"]:
        raise typer.Exit(3)


def _spec(project: Path | None, overrides: list[str] | None) -> ProjectSpec:
    """The project's spec, with the working folder moved to the project's."""
    if project is not None:
        folder = project if project.is_dir() else project.parent
        if not folder.is_dir():
            raise TabopsError(f"--project {project}: no such folder.")
        spec = read_spec(project.resolve(), overrides)
        os.chdir(folder)
        return spec
    return read_spec(None, overrides)


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise TabopsError(f"{option} {text!r} is not a date: use YYYY-MM-DD.") from None


def _line(flow: str, when: date, task: TaskRun) -> str:
    mark = {"done": "[green]✓[/green]", "skipped": "[dim]-[/dim]"}.get(task.status, "[red]✗[/red]")
    detail = task.error or _brief(task.summary)
    return f"{mark} {when} {flow}/{task.task} {task.status} [dim]{escape(detail)}[/dim]"


def _brief(summary: dict[str, Any]) -> str:
    keys = ("status", "retrain", "decision", "scored", "rows_loaded", "model_version", "reason")
    return ", ".join(f"{k}={summary[k]}" for k in keys if summary.get(k) is not None)


def _cell(task: TaskRun) -> str:
    if task.status == "done" and "retrain" in task.summary and task.task == "decide":
        return "retrain" if task.summary["retrain"] else "no retrain"
    return str(task.summary.get("status") or task.summary.get("decision") or task.status)


def _pairs(summary: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(key, value) for key, value in summary.items() if not isinstance(value, dict | list)]

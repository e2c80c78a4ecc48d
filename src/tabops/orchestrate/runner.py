"""The in-process runner: the flows of :mod:`tabops.orchestrate.graph` run task by task for
one logical date or a range of them (a backfill: one partition per date), with the retries
the spec sets. The Airflow DAGs run the same tasks, one process each (``run_task``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from tabops.context import Context
from tabops.errors import RegistryError, StoreError, TabopsError
from tabops.orchestrate.dataset import run_dataset
from tabops.orchestrate.day import day_input
from tabops.orchestrate.decide import DAILY, run_decide
from tabops.orchestrate.graph import FlowDef, flows
from tabops.orchestrate.ingest import run_day_ingest
from tabops.orchestrate.monitor import run_day_monitor
from tabops.orchestrate.retrain import allowed_via, gate, run_retrain, train
from tabops.orchestrate.score import run_day_score
from tabops.spec import ProjectSpec

log = logging.getLogger(__name__)

Task = Callable[[ProjectSpec, Context, date], dict[str, Any]]
_FLOW_RUN = "the retrain flow"


def _retrain_dataset(spec: ProjectSpec, ctx: Context, day: date) -> dict[str, Any]:
    allowed_via(spec, ctx, day, _FLOW_RUN)
    return run_dataset(spec, ctx, day)


def _retrain_train(spec: ProjectSpec, ctx: Context, day: date) -> dict[str, Any]:
    allowed_via(spec, ctx, day, _FLOW_RUN)
    return train(spec, ctx, day)


def _retrain_gate(spec: ProjectSpec, ctx: Context, day: date) -> dict[str, Any]:
    via = allowed_via(spec, ctx, day, _FLOW_RUN)
    return gate(spec, ctx, day, via, train(spec, ctx, day))


#: Each flow's tasks: what ``tabops pipeline task FLOW TASK`` runs.
TASKS: dict[str, dict[str, Task]] = {
    "ingest": {"ingest": run_day_ingest},
    "daily": {
        "ingest": run_day_ingest,
        "score": run_day_score,
        "monitor": run_day_monitor,
        "decide": lambda spec, ctx, day: run_decide(spec, ctx, day, DAILY),
        "retrain": lambda spec, ctx, day: run_retrain(spec, ctx, day, DAILY),
    },
    "retrain": {"dataset": _retrain_dataset, "train": _retrain_train, "gate": _retrain_gate},
}


@dataclass
class TaskRun:
    """One task of one date: ``status`` is done, skipped (a branch said no) or failed."""

    task: str
    status: str
    summary: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    error: str | None = None


@dataclass
class DateRun:
    """One logical date of a flow."""

    day: date
    tasks: list[TaskRun] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(t.status == "failed" for t in self.tasks)

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.day.isoformat(), "failed": self.failed,
                "tasks": [t.__dict__ for t in self.tasks]}  # fmt: skip


def flow_def(spec: ProjectSpec, name: str) -> FlowDef:
    """The flow called ``name``, with the spec's retries and timeouts."""
    defined = flows(spec.orchestration.model_dump(mode="json"))
    if name not in defined:
        raise TabopsError(f"No flow '{name}': the flows are {', '.join(defined)}.")
    return defined[name]


def run_task(spec: ProjectSpec, ctx: Context, flow: str, task: str, day: date) -> dict[str, Any]:
    """Run one task of ``flow`` for ``day`` once and return its summary."""
    defined = flow_def(spec, flow)
    if task not in TASKS[flow]:
        names = ", ".join(t.name for t in defined.tasks)
        raise TabopsError(f"Flow '{flow}' has no task '{task}': its tasks are {names}.")
    return TASKS[flow][task](spec, ctx, day)


def dates(first: date, last: date | None) -> list[date]:
    """Every date from ``first`` to ``last`` (inclusive; None: ``first`` alone)."""
    last = last or first
    if last < first:
        raise TabopsError(f"--to {last} is before --date {first}: give the range in order.")
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def run_flow(
    spec: ProjectSpec, ctx: Context, flow: str, days: list[date],
    on_task: Callable[[date, TaskRun], None] = lambda d, t: None,
) -> list[DateRun]:  # fmt: skip
    """Run ``flow`` for each of ``days`` in order; a date whose task fails stops there (its
    downstream tasks do not run) and the next dates still run, like independent DAG runs."""
    defined = flow_def(spec, flow)
    if flow != "retrain":
        day_input(spec, days[0])  # said once, before any date: orchestration.day is unset
    runs = []
    for day in days:
        run = DateRun(day)
        for task in _tasks(spec, ctx, defined, flow, day, run):
            on_task(day, task)
            if task.status == "failed":
                break
        runs.append(run)
    return runs


def _tasks(
    spec: ProjectSpec, ctx: Context, defined: FlowDef, flow: str, day: date, run: DateRun
) -> Iterator[TaskRun]:
    closed: set[str] = set()  # tasks a branch (or a skipped upstream) turned off
    for task in defined.tasks:
        if closed & set(task.upstream):
            closed.add(task.name)
            run.tasks.append(TaskRun(task.name, "skipped"))
            yield run.tasks[-1]
            continue
        done = _attempt(spec, ctx, flow, task.name, day, task.retries)
        run.tasks.append(done)
        if task.branch and done.status == "done" and not done.summary.get("retrain"):
            closed.add(task.name)
        yield done


def _attempt(
    spec: ProjectSpec, ctx: Context, flow: str, task: str, day: date, retries: int
) -> TaskRun:
    """Run a task, retrying what may pass on a second try (an unreachable store or registry,
    an unexpected error); a mistake the message explains is not retried."""
    done = TaskRun(task, "failed")
    for attempt in range(retries + 1):
        done.attempts = attempt + 1
        try:
            done.summary, done.status, done.error = (
                run_task(spec, ctx, flow, task, day),
                "done",
                None,
            )
            return done
        except (StoreError, RegistryError) as exc:
            done.error = str(exc)
        except TabopsError as exc:
            done.error = str(exc)
            return done
        except Exception as exc:  # reported with the task, retried like Airflow
            log.exception("task %s of %s failed on %s", task, flow, day)
            done.error = f"{type(exc).__name__}: {exc}"
    return done

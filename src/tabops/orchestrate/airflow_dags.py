"""Airflow DAGs built from the flows of :mod:`tabops.orchestrate.graph`.

Each task of a flow becomes one TaskFlow task that runs tabops' own CLI as a subprocess,
``TABOPS pipeline task FLOW TASK --date DS --project DIR --json``, and returns the one JSON
object it prints (a small summary: batch id, snapshot hash, model version, counts) as its
XCom. Data never travels through XCom or local files: tasks share the project's store,
registry and object storage, so any worker can run any task. The ``decide`` task is a branch:
its downstream tasks run only when its summary says ``"retrain": true``.

Imports only the stdlib, Airflow and ``graph``: Airflow's own venv imports this module at every
DAG parse with tabops installed without its dependencies (``make setup-airflow``), and the
parse must stay well under a second per file.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from tabops.orchestrate.graph import FlowDef, TaskDef, flows

# Scheduled flows start here; catchup is off, so only an explicit backfill runs older dates.
START_DATE = datetime(2024, 1, 1, tzinfo=UTC)
_TAIL = 4000  # characters of a failed command's stderr kept in the exception
# tabops' exit code for a refusal (a day blocked by the data contract, a retrain stopped by a
# guardrail): the same input would be refused again, so the task fails without retries.
REFUSED = 3

log = logging.getLogger(__name__)


def build_dag(
    project: str,
    flow: str,
    settings: Mapping[str, Any] | None = None,
    tabops_bin: str | None = None,
    *,
    name: str | None = None,
) -> DAG:
    """The Airflow DAG of one flow of a tabops project.

    Args:
        project: The project's folder (or its tabops.yaml) as the workers see it.
        flow: ``ingest``, ``daily`` or ``retrain``.
        settings: The spec's ``orchestration:`` section as a plain dict (schedule, retries
            and timeouts per task), baked into the DAG file by ``tabops dags write``.
        tabops_bin: The tabops executable the tasks run; default: env ``TABOPS_BIN`` on the
            worker, else ``tabops`` on its PATH (resolved when the task runs, not at parse).
        name: The project's name, so that several projects' DAGs can share one Airflow
            (dag id ``tabops_<name>_<flow>``).
    """
    defs = flows(settings)
    if flow not in defs:
        raise ValueError(f"unknown flow {flow!r}; choose one of: {', '.join(defs)}")
    flow_def = defs[flow]

    with DAG(
        dag_id=f"tabops_{name}_{flow}" if name else f"tabops_{flow}",
        schedule=flow_def.schedule,
        start_date=START_DATE,
        catchup=False,
        # Runs of one flow go one date at a time: a day's retrain decision (cooldown, runs
        # per period) depends on the days before it.
        max_active_runs=1,
        tags=["tabops", flow],
        doc_md=f"tabops flow `{flow}` of `{project}`: tasks "
        + " -> ".join(t.name for t in flow_def.tasks),
    ) as built:
        made: dict[str, Any] = {}
        for task_def in flow_def.tasks:
            made[task_def.name] = _airflow_task(flow_def, task_def, project, tabops_bin)()
            for upstream in task_def.upstream:
                made[upstream] >> made[task_def.name]
    return built


def _airflow_task(
    flow: FlowDef, task_def: TaskDef, project: str, tabops_bin: str | None
) -> Callable[[], Any]:
    """The TaskFlow task running ``task_def``: a plain task, or a branch for ``decide``."""
    options: dict[str, Any] = {
        "task_id": task_def.name,
        "retries": task_def.retries,
        "execution_timeout": timedelta(seconds=task_def.timeout_s),
    }
    if task_def.branch:
        follow = [t.name for t in flow.tasks if task_def.name in t.upstream]

        def branch() -> list[str]:
            summary = run_cli_task(flow.name, task_def.name, project, tabops_bin)
            # The branch's own XCom is the list of tasks to follow; the summary sits beside it.
            get_current_context()["ti"].xcom_push(key="summary", value=summary)
            return follow if summary.get("retrain") is True else []

        decorated: Callable[[], Any] = task.branch(**options)(branch)
        return decorated

    def step() -> dict[str, Any]:
        return run_cli_task(flow.name, task_def.name, project, tabops_bin)

    decorated = task(**options)(step)
    return decorated


def run_cli_task(flow: str, task_name: str, project: str, tabops_bin: str | None) -> dict[str, Any]:
    """Run one task through the tabops CLI for the run's logical date; its JSON summary.

    A non-zero exit raises, so Airflow retries the task (every task is idempotent by date),
    except a refusal (exit 3), which fails at once.
    """
    logical_date = str(get_current_context()["ds"])
    command = [
        resolve_tabops_bin(tabops_bin),
        "pipeline",
        "task",
        flow,
        task_name,
        "--date",
        logical_date,
        "--project",
        project,
        "--json",
    ]
    log.info("Running %s", " ".join(command))
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.stderr:
        log.info("tabops stderr:\n%s", done.stderr)
    if done.returncode != 0:
        failure = AirflowFailException if done.returncode == REFUSED else RuntimeError
        raise failure(
            f"tabops pipeline task {flow} {task_name} --date {logical_date} exited with "
            f"{done.returncode}: {done.stderr[-_TAIL:].strip() or done.stdout[-_TAIL:].strip()}"
        )
    try:
        summary = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise RuntimeError(
            f"tabops pipeline task {flow} {task_name} printed no JSON summary: "
            f"{done.stdout[-_TAIL:]!r}"
        ) from exc
    if not isinstance(summary, dict):
        raise RuntimeError(f"tabops pipeline task {flow} {task_name} printed {summary!r}")
    return summary


def resolve_tabops_bin(tabops_bin: str | None) -> str:
    """The tabops executable: the DAG's own, else env ``TABOPS_BIN``, else ``tabops`` on PATH."""
    chosen = tabops_bin or os.environ.get("TABOPS_BIN") or shutil.which("tabops")
    if not chosen:
        raise RuntimeError(
            "No tabops executable: pass --tabops-bin to `tabops dags write`, set TABOPS_BIN "
            "on the workers, or put tabops on their PATH."
        )
    return chosen

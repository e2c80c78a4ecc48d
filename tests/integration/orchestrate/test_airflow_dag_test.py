"""Real Airflow runs every generated DAG with ``dag.test()`` against a real PostgreSQL store,
each task the real ``tabops pipeline task`` subprocess: the daily DAG over three logical
dates (a backfill: three partitions, monitoring windows for each day, no retrain decided
without labels), the ingest DAG, then, once labels arrive, the retrain DAG (dataset, train,
gate) and a daily run whose retrain the cooldown stops. XComs carry only small summaries."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tabops.cli.dags import orchestration_settings
from tabops.orchestrate.dag_files import write_dag_files
from tabops.orchestrate.graph import FLOW_NAMES
from tabops.orchestrate.monitor import DAILY_SOURCE
from tabops.store.batch import batch_history
from tabops.store.monitoring import window_metrics
from tests.integration.orchestrate.airflow_env import (
    airflow_env,
    migrate,
    requires_airflow,
    run_airflow_script,
)
from tests.integration.orchestrate.conftest import D1, DAY_ROWS, make_daily_project
from tests.integration.serve.conftest import TABOPS

pytestmark = [requires_airflow, pytest.mark.slow, pytest.mark.postgres,
              pytest.mark.xdist_group("airflow-dag-test")]  # fmt: skip

BACKFILL = [D1 + timedelta(days=n) for n in range(3)]
INGEST_DAY, RETRAIN_DAY, NEXT_DAY = (str(D1 + timedelta(days=n)) for n in (3, 4, 6))
XCOM_BYTES = 4096  # a summary, never data


def _states(run: dict[str, Any]) -> dict[str, str]:
    return {task: info["state"] for task, info in run["tasks"].items()}


def test_every_dag_runs_in_airflow_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    project = make_daily_project(tmp_path / "project", database_url=pg_url)
    spec, ctx = project.spec, project.ctx
    dags = project.folder / "dags"
    write_dag_files(
        name=spec.name, project=project.folder, out=dags,
        settings=orchestration_settings(spec), tabops_bin=TABOPS,
    )  # fmt: skip
    home = tmp_path / "airflow"
    migrate(home, dags)
    env = airflow_env(home, dags, {"TABOPS_DATABASE_URL": pg_url})
    env = {k: v for k, v in env.items() if not k.startswith(("TABOPS_HOME", "MLFLOW_"))}
    ingest, daily, retrain = (f"tabops_{spec.name}_{flow}" for flow in FLOW_NAMES)
    first = [f"{daily}={day.isoformat()}" for day in BACKFILL] + [f"{ingest}={INGEST_DAY}"]
    results = run_airflow_script("run_dag.py", *first, env=env, timeout=1800)

    # The backfill: three dates, three partitions, each day monitored, no retrain (no labels).
    for day, run in zip(BACKFILL, (results[r] for r in first[:3]), strict=True):
        assert run["state"] == "success", run
        assert _states(run) == {"ingest": "success", "score": "success", "monitor": "success",
                                "decide": "success", "retrain": "skipped"}  # fmt: skip
        tasks = run["tasks"]
        assert tasks["ingest"]["xcom"]["rows_loaded"] == DAY_ROWS
        assert tasks["score"]["xcom"]["scored"] == DAY_ROWS
        decided = tasks["decide"]["xcom"]
        assert decided["retrain"] is False and decided["reason"], decided
        assert decided["trigger"] is None or decided["guardrail"] == "min_new_labels", decided
        assert all(len(json.dumps(t["xcom"])) < XCOM_BYTES for t in tasks.values()), day
    partitions = sorted(p.name for p in (project.folder / "scores").iterdir())
    assert partitions == [f"run_date={d.isoformat()}" for d in BACKFILL]
    history = batch_history(ctx.store, spec.name).to_pandas()
    assert len(history) == 3 * DAY_ROWS
    assert not history.duplicated(["run_date", "entity_id"]).any()
    windows = window_metrics(ctx.store, spec.name, source=DAILY_SOURCE)
    assert {w.date() for w in windows["window_start"]} == set(BACKFILL)
    alone = results[first[3]]  # the ingest DAG
    assert alone["state"] == "success" and _states(alone) == {"ingest": "success"}
    assert alone["tasks"]["ingest"]["xcom"]["rows_loaded"] == DAY_ROWS

    # Labels arrive: the retrain DAG (a retrain by hand) passes the guardrails, trains and
    # gates; the next day's daily run is then stopped by the cooldown.
    project.label_day(D1)
    second = [f"{retrain}={RETRAIN_DAY}", f"{daily}={NEXT_DAY}"]
    results = run_airflow_script("run_dag.py", *second, env=env, timeout=1800)
    retrained = results[second[0]]
    assert retrained["state"] == "success", retrained
    assert _states(retrained) == {"dataset": "success", "train": "success", "gate": "success"}
    gate = retrained["tasks"]["gate"]["xcom"]
    assert gate["decision"] in {"promoted", "refused"} and gate["model_version"], gate
    assert gate["snapshot_hash"] == retrained["tasks"]["dataset"]["xcom"]["snapshot_hash"]
    after = results[second[1]]
    assert after["state"] == "success", after
    assert _states(after)["retrain"] == "skipped"
    decided = after["tasks"]["decide"]["xcom"]
    assert decided["retrain"] is False, decided
    assert decided["trigger"] is None or decided["guardrail"] == "cooldown", decided

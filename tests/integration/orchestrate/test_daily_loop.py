"""The daily loop in-process and task by task, on real SQLite and PostgreSQL stores:
idempotent by logical date (a rerun changes nothing, a backfill of N dates makes N partitions,
a task killed mid-way completes on its retry without duplicates), guardrails that stop a
retrain and are audited, and a retrain whose gate alone decides."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tabops.orchestrate.decide import MANUAL, run_decide
from tabops.orchestrate.retrain import run_retrain
from tabops.orchestrate.runner import run_flow, run_task
from tabops.store.audit import decisions
from tabops.store.batch import batch_history
from tabops.store.ledger import list_batches
from tests.integration.orchestrate.conftest import D1, DAY_ROWS, DailyProject, make_daily_project
from tests.integration.serve.conftest import TABOPS

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("daily-loop")]

DAYS = [D1 + timedelta(days=n) for n in range(3)]


@pytest.fixture(scope="module")
def sqlite_project(tmp_path_factory: pytest.TempPathFactory) -> DailyProject:
    return make_daily_project(tmp_path_factory.mktemp("daily"))


def _env(project: DailyProject) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TABOPS_", "MLFLOW_"))}
    if project.settings.database_url:
        env["TABOPS_DATABASE_URL"] = project.settings.database_url
    return env  # TABOPS_HOME unset: --project makes ./.tabops the project's


def _backfill_is_idempotent(project: DailyProject) -> None:
    spec, ctx = project.spec, project.ctx
    runs = run_flow(spec, ctx, "daily", DAYS)
    assert [r.failed for r in runs] == [False] * 3, [r.to_dict() for r in runs]
    assert [t.status for t in runs[0].tasks] == ["done"] * 4 + ["skipped"]  # no drift: no retrain
    partitions = sorted(p.name for p in (project.folder / "scores").iterdir())
    assert partitions == [f"run_date={d.isoformat()}" for d in DAYS]
    history = batch_history(ctx.store, spec.name).to_pandas()
    assert len(history) == 3 * DAY_ROWS
    assert not history.duplicated(["run_date", "entity_id"]).any()
    committed = [b for b in list_batches(ctx.store, "synthetic-daily") if b.status == "committed"]
    assert len(committed) == 3
    before = project.counts()
    again = run_flow(spec, ctx, "daily", DAYS)
    assert [t.summary.get("status") for t in again[0].tasks[:2]] == ["already_loaded",
                                                                      "already_scored"]  # fmt: skip
    assert project.counts() == before  # the second run changed nothing
    assert batch_history(ctx.store, spec.name).to_pandas()["batch_id"].tolist() == (
        history["batch_id"].tolist()
    )


def test_a_backfill_of_three_dates_makes_three_partitions_and_a_rerun_changes_nothing(
    sqlite_project: DailyProject,
) -> None:
    _backfill_is_idempotent(sqlite_project)


@pytest.mark.postgres
def test_the_same_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    _backfill_is_idempotent(make_daily_project(tmp_path / "pg", database_url=pg_url))


def test_the_cli_runs_a_backfill_and_a_manual_trigger_the_guardrails_stop(
    sqlite_project: DailyProject,
) -> None:
    folder = str(sqlite_project.folder)
    ran = subprocess.run(
        [TABOPS, "pipeline", "run", "daily", "--date", DAYS[0].isoformat(), "--to",
         DAYS[1].isoformat(), "--project", folder, "--json"],
        env=_env(sqlite_project), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    dates = json.loads(ran.stdout)["dates"]
    assert [d["date"] for d in dates] == [DAYS[0].isoformat(), DAYS[1].isoformat()]
    assert [t["task"] for t in dates[0]["tasks"]] == ["ingest", "score", "monitor", "decide",
                                                      "retrain"]  # fmt: skip
    asked = subprocess.run(
        [TABOPS, "pipeline", "retrain", "--reason", "analysts asked", "--date",
         DAYS[1].isoformat(), "--project", folder],
        env=_env(sqlite_project), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert asked.returncode == 3, asked.stderr  # refused: no label has arrived
    assert "min_new_labels" in asked.stdout and "Traceback" not in asked.stderr


def _task(project: DailyProject, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TABOPS, "pipeline", "task", *args, "--project", str(project.folder), "--json"],
        env=_env(project), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_a_task_killed_mid_way_completes_on_its_retry_without_duplicates(
    sqlite_project: DailyProject, tmp_path: Path
) -> None:
    day = D1 + timedelta(days=20)
    big = 60_000
    sqlite_project.write_day(day, rows=big)
    ingested = _task(sqlite_project, "daily", "ingest", "--date", day.isoformat())
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["rows_loaded"] == big  # one JSON object: the XCom
    spill = tmp_path / "tmp"
    spill.mkdir()
    process = subprocess.Popen(
        [TABOPS, "pipeline", "task", "daily", "score", "--date", day.isoformat(), "--project",
         str(sqlite_project.folder), "--json"],
        env=_env(sqlite_project) | {"TMPDIR": str(spill)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not list(spill.glob("tabops-predict-*/scored.parquet")):  # scoring under way
            assert process.poll() is None, f"the task ended before scoring: {process.stderr}"
            assert time.monotonic() < deadline, "no scoring within 300 s"
            time.sleep(0.005)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    ctx = sqlite_project.ctx
    assert batch_history(ctx.store, "synthetic", day).num_rows == 0  # nothing half-written
    retried = _task(sqlite_project, "daily", "score", "--date", day.isoformat())
    assert retried.returncode == 0, retried.stderr
    assert json.loads(retried.stdout)["scored"] == big
    history = batch_history(ctx.store, "synthetic", day).to_pandas()
    assert len(history) == big and history["entity_id"].is_unique
    folder = sqlite_project.folder / "scores"
    assert pq.read_table(folder / f"run_date={day.isoformat()}").num_rows == big
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no leftovers


def _audited(project: DailyProject) -> list[dict[str, Any]]:
    return [e for e in decisions(project.ctx.store, "synthetic", 100) if e["action"] == "retrain"]


def test_each_guardrail_stops_a_retrain_and_is_audited(tmp_path: Path) -> None:
    project = make_daily_project(tmp_path / "guards", min_new_labels=300, cooldown_days=3,
                                 max_retrains=1, period_days=30)  # fmt: skip
    spec, ctx = project.spec, project.ctx
    days = [D1 + timedelta(days=n) for n in range(8)]
    assert not any(r.failed for r in run_flow(spec, ctx, "daily", days[:2]))
    project.label_day(days[0])  # 200 labelled rows: fewer than min_new_labels
    skipped = run_decide(spec, ctx, days[1], MANUAL, "analysts asked")
    assert skipped["retrain"] is False and skipped["guardrail"] == "min_new_labels"
    project.label_day(days[1])  # 400 now
    allowed = run_decide(spec, ctx, days[2], MANUAL, "analysts asked again")
    assert allowed["retrain"] is True and allowed["guardrail"] is None
    result = run_retrain(spec, ctx, days[2], MANUAL)
    assert result["decision"] in ("promoted", "refused")
    cooled = run_decide(spec, ctx, days[4], MANUAL, "too soon")
    assert cooled["guardrail"] == "cooldown"
    capped = run_decide(spec, ctx, days[7], MANUAL, "once a month")
    assert capped["guardrail"] == "max_retrains"
    # Each verdict is audited once, with its guardrail and reason; reruns return it unchanged.
    assert run_decide(spec, ctx, days[4], MANUAL, "again") == cooled | {"audited": "earlier"}
    events = sorted(_audited(project), key=lambda e: e["id"])
    assert [(e["decision"], e["metrics"].get("guardrail")) for e in events] == [
        ("skipped", "min_new_labels"), ("triggered", None), (result["decision"], None),
        ("skipped", "cooldown"), ("skipped", "max_retrains"),
    ]  # fmt: skip
    shown = subprocess.run(
        [TABOPS, "history", "--json", "--spec", str(project.folder)],
        env=_env(project) | {"TABOPS_HOME": str(project.folder / ".tabops")},
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    reasons = [e["reasons"][0] for e in json.loads(shown.stdout) if e["action"] == "retrain"]
    assert any("cooldown_days 3" in r for r in reasons), reasons


def test_a_drift_alert_triggers_one_retrain_and_the_gate_alone_promotes(tmp_path: Path) -> None:
    project = make_daily_project(tmp_path / "drift", min_new_labels=400, cooldown_days=30)
    spec, ctx = project.spec, project.ctx
    days = [D1 + timedelta(days=n) for n in range(8)]
    for day in days:
        project.label_day(day - timedelta(days=1)) if day > D1 else None
        run = run_flow(spec, ctx, "daily", [day])[0]
        assert not run.failed, run.to_dict()
    events = sorted(_audited(project), key=lambda e: e["id"])
    triggered = [e for e in events if e["decision"] == "triggered"]
    assert len(triggered) == 1  # days 5-7 drift: the first asks, the cooldown stops the rest
    assert triggered[0]["metrics"]["trigger"] == "alert:x_drift"
    skips = {e["metrics"]["guardrail"] for e in events if e["decision"] == "skipped"}
    assert skips == {"cooldown"}
    result = next(e for e in events if e["decision"] in ("promoted", "refused"))
    gates = [e for e in decisions(ctx.store, "synthetic", 100) if e["action"] == "gate"]
    gate = max(gates, key=lambda e: e["id"])  # the retrain's gate, after the first champion's
    candidate, champion = gate["metrics"]["candidate"], gate["metrics"]["champion"]
    better = candidate["roc_auc"] >= champion["roc_auc"]
    assert (result["decision"] == "promoted") == better == (gate["decision"] == "promoted")
    started = date.fromisoformat(triggered[0]["metrics"]["logical_date"])
    assert started == days[5]  # the first day of drift
    rerun = run_task(spec, ctx, "daily", "retrain", started)  # a retry: the audited result
    assert rerun["decision"] == result["decision"]


def test_days_scored_by_hand_are_skipped_and_named_by_the_monitor_task(tmp_path: Path) -> None:
    """A run date scored by 'tabops predict' alone (an ad-hoc rescore, days before the flow)
    has no day batch: the monitor task names it and measures the flow's days, not failing."""
    from tabops.batch.run import run_predict
    from tabops.batch.sinks import parse_destination
    from tabops.batch.sources import Input

    project = make_daily_project(tmp_path / "adhoc")
    spec, ctx = project.spec, project.ctx
    by_hand = D1 - timedelta(days=1)
    path = tmp_path / "rescore.parquet"
    pq.write_table(project.write_day(D1), path)
    out = parse_destination(str(tmp_path / "adhoc.csv"), "--output")
    run_predict(spec, ctx, Input(str(path)), out, out.sibling(".rejects"), run_date=by_hand)
    [day] = run_flow(spec, ctx, "daily", [D1])
    assert not day.failed
    monitored = run_task(spec, ctx, "daily", "monitor", D1)
    assert list(monitored["skipped"]) == [by_hand.isoformat()]
    assert by_hand.isoformat() in monitored["skipped"][by_hand.isoformat()]  # why, named
    assert [m["dates"] for m in monitored["measured"]] == [[D1.isoformat()]]

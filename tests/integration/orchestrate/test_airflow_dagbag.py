"""Real Airflow parses every generated DAG: no import errors, the flows' task graph with the
spec's retries and timeouts, the decide task a branch, and nothing of tabops imported but the
factory and the graph (parse time per file is measured; benchmarks/airflow_parse.py reports it
against the 1 s target)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tabops.orchestrate.dag_files import write_dag_files
from tabops.orchestrate.graph import flows
from tests.integration.orchestrate.airflow_env import (
    ROOT,
    airflow_env,
    requires_airflow,
    run_airflow_script,
)

pytestmark = [requires_airflow, pytest.mark.slow]

SETTINGS: dict[str, Any] = {
    "schedule": "0 6 * * *",
    "retries": 2,
    "timeout_s": 7200,
    "tasks": {"ingest": {"retries": 4, "timeout_s": 600}, "decide": {"retries": 0}},
}
FACTORY_ONLY = {"tabops", "tabops.orchestrate", "tabops.orchestrate.graph",
                "tabops.orchestrate.airflow_dags"}  # fmt: skip


def _parse(folder: Path, tmp_path: Path) -> dict[str, Any]:
    parsed: dict[str, Any] = run_airflow_script(
        "dagbag.py", str(folder), env=airflow_env(tmp_path / "airflow", folder)
    )
    assert parsed["errors"] == {}, parsed["errors"]
    for name, stats in parsed["files"].items():
        print(f"{folder.parent.name}/{folder.name}/{name}: parsed in {stats['parse_s']:.3f} s")
    return parsed


def _expected(name: str, settings: dict[str, Any]) -> dict[str, Any]:
    """What Airflow should hold for each flow, from the shared graph."""
    expected = {}
    for flow in flows(settings).values():
        expected[f"tabops_{name}_{flow.name}"] = {
            "schedule": flow.schedule,
            "tasks": {
                t.name: {
                    "upstream": sorted(t.upstream),
                    "retries": t.retries,
                    "timeout_s": float(t.timeout_s),
                    "operator": "_BranchPythonDecoratedOperator"
                    if t.branch
                    else "_PythonDecoratedOperator",
                }
                for t in flow.tasks
            },
        }
    return expected


@pytest.mark.parametrize("example", ["churn", "fraud"])
def test_the_examples_dags_import_in_airflow(example: str, tmp_path: Path) -> None:
    from tabops.cli.dags import orchestration_settings
    from tabops.spec import load_spec

    folder = ROOT / "examples" / example / "dags"
    parsed = _parse(folder, tmp_path)
    dags = {d: v for stats in parsed["files"].values() for d, v in stats["dags"].items()}
    settings = orchestration_settings(load_spec(folder.parent))
    assert dags == _expected(example, settings)
    assert set(parsed["tabops_modules"]) == FACTORY_ONLY


def test_per_task_retries_timeouts_and_schedule_reach_airflow(tmp_path: Path) -> None:
    folder = tmp_path / "dags"
    write_dag_files(name="p", project=tmp_path, out=folder, settings=SETTINGS, tabops_bin=None)
    parsed = _parse(folder, tmp_path)
    dags = {d: v for stats in parsed["files"].values() for d, v in stats["dags"].items()}
    assert dags == _expected("p", SETTINGS)
    ingest = dags["tabops_p_daily"]["tasks"]["ingest"]
    assert (ingest["retries"], ingest["timeout_s"]) == (4, 600.0)  # per task wins
    assert dags["tabops_p_daily"]["tasks"]["score"]["retries"] == 2  # the section's default
    assert dags["tabops_p_daily"]["schedule"] == "0 6 * * *"

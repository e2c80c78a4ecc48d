"""A refusal fails the Airflow task at once: the daily ingest of a day the data contract
blocks exits 3, and the task fails on its first try although the spec allows retries (the same
rows would be refused again); a failing task of another kind is retried (the DagBag test
checks the retries reach Airflow)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tabops.cli.dags import orchestration_settings
from tabops.orchestrate.dag_files import write_dag_files
from tabops.spec import load_spec
from tests.conftest import SMALL_HEADER, small_spec_dict
from tests.integration.orchestrate.airflow_env import (
    airflow_env,
    migrate,
    requires_airflow,
    run_airflow_script,
)
from tests.integration.serve.conftest import TABOPS

pytestmark = [requires_airflow, pytest.mark.slow]

DAY = "2026-04-01"


def test_a_day_blocked_by_the_contract_fails_without_retries(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "days").mkdir(parents=True)
    spec = small_spec_dict(orchestration={"day": {"input": "days/{date}.csv"}, "retries": 2})
    (project / "tabops.yaml").write_text(yaml.safe_dump(spec))
    bad = "".join(f"{i},-5,{i},red,true,no\n" for i in range(20))  # amount below its min 0
    (project / "days" / f"{DAY}.csv").write_text(f"{SMALL_HEADER}\n{bad}")
    loaded = load_spec(project)
    dags = project / "dags"
    write_dag_files(
        name=loaded.name, project=project, out=dags,
        settings=orchestration_settings(loaded), tabops_bin=TABOPS,
    )  # fmt: skip
    home = tmp_path / "airflow"
    migrate(home, dags)
    env = airflow_env(home, dags, {"TABOPS_HOME": str(project / ".tabops")})
    env = {k: v for k, v in env.items() if not k.startswith(("TABOPS_DATABASE", "MLFLOW_"))}
    run = f"tabops_{loaded.name}_ingest={DAY}"
    result = run_airflow_script("run_dag.py", run, env=env, timeout=900)[run]
    assert result["state"] == "failed", result
    ingest = result["tasks"]["ingest"]
    assert ingest["state"] == "failed" and ingest["try_number"] == 1, ingest

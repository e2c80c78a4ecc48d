"""Running code in the Airflow venv (``.venv-airflow``, ``make setup-airflow``): Airflow is never
importable in tabops' own venv, so these tests drive it as a subprocess and read one JSON
document back from the last line of its stdout."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = Path(__file__).resolve().parent / "scripts"
AIRFLOW_PYTHON = Path(
    os.environ.get("TABOPS_AIRFLOW_PYTHON", str(ROOT / ".venv-airflow" / "bin" / "python"))
)

requires_airflow = pytest.mark.skipif(
    not AIRFLOW_PYTHON.exists(),
    reason=f"no Airflow venv at {AIRFLOW_PYTHON}: run `make setup-airflow` (make test does)",
)


def airflow_env(home: Path, dags: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of an Airflow process: its own home (SQLite metadata), the DAG folder,
    no example DAGs, and this checkout's tabops sources first on the path."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    return kept | {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONPATH": str(ROOT / "src"),
        **(extra or {}),
    }


def run_airflow_script(script: str, *args: str, env: dict[str, str], timeout: float = 900) -> Any:
    """Run ``scripts/<script>`` with Airflow's python; the JSON document on its last line."""
    done = subprocess.run(
        [str(AIRFLOW_PYTHON), str(SCRIPTS / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, (
        f"{script} exited {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-8000:]}"
    )
    return json.loads(lines[-1])


def migrate(home: Path, dags: Path) -> None:
    """Create Airflow's metadata database (SQLite in ``home``), as `airflow db migrate`."""
    done = subprocess.run(
        [str(AIRFLOW_PYTHON), "-m", "airflow", "db", "migrate"],
        env=airflow_env(home, dags),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]

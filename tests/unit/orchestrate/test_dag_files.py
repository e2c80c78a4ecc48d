"""The DAG files of ``tabops dags write``: deterministic, formatted, portable, and the examples'
committed DAGs equal a fresh generation (so they cannot drift from the spec)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tabops.cli import app
from tabops.cli.dags import orchestration_settings
from tabops.errors import TabopsError
from tabops.orchestrate.dag_files import GRAPH_KEYS, render_dag_file, write_dag_files
from tabops.orchestrate.graph import FLOW_NAMES
from tabops.spec import load_spec

ROOT = Path(__file__).resolve().parents[3]
RUFF = str(Path(sys.executable).with_name("ruff"))
SETTINGS: dict[str, Any] = {
    "schedule": "0 6 * * *",
    "retries": 2,
    "timeout_s": 7200,
    "tasks": {
        "ingest": {"retries": 3, "timeout_s": 600},
        "score": {"retries": None, "timeout_s": 1800},
        "retrain": {"retries": 0, "timeout_s": 14400},
    },
    "monitor_days": 7,  # read by the tasks from the spec, not baked into the DAG
}


def _build_dag_kwargs(text: str) -> dict[str, Any]:
    """The keyword arguments of the file's build_dag(...) call, as source text."""
    call = next(
        node.value
        for node in ast.parse(text).body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
    )
    return {kw.arg: kw.value for kw in call.keywords if kw.arg}


@pytest.mark.parametrize("example", ["churn", "fraud"])
def test_the_examples_dags_equal_a_fresh_generation(example: str) -> None:
    project = ROOT / "examples" / example
    spec = load_spec(project)
    committed = sorted(p.name for p in (project / "dags").glob("*.py"))
    assert committed == sorted(f"tabops_{flow}.py" for flow in FLOW_NAMES)
    for flow in FLOW_NAMES:
        fresh = render_dag_file(
            name=spec.name,
            flow=flow,
            project=project,
            out=project / "dags",
            settings=orchestration_settings(spec),
            tabops_bin=None,
        )
        on_disk = (project / "dags" / f"tabops_{flow}.py").read_text(encoding="utf-8")
        assert on_disk == fresh, (
            f"examples/{example}/dags/tabops_{flow}.py is stale: run "
            f"tabops dags write --project examples/{example} --out examples/{example}/dags"
        )


def test_settings_are_a_literal_of_the_graph_keys_only(tmp_path: Path) -> None:
    text = render_dag_file(
        name="p", flow="daily", project=tmp_path, out=tmp_path / "dags", settings=SETTINGS,
        tabops_bin="/opt/tabops/bin/tabops",
    )  # fmt: skip
    kwargs = _build_dag_kwargs(text)
    assert ast.literal_eval(kwargs["settings"]) == {k: SETTINGS[k] for k in GRAPH_KEYS}
    assert ast.literal_eval(kwargs["tabops_bin"]) == "/opt/tabops/bin/tabops"
    assert ast.literal_eval(kwargs["flow"]) == "daily"
    assert ast.literal_eval(kwargs["name"]) == "p"


def test_the_project_is_relative_inside_it_and_absolute_outside(tmp_path: Path) -> None:
    project = tmp_path / "project"
    inside = render_dag_file(
        name="p", flow="ingest", project=project, out=project / "airflow" / "dags",
        settings={}, tabops_bin=None,
    )  # fmt: skip
    outside = render_dag_file(
        name="p", flow="ingest", project=project, out=tmp_path / "elsewhere",
        settings={}, tabops_bin=None,
    )  # fmt: skip
    assert ast.unparse(_build_dag_kwargs(inside)["project"]) == (
        "str((Path(__file__).parent / '../..').resolve())"
    )
    assert "from pathlib import Path" in inside
    assert ast.literal_eval(_build_dag_kwargs(outside)["project"]) == str(project.resolve())
    assert "pathlib" not in outside  # nothing unused


def test_generated_files_are_already_formatted_and_deterministic(tmp_path: Path) -> None:
    first = write_dag_files(
        name="p", project=tmp_path, out=tmp_path / "dags", settings=SETTINGS, tabops_bin=None
    )
    texts = [path.read_text(encoding="utf-8") for path in first]
    again = write_dag_files(
        name="p", project=tmp_path, out=tmp_path / "dags", settings=SETTINGS, tabops_bin=None
    )
    assert [path.read_text(encoding="utf-8") for path in again] == texts
    checked = subprocess.run(
        [RUFF, "format", "--check", "--diff", "--no-cache", *map(str, first)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_dags_write_command(tmp_path: Path) -> None:
    out = tmp_path / "new" / "dags"
    result = CliRunner().invoke(
        app,
        ["dags", "write", "--project", str(ROOT / "examples" / "churn"), "--out", str(out),
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = json.loads(result.output)["written"]
    assert sorted(Path(p).name for p in written) == sorted(f"tabops_{f}.py" for f in FLOW_NAMES)
    daily = (out / "tabops_daily.py").read_text(encoding="utf-8")
    project = ast.literal_eval(_build_dag_kwargs(daily)["project"])
    assert project == str((ROOT / "examples" / "churn").resolve())


def test_dags_write_refuses_to_replace_another_projects_files(tmp_path: Path) -> None:
    out = tmp_path / "dags"
    first = ["dags", "write", "--project", str(ROOT / "examples" / "churn"), "--out", str(out)]
    assert CliRunner().invoke(app, first).exit_code == 0
    assert CliRunner().invoke(app, first).exit_code == 0  # its own files: rewritten
    kept = (out / "tabops_daily.py").read_text(encoding="utf-8")
    other = ["dags", "write", "--project", str(ROOT / "examples" / "fraud"), "--out", str(out)]
    refused = CliRunner().invoke(app, other)
    assert isinstance(refused.exception, TabopsError)  # the CLI's main() prints it, exit 2
    message = str(refused.exception)
    assert "is project 'churn''s DAG file" in message and f"--out {out / 'fraud'}" in message
    assert (out / "tabops_daily.py").read_text(encoding="utf-8") == kept

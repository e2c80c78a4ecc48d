"""The model lifecycle through the CLI, embedded mode: run, register, history, rollback."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tabops.monitor.reference import Reference
from tabops.store.db import open_store
from tabops.store.references import load_reference
from tests.e2e.test_cli import as_json, assert_user_error, tabops

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("mlflow-cli")]

WORSE = "train.candidates=[{estimator: linear, params: {C: 0.0001}, search: {}}]"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, churn_data: Path) -> Path:
    folder = tmp_path_factory.mktemp("lifecycle")
    shutil.copytree(churn_data, folder / "data")
    init = tabops("init", "--data", "data/churn.csv", "--target", "churn", cwd=folder)
    assert init.returncode == 0, init.stderr
    return folder


@pytest.fixture(scope="module")
def first_run(project: Path) -> dict[str, Any]:
    result = tabops("run", "--trials", "2", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    return dict(as_json(result))


def test_run_ingests_trains_and_promotes_a_first_champion(first_run: dict[str, Any]) -> None:
    assert first_run["ingest"]["rows_loaded"] == 7043
    train = first_run["train"]
    assert {c["estimator"] for c in train["candidates"]} == {"linear", "lightgbm"}
    assert all(c["model_uri"] and c["artifact_sha256"] for c in train["candidates"])
    best = next(c for c in train["candidates"] if c["estimator"] == train["best"])
    assert best["test"]["roc_auc"] >= 0.83
    decision = first_run["register"]["decision"]
    assert decision["promoted"] and decision["reasons"][0].startswith("first champion")


def test_report_and_evaluate_the_champion(project: Path, first_run: dict[str, Any]) -> None:
    printed = tabops("report", cwd=project)
    assert printed.returncode == 0
    report = Path(printed.stdout.strip())
    assert report.name == "report.html" and "data:image/png;base64," in report.read_text()
    check = (
        "evaluate.checks=[{name: t, kind: directional, column: tenure, delta: 12, "
        "direction: decrease, tolerance: 1}]"
    )
    evaluated = as_json(tabops("evaluate", "--set", "evaluate.slices=[contract]",
                               "--set", check, "--json", cwd=project))  # fmt: skip
    best = next(c for c in first_run["train"]["candidates"]
                if c["estimator"] == first_run["train"]["best"])  # fmt: skip
    assert evaluated["metrics"]["roc_auc"] == pytest.approx(best["test"]["roc_auc"], abs=1e-9)
    assert set(evaluated["slices"]["contract"]) == {"Month-to-month", "One year", "Two year"}
    assert evaluated["checks"][0]["passed"]
    assert Path(evaluated["report"]).exists()


def test_worse_model_is_refused_then_forced_then_rolled_back(
    project: Path, first_run: dict[str, Any]
) -> None:
    trained = tabops("train", "--trials", "1", "--set", WORSE, "--json", cwd=project)
    assert as_json(trained)["best"] == "linear"
    refused = tabops("register", cwd=project)
    assert refused.returncode == 3
    assert "refused" in refused.stdout and "worse than the champion" in refused.stdout
    # Both registrations (by run and by register) kept the version's reference profile.
    store = open_store(f"sqlite:///{project / '.tabops' / 'tabops.db'}")
    for version in ("1", "2"):
        doc = load_reference(store, "churn", "churn", version)
        assert doc is not None, version
        assert Reference.from_json(doc).profile.rows == 7043
    forced = as_json(tabops("promote", "--version", "2", "--force", "--json", cwd=project))
    assert forced["promoted"] and forced["champion"] == "1"
    back = as_json(tabops("rollback", "--json", cwd=project))
    assert (back["candidate"], back["champion"]) == ("1", "2")
    again = tabops("rollback", cwd=project)
    assert_user_error(again, "no 'previous' version")
    actions = [(e["action"], e["decision"], e["to_version"])
               for e in as_json(tabops("history", "--json", cwd=project))]  # fmt: skip
    assert actions[:4] == [("rollback", "promoted", "1"), ("promote", "promoted", "2"),
                           ("gate", "refused", "2"), ("gate", "promoted", "1")]  # fmt: skip


def test_lifecycle_mistakes_are_clear_errors(project: Path, tmp_path: Path) -> None:
    bad = tabops("train", "--set", "train.candidates=[{estimator: svm}]", cwd=project)
    assert_user_error(bad, "train.candidates[0].estimator 'svm'")
    metric = tabops("train", "--set", "train.metric=rmse", cwd=project)
    assert_user_error(metric, "train.metric 'rmse'")
    assert_user_error(tabops("promote", "--version", "99", cwd=project), "no version 99")
    fresh = tmp_path / "fresh"
    shutil.copytree(project / "data", fresh / "data")
    assert (
        tabops("init", "--data", "data/churn.csv", "--target", "churn", cwd=fresh).returncode == 0
    )
    assert_user_error(tabops("train", cwd=fresh), "tabops ingest")
    assert_user_error(tabops("register", cwd=fresh), "tabops train")
    down = tabops("train", cwd=fresh, env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"})
    assert_user_error(down, "127.0.0.1:9", "MLFLOW_TRACKING_URI")


def test_ui_prints_the_command_for_the_workspace(project: Path) -> None:
    printed = tabops("ui", "--print", cwd=project)
    assert printed.returncode == 0
    assert "mlflow ui --backend-store-uri sqlite:///" in " ".join(printed.stdout.split())
    assert "--host 127.0.0.1" in printed.stdout

"""The model lifecycle run as a user runs it, in production mode: the ``tabops`` command
against a real ``mlflow server`` backed by PostgreSQL, and the tabops store in PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tabops.devtools.postgres import PostgresCluster
from tabops.registry.client import connect

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.xdist_group("postgres")]

TABOPS = str(Path(sys.executable).with_name("tabops"))
WORSE = "train.candidates=[{estimator: linear, params: {C: 0.0001}, search: {}}]"


@dataclass
class Project:
    folder: Path
    env: dict[str, str]

    def tabops(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [TABOPS, *args], cwd=self.folder, env=self.env, capture_output=True, text=True,
            timeout=900,
        )  # fmt: skip

    def json(self, *args: str, code: int = 0) -> Any:
        """The one JSON document ``tabops ARGS --json`` prints, checking its exit code."""
        result = self.tabops(*args, "--json")
        assert result.returncode == code, (result.stdout, result.stderr)
        return json.loads(result.stdout)


def _project(folder: Path, tracking_uri: str, database_url: str, name: str) -> Project:
    """A churn project folder with its data and an inferred spec, both stores external."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TABOPS_", "MLFLOW_"))}
    env |= {
        "COLUMNS": "200",
        "MLFLOW_TRACKING_URI": tracking_uri,
        "TABOPS_DATABASE_URL": database_url,
    }
    folder.mkdir(parents=True, exist_ok=True)
    project = Project(folder, env)
    project.json("examples", "export", "churn", "-o", "data")
    project.json("init", "--data", "data/churn.csv", "--target", "churn", "--name", name)
    return project


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, mlflow_server_uri: str, pg_cluster: PostgresCluster
) -> tuple[Project, dict[str, Any]]:
    """The churn project after ``tabops train --trials 2``."""
    folder = tmp_path_factory.mktemp("server-lifecycle")
    url = pg_cluster.create_database("server_lifecycle")
    project = _project(folder, mlflow_server_uri, url, "churn")
    ingested = project.json("ingest")
    assert (ingested["status"], ingested["rows_loaded"]) == ("loaded", 7043)
    return project, project.json("train", "--trials", "2")


def test_train_logs_candidates_trials_and_models_on_the_server(
    trained: tuple[Project, dict[str, Any]], mlflow_server_uri: str
) -> None:
    _, result = trained
    assert len(result["candidates"]) == 2
    for candidate in result["candidates"]:
        assert candidate["run_id"] and candidate["model_uri"], candidate
    best = next(c for c in result["candidates"] if c["run_id"] == result["best_run_id"])
    assert best["test"]["roc_auc"] >= 0.80

    client = connect(mlflow_server_uri)
    experiment = client.get_experiment_by_name("churn")
    assert experiment.artifact_location.startswith("mlflow-artifacts:")  # proxied by the server
    for candidate in result["candidates"]:
        run = client.get_run(candidate["run_id"])
        assert run.info.status == "FINISHED"
        assert run.data.tags["tabops.model_uri"] == candidate["model_uri"]
        trials = client.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{candidate['run_id']}'",
        )
        assert len(trials) == candidate["trials"] == 2
        assert all(t.data.tags["mlflow.parentRunId"] == candidate["run_id"] for t in trials)
        artifacts = {a.path for a in client.list_artifacts(candidate["run_id"])}
        assert {"tabops.yaml", "split", "environment", "evaluation"} <= artifacts
    assert client.get_run(result["best_run_id"]).data.tags["tabops.best"] == "true"


def test_register_gates_refuses_worse_audits_and_rollback_needs_previous(
    trained: tuple[Project, dict[str, Any]], mlflow_server_uri: str
) -> None:
    project, result = trained
    first = project.json("register")
    assert (first["model"], first["version"]) == ("churn", "1")
    assert first["run_id"] == result["best_run_id"]
    assert first["decision"]["promoted"]
    assert first["decision"]["reasons"][0].startswith("first champion")

    worse = project.json("train", "--set", WORSE, "--trials", "1")
    second = project.json("register", code=3)  # refused by the gate
    assert (second["version"], second["run_id"]) == ("2", worse["best_run_id"])
    assert not second["decision"]["promoted"]
    assert "worse than the champion" in second["decision"]["reasons"][0]
    scores = second["decision"]["metrics"]
    assert scores["candidate"]["roc_auc"] < scores["champion"]["roc_auc"]

    history = project.json("history")
    assert [(e["action"], e["decision"], e["to_version"]) for e in history] == [
        ("gate", "refused", "2"), ("gate", "promoted", "1"),
    ]  # fmt: skip
    assert history[0]["from_version"] == "1"

    back = project.tabops("rollback")
    assert back.returncode == 2, (back.stdout, back.stderr)
    message = " ".join(back.stderr.split())  # Rich wraps long lines
    assert "Error:" in message and "no 'previous' version to roll back to" in message
    assert "Traceback" not in back.stderr + back.stdout

    model = connect(mlflow_server_uri).get_registered_model("churn")
    assert model.aliases == {"champion": "1"}


def test_run_ingests_trains_and_promotes_in_one_go(
    tmp_path: Path, mlflow_server_uri: str, pg_url: str
) -> None:
    project = _project(tmp_path, mlflow_server_uri, pg_url, "churn_run")  # its own model
    result = project.json("run", "--trials", "1")
    assert (result["ingest"]["status"], result["ingest"]["rows_loaded"]) == ("loaded", 7043)
    train = result["train"]
    assert all(c["run_id"] and c["model_uri"] for c in train["candidates"])
    registered = result["register"]
    assert (registered["model"], registered["version"]) == ("churn_run", "1")
    assert registered["run_id"] == train["best_run_id"]
    assert registered["decision"]["promoted"]

    client = connect(mlflow_server_uri)
    assert client.get_registered_model("churn_run").aliases == {"champion": "1"}
    history = project.json("history")
    assert [(e["action"], e["decision"]) for e in history] == [("gate", "promoted")]

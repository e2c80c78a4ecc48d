"""Connecting to a tracking store leaves the process's settings alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from tabops.registry.client import connect
from tabops.settings import Settings


def test_connect_does_not_make_its_store_every_later_workspaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MLflow's set_tracking_uri exports MLFLOW_TRACKING_URI, which Settings reads: a second
    # workspace in the same process (tests, DAG workers) would register into the first's.
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("TABOPS_TRACKING_URI", raising=False)
    first = Settings(home=tmp_path / "first")
    connect(first.mlflow_uri)
    assert (
        Settings(home=tmp_path / "second").mlflow_uri
        == f"sqlite:///{tmp_path / 'second' / 'mlflow.db'}"
    )


def test_connect_keeps_a_configured_tracking_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///configured.db")
    connect(f"sqlite:///{tmp_path / 'other.db'}")
    assert Settings(home=tmp_path).mlflow_uri == "sqlite:///configured.db"

"""Served projects for the serving tests: a trained, registered, compiled champion in a fresh
embedded workspace, an in-process client, and a real ``tabops serve`` subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from tabops.context import Context
from tabops.model.train import run_train
from tabops.registry.tracking import MlflowTracking
from tabops.release.register import run_register
from tabops.serve.app import create_app
from tabops.settings import Settings
from tabops.spec import ProjectSpec, load_spec
from tests.unit.model.conftest import add_snapshot, synthetic_table

TABOPS = str(Path(sys.executable).with_name("tabops"))


def served_spec_dict(estimator: str = "lightgbm", **serve: Any) -> dict[str, Any]:
    """The synthetic project with every input type as a feature, and fast reloads."""
    return {
        "name": "synthetic",
        "task": "classification",
        "target": "label",
        "positive_class": "yes",
        "source": {"path": "unused.csv"},
        "columns": {
            "id": {"type": "integer", "role": "id"},
            "x": {"type": "numeric", "nullable": False, "min": -100, "max": 100},
            "n": {"type": "integer", "nullable": True},
            "color": {"type": "categorical", "nullable": False,
                      "categories": ["red", "blue", "green"]},
            "flag": {"type": "boolean", "nullable": False},
            "when": {"type": "datetime", "nullable": True},
            "label": {"type": "categorical", "role": "target"},
            "value": {"type": "numeric", "role": "ignored"},
        },
        "train": {"trials": 1, "cv_folds": 2,
                  "candidates": [{"estimator": estimator, "search": {}}]},
        "serve": {"reload_interval": 0.5, **serve},
    }  # fmt: skip


@dataclass
class ServedProject:
    """A folder with tabops.yaml and a workspace whose champion is registered."""

    folder: Path
    home: Path

    @property
    def spec(self) -> ProjectSpec:
        return load_spec(self.folder)

    @property
    def settings(self) -> Settings:
        return Settings(home=self.home)

    @property
    def ctx(self) -> Context:
        return Context(settings=self.settings)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TABOPS_", "MLFLOW_"))}
        return {**env, "TABOPS_HOME": str(self.home), **extra}

    def train_and_register(self, force: bool = False, **overrides: Any) -> str:
        """Train the spec (with ``overrides`` on its dict) and register; the version."""
        raw = yaml.safe_load((self.folder / "tabops.yaml").read_text())
        raw.update(overrides)
        from tabops.spec import parse_spec

        spec = parse_spec(raw)
        result = run_train(spec, self.ctx, MlflowTracking(self.settings, spec))
        return run_register(spec, self.ctx, result.best.run_id, force=force).version.version


def make_project(
    folder: Path, spec: dict[str, Any] | None = None, rows: int = 600
) -> ServedProject:
    folder.mkdir(parents=True, exist_ok=True)
    raw = spec or served_spec_dict()
    (folder / "tabops.yaml").write_text(yaml.safe_dump(raw))
    project = ServedProject(folder, folder / ".tabops")
    table = synthetic_table(rows)
    add_snapshot(project.ctx, project.spec, table)
    project.train_and_register()
    return project


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> ServedProject:
    """A registered LightGBM champion (module-scoped: training takes seconds)."""
    return make_project(tmp_path_factory.mktemp("served"))


@pytest.fixture
def client(project: ServedProject) -> Iterator[TestClient]:
    """The app in-process, lifespan run (model loaded, journal open)."""
    app = create_app(project.spec, project.settings)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def valid_record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"x": 0.5, "n": 3, "color": "red", "flag": True,
                              "when": "2026-03-01T10:00:00+00:00"}  # fmt: skip
    record.update(changes)
    return record


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self, timeout: float = 30) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def running_server(
    project: ServedProject,
    *args: str,
    env: dict[str, str] | None = None,
    ready_timeout: float = 180,
    executable: str = TABOPS,
) -> Iterator[Server]:
    """``tabops serve`` (``executable``) as a subprocess on a free loopback port, ready before
    yielding."""
    port = free_port()
    log = project.folder / f"serve-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [executable, "serve", "--spec", str(project.folder), "--port", str(port), *args],
            cwd=project.folder, env=env or project.env(), stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if process.poll() is not None:
                raise AssertionError(
                    f"tabops serve exited {process.returncode}:\n{server.output()}"
                )
            try:
                if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"tabops serve not ready:\n{server.output()}")
            time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)

"""The serving-only install (``tabops[serve]``, as the serving image makes it with
``deploy/install.sh serve``) in a fresh virtual environment.

It must leave out the training stack, say which extra to install when a training command
runs, and serve a model that the full install trained and registered on a real MLflow
tracking server, reading the registry over its REST API (no mlflow import).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.integration.deploy.install import run_install_script
from tests.integration.serve.chaos import ConfiguredProject, make_configured_project
from tests.integration.serve.conftest import running_server, valid_record

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.xdist_group("serve-install")]

#: Packages of the training stack (``tabops[train]``) a serving install must not have.
TRAINING_STACK = ("sklearn", "optuna", "dvc", "faker", "matplotlib", "datasketches", "skl2onnx",
                  "onnxmltools", "skops", "flask")  # fmt: skip
PROBE = """
import importlib.metadata as metadata, importlib.util, json, sys
def installed(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
print(json.dumps({
    "present": [m for m in sys.argv[1:] if importlib.util.find_spec(m) is not None],
    "mlflow": installed("mlflow"),
    "mlflow_skinny": installed("mlflow-skinny"),
    "tabops": importlib.util.find_spec("tabops").origin,
}))
"""
LOAD = """
import sys
from pathlib import Path
from tabops.registry.models import Registry
from tabops.serve.model import load_served
from tabops.spec import load_spec
served = load_served(load_spec(Path(sys.argv[1])), Registry(sys.argv[2], "synthetic"), "champion")
print(served.version.version, served.predictor.kind, "mlflow" in sys.modules)
"""


@pytest.fixture(scope="module")
def slim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv made by the images' install script (``deploy/install.sh serve``: the
    locked requirements, then the repository, not editable); its bin folder."""
    venv = tmp_path_factory.mktemp("serve-only") / "venv"
    run_install_script("serve", venv)
    return venv / "bin"


@pytest.fixture(scope="module")
def project(mlflow_server_uri: str, tmp_path_factory: pytest.TempPathFactory) -> ConfiguredProject:
    """A LightGBM champion trained and registered by the full install on the tracking server."""
    return make_configured_project(
        tmp_path_factory.mktemp("served"), tracking_uri=mlflow_server_uri
    )


def _clean_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` without PYTHONPATH: the venv must import its own installed tabops."""
    return {k: v for k, v in (base or dict(os.environ)).items() if k != "PYTHONPATH"}


def test_the_serving_install_has_no_training_stack(slim: Path) -> None:
    done = subprocess.run(
        [str(slim / "python"), "-c", PROBE, *TRAINING_STACK, "tabops.serve.app", "mlflow"],
        capture_output=True, text=True, check=True, env=_clean_env(),
    )  # fmt: skip
    found = json.loads(done.stdout)
    assert found["tabops"].startswith(str(slim.parent)), found["tabops"]  # not the worktree
    assert found["present"] == ["tabops.serve.app", "mlflow"]
    assert found["mlflow"] is None and found["mlflow_skinny"] is not None
    done = subprocess.run([str(slim / "python"), "-c", "import sklearn"], capture_output=True,
                          text=True, check=False, env=_clean_env())  # fmt: skip
    assert done.returncode == 1 and "No module named 'sklearn'" in done.stderr


def test_a_training_command_names_the_extra_to_install(
    slim: Path, project: ConfiguredProject
) -> None:
    done = subprocess.run(
        [str(slim / "tabops"), "train", "--spec", str(project.folder)],
        capture_output=True, text=True, check=False, cwd=project.folder,
        env=_clean_env(project.env()), timeout=300,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "pip install 'tabops[train]'" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr and "Internal error" not in done.stderr


def test_serves_a_model_registered_on_a_tracking_server(
    slim: Path, project: ConfiguredProject, mlflow_server_uri: str
) -> None:
    version = _champion(project)
    with running_server(
        project, env=_clean_env(project.env()), executable=str(slim / "tabops")
    ) as server:
        ready = httpx.get(f"{server.url}/readyz", timeout=30).json()
        assert (ready["version"], ready["predictor"]) == (version, "onnx")
        answer = httpx.post(f"{server.url}/predict", json=valid_record(), timeout=30)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["version"] == version and body["label"] in ("yes", "no")
    # The same resolution in process: the registry was read without importing mlflow.
    done = subprocess.run(
        [str(slim / "python"), "-c", LOAD, str(project.folder), mlflow_server_uri],
        capture_output=True, text=True, check=False, env=_clean_env(project.env()), timeout=300,
    )  # fmt: skip
    assert done.stdout.split() == [version, "onnx", "False"], done.stderr


def _champion(project: ConfiguredProject) -> str:
    from tabops.registry.models import CHAMPION, registry_for

    found = registry_for(project.spec, project.ctx).by_alias(CHAMPION)
    assert found is not None
    return found.version

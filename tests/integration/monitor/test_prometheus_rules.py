"""The generated rules file is accepted by the real ``promtool check rules``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from tabops.monitor.prometheus import rules_yaml
from tests.unit.monitor.test_prometheus import spec_with_alerts


def test_promtool_accepts_the_rules_file(tmp_path: Path) -> None:
    assert shutil.which("promtool"), "promtool is missing: run make setup-prometheus"
    path = tmp_path / "rules.yml"
    path.write_text(rules_yaml(spec_with_alerts()))
    assert yaml.safe_load(path.read_text())["groups"]
    checked = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 7 rules found" in checked.stdout

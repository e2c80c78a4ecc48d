"""`make audit`: pip-audit over the lock files; fails on a known vulnerability that has a fix.

pip-audit itself fails on every advisory; an advisory without a fixed release is reported
here but does not fail (nothing to bump to yet). A package pip-audit could not look up fails
too, so an unreachable advisory service never reads as "no known vulnerabilities".
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

LOCKS = ("requirements/serve.txt", "requirements/full.txt", "requirements/dev.txt")


def main() -> int:
    root = Path(__file__).resolve().parents[1]
    dependencies: dict[str, dict[str, Any]] = {}  # one entry per name and version
    for lock in LOCKS:  # one run each: pip-audit refuses a name pinned twice across files
        report = _audit(root / lock)
        if report is None:
            return 2
        for dependency in report["dependencies"]:
            dependencies[f"{dependency['name']} {dependency.get('version', '?')}"] = dependency
    fixable, unfixed, skipped = judge(dependencies)
    audited = len(dependencies) - len(skipped)
    print(f"pip-audit: {audited} locked packages checked")
    for title, lines in (("FIXABLE (bump the range in pyproject.toml, then make lock)", fixable),
                         ("without a fix yet", unfixed), ("NOT CHECKED", skipped)):  # fmt: skip
        if lines:
            print(f"{title}:\n  " + "\n  ".join(lines))
    return 1 if fixable or skipped else 0


def judge(dependencies: dict[str, dict[str, Any]]) -> tuple[list[str], list[str], list[str]]:
    """pip-audit's dependency entries (by "name version") sorted into advisories with a fixed
    release, advisories without one, and packages that could not be checked."""
    fixable, unfixed, skipped = [], [], []
    for name, dependency in sorted(dependencies.items()):
        if "skip_reason" in dependency:
            skipped.append(f"{name}: {dependency['skip_reason']}")
        for vuln in dependency.get("vulns", []):
            line = f"{name}: {vuln['id']} (fixed in {', '.join(vuln['fix_versions']) or 'none'})"
            (fixable if vuln["fix_versions"] else unfixed).append(line)
    return fixable, unfixed, skipped


def _audit(lock: Path) -> dict[str, Any] | None:
    """pip-audit's JSON report on one lock file (hashed pins: no resolution, no install)."""
    pip_audit = Path(sys.executable).with_name("pip-audit")
    command = [str(pip_audit), "--disable-pip", "--progress-spinner", "off", "--format", "json",
               "-r", str(lock)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        return dict(json.loads(done.stdout))
    except json.JSONDecodeError:
        print(f"pip-audit failed on {lock}:\n{done.stderr or done.stdout}", file=sys.stderr)
        return None


if __name__ == "__main__":
    sys.exit(main())

"""Running the images' install script (``deploy/install.sh``) as the Dockerfiles do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "deploy" / "install.sh"


def run_install_script(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``deploy/install.sh ARGS`` with this interpreter's Python; uv (installed beside it by
    ``make install``) is put on PATH so installs reuse its cache. PYTHONPATH is dropped: the
    venv must import its own installed tabops, not the work tree's."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHON"] = sys.executable
    done = subprocess.run(
        ["bash", str(SCRIPT), *map(str, args)],
        capture_output=True, text=True, check=False, env=env, timeout=1200,
    )  # fmt: skip
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done

"""Y2 at the command line: with secrets in the environment (URL passwords, API keys, S3 and
MLflow passwords) and --debug on, neither the console nor the logs print one, on failures
that name the services (an unreachable store, a refused production credential)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TABOPS = str(Path(sys.executable).with_name("tabops"))
CHURN = Path(__file__).resolve().parents[2] / "examples" / "churn" / "tabops.yaml"
SECRETS = {
    "db": "Zz9-hunter2-store-secret",
    "mlflow": "Mm7-tracking-secret-x",
    "key": "pk-first-0c6f1d2a9b7e4f35",
    "admin": "ak-admin-5a4b3c2d1e0f9a8b",
    "aws": "aws-Secret-0123456789abcdef",
}


def _run(tmp_path: Path, *args: str, **extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TABOPS_", "MLFLOW_"))}
    env |= {
        "TABOPS_HOME": str(tmp_path / "home"),
        "TABOPS_DATABASE_URL": f"postgresql://tabops:{SECRETS['db']}@127.0.0.1:1/tabops",
        "MLFLOW_TRACKING_URI": f"http://ops:{SECRETS['mlflow']}@127.0.0.1:1",
        "TABOPS_API_KEYS": SECRETS["key"],
        "TABOPS_ADMIN_KEY": SECRETS["admin"],
        "AWS_SECRET_ACCESS_KEY": SECRETS["aws"],
        **extra,
    }
    (tmp_path / "tabops.yaml").write_text(CHURN.read_text())
    done = subprocess.run([TABOPS, "--debug", *args], capture_output=True, text=True,
                          check=False, env=env, cwd=tmp_path, timeout=300)  # fmt: skip
    assert done.returncode != 0  # each case fails on a service, which its message names
    return done.stdout + done.stderr


@pytest.mark.parametrize(
    ("args", "extra", "named"),
    [
        (("history",), {}, "tabops store"),
        (("history",), {"TABOPS_ENV": "production", "MLFLOW_TRACKING_PASSWORD": "admin",
                        "MLFLOW_TRACKING_USERNAME": "ops"}, "MLFLOW_TRACKING_PASSWORD"),
    ],
    ids=["unreachable store", "production refusal"],
)  # fmt: skip
def test_failures_print_no_secret(
    tmp_path: Path, args: tuple[str, ...], extra: dict[str, str], named: str
) -> None:
    output = _run(tmp_path, *args, **extra)
    assert named in " ".join(output.split())
    for name, secret in SECRETS.items():
        assert secret not in output, f"the {name} secret was printed"

"""A throwaway ``mlflow server`` on loopback, for tests and local trials of the production setup.

The server stores runs and the registry in ``backend_url`` (e.g. a database of
:func:`tabops.devtools.postgres.postgres_cluster`) and proxies artifacts to a local folder or
an ``s3://`` URL (the endpoint and credentials from the environment, e.g.
:class:`tabops.devtools.s3.S3Server`'s ``env``).
Nothing here is used by tabops itself at run time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tabops.devtools.postgres import free_port

#: Seconds to wait for ``/health``: startup takes ~15 s, much longer on a loaded machine.
STARTUP_TIMEOUT = 180.0


class MlflowServerError(RuntimeError):
    """The server exited or did not become healthy; the message holds its log's tail."""


def mlflow_executable() -> Path:
    """The ``mlflow`` script of the running interpreter's environment."""
    return Path(sys.executable).with_name("mlflow")


def backend_store_url(url: str) -> str:
    """``url`` with a ``postgresql://`` scheme made explicit as ``postgresql+psycopg://``
    (psycopg 3; SQLAlchemy would otherwise pick psycopg2)."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


@contextmanager
def mlflow_server(
    backend_url: str,
    artifacts: Path | str,
    timeout: float = STARTUP_TIMEOUT,
    log_path: Path | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """Run ``mlflow server`` on a free port of 127.0.0.1 until exit; yields its tracking URI.

    ``backend_url`` is the SQLAlchemy URL of the backend store; artifacts go to the folder
    ``artifacts`` (created if missing) or to an ``s3://bucket/prefix`` URL. The server's log
    goes to ``log_path`` (default: ``mlflow-server.log`` beside a local artifacts folder);
    ``env`` is added to its environment.
    """
    executable = mlflow_executable()
    if not executable.exists():
        raise MlflowServerError(f"No mlflow executable at {executable}: install mlflow.")
    if isinstance(artifacts, Path):
        artifacts = artifacts.resolve()
        artifacts.mkdir(parents=True, exist_ok=True)
        log_path = log_path or artifacts.parent / "mlflow-server.log"
    elif log_path is None:
        raise ValueError("an artifacts URL needs a log_path for the server's log")
    port = free_port()
    command = [
        str(executable), "server",
        "--backend-store-uri", backend_store_url(backend_url),
        "--artifacts-destination", str(artifacts),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    env = (
        os.environ
        | (env or {})
        | {
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # no huey workers: starts ~3x faster
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }
    )
    uri = f"http://127.0.0.1:{port}"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: stopping it stops uvicorn too
        )
    try:
        _wait_healthy(process, uri, log_path, timeout)
        yield uri
    finally:
        stop_process(process)


def _wait_healthy(
    process: subprocess.Popen[bytes], uri: str, log_path: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise MlflowServerError(
                f"mlflow server exited with code {process.returncode} before it was healthy. "
                f"Log {log_path}:\n{tail(log_path)}"
            )
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise MlflowServerError(
        f"mlflow server at {uri} was not healthy after {timeout:.0f} s. "
        f"Log {log_path}:\n{tail(log_path)}"
    )


def stop_process(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM the server's process group, then SIGKILL what is left after ``grace`` s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        # The parent is gone; make sure no worker of its group outlives it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])

"""A throwaway S3 server on loopback (moto in server mode), for tests and the rehearsal.

Real S3 over HTTP: boto3, Arrow's S3 client, DVC and the MLflow server talk to it as to AWS,
through ``AWS_ENDPOINT_URL``. Nothing here is used by tabops itself at run time.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tabops.devtools.mlflow_server import stop_process, tail
from tabops.devtools.postgres import free_port

STARTUP_TIMEOUT = 60.0


class S3ServerError(RuntimeError):
    """The server exited or did not answer; the message holds its log's tail."""


@dataclass(frozen=True)
class S3Server:
    """A running S3 server: its endpoint, and the environment a client needs for it."""

    endpoint: str
    access_key: str = "tabops-test-key"
    secret_key: str = "tabops-test-secret"
    region: str = "us-east-1"

    @property
    def env(self) -> dict[str, str]:
        """The AWS variables that point boto3, Arrow, DVC and MLflow at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint,  # the MLflow server's own variable
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def create_bucket(self, name: str) -> str:
        """Create bucket ``name``; returns ``s3://name``."""
        import pyarrow.fs as pafs

        filesystem = pafs.S3FileSystem(
            endpoint_override=self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            allow_bucket_creation=True,
        )
        filesystem.create_dir(name)
        return f"s3://{name}"

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key in ``bucket`` under ``prefix``, sorted."""
        import pyarrow.fs as pafs

        filesystem = pafs.S3FileSystem(
            endpoint_override=self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
        )
        where = f"{bucket}/{prefix}".rstrip("/")
        found = filesystem.get_file_info(
            pafs.FileSelector(where, recursive=True, allow_not_found=True)
        )
        files = [info.path for info in found if info.type == pafs.FileType.File]
        return sorted(path.removeprefix(f"{bucket}/") for path in files)


@contextmanager
def s3_server(log_path: Path, timeout: float = STARTUP_TIMEOUT) -> Iterator[S3Server]:
    """Run ``moto_server`` on a free port of 127.0.0.1 until exit (its log to ``log_path``)."""
    executable = Path(sys.executable).with_name("moto_server")
    if not executable.exists():
        raise S3ServerError(f"No moto_server at {executable}: pip install 'moto[server]'.")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [str(executable), "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_ready(process, endpoint, log_path, timeout)
        yield S3Server(endpoint)
    finally:
        stop_process(process)


def _wait_ready(
    process: subprocess.Popen[bytes], endpoint: str, log_path: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise S3ServerError(
                f"moto_server exited with code {process.returncode}. "
                f"Log {log_path}:\n{tail(log_path)}"
            )
        try:
            # moto's own reset/health route answers once the server listens.
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=5):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise S3ServerError(
        f"moto_server at {endpoint} did not answer after {timeout:.0f} s. "
        f"Log {log_path}:\n{tail(log_path)}"
    )

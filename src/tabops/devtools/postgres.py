"""A throwaway PostgreSQL cluster on loopback, for tests, benchmarks and local trials.

``initdb`` + ``pg_ctl`` on a free port in a temporary folder, trust auth on 127.0.0.1 only.
Nothing here is used by tabops itself at run time.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_SEARCH = ["/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/bin"]


def find_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: $PG_BINDIR, PATH, or the usual places."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent  # through symlinks, to the folder with pg_ctl
    for pattern in _SEARCH:
        for candidate in sorted(Path("/").glob(pattern.lstrip("/")), reverse=True):
            if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
                return candidate
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresCluster:
    """A running throwaway cluster."""

    bindir: Path
    datadir: Path
    port: int
    user: str

    @property
    def url(self) -> str:
        """libpq URL of the ``postgres`` database."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        # PostgreSQL refuses to run as root: drop to the cluster's user.
        user = self.user if os.geteuid() == 0 else None
        return subprocess.run(command, check=True, capture_output=True, text=True, user=user)

    def stop(self) -> None:
        """Stop the server (fast shutdown); the data folder stays."""
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop")

    def start(self) -> None:
        """Start (or restart) the server and wait until it accepts connections."""
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.datadir} -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.datadir), "-o", options, "-l",
            str(self.datadir / "server.log"), "-w", "-t", "60", "start",
        )  # fmt: skip

    def create_database(self, name: str) -> str:
        """Create database ``name`` (letters, digits, underscores); returns its URL."""
        import psycopg

        if not name.replace("_", "").isalnum():
            raise ValueError(f"database name {name!r}: use letters, digits and underscores")
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # name checked above
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"


def _server_user() -> str:
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise RuntimeError("running as root needs a 'postgres' system user") from exc
    return "postgres"


@contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Start a throwaway cluster; stop it and delete its data on exit."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: run 'make setup-postgres' "
            "(apt-get install postgresql) or set PG_BINDIR."
        )
    user = _server_user()
    parent = Path(tempfile.mkdtemp(prefix="tabops-pg-"))
    datadir = parent / "data"
    if os.geteuid() == 0:
        shutil.chown(parent, user)
    cluster = PostgresCluster(bindir=bindir, datadir=datadir, port=free_port(), user=user)
    cluster._run(
        "initdb", "-D", str(datadir), "-U", user, "--auth=trust", "--no-sync",
        "--encoding=UTF8", "--locale=C",
    )  # fmt: skip
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop()
        shutil.rmtree(parent, ignore_errors=True)

"""Running the service on uvicorn: the port and the model checked before serving, one or
several workers, and a shutdown that fails readiness first (S7)."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from tabops.errors import TabopsError
from tabops.registry.models import Registry
from tabops.serve.app import OPTIONS_ENV, auth_for, create_app
from tabops.serve.model import ServedModel, load_served
from tabops.settings import load_settings
from tabops.spec import ProjectSpec, find_spec

log = logging.getLogger(__name__)


class _DrainingServer(uvicorn.Server):
    """Marks the app as draining (``/readyz`` 503) as soon as the stop signal arrives, and
    says so once it listens."""

    def __init__(
        self, config: uvicorn.Config, state: Any, on_listening: Callable[[], None]
    ) -> None:
        super().__init__(config)
        self.tabops_state, self.on_listening = state, on_listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            self.on_listening()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.tabops_state.draining = True
        super().handle_exit(sig, frame)


def preflight(spec: ProjectSpec, alias: str) -> ServedModel:
    """Fail before serving, with a clear message: keys, the alias, and the version loaded and
    checked (artifact hashes, schema, smoke prediction) as the server will load it."""
    settings = load_settings()
    auth = auth_for(settings)
    served = load_served(spec, Registry(settings.mlflow_uri, spec.name), alias)
    if not auth.enabled:
        log.warning(
            "No API keys set (TABOPS_API_KEYS, TABOPS_ADMIN_KEY): every route is open. "
            "Fine for the embedded demo on loopback; production requires keys."
        )
    return served


def listening_socket(host: str, port: int) -> socket.socket:
    """The server's socket, bound (as uvicorn binds it); a clear error when it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise TabopsError(
                f"port {port} on {host} is in use; pick another with --port."
            ) from None
        raise TabopsError(
            f"Cannot listen on {host} port {port}: {exc.strerror or exc}; check --host and --port."
        ) from None
    return sock


def serve(
    spec: ProjectSpec,
    overrides: list[str],
    alias: str,
    host: str,
    port: int,
    workers: int,
    log_level: str = "warning",
    announce: Callable[[str, int], None] = lambda version, port: None,
) -> None:
    """Check the port and the model, serve until SIGTERM/SIGINT (``announce(version, port)``
    once listening); returns after a graceful shutdown."""
    sock = listening_socket(host, port)  # before loading anything: a busy port fails at once
    try:
        served = preflight(spec, alias)
        _run(spec, overrides, alias, sock, workers, log_level, served, announce)
    finally:
        sock.close()


def _run(
    spec: ProjectSpec,
    overrides: list[str],
    alias: str,
    sock: socket.socket,
    workers: int,
    log_level: str,
    served: ServedModel,
    announce: Callable[[str, int], None],
) -> None:
    # uvicorn re-raises the stop signal after its graceful shutdown, which would end the
    # process with status 143; a drained server has done its job, so it exits 0 instead.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, lambda *_: None)
    host, port = sock.getsockname()[:2]
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        "access_log": False,
        "log_level": log_level,
        "timeout_graceful_shutdown": int(spec.serve.grace_period),
        "server_header": False,
    }
    version = served.version.version
    if workers == 1:
        app = create_app(spec, load_settings(), alias)
        app.state.tabops.served = served  # loaded and checked once, by the preflight
        server = _DrainingServer(
            uvicorn.Config(app, **common), app.state.tabops, lambda: announce(version, port)
        )
        server.run(sockets=[sock])
        if not server.started:
            raise TabopsError("The server did not start; the log above says why.")
        return
    # Several workers: each process builds its own app from these options, on a socket uvicorn
    # binds again (the checked one is released first).
    sock.close()
    os.environ[OPTIONS_ENV] = json.dumps(
        {"spec": str(find_spec(spec.root)), "overrides": overrides, "alias": alias}
    )
    metrics_dir = Path(tempfile.mkdtemp(prefix="tabops-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    announce(version, port)
    try:
        uvicorn.run("tabops.serve.app:app_from_env", factory=True, workers=workers, **common)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)

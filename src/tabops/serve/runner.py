"""Running the service on uvicorn: checks before binding, one or several workers, and a
shutdown that fails readiness first (S7)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from tabops.errors import TabopsError
from tabops.model.columns import input_schema
from tabops.registry.models import Registry
from tabops.serve.app import OPTIONS_ENV, auth_for, create_app
from tabops.serve.model import RefusedVersionError
from tabops.settings import load_settings
from tabops.spec import ProjectSpec, find_spec

log = logging.getLogger(__name__)


class _DrainingServer(uvicorn.Server):
    """Marks the app as draining (``/readyz`` 503) as soon as the stop signal arrives."""

    def __init__(self, config: uvicorn.Config, state: Any) -> None:
        super().__init__(config)
        self.tabops_state = state

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.tabops_state.draining = True
        super().handle_exit(sig, frame)


def preflight(spec: ProjectSpec, alias: str) -> str:
    """Fail before binding, with a clear message: keys, the alias, the version's schema."""
    settings = load_settings()
    auth = auth_for(settings)
    version = Registry(settings.mlflow_uri, spec.name).by_alias(alias)
    if version is None:
        raise TabopsError(
            f"Model {spec.name} has no '{alias}' version to serve. Register one with "
            "'tabops register' (or 'tabops run') first."
        )
    if version.input_schema != input_schema(spec):
        raise RefusedVersionError(
            f"Version {version.version} of {spec.name} was trained with other inputs than "
            "tabops.yaml declares; serve it with the spec it was trained with, or retrain."
        )
    if not auth.enabled:
        log.warning(
            "No API keys set (TABOPS_API_KEYS, TABOPS_ADMIN_KEY): every route is open. "
            "Fine for the embedded demo on loopback; production requires keys."
        )
    return version.version


def serve(
    spec: ProjectSpec,
    overrides: list[str],
    alias: str,
    host: str,
    port: int,
    workers: int,
    log_level: str = "warning",
) -> None:
    """Serve until SIGTERM/SIGINT; returns after a graceful shutdown."""
    settings = load_settings()
    # uvicorn re-raises the stop signal after its graceful shutdown, which would end the
    # process with status 143; a drained server has done its job, so it exits 0 instead.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, lambda *_: None)
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
    if workers == 1:
        app = create_app(spec, settings, alias)
        server = _DrainingServer(uvicorn.Config(app, **common), app.state.tabops)
        server.run()
        if not server.started:
            raise TabopsError("The server did not start; the log above says why.")
        return
    # Several workers: each process builds its own app from these options.
    os.environ[OPTIONS_ENV] = json.dumps(
        {"spec": str(find_spec(spec.root)), "overrides": overrides, "alias": alias}
    )
    metrics_dir = Path(tempfile.mkdtemp(prefix="tabops-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    try:
        uvicorn.run("tabops.serve.app:app_from_env", factory=True, workers=workers, **common)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)

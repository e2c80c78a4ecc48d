"""The MLflow client: connecting (a tracking server is probed first), and MLflow's errors
turned into clear :class:`~tabops.errors.RegistryError` messages. Light to import: mlflow
itself is imported only when a client is made."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tabops.errors import RegistryError


def _quiet_mlflow() -> None:
    # Set before mlflow is imported: no git probing, no run links printed on stdout.
    for name, value in {
        "GIT_PYTHON_REFRESH": "quiet",
        "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "MLFLOW_LOGGING_LEVEL": "WARNING",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",  # fail in seconds, not minutes
    }.items():
        os.environ.setdefault(name, value)
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def connect(uri: str) -> Any:
    """An MlflowClient on ``uri`` (also made the fluent API's URI, for model logging).

    A tracking server is probed first: MLflow's own client retries an unreachable one with
    backoff for minutes before it gives up.
    """
    _quiet_mlflow()
    if uri.startswith(("http://", "https://")):
        _probe(uri)
    import mlflow

    configured = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    # MLflow also exports the URI as MLFLOW_TRACKING_URI, which Settings reads as the user's
    # choice: every later Settings in this process (another workspace's) would silently use
    # this store. Keep the environment as the user set it.
    if configured is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = configured
    return mlflow.MlflowClient(uri)


def _probe(uri: str) -> None:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=10):
            return
    except urllib.error.HTTPError:
        return  # it answers; a proxy may guard /health, let MLflow's requests tell the rest
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RegistryError(
            f"Cannot reach the MLflow tracking server at {redact_uri(uri)}: {reason}. Check that "
            "it is running and that MLFLOW_TRACKING_URI is right."
        ) from exc


#: MLflow error codes that mean "no such thing", not "the service failed".
MISSING = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})


@contextmanager
def registry_errors(uri: str, passthrough: bool = False) -> Iterator[None]:
    """Turn MLflow's connection and server errors into a clear :class:`RegistryError`; with
    ``passthrough``, "does not exist" errors stay MlflowException for the caller to handle."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        if passthrough and exc.error_code in MISSING:
            raise
        message = str(exc).strip().splitlines()[0][:300]
        status = int(exc.get_http_status_code())  # type: ignore[no-untyped-call]
        if status < 500 and exc.error_code != "INTERNAL_ERROR":
            raise RegistryError(
                f"The MLflow tracking store at {redact_uri(uri)} refused a request: {message}"
            ) from exc
        raise RegistryError(
            f"The MLflow tracking store at {redact_uri(uri)} failed: {message}. Check that it is "
            "running and that MLFLOW_TRACKING_URI is right."
        ) from exc


def redact_uri(uri: str) -> str:
    """``uri`` with any password hidden, for messages."""
    from tabops.store.db import redact

    return redact(uri) if "://" in uri and "@" in uri else uri

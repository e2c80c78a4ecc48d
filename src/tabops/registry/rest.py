"""Reading an MLflow tracking server's registry over its REST API, without importing mlflow.

Serving needs four reads: a version by alias, a version by number, its run (metrics, start
time, artifact root) and a few artifact files. Through MLflow's client they cost ~4 s of
imports before the first request; here they are plain HTTP requests from the standard
library. Writes, and artifact stores the server does not proxy (``s3://`` and the like), stay
with the MLflow client (:mod:`tabops.registry.models` falls back to it).

Authentication and TLS follow MLflow's own environment variables; a setup this module does
not reproduce (an auth plugin, a client certificate) makes :func:`rest_supported` false, so
the MLflow client handles it.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import ssl
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tabops.errors import RegistryError
from tabops.registry.client import MISSING, redact_uri

#: MLflow settings only its own client understands: with one of them set, serving uses it.
_CLIENT_ONLY = ("MLFLOW_TRACKING_AUTH", "MLFLOW_TRACKING_CLIENT_CERT_PATH")
#: Attempts for a request that failed to connect or got a 429/5xx, and the first pause.
_ATTEMPTS, _BACKOFF = 3, 0.5
_CHUNK = 1 << 20


def rest_supported(uri: str) -> bool:
    """Whether ``uri`` is a tracking server this reader can talk to on its own."""
    return uri.startswith(("http://", "https://")) and not any(
        os.environ.get(name) for name in _CLIENT_ONLY
    )


class RestReader:
    """The registry reads of one tracking server, as JSON documents of its REST API."""

    def __init__(self, uri: str) -> None:
        self.uri = uri.rstrip("/")
        self._roots: dict[str, str] = {}  # run id -> artifact root (fixed for a run's life)
        self._folder: Path | None = None

    def version(self, name: str, version: str) -> dict[str, Any] | None:
        """``model_version`` of ``name`` version ``version``, or None when there is none."""
        found = self._get("mlflow/model-versions/get", name=name, version=version)
        return None if found is None else dict(found["model_version"])

    def version_by_alias(self, name: str, alias: str) -> dict[str, Any] | None:
        """The ``model_version`` ``alias`` points at, or None (no such model or alias)."""
        found = self._get("mlflow/registered-models/alias", name=name, alias=alias)
        return None if found is None else dict(found["model_version"])

    def run(self, run_id: str) -> dict[str, Any]:
        """The run's ``info`` and ``data`` (metrics, params, tags)."""
        found = self._get("mlflow/runs/get", run_id=run_id)
        if found is None:
            raise RegistryError(f"The MLflow tracking store at {self._shown} has no run {run_id}.")
        run = dict(found["run"])
        self._roots[run_id] = run["info"]["artifact_uri"]
        return run

    def artifact(self, run_id: str, path: str) -> Path | None:
        """A run's artifact as a local file: downloaded through the server's artifact proxy
        (``mlflow-artifacts:``) or read in place from a local artifact root; None for other
        stores (the MLflow client reads those)."""
        root = self._roots.get(run_id) or self.run(run_id)["info"]["artifact_uri"]
        parsed = urllib.parse.urlparse(root)
        if parsed.scheme in ("", "file"):
            return local_artifact(root, run_id, path)
        if parsed.scheme != "mlflow-artifacts":
            return None
        # mlflow-artifacts://host:port/... names the server; without a host it is this one.
        base = self.uri
        if parsed.netloc:
            base = f"{urllib.parse.urlparse(self.uri).scheme}://{parsed.netloc}"
        quoted = urllib.parse.quote(f"{parsed.path.strip('/')}/{path}")
        return self._download(f"{base}/api/2.0/mlflow-artifacts/artifacts/{quoted}", run_id, path)

    @property
    def _shown(self) -> str:
        return redact_uri(self.uri)

    def _get(self, endpoint: str, **query: str) -> dict[str, Any] | None:
        """A GET of the REST API's JSON; None when MLflow answers "does not exist"."""
        url = f"{self.uri}/api/2.0/{endpoint}?{urllib.parse.urlencode(query)}"
        try:
            with self._open(url) as response:
                return dict(json.load(response))
        except urllib.error.HTTPError as exc:
            error = _error_of(exc)
            if error.get("error_code") in MISSING:
                return None
            raise self._refused(exc, error) from exc

    def _download(self, url: str, run_id: str, path: str) -> Path:
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="tabops-artifacts-"))
        target = self._folder / run_id / path
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.part")
        try:
            with self._open(url) as response, partial.open("wb") as sink:
                shutil.copyfileobj(response, sink, _CHUNK)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise RegistryError(f"Run {run_id} has no artifact {path}.") from exc
            raise self._refused(exc, _error_of(exc)) from exc
        except OSError as exc:  # the connection broke mid-file
            raise RegistryError(
                f"Downloading {path} of run {run_id} from {self._shown} failed: {exc}"
            ) from exc
        partial.replace(target)
        return target

    def _open(self, url: str) -> Any:
        """The response to a GET of ``url``, tried again after a connection failure or a
        429/5xx (as MLflow's client does, with a shorter backoff)."""
        request = urllib.request.Request(url, headers=_auth_headers())
        for attempt in range(_ATTEMPTS):
            try:
                return urllib.request.urlopen(request, timeout=_timeout(), context=_tls())
            except urllib.error.HTTPError as exc:
                if (exc.code != 429 and exc.code < 500) or attempt == _ATTEMPTS - 1:
                    raise
            except (OSError, ValueError) as exc:
                if attempt == _ATTEMPTS - 1:
                    reason = getattr(exc, "reason", exc)
                    raise RegistryError(
                        f"Cannot reach the MLflow tracking server at {self._shown}: {reason}. "
                        "Check that it is running and that MLFLOW_TRACKING_URI is right."
                    ) from exc
            time.sleep(_BACKOFF * 2**attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _refused(self, exc: urllib.error.HTTPError, error: dict[str, Any]) -> RegistryError:
        """The message :func:`~tabops.registry.client.registry_errors` gives for the same
        answer through MLflow's client."""
        message = str(error.get("message") or exc.reason).strip().splitlines()[0][:300]
        if exc.code < 500 and error.get("error_code") != "INTERNAL_ERROR":
            return RegistryError(
                f"The MLflow tracking store at {self._shown} refused a request: {message}"
            )
        return RegistryError(
            f"The MLflow tracking store at {self._shown} failed: {message}. Check that it is "
            "running and that MLFLOW_TRACKING_URI is right."
        )


def local_artifact(root: str, run_id: str, path: str) -> Path | None:
    """The artifact ``path`` under a local artifact root (a path or ``file:`` URI), read in
    place; None for a root elsewhere."""
    parsed = urllib.parse.urlparse(root)
    if parsed.scheme not in ("", "file"):
        return None
    local = Path(urllib.parse.unquote(parsed.path)) / path
    if not local.is_file():
        raise RegistryError(f"Run {run_id} has no artifact {path} (looked in {local}).")
    return local


def tags_of(entity: dict[str, Any]) -> dict[str, str]:
    """A REST entity's ``tags`` list (``[{key, value}]``) as a dict."""
    return {tag["key"]: tag.get("value", "") for tag in entity.get("tags", [])}


def _error_of(exc: urllib.error.HTTPError) -> dict[str, Any]:
    """MLflow's JSON error body (``error_code``, ``message``), or {} when it sent none."""
    try:
        return dict(json.loads(exc.read() or b"{}"))
    except (ValueError, TypeError, OSError):
        return {}


def _auth_headers() -> dict[str, str]:
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if user:
        secret = f"{user}:{os.environ.get('MLFLOW_TRACKING_PASSWORD', '')}"
        return {"Authorization": f"Basic {base64.b64encode(secret.encode()).decode()}"}
    return {}


def _tls() -> ssl.SSLContext | None:
    if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
        return ssl._create_unverified_context()  # the user's explicit choice, as in MLflow
    cert = os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH")
    return ssl.create_default_context(cafile=cert) if cert else None


def _timeout() -> float:
    return float(os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT", "120"))

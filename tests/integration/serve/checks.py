"""Checks shared by the serving fuzz, limit and auth tests: the one error shape (S3) and a scan
of every error body for things a server must never show a client (tracebacks, paths, DSNs,
SQL, keys). ``TALLY`` counts what was checked, for the reports of S2/S3."""

from __future__ import annotations

import contextlib
import re
import time
from collections import Counter
from typing import Any

import orjson
import pytest

from tests.integration.serve.conftest import ServedProject, make_project

#: Counters for the reports: responses seen, error bodies scanned, server errors, leaks.
TALLY: Counter[str] = Counter()

#: Never in a response body unless the client sent it itself.
FORBIDDEN = (
    "Traceback",
    'File "',
    "/work",
    "/tmp",
    "/home",
    ".py",
    ".tabops",
    "site-packages",
    "postgresql://",
    "postgres://",
    "sqlite:///",
    "psycopg",
    "sqlalchemy",
    "sqlite3.",
    "OperationalError",
    "IntegrityError",
    "mlruns",
    "mlartifacts",
)
#: SQL as a server would leak it (upper-case keywords as whole words).
SQL = re.compile(r"\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|CREATE TABLE|COPY \w+)\b")


def header(headers: Any, name: str) -> str | None:
    """One header's value from httpx's headers or schemathesis's (which maps to lists)."""
    value = headers.get(name)
    if isinstance(value, list):
        return str(value[0]) if value else None
    return None if value is None else str(value)


def strings_in(value: Any) -> list[str]:
    """Every string (keys and values) in a parsed JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *strings_in(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return [] if value is None else [str(value)]


def sent_text(body: Any = None, *extra: str) -> str:
    """What a client sent, as text: raw bytes decoded, parsed JSON strings, URL parts."""
    parts = list(extra)
    if isinstance(body, bytes | bytearray):
        parts.append(bytes(body).decode("utf-8", "replace"))
        with contextlib.suppress(orjson.JSONDecodeError):
            parts += strings_in(orjson.loads(body))
    elif body is not None:
        parts += strings_in(body)
    return "\n".join(parts)


def leaks(text: str, sent: str = "", secrets: tuple[str, ...] = ()) -> list[str]:
    """What ``text`` (a response body) shows that it must not; a token the client sent itself is
    only an echo. Secrets (API keys, the workspace path) are never allowed."""
    found = [token for token in FORBIDDEN if token in text and token not in sent]
    found += [m.group(0) for m in SQL.finditer(text) if m.group(0) not in sent]
    found += [f"secret {s[:4]}..." for s in secrets if s and s in text]
    return found


def check_error(
    status: int,
    body: bytes,
    headers: Any = None,
    sent: str = "",
    secrets: tuple[str, ...] = (),
) -> list[str]:
    """Problems with one error response: not the one shape, or leaking. Empty when fine."""
    TALLY["error_bodies"] += 1
    problems: list[str] = []
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return [f"{status}: body is not JSON: {body[:200]!r}"]
    if not isinstance(parsed, dict) or set(parsed) != {"error"}:
        problems.append(f"{status}: top level is not exactly {{'error'}}: {body[:200]!r}")
    else:
        error = parsed["error"]
        keys = set(error) if isinstance(error, dict) else set()
        if (
            not {"code", "message", "request_id"}
            <= keys
            <= {
                "code",
                "message",
                "request_id",
                "details",
            }
        ):
            problems.append(f"{status}: error keys {sorted(keys)}: {body[:200]!r}")
        else:
            if not (isinstance(error["code"], str) and error["code"]):
                problems.append(f"{status}: code {error['code']!r}")
            if not isinstance(error["message"], str) or not error["message"]:
                problems.append(f"{status}: message {error['message']!r}")
            if not (isinstance(error["request_id"], str) and error["request_id"]):
                problems.append(f"{status}: request_id {error['request_id']!r}")
            elif headers is not None and header(headers, "x-request-id") != error["request_id"]:
                problems.append(f"{status}: request_id differs from the X-Request-ID header")
    # The raw body and its parsed strings: a traceback escaped in JSON reads File \"...
    text = body.decode("utf-8", "replace")
    with contextlib.suppress(orjson.JSONDecodeError):
        text += "\n" + "\n".join(strings_in(orjson.loads(body)))
    found = leaks(text, sent, secrets)
    if found:
        TALLY["leaks"] += 1
        problems.append(f"{status}: leaks {found}: {body[:300]!r}")
    return problems


def check_response(
    status: int,
    body: bytes,
    headers: Any = None,
    sent: str = "",
    secrets: tuple[str, ...] = (),
) -> list[str]:
    """Problems with any response: a 5xx other than a 503 with Retry-After is a server error;
    every 4xx/5xx body must pass :func:`check_error`."""
    TALLY["responses"] += 1
    problems: list[str] = []
    if status >= 500:
        retry = headers is not None and header(headers, "retry-after")
        if status != 503 or not retry:
            TALLY["server_errors"] += 1
            problems.append(f"server error {status}: {body[:300]!r}")
    if status >= 400:
        problems += check_error(status, body, headers, sent, secrets)
    else:
        found = [s for s in secrets if s and s.encode() in body]
        if found:
            TALLY["leaks"] += 1
            problems.append(f"{status}: a secret in a success body")
    return problems


class CountingPredictor:
    """Wraps a served model's predictor: counts the rows it is given (the model must never see
    an invalid record), and can be made slow to fill the in-flight slots (S5)."""

    def __init__(self, inner: Any, delay: float = 0.0, kind: str | None = None) -> None:
        self.inner, self.delay = inner, delay
        self.kind = kind or inner.kind
        self.calls = 0
        self.rows = 0

    def predict_rows(self, rows: Any) -> Any:
        self.calls += 1
        self.rows += len(rows)
        if self.delay:
            time.sleep(self.delay)
        return self.inner.predict_rows(rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


_SHARED: dict[str, ServedProject] = {}


def shared_project(factory: pytest.TempPathFactory) -> ServedProject:
    """One trained, registered champion per test process for the modules that only read it
    (each module's ``project`` fixture returns it, so training runs once per xdist worker)."""
    if "project" not in _SHARED:
        _SHARED["project"] = make_project(factory.mktemp("served-shared"))
    return _SHARED["project"]


def check_registry_reads(registry: Any) -> None:
    """``registry``'s reads (a REST or SQL reader's) answer as MLflow's own client does: the
    same versions, run metrics and artifact bytes, and None or NotFound for what is missing."""
    from pathlib import Path

    import mlflow.artifacts

    from tabops.errors import NotFoundError, RegistryError
    from tabops.registry.compiled import ONNX_FILE, PLAN_FILE
    from tabops.registry.models import CHAMPION, Registry, _version

    found = registry.by_alias(CHAMPION)
    assert found is not None
    assert found == _version(registry.client.get_model_version_by_alias(registry.name, CHAMPION))
    assert registry.version(found.version) == found
    run = registry.client.get_run(found.run_id)
    assert registry.run_summary(found.run_id) == (run.data.metrics, run.info.start_time)
    for name in (ONNX_FILE, PLAN_FILE):
        by_client = mlflow.artifacts.download_artifacts(
            run_id=found.run_id, artifact_path=f"compiled/{name}", tracking_uri=registry.uri
        )
        read = registry.run_artifact(found.run_id, f"compiled/{name}")
        assert read.read_bytes() == Path(by_client).read_bytes()

    assert registry.by_alias("no-such-alias") is None
    assert Registry(registry.uri, "no-such-model").by_alias(CHAMPION) is None
    with pytest.raises(NotFoundError, match="has no version 999"):
        registry.version("999")
    with pytest.raises(RegistryError, match=r"has no artifact compiled/missing\.bin"):
        registry.run_artifact(found.run_id, "compiled/missing.bin")

"""Secrets never reach a log line (Y2): URL passwords and the values given as secrets are
masked by the filter the entry points install, in messages, arguments and tracebacks."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tabops import redaction
from tabops.redaction import MASK, RedactingFilter, redact_text, secrets_in

PASSWORD = "Zz9-hunter2-secret"
KEYS = ("pk-first-0c6f1d2a9b7e4f35", "pk-second-8e21b3c4d5f60718")
ADMIN = "ak-admin-5a4b3c2d1e0f9a8b"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"postgresql://tabops:{PASSWORD}@db:5432/tabops", "postgresql://tabops:***@db:5432/tabops"),
        (f"at postgresql+psycopg://u:{PASSWORD}@h/x", "at postgresql+psycopg://u:***@h/x"),
        (f"'http://admin:{PASSWORD}@mlflow:5000/api'", "'http://admin:***@mlflow:5000/api'"),
        (f"s3://key:{PASSWORD}@bucket/x and redis://:{PASSWORD}@r:6379",
         "s3://key:***@bucket/x and redis://:***@r:6379"),
        ("http://mlflow:5000/api and postgresql://u@h/x", "http://mlflow:5000/api and postgresql://u@h/x"),
        ("at 10:30:00 user:pass@ no scheme", "at 10:30:00 user:pass@ no scheme"),
    ],
)  # fmt: skip
def test_url_passwords_are_masked(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_secrets_of_the_environment_and_its_files(tmp_path: Path) -> None:
    (tmp_path / "admin").write_text(ADMIN + "\n")
    found = secrets_in(
        {
            "TABOPS_API_KEYS": ",".join(KEYS),
            "TABOPS_ADMIN_KEY_FILE": str(tmp_path / "admin"),
            "AWS_SECRET_ACCESS_KEY": PASSWORD,
            "MLFLOW_TRACKING_PASSWORD": "short",  # too short to mask without masking words
            "TABOPS_HOME": "/var/lib/tabops",
            "TABOPS_DATABASE_URL_FILE": str(tmp_path / "admin"),  # not a secret-named variable
            "TABOPS_API_KEYS_FILE": str(tmp_path / "missing"),
        }
    )
    assert found == {*KEYS, ADMIN, PASSWORD}


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing to a buffer through a handler with the filter, as the CLI sets up."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter((*KEYS, ADMIN)))
    logger = logging.getLogger("tabops.test_redaction")
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, buffer
    logger.removeHandler(handler)


def test_no_secret_in_messages_arguments_or_tracebacks(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = logged
    url = f"postgresql://tabops:{PASSWORD}@db:5432/tabops"
    logger.warning("store at %s, keys %s", url, KEYS)
    logger.warning("admin key %s in a message", ADMIN)
    try:
        raise ConnectionError(f"cannot reach {url} with {KEYS[1]}")
    except ConnectionError:
        logger.exception("failed")
    text = buffer.getvalue()
    assert PASSWORD not in text and ADMIN not in text
    assert not any(key in text for key in KEYS)
    assert text.count(MASK) >= 5 and "ConnectionError" in text and "db:5432" in text


def test_install_puts_one_filter_per_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABOPS_ADMIN_KEY", ADMIN)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    redaction.install([handler])
    redaction.install([handler])  # the CLI's callback may run twice in one process
    assert len(handler.filters) == 1
    logger = logging.getLogger("tabops.test_install")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.error("the key was %s", ADMIN)
    finally:
        logger.removeHandler(handler)
    assert ADMIN not in buffer.getvalue() and MASK in buffer.getvalue()

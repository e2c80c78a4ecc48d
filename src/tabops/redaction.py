"""Secrets out of log lines: a logging filter installed by the entry points.

Two kinds of secret can reach a message: a password inside a URL (a database or tracking URL
in an error from a library), and a value that tabops was given as a secret (API keys, S3 and
MLflow passwords). The filter masks both in every record before any handler formats it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

MASK = "***"
#: scheme://user:password@ -> scheme://user:***@ (a password holds no '@', '/' or space).
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@/\s]+@")
#: Environment variables whose values are secrets (their *_FILE twins name files holding one).
_SECRET_NAMES = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|_KEYS$|ACCESS_KEY")
#: Shorter values are not masked: they would mask ordinary words (production refuses them).
_MIN_LENGTH = 6


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with URL passwords and each of ``secrets`` masked."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)
    for secret in sorted(secrets, key=len, reverse=True):  # a key inside a longer one
        text = text.replace(secret, MASK)
    return text


def secrets_in(environ: Mapping[str, str]) -> set[str]:
    """The secret values an environment holds: secret-named variables, the files their
    ``*_FILE`` twins name, and the parts of comma- or line-separated key lists."""
    found: set[str] = set()
    for name, value in environ.items():
        if name.endswith("_FILE") and _SECRET_NAMES.search(name.removesuffix("_FILE")):
            try:
                value = Path(value).read_text(encoding="utf-8")
            except OSError:
                continue
        elif not _SECRET_NAMES.search(name):
            continue
        found.update(part.strip() for part in re.split(r"[,\n]", value))
    return {secret for secret in found if len(secret) >= _MIN_LENGTH}


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message (arguments merged) and in its exception text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, self.secrets)
        return True


def log_to_stderr(logger: logging.Logger) -> None:
    """Send ``logger``'s records to stderr, timestamped, through the filter (``tabops serve``
    and each of its worker processes); once per process."""
    if any(isinstance(h, _ServeHandler) for h in logger.handlers):
        return
    handler = _ServeHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    install([handler])
    logger.addHandler(handler)
    logger.propagate = False


class _ServeHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stderr handler :func:`log_to_stderr` adds (recognised so it is added once)."""


def install(handlers: Iterable[logging.Handler]) -> None:
    """Put one filter, knowing this process's secrets, on each handler (replacing one an
    earlier call put there: the CLI may run more than once in a process)."""
    redacting = RedactingFilter(secrets_in(os.environ))
    for handler in handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
            handler.removeFilter(old)
        handler.addFilter(redacting)

"""The small exception hierarchy every adapter (CLI, HTTP API, DAG) maps to exit or status codes.

A :class:`TabopsError` is a user-facing problem: its message names the file, column or setting
and says how to fix it. Anything else escaping a stage is a bug.
"""

from __future__ import annotations


class TabopsError(Exception):
    """A problem the user can fix; the message says what and how."""

    exit_code = 2
    http_status = 400
    code = "tabops_error"


class SpecError(TabopsError):
    """``tabops.yaml`` (or an override) is missing, malformed or invalid."""

    code = "invalid_spec"


class DataError(TabopsError):
    """Input data cannot be read or does not fit the project (missing target, empty, ...)."""

    code = "invalid_data"


class StoreError(TabopsError):
    """The tabops store (SQLite or PostgreSQL) is unreachable or unusable."""

    http_status = 503
    code = "store_unavailable"


class NotFoundError(TabopsError):
    """A named thing (snapshot, batch, quarantine row) does not exist."""

    http_status = 404
    code = "not_found"


class RegistryError(TabopsError):
    """The MLflow tracking server or model registry is unreachable or refused a request."""

    http_status = 503
    code = "registry_unavailable"


class RulesError(TabopsError):
    """A rules file (``rules.yaml``) is missing, malformed, or a rule's condition is invalid."""

    code = "invalid_rules"

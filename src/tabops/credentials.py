"""What production mode refuses: empty and well-known default credentials.

``TABOPS_ENV=production`` checks every credential tabops hands to a service (the store's
PostgreSQL URL, the MLflow tracking server's, S3's keys when a setting points at ``s3://``,
the server's API keys) before it talks to any of them, and names the setting and the fix. The
checks read values only; they never print one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit

#: Passwords and keys that ship as defaults or examples (images, tutorials, AWS's docs): a
#: deployment still using one is open to anyone who has read the same page. Compared lower-case.
DEFAULTS = frozenset(
    {
        "postgres", "password", "passw0rd", "password1", "password123", "password1234",
        "changeme", "change-me", "change_me", "secret", "admin", "root", "toor", "test",
        "example", "default", "letmein", "123456", "12345678", "tabops", "mlflow", "airflow",
        "grafana", "minio", "minioadmin", "minio123", "akiaiosfodnn7example",
        "wjalrxutnfemi/k7mdeng/bpxrficyexamplekey",
    }
)  # fmt: skip
#: API keys shorter than this are guessable; `secrets.token_urlsafe(24)` makes 32 characters.
MIN_KEY_LENGTH = 16
GENERATE = "python -c 'import secrets; print(secrets.token_urlsafe(24))'"
#: Where boto3 (and so fsspec's s3fs and MLflow) finds credentials other than the two keys.
_S3_CREDENTIAL_SOURCES = (
    "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)  # fmt: skip
#: An endpoint other than AWS's: a MinIO or other S3-compatible server, which has no instance
#: role to fall back on, so it needs keys.
_S3_ENDPOINTS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL")


def is_default(secret: str) -> bool:
    """Whether ``secret`` is empty (or blank) or a well-known default."""
    return not secret.strip() or secret.strip().lower() in DEFAULTS


def url_problem(variable: str, url: str) -> str | None:
    """What is wrong with the credentials in a database or tracking-server URL, if anything.

    PostgreSQL URLs must carry a password; an HTTP URL may carry none (the server may use
    another scheme, checked apart), but one it carries must not be empty or a default.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.partition("+")[0].lower()
    password = unquote(parts.password or "")
    if scheme in ("postgresql", "postgres") and not password:
        return (
            f"{variable} has no password: production needs one "
            "(postgresql://USER:PASSWORD@HOST:PORT/DATABASE; or keep the whole URL in a "
            "secret file named by TABOPS_<NAME>_FILE)"
        )
    if scheme in ("http", "https") and parts.username is not None and not password:
        return f"{variable} names user '{parts.username}' with an empty password"
    if password and is_default(password):
        return f"{variable} uses a default password: set a long random one ({GENERATE})"
    return None


def mlflow_auth_problem(environ: Mapping[str, str]) -> str | None:
    """MLflow's basic-auth client credentials (MLFLOW_TRACKING_USERNAME/PASSWORD), if set."""
    if "MLFLOW_TRACKING_USERNAME" not in environ:
        return None
    if is_default(environ.get("MLFLOW_TRACKING_PASSWORD", "")):
        return (
            "MLFLOW_TRACKING_PASSWORD is empty or a default (MLflow's own default admin "
            "password included): set the tracking server user's real password"
        )
    return None


def s3_problem(urls: Iterable[str], environ: Mapping[str, str]) -> str | None:
    """S3 credentials, when one of ``urls`` (settings' values) is an ``s3://`` location."""
    if not any(url.startswith("s3://") for url in urls):
        return None
    key_id, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    if key_id is None and secret is None:
        custom = next((name for name in _S3_ENDPOINTS if environ.get(name)), None)
        if custom and not any(environ.get(name) for name in _S3_CREDENTIAL_SOURCES):
            return (
                f"an s3:// location on the endpoint {custom} needs credentials: set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_SHARED_CREDENTIALS_FILE)"
            )
        return None  # AWS's own chain: an instance or task role, a profile
    if key_id is None or secret is None or not key_id.strip() or not secret.strip():
        return "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set, and not empty"
    if is_default(key_id) or is_default(secret):
        return (
            "AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is a default (MinIO's minioadmin, "
            "AWS's documentation example): create an access key for tabops"
        )
    return None


def key_problem(variable: str, key: str) -> str | None:
    """What is wrong with one API key (prediction or admin) in production, if anything."""
    if is_default(key):
        return f"{variable} holds an empty or default key: generate one with {GENERATE}"
    if len(key) < MIN_KEY_LENGTH:
        return (
            f"{variable} holds a key shorter than {MIN_KEY_LENGTH} characters: generate one "
            f"with {GENERATE}"
        )
    return None

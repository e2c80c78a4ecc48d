"""Where things live and secrets: environment settings, separate from what the pipeline does.

``tabops.yaml`` says *what* a project does; these settings say *where* it runs. The same
project runs embedded (a workspace folder, SQLite) or in production (PostgreSQL) by changing
only ``TABOPS_DATABASE_URL``.

Every setting can also come from a file: ``TABOPS_<NAME>_FILE`` names a file whose content
(trailing newlines dropped) is the value, for Docker and Kubernetes secrets mounted as files
(``TABOPS_DATABASE_URL_FILE=/run/secrets/database_url``). Setting both is an error.
In production mode (``TABOPS_ENV=production``) :func:`load_settings` refuses empty and default
credentials (:mod:`tabops.credentials`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from tabops import credentials
from tabops.errors import TabopsError
from tabops.storage import is_remote, join, make_parent

#: The kinds of files tabops writes as artifacts, each a folder under the storage root:
#: ``<root>/<kind>/<project>/...`` (quarantine exports, reports, batch outputs).
ArtifactKind = Literal["exports", "reports", "batch"]


class Settings(BaseSettings):
    """Environment settings, read from ``TABOPS_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="TABOPS_", extra="ignore", populate_by_name=True)

    home: Path = Field(
        default=Path(".tabops"),
        description="Workspace folder: embedded store, snapshots, reports.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the tabops store; default: SQLite file in the workspace.",
    )
    tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TABOPS_TRACKING_URI", "MLFLOW_TRACKING_URI"),
        description="MLflow tracking server; default: SQLite tracking store in the workspace.",
    )
    storage_url: str | None = Field(
        default=None,
        description="Where snapshots, the default DVC remote and artifacts (exports, reports, "
        "batch outputs named relatively) live: a folder or a URL such as s3://bucket/prefix; "
        "default: the workspace (artifacts: where named, as always).",
    )
    env: Literal["embedded", "production"] = Field(
        default="embedded",
        description="'production' turns on the checks that refuse insecure defaults.",
    )

    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Keys that may call the prediction routes (comma- or line-separated).",
    )
    admin_key: SecretStr | None = Field(
        default=None, description="The key for admin routes (reload); never a prediction key."
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):  # a secret file may hold one key per line
            return [key.strip() for key in re.split(r"[,\n]", value) if key.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _SecretFiles(settings_cls), env_settings

    @field_validator("tracking_uri")
    @classmethod
    def _supported_tracking_uri(cls, uri: str | None) -> str | None:
        # Anything else fails deep inside MLflow (a missing driver, a retired file store).
        scheme = (uri or "").partition("://")[0].partition("+")[0].lower()
        if uri and scheme not in ("http", "https", "sqlite", "postgresql"):
            raise ValueError(
                f"'{scheme}' tracking URIs are not supported; use an MLflow "
                "server (http://host:5000), sqlite:///path/to/mlflow.db or "
                "postgresql://user:password@host:port/database"
            )
        return uri

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, home: Path) -> Path:
        # Resolved once, so paths recorded in the store do not depend on a later cwd.
        home = home.expanduser().resolve()
        existing = next(p for p in (home, *home.parents) if p.exists())
        if not existing.is_dir():
            raise ValueError(f"{existing} is a file; the workspace must be a folder")
        return home

    @field_validator("storage_url")
    @classmethod
    def _storage_location(cls, url: str | None) -> str | None:
        # A folder is made absolute once, like home: the store records locations under it.
        if not url:
            return None
        if is_remote(url):
            if not url.partition("://")[2].strip("/"):
                raise ValueError(f"'{url}' names no bucket; use s3://bucket or s3://bucket/prefix")
            return url.rstrip("/")
        return str(Path(url.removeprefix("file://")).expanduser().resolve())

    @property
    def store_url(self) -> str:
        """The tabops store URL: the configured one, or the workspace's SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'tabops.db'}"

    @property
    def mlflow_uri(self) -> str:
        """The MLflow tracking URI: the configured server, or the workspace's SQLite store."""
        return self.tracking_uri or f"sqlite:///{self.home / 'mlflow.db'}"

    @property
    def artifacts_dir(self) -> Path:
        """Where an embedded tracking store keeps model artifacts."""
        return self.home / "mlartifacts"

    @property
    def storage(self) -> str:
        """The root location of files: ``TABOPS_STORAGE_URL``, or the workspace folder."""
        return self.storage_url or str(self.home)

    @property
    def remote_storage(self) -> bool:
        """Whether files live in object storage rather than on this host's disk."""
        return is_remote(self.storage)

    @property
    def snapshots_dir(self) -> Path:
        """The local folder of snapshots: where they live, or (with object storage) where they
        are written before upload."""
        return self.home / "snapshots"

    def snapshots(self, project: str) -> str:
        """The location of a project's immutable, content-hashed Parquet snapshots."""
        return join(self.storage, "snapshots", project)

    def artifacts(self, kind: ArtifactKind, project: str) -> str | None:
        """The storage folder of a project's artifacts of one kind,
        ``<storage>/<kind>/<project>``, when ``TABOPS_STORAGE_URL`` is set; else None: they
        stay where they are written (the workspace, or the path given)."""
        if self.storage_url is None:
            return None
        return join(self.storage_url, kind, project)

    def placed(self, output: str, kind: ArtifactKind, project: str) -> str:
        """Where an output named by the user goes. With ``TABOPS_STORAGE_URL`` set, a relative
        name goes under the storage's ``<kind>/<project>/`` folder, made if it is a local one
        (the user named a file, not its folder); a URL or an absolute path, and any name
        without the setting, is used as given (so the default is unchanged)."""
        folder = self.artifacts(kind, project)
        name = Path(output).expanduser()
        if folder is None or not output.strip() or is_remote(output) or name.is_absolute():
            return output
        if ".." in name.parts:  # no escape above the folder (S3 keys keep '..' literally)
            raise TabopsError(
                f"'{output}' climbs out of the storage folder {folder}; with "
                "TABOPS_STORAGE_URL set, pass a name inside it, an absolute path or a URL."
            )
        placed = join(folder, *name.parts)
        make_parent(placed)
        return placed


class _SecretFiles(PydanticBaseSettingsSource):
    """``TABOPS_<NAME>_FILE``: a setting's value read from the file it names."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every field at once

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            names = getattr(field.validation_alias, "choices", None) or [f"TABOPS_{name}"]
            variable = f"{str(names[0]).upper()}_FILE"
            path = os.environ.get(variable)
            if path is None:
                continue
            direct = [str(n).upper() for n in names if str(n).upper() in os.environ]
            if direct:
                raise TabopsError(f"Set {direct[0]} or {variable}, not both.")
            try:
                values[name] = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise TabopsError(f"{variable}: cannot read {path}: {exc.strerror}.") from exc
        return values


def load_settings() -> Settings:
    """Settings from the environment; a bad variable is a clear error naming it, and in
    production an empty or default credential is refused before any service is called."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{_variable(str(error['loc'][0]))}: {error['msg']}" for error in exc.errors()
        )
        raise TabopsError(f"Invalid environment setting: {problems}.") from exc
    if settings.env == "production":
        found = production_problems(settings, os.environ)
        if found:
            raise TabopsError(
                "TABOPS_ENV=production refuses these credentials: " + "; ".join(found) + "."
            )
    return settings


def production_problems(settings: Settings, environ: Mapping[str, str]) -> list[str]:
    """Every empty or default credential of the services these settings point at."""
    urls = {
        "TABOPS_DATABASE_URL": settings.database_url,
        "TABOPS_TRACKING_URI or MLFLOW_TRACKING_URI": settings.tracking_uri,
    }
    found = [credentials.url_problem(name, url) for name, url in urls.items() if url]
    found.append(credentials.mlflow_auth_problem(environ))
    locations = [value for value in settings.model_dump().values() if isinstance(value, str)]
    found.append(credentials.s3_problem(locations, environ))
    return [problem for problem in found if problem]


def _variable(location: str) -> str:
    """The environment variable(s) behind a validation error's location."""
    for field in Settings.model_fields.values():
        choices = getattr(field.validation_alias, "choices", [])
        if location in choices:
            return " or ".join(str(choice) for choice in choices)
    return location if location.upper().startswith("TABOPS_") else f"TABOPS_{location.upper()}"

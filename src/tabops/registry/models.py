"""The MLflow model registry: versions, aliases, and verified loading of a version's pipeline.

Aliases, not the deprecated stages: ``champion`` serves, ``previous`` is what rollback returns
to, ``challenger`` is scored in shadow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from tabops.context import Context
from tabops.digest import file_sha256
from tabops.errors import NotFoundError, RegistryError, TabopsError
from tabops.extras import missing_extra
from tabops.registry.client import connect, registry_errors
from tabops.registry.rest import RestReader, rest_supported, tags_of
from tabops.registry.sql import SqlReader, sql_reader
from tabops.spec import ProjectSpec

CHAMPION, PREVIOUS, CHALLENGER = "champion", "previous", "challenger"
#: Where a training run keeps the positions of its frozen test rows.
TEST_ROWS_ARTIFACT = "split/test_rows.parquet"


@dataclass(frozen=True)
class ModelVersion:
    """What tabops needs to know about a registered version."""

    name: str
    version: str
    run_id: str
    source: str
    tags: dict[str, str]

    @property
    def snapshot_hash(self) -> str:
        return self.tags.get("tabops.snapshot_hash", "")

    @property
    def spec_hash(self) -> str:
        return self.tags.get("tabops.spec_hash", "")

    @property
    def artifact_sha256(self) -> str:
        return self.tags.get("tabops.artifact_sha256", "")

    @property
    def input_schema(self) -> dict[str, str]:
        return dict(json.loads(self.tags.get("tabops.input_schema", "{}")))


#: MLflow keeps version numbers in an INTEGER column (32-bit on PostgreSQL).
_MAX_VERSION = 2**31 - 1


class Registry:
    """Model versions of one registered model (named after the project).

    Reads go over a tracking server's REST API (:mod:`tabops.registry.rest`) or to the tables
    of the embedded SQLite store (:mod:`tabops.registry.sql`): serving and batch scoring
    resolve and fetch a version without importing mlflow. Writes, other stores and artifact
    stores neither reader reaches use the MLflow client, made on first use.
    """

    def __init__(self, tracking_uri: str, name: str) -> None:
        self.uri, self.name = tracking_uri, name
        self._reader: RestReader | SqlReader | None = (
            RestReader(tracking_uri) if rest_supported(tracking_uri) else sql_reader(tracking_uri)
        )

    @cached_property
    def client(self) -> Any:
        """The MLflow client (importing mlflow takes seconds: only when it is needed)."""
        return connect(self.uri)

    def register(self, run_id: str, model_uri: str, tags: dict[str, str]) -> ModelVersion:
        """A version of the model from a run's logged pipeline (new unless already registered)."""
        from mlflow.exceptions import MlflowException

        with registry_errors(self.uri):
            try:
                self.client.get_registered_model(self.name)
            except MlflowException:
                self.client.create_registered_model(self.name)
        existing = self.of_run(run_id)
        if existing is not None:  # registering a run again names the version it already has
            return existing
        with registry_errors(self.uri):
            # A server accepts a models:/ source only with the logged model's id beside it.
            model_id = (
                model_uri.removeprefix("models:/") if model_uri.startswith("models:/") else None
            )
            created = self.client.create_model_version(
                self.name, source=model_uri, run_id=run_id, tags=tags, model_id=model_id
            )
        return self.version(str(created.version))

    def of_run(self, run_id: str) -> ModelVersion | None:
        """The version registered from the run ``run_id``, or None."""
        with registry_errors(self.uri):
            found = self.client.search_model_versions(
                f"name = '{self.name}' and run_id = '{run_id}'"
            )
        return self.version(str(found[0].version)) if found else None

    def version(self, version: str) -> ModelVersion:
        if not (version.isascii() and version.isdigit() and 1 <= int(version) <= _MAX_VERSION):
            # MLflow would fail in its store (an int past the column's range) and blame it.
            raise NotFoundError(
                f"Model {self.name} has no version '{version}': versions are whole numbers "
                "from 1 up. 'tabops history' lists versions."
            )
        missing = NotFoundError(
            f"Model {self.name} has no version {version}. 'tabops history' lists versions."
        )
        if self._reader is not None:
            found = self._reader.version(self.name, version)
            if found is None:
                raise missing
            return _rest_version(found)
        from mlflow.exceptions import MlflowException

        try:
            with registry_errors(self.uri, passthrough=True):
                found = self.client.get_model_version(self.name, version)
        except MlflowException as exc:
            raise missing from exc
        return _version(found)

    def by_alias(self, alias: str) -> ModelVersion | None:
        """The version an alias points at, or None when the alias is not set."""
        if self._reader is not None:
            found = self._reader.version_by_alias(self.name, alias)
            return None if found is None else _rest_version(found)
        from mlflow.exceptions import MlflowException

        try:
            with registry_errors(self.uri, passthrough=True):
                found = self.client.get_model_version_by_alias(self.name, alias)
        except MlflowException:  # no such model or alias: MLflow says INVALID_PARAMETER_VALUE
            return None
        return _version(found)

    def set_alias(self, alias: str, version: str) -> None:
        with registry_errors(self.uri):
            self.client.set_registered_model_alias(self.name, alias, version)

    def delete_alias(self, alias: str) -> None:
        with registry_errors(self.uri):
            self.client.delete_registered_model_alias(self.name, alias)

    def test_rows(self, version: ModelVersion) -> Path:
        """The frozen test rows (snapshot positions) stored with the version's run."""
        return self.run_artifact(version.run_id, TEST_ROWS_ARTIFACT)

    def run_artifact(self, run_id: str, path: str) -> Path:
        """A run's artifact as a local file (downloaded when the store is remote)."""
        if self._reader is not None:
            found = self._reader.artifact(run_id, path)
            if found is not None:
                return found
        self.client  # noqa: B018  (connects: MLflow quietened and pointed at this store)
        import mlflow.artifacts

        with registry_errors(self.uri):
            return Path(
                mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=path, tracking_uri=self.uri
                )
            )

    def run_summary(self, run_id: str) -> tuple[dict[str, float], int]:
        """A run's metrics and its start time (milliseconds since the epoch)."""
        if self._reader is not None:
            run = self._reader.run(run_id)
            metrics = {m["key"]: float(m["value"]) for m in run.get("data", {}).get("metrics", [])}
            return metrics, int(run["info"].get("start_time") or 0)
        with registry_errors(self.uri):
            run = self.client.get_run(run_id)
        return dict(run.data.metrics), int(run.info.start_time or 0)

    def threshold(self, version: ModelVersion) -> float | None:
        """A binary classifier version's decision threshold, as training chose it and serving
        decides at (None for other tasks)."""
        return self.run_summary(version.run_id)[0].get("threshold")

    def load_pipeline(self, version: ModelVersion) -> Any:
        """The version's fitted pipeline, loaded only if its file's SHA-256 is the recorded one
        (a tampered artifact is refused before deserialisation)."""
        try:
            self.client  # noqa: B018  (connects: MLflow quietened and pointed at this store)
            import mlflow.artifacts
            import mlflow.sklearn
            import sklearn  # noqa: F401  (mlflow.sklearn imports it only when loading)
        except ModuleNotFoundError as exc:
            hint = missing_extra(exc)
            if hint is None:
                raise
            raise TabopsError(
                f"Version {version.version} of {self.name} is not compiled: it is served by its "
                f"scikit-learn pipeline. {hint}"
            ) from exc

        with registry_errors(self.uri):
            folder = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=version.source, tracking_uri=self.uri
                )
            )
        model_file = folder / _model_file(folder)
        actual = file_sha256(model_file)
        if not version.artifact_sha256 or actual != version.artifact_sha256:
            raise TabopsError(
                f"Refusing to load {self.name} version {version.version}: its artifact's SHA-256 "
                f"({actual[:16]}) differs from the one recorded at training "
                f"({version.artifact_sha256[:16] or 'none'}). The artifact was changed."
            )
        return mlflow.sklearn.load_model(str(folder))


def _model_file(folder: Path) -> str:
    import yaml

    mlmodel = yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8"))
    return str(mlmodel["flavors"]["sklearn"]["pickled_model"])


def _version(found: Any) -> ModelVersion:
    if found.run_id is None:
        raise RegistryError(f"Model version {found.version} has no source run.")
    return ModelVersion(
        name=found.name,
        version=str(found.version),
        run_id=found.run_id,
        source=found.source,
        tags=dict(found.tags),
    )


def _rest_version(found: dict[str, Any]) -> ModelVersion:
    """A version from the REST API's ``model_version`` document."""
    if not found.get("run_id"):
        raise RegistryError(f"Model version {found.get('version')} has no source run.")
    return ModelVersion(
        name=found["name"],
        version=str(found["version"]),
        run_id=found["run_id"],
        source=found.get("source", ""),
        tags=tags_of(found),
    )


def registry_for(spec: ProjectSpec, ctx: Context) -> Registry:
    """The project's registered model, in the configured tracking store."""
    return Registry(ctx.settings.mlflow_uri, spec.name)

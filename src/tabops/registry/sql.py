"""Reading the embedded MLflow registry (a SQLite tracking store) from its tables, without
importing mlflow.

``tabops predict``, ``monitor`` and ``serve`` on the default store need the reads the REST
reader makes (:mod:`tabops.registry.rest`): a version by alias or number, its run (metrics,
start time, artifact root) and artifact files. Through MLflow's client they cost about 2 s
(importing mlflow, then starting its SQL store) before the first row is read; here they are a
few queries of the tables MLflow's store keeps, answered as the REST API's JSON documents.

Read-only: writes stay with MLflow's client. The reader is used only when the tables have the
columns it reads (checked once); another schema, MLflow's workspaces, or artifacts that are
not local files leave the work to MLflow's client, as before.
"""

from __future__ import annotations

import math
import os
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tabops.errors import RegistryError
from tabops.registry.rest import local_artifact

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

#: MLflow's registry rows outside any workspace (its single-tenant mode, the default).
_WORKSPACE = "default"
#: A version MLflow has not deleted (it keeps a deleted one's row, as 'Deleted_Internal').
_NOT_DELETED = "(current_stage IS NULL OR current_stage != 'Deleted_Internal')"
#: MLflow settings that make its client read another workspace than the default one.
_WORKSPACE_SETTINGS = ("MLFLOW_ENABLE_WORKSPACES", "MLFLOW_WORKSPACE")
#: Every table and column the reader queries: a schema without one leaves reads to MLflow.
_READS = {
    "model_versions": ("workspace", "name", "version", "source", "run_id", "current_stage"),
    "model_version_tags": ("workspace", "name", "version", "key", "value"),
    "registered_model_aliases": ("workspace", "name", "alias", "version"),
    "runs": ("run_uuid", "artifact_uri", "start_time"),
    "latest_metrics": ("run_uuid", "key", "value", "is_nan"),
}


def sql_reader(uri: str) -> SqlReader | None:
    """A reader of the SQLite tracking store at ``uri``, or None when MLflow's client must do
    the reads (another kind of store, no database file yet, workspaces, another schema)."""
    if not uri.startswith("sqlite:///") or any(os.environ.get(n) for n in _WORKSPACE_SETTINGS):
        return None
    path = Path(uri.removeprefix("sqlite:///"))
    if not path.is_file():
        return None  # MLflow's client creates the store
    reader = SqlReader(uri, path)
    return reader if reader.schema_known() else None


class SqlReader:
    """The registry reads of one SQLite tracking store, as the REST API's JSON documents."""

    def __init__(self, uri: str, path: Path) -> None:
        import sqlalchemy as sa  # imported here: the server module loads without it

        self.uri = uri
        self._roots: dict[str, str] = {}  # run id -> artifact root (fixed for a run's life)
        # Read-only (no file is ever created or changed) and patient with MLflow's writers.
        self.engine = sa.create_engine(
            f"sqlite:///file:{urllib.parse.quote(str(path))}?mode=ro&uri=true",
            connect_args={"timeout": 30},
            poolclass=sa.pool.NullPool,
        )

    def schema_known(self) -> bool:
        """Whether every table and column this reader queries is there."""
        import sqlalchemy as sa

        try:
            with self.engine.connect() as conn:
                for table, columns in _READS.items():
                    listed = ", ".join(f'"{c}"' for c in columns)
                    conn.exec_driver_sql(f'SELECT {listed} FROM "{table}" LIMIT 0')
        except sa.exc.DBAPIError:
            return False
        return True

    def _rows(self, conn: Connection, query: str, **params: Any) -> list[Any]:
        import sqlalchemy as sa

        return list(conn.execute(sa.text(query), params).all())

    def version(self, name: str, version: str) -> dict[str, Any] | None:
        """``model_version`` of ``name`` version ``version``, or None when there is none."""
        key = {"w": _WORKSPACE, "n": name, "v": int(version)}
        with self.engine.connect() as conn:
            found = self._rows(
                conn,
                "SELECT name, version, source, run_id FROM model_versions WHERE workspace = :w "
                f"AND name = :n AND version = :v AND {_NOT_DELETED}",
                **key,
            )
            tags = self._rows(
                conn,
                'SELECT "key", value FROM model_version_tags '
                "WHERE workspace = :w AND name = :n AND version = :v",
                **key,
            )
        if not found:
            return None
        row = found[0]
        return {
            "name": row.name,
            "version": str(row.version),
            "source": row.source or "",
            "run_id": row.run_id,
            "tags": [{"key": k, "value": v or ""} for k, v in tags],
        }

    def version_by_alias(self, name: str, alias: str) -> dict[str, Any] | None:
        """The ``model_version`` ``alias`` points at, or None (no such model or alias)."""
        if alias.lower() == "latest":  # MLflow's reserved alias: the highest version
            query = (
                "SELECT MAX(version) FROM model_versions "
                f"WHERE workspace = :w AND name = :n AND {_NOT_DELETED}"
            )
        else:
            query = (
                "SELECT version FROM registered_model_aliases "
                "WHERE workspace = :w AND name = :n AND alias = :a"
            )
        with self.engine.connect() as conn:
            found = self._rows(conn, query, w=_WORKSPACE, n=name, a=alias)
        version = found[0][0] if found else None
        return None if version is None else self.version(name, str(version))

    def run(self, run_id: str) -> dict[str, Any]:
        """The run's ``info`` (artifact root, start time) and ``data`` (latest metrics)."""
        with self.engine.connect() as conn:
            info = self._rows(
                conn, "SELECT artifact_uri, start_time FROM runs WHERE run_uuid = :r", r=run_id
            )
            metrics = self._rows(
                conn,
                'SELECT "key", value, is_nan FROM latest_metrics WHERE run_uuid = :r',
                r=run_id,
            )
        if not info:
            raise RegistryError(f"The MLflow tracking store at {self.uri} has no run {run_id}.")
        self._roots[run_id] = info[0].artifact_uri
        return {
            "info": {"artifact_uri": info[0].artifact_uri, "start_time": info[0].start_time},
            "data": {
                "metrics": [
                    {"key": key, "value": math.nan if is_nan else value}
                    for key, value, is_nan in metrics
                ]
            },
        }

    def artifact(self, run_id: str, path: str) -> Path | None:
        """A run's artifact read in place from a local artifact root; None for other stores
        (the MLflow client reads those)."""
        root = self._roots.get(run_id) or self.run(run_id)["info"]["artifact_uri"]
        return local_artifact(root, run_id, path)

"""Writing a generated dataset: files in a folder, or tables in the tabops store.

Nothing is ever half-written: files are written under temporary names in the target folder
and renamed into place only once all of them are complete; tables are written in one store
transaction.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tabops.errors import StoreError, TabopsError
from tabops.progress import SILENT, Progress
from tabops.synth.config import dump_fraud_config
from tabops.synth.fraud import FraudDataset

if TYPE_CHECKING:  # the store pulls in SQLAlchemy: only when writing to it
    from tabops.store.db import Store

FORMATS = ("parquet", "csv")
#: The tables written for ``--table NAME``: NAME, NAME_labels, NAME_drift.
TABLE_SUFFIXES = {"transactions": "", "labels": "_labels", "drift_calendar": "_drift"}


def _tables(dataset: FraudDataset) -> dict[str, pa.Table]:
    frames = {
        "transactions": dataset.transactions,
        "labels": dataset.labels,
        "drift_calendar": dataset.calendar,
    }
    return {
        name: pa.Table.from_pandas(frame, preserve_index=False) for name, frame in frames.items()
    }


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary-encoded (categorical) columns as plain text, for CSV and databases."""
    fields = [
        pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields))


def write_fraud_files(
    dataset: FraudDataset, folder: Path, fmt: str = "parquet", progress: Progress = SILENT
) -> list[Path]:
    """Write transactions, labels, the drift calendar and the config into ``folder``.

    Files: ``transactions.<fmt>``, ``labels.<fmt>``, ``drift_calendar.<fmt>`` (``params`` as
    JSON text) and ``config.yaml`` (every setting, to regenerate the same data). Existing files
    of those names are replaced.

    Raises:
        TabopsError: an unknown format, or the folder cannot be written.
    """
    if fmt not in FORMATS:
        raise TabopsError(f"Output format '{fmt}' is not supported; use parquet or csv.")
    if folder.exists() and not folder.is_dir():
        raise TabopsError(f"--output {folder} is a file; pass a folder (it is created if missing).")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TabopsError(f"Cannot create the output folder {folder}: {exc}") from exc
    pending: list[tuple[Path, Path]] = []
    try:
        with progress.step(f"Writing {fmt} files to {folder}"):
            for name, table in _tables(dataset).items():
                temporary = _temporary(folder, f".{fmt}")
                pending.append((temporary, folder / f"{name}.{fmt}"))
                if fmt == "parquet":
                    pq.write_table(table, temporary, compression="zstd")
                else:
                    pacsv.write_csv(_plain(table), temporary)
            temporary = _temporary(folder, ".yaml")
            pending.append((temporary, folder / "config.yaml"))
            temporary.write_text(dump_fraud_config(dataset.config), encoding="utf-8")
            for temporary, final in pending:
                temporary.replace(final)
    except OSError as exc:
        raise TabopsError(f"Cannot write to the output folder {folder}: {exc}") from exc
    finally:
        for temporary, _final in pending:
            temporary.unlink(missing_ok=True)
    return [final for _temporary, final in pending]


def _temporary(folder: Path, suffix: str) -> Path:
    # A fresh name in the target folder (so the rename stays on one file system), created
    # with the usual permissions (mkstemp's are owner-only).
    return folder / f".partial-{uuid.uuid4().hex}{suffix}"


def table_names(table: str) -> dict[str, str]:
    """The store tables for ``--table table``, checked: plain identifiers, not tabops' own."""
    from tabops.store import schema
    from tabops.store.db import validate_identifier

    try:
        names = {
            part: validate_identifier(f"{table}{suffix}") for part, suffix in TABLE_SUFFIXES.items()
        }
    except StoreError as exc:
        raise StoreError(f"--table {table}: {exc}") from exc
    reserved = set(schema.metadata.tables) | {"alembic_version"}
    for name in names.values():
        if name in reserved:
            raise StoreError(
                f"--table {table}: '{name}' is one of the tabops store's own tables; "
                "pick another name."
            )
    return names


def write_fraud_tables(
    dataset: FraudDataset, store: Store, table: str, progress: Progress = SILENT
) -> list[str]:
    """Replace the rows of ``table``, ``table_labels`` and ``table_drift`` in one transaction.

    Tables are created from the data's columns if missing. Returns the table names.

    Raises:
        StoreError: a bad table name, or the store cannot be used.
    """
    from tabops.store.bulk import TableWrite

    names = table_names(table)
    tables = _tables(dataset)
    writes = [TableWrite(names[part], _plain(rows), replace=True) for part, rows in tables.items()]
    rows = sum(write.rows.num_rows for write in writes)
    described = f"{', '.join(names.values())} ({store.describe()})"
    with progress.step(f"Writing {rows:,} rows to {described}"):
        try:
            store.write_atomically(writes)
        except StoreError:
            raise
        except Exception as exc:
            if not _is_database_error(exc):
                raise
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(
                f"Cannot write {described}: {reason}. Nothing was written. If one of these "
                "tables already exists with other columns, drop it or pick another --table name."
            ) from exc
    return list(names.values())


def _is_database_error(exc: Exception) -> bool:
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(exc, SQLAlchemyError) or type(exc).__module__.startswith("adbc_driver")

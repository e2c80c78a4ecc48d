"""Batch scoring's tables: the user's destination table and the store's history of batch
predictions, each replaced per run date in one transaction (a killed run commits nothing)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlalchemy as sa

from tabops.errors import TabopsError
from tabops.store import schema
from tabops.store.db import validate_identifier

if TYPE_CHECKING:
    from tabops.store.db import Store

BATCH_TABLE = schema.batch_predictions.name
#: The history's columns, in the table's order (Arrow types for its COPY).
HISTORY_SCHEMA = pa.schema(
    [
        ("project", pa.string()),
        ("run_date", pa.date32()),
        ("batch_id", pa.string()),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
        ("entity_id", pa.string()),
        ("score", pa.float64()),
        ("label", pa.string()),
        ("decision", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass(frozen=True)
class RunRows:
    """One table's rows of a run: those matching ``key`` (the run date, and the project in
    the history) are replaced by what ``rows`` yields."""

    table: str
    key: dict[str, Any]
    schema: pa.Schema
    rows: Callable[[], pa.RecordBatchReader]


def check_destination(store: Store, table: str, columns: pa.Schema) -> None:
    """Refuse a destination table that exists with other columns (not an earlier run's)."""
    validate_identifier(table)
    if table in schema.metadata.tables:
        raise TabopsError(
            f"--output table:{table} is one of the tabops store's own tables; name another."
        )
    if not store.table_exists(table):
        return
    found = [c["name"] for c in sa.inspect(store.engine).get_columns(table)]
    if found != columns.names:
        raise TabopsError(
            f"Table {table} in {store.describe()} exists with other columns ({found[:12]}) "
            f"than tabops predict writes ({columns.names[:12]}): it holds something else. "
            "Name another table, or drop it."
        )


def replace_runs(store: Store, writes: Sequence[RunRows]) -> None:
    """Delete each table's rows of the run and append the new ones, all in one transaction."""
    with store.bulk() as transaction:
        for write in writes:
            transaction.delete_where(write.table, write.key)
            transaction.append(write.table, write.rows())


def history_key(project: str, run_date: date) -> dict[str, Any]:
    return {"project": project, "run_date": run_date}


def batch_history(store: Store, project: str, run_date: date | None = None) -> pa.Table:
    """The stored batch predictions of ``project`` (of one run date), oldest run first."""
    table = schema.batch_predictions
    query = sa.select(table).where(table.c.project == project)
    if run_date is not None:
        query = query.where(table.c.run_date == run_date)
    query = query.order_by(table.c.run_date, table.c.entity_id)
    with store.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    return pa.Table.from_pylist(rows, schema=HISTORY_SCHEMA)

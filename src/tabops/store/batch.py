"""Batch scoring's tables: the user's destination table and the store's history of batch
predictions, each replaced per run date by ``tabops predict`` in one transaction (a killed run
commits nothing)."""

from __future__ import annotations

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


@dataclass(frozen=True)
class RunSummary:
    """One run date of the batch history: its batch, model version and row count."""

    run_date: date
    batch_id: str
    model_version: str
    rows: int


def run_summaries(store: Store, project: str) -> dict[date, RunSummary]:
    """Each run date of ``project``'s batch history, oldest first."""
    table = schema.batch_predictions
    query = (
        sa.select(
            table.c.run_date,
            sa.func.min(table.c.batch_id),
            sa.func.min(table.c.model_version),
            sa.func.count(),
        )
        .where(table.c.project == project)
        .group_by(table.c.run_date)
        .order_by(table.c.run_date)
    )
    with store.connect() as conn:
        rows = conn.execute(query).all()
    return {r[0]: RunSummary(r[0], str(r[1]), str(r[2]), int(r[3])) for r in rows}


def labelled_run_rows(store: Store, project: str, first: date | None, last: date) -> int:
    """Entities scored on run dates after ``first`` (None: from the first run) up to ``last``
    whose label has arrived."""
    runs, labels = schema.batch_predictions, schema.labels
    labelled = sa.exists().where(labels.c.project == project,
                                 labels.c.entity_id == runs.c.entity_id)  # fmt: skip
    query = sa.select(sa.func.count(sa.distinct(runs.c.entity_id))).where(
        runs.c.project == project, runs.c.run_date <= last, labelled
    )
    if first is not None:
        query = query.where(runs.c.run_date > first)
    with store.connect() as conn:
        return int(conn.execute(query).scalar_one())

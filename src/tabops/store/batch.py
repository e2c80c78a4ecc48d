"""Batch scoring's tables: the user's destination table and the store's history of batch
predictions, each replaced per run date by ``tabops predict`` in one transaction (a killed run
commits nothing)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlalchemy as sa

from tabops.errors import TabopsError
from tabops.store import schema
from tabops.store.db import validate_identifier

if TYPE_CHECKING:
    from tabops.store.bulk import BulkTransaction
    from tabops.store.db import Store

BATCH_TABLE = schema.batch_predictions.name
#: The rows a run writes into the history, in the table's order (Arrow types for its COPY).
ROWS_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("run_id", pa.int32()),
        ("entity_id", pa.string()),
        ("score", pa.float64()),
        ("label", pa.string()),
        ("decision", pa.string()),
    ]
)
#: The history as read: each row with its run's lineage.
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
_RUN_BASE = 1 << schema.RUN_ROW_BITS


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


def first_row_id(run_id: int) -> int:
    """The id of a run's first history row (the next ones follow it)."""
    return run_id * _RUN_BASE


def _rows_of(run_id: Any) -> Any:
    """The history rows of the run ``run_id`` (an id or a column): a range of the primary
    key, which needs no index on ``run_id``."""
    first = sa.cast(run_id, sa.BigInteger) * _RUN_BASE
    table = schema.batch_predictions
    return sa.and_(table.c.id >= first, table.c.id < first + _RUN_BASE)


@dataclass(frozen=True)
class RunLineage:
    """What a batch run's history rows share."""

    project: str
    run_date: date
    batch_id: str
    model_name: str
    model_version: str


def start_run(transaction: BulkTransaction, lineage: RunLineage, created: datetime) -> int:
    """Replace the run date's earlier run (its row and history rows) with a new, empty run in
    ``transaction``; the new run's id."""
    runs = schema.batch_runs
    same_date = sa.and_(runs.c.project == lineage.project, runs.c.run_date == lineage.run_date)
    for (earlier,) in transaction.execute(sa.select(runs.c.id).where(same_date)):
        transaction.execute(schema.batch_predictions.delete().where(_rows_of(earlier)))
    transaction.execute(runs.delete().where(same_date))
    values = {**asdict(lineage), "scored_rows": 0, "created_at": created}
    [(run_id,)] = transaction.execute(runs.insert().values(values).returning(runs.c.id))
    return int(run_id)


def finish_run(transaction: BulkTransaction, run_id: int, scored_rows: int) -> None:
    runs = schema.batch_runs
    transaction.execute(runs.update().where(runs.c.id == run_id).values(scored_rows=scored_rows))


def batch_history(store: Store, project: str, run_date: date | None = None) -> pa.Table:
    """The stored batch predictions of ``project`` (of one run date), oldest run first, each
    run's rows in the order they were scored."""
    runs, rows = schema.batch_runs, schema.batch_predictions
    columns = [runs.c[f.name] if f.name in runs.c else rows.c[f.name] for f in HISTORY_SCHEMA]
    query = sa.select(*columns).join_from(runs, rows, _rows_of(runs.c.id))
    query = query.where(runs.c.project == project)
    if run_date is not None:
        query = query.where(runs.c.run_date == run_date)
    query = query.order_by(runs.c.run_date, rows.c.id)
    with store.connect() as conn:
        found = [dict(r._mapping) for r in conn.execute(query)]
    return pa.Table.from_pylist(found, schema=HISTORY_SCHEMA)


@dataclass(frozen=True)
class RunSummary:
    """One run date of the batch history: its batch, model version and row count."""

    run_date: date
    batch_id: str
    model_version: str
    rows: int


def run_summaries(store: Store, project: str) -> dict[date, RunSummary]:
    """Each run date of ``project``'s batch history, oldest first."""
    runs = schema.batch_runs
    query = (
        sa.select(runs.c.run_date, runs.c.batch_id, runs.c.model_version, runs.c.scored_rows)
        .where(runs.c.project == project)
        .order_by(runs.c.run_date)
    )
    with store.connect() as conn:
        found = conn.execute(query).all()
    return {r[0]: RunSummary(r[0], str(r[1]), str(r[2]), int(r[3])) for r in found}


def labelled_run_rows(store: Store, project: str, first: date | None, last: date) -> int:
    """Entities scored on run dates after ``first`` (None: from the first run) up to ``last``
    whose label has arrived."""
    runs, rows, labels = schema.batch_runs, schema.batch_predictions, schema.labels
    labelled = sa.exists().where(labels.c.project == project,
                                 labels.c.entity_id == rows.c.entity_id)  # fmt: skip
    query = (
        sa.select(sa.func.count(sa.distinct(rows.c.entity_id)))
        .join_from(runs, rows, _rows_of(runs.c.id))
        .where(runs.c.project == project, runs.c.run_date <= last, labelled)
    )
    if first is not None:
        query = query.where(runs.c.run_date > first)
    with store.connect() as conn:
        return int(conn.execute(query).scalar_one())

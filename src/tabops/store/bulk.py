"""Bulk writes of Arrow data into the store, in one transaction: ADBC's Arrow-native binary
COPY on PostgreSQL, SQLAlchemy elsewhere. Kept apart from :mod:`tabops.store.db` so that what
only reads and writes rows (serving's prediction log) does not load pyarrow."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tabops.background import background
from tabops.store import schema
from tabops.store.db import validate_identifier

if TYPE_CHECKING:
    from tabops.store.db import Store


@dataclass(frozen=True)
class TableWrite:
    """Rows for one table, part of an atomic batch write."""

    table: str
    rows: pa.Table
    replace: bool = False  # delete the table's rows first, in the same transaction


Rows: TypeAlias = pa.Table | pa.RecordBatchReader


#: Puts one batch into a streaming append.
Put: TypeAlias = Callable[[pa.RecordBatch], None]


class BulkTransaction(Protocol):
    """Appends rows to tables inside one transaction."""

    def append(self, table: str, rows: Rows, replace: bool = False) -> None:
        """Append ``rows`` to ``table`` (created from the rows' schema if missing); with
        ``replace``, the table's old rows go first, in the same transaction."""
        ...

    def stream(
        self, table: str, schema: pa.Schema, replace: bool = False
    ) -> AbstractContextManager[Put]:
        """Append batches one by one as they are produced (see :meth:`append`)."""
        ...


class AdbcTransaction:
    def __init__(self, cursor: Any, store: Store) -> None:
        self._cursor, self._store = cursor, store

    def append(self, table: str, rows: Rows, replace: bool = False) -> None:
        validate_identifier(table)
        if replace and self._store.table_exists(table):
            self._cursor.execute(f'TRUNCATE "{table}"')  # transactional in PostgreSQL
        if isinstance(rows, pa.Table) and rows.num_rows == 0:
            return
        self._cursor.adbc_ingest(table, rows, mode="create_append")

    def stream(
        self, table: str, schema: pa.Schema, replace: bool = False
    ) -> AbstractContextManager[Put]:
        # The COPY pulls from a background queue, so the next batch is produced meanwhile.
        def copy(batches: Iterator[pa.RecordBatch]) -> None:
            self.append(table, pa.RecordBatchReader.from_batches(schema, batches), replace)

        return background(copy, name=f"copy-{table}")


class SqlTransaction:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def append(self, table: str, rows: Rows, replace: bool = False) -> None:
        validate_identifier(table)
        target = schema.metadata.tables.get(table)
        if target is None:
            target = table_for(table, rows.schema)
            target.create(self._conn, checkfirst=True)
        if replace:
            self._conn.execute(target.delete())
        batches = rows.to_batches() if isinstance(rows, pa.Table) else rows
        for batch in batches:
            if batch.num_rows:
                self._conn.execute(target.insert(), batch.to_pylist())

    @contextmanager
    def stream(self, table: str, schema: pa.Schema, replace: bool = False) -> Iterator[Put]:
        self.append(table, schema.empty_table(), replace)
        yield lambda batch: self.append(table, pa.Table.from_batches([batch], schema))


_ARROW_TO_SQL: list[tuple[Any, Any]] = [
    (pa.types.is_boolean, sa.Boolean),
    (pa.types.is_integer, sa.BigInteger),
    (pa.types.is_floating, sa.Float),
    (pa.types.is_timestamp, sa.DateTime),
    (pa.types.is_date, sa.Date),
]


def table_for(name: str, arrow_schema: pa.Schema) -> sa.Table:
    """An SQLAlchemy table whose columns fit ``arrow_schema`` (for user data tables)."""
    columns = []
    for field in arrow_schema:
        sql_type: Any = sa.Text
        for matches, candidate in _ARROW_TO_SQL:
            if matches(field.type):
                sql_type = candidate
                break
        columns.append(sa.Column(field.name, sql_type))
    return sa.Table(name, sa.MetaData(), *columns)

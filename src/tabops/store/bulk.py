"""Bulk writes of Arrow data into the store, in one transaction: ADBC's Arrow-native binary
COPY on PostgreSQL, SQLAlchemy elsewhere. Kept apart from :mod:`tabops.store.db` so that what
only reads and writes rows (serving's prediction log) does not load pyarrow."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from tabops.background import background
from tabops.store import schema
from tabops.store.db import validate_identifier

if TYPE_CHECKING:
    from tabops.store.db import Store

#: PostgreSQL's SQL with ADBC's parameters ($1, $2, ...), for statements built with SQLAlchemy.
_POSTGRES = postgresql.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class TableWrite:
    """Rows for one table, part of an atomic batch write."""

    table: str
    rows: pa.Table
    replace: bool = False  # delete the table's rows first, in the same transaction


Rows: TypeAlias = pa.Table | pa.RecordBatchReader
#: Rows as Python values, column by column (for writes too small or too hot for Arrow).
Columns: TypeAlias = Mapping[str, Sequence[Any]]


#: A statement :meth:`BulkTransaction.execute` runs.
Statement: TypeAlias = sa.Select[Any] | sa.Insert | sa.Update | sa.Delete
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

    def delete_where(self, table: str, equal: Mapping[str, Any]) -> None:
        """Delete the rows of ``table`` (if it exists) whose columns equal ``equal``'s values."""
        ...

    def insert_new(self, table: str, columns: Columns) -> int:
        """Insert the rows whose primary key is not in the store ``table`` yet (retries and
        replays stay idempotent); how many were inserted. The rows come as ``columns``, each
        typed as the table's column of its name (times as aware datetimes)."""
        ...

    def execute(self, statement: Statement) -> list[tuple[Any, ...]]:
        """Run one SQLAlchemy statement (not during a :meth:`stream`); the rows it returns."""
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

    def delete_where(self, table: str, equal: Mapping[str, Any]) -> None:
        validate_identifier(table)
        if not self._store.table_exists(table):
            return
        tests = " AND ".join(
            f'"{validate_identifier(c, "column")}" = ${i}' for i, c in enumerate(equal, 1)
        )
        self._cursor.execute(f'DELETE FROM "{table}" WHERE {tests}', list(equal.values()))

    def insert_new(self, table: str, columns: Columns) -> int:
        # COPY into a private staging table, then keep what is new: COPY itself cannot skip
        # rows whose key exists.
        target = schema.metadata.tables[table]
        arrow = arrow_schema(target, list(columns))
        rows = pa.table([pa.array(columns[f.name], f.type) for f in arrow], schema=arrow)
        names = ", ".join(f'"{validate_identifier(c, "column")}"' for c in columns)
        keys = ", ".join(f'"{c.name}"' for c in target.primary_key.columns)
        stage = f"tabops_stage_{table}"
        self._cursor.execute(f'CREATE TEMP TABLE {stage} (LIKE "{table}") ON COMMIT DROP')
        self._cursor.adbc_ingest(stage, rows, mode="append", temporary=True)
        self._cursor.execute(
            f'INSERT INTO "{table}" ({names}) SELECT {names} FROM {stage} '
            f"ON CONFLICT ({keys}) DO NOTHING"
        )
        inserted = int(self._cursor.rowcount)
        self._cursor.execute(f"DROP TABLE {stage}")
        return inserted

    def execute(self, statement: Statement) -> list[tuple[Any, ...]]:
        compiled = statement.compile(dialect=_POSTGRES)
        self._cursor.execute(
            compiled.string, [compiled.params[n] for n in compiled.positiontup or []]
        )
        return [tuple(row) for row in self._cursor.fetchall()] if self._cursor.description else []


class SqlTransaction:
    """Bulk writes through SQLAlchemy: the store on SQLite, and on either backend the writes
    that share a transaction with updates (a quarantine replay)."""

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
                columns = dict(zip(batch.schema.names, batch.columns, strict=True))
                self._insert(target, columns, skip_conflicts=False)

    @contextmanager
    def stream(self, table: str, schema: pa.Schema, replace: bool = False) -> Iterator[Put]:
        self.append(table, schema.empty_table(), replace)
        yield lambda batch: self.append(table, pa.Table.from_batches([batch], schema))

    def delete_where(self, table: str, equal: Mapping[str, Any]) -> None:
        validate_identifier(table)
        target = schema.metadata.tables.get(table)
        if target is None:
            if not sa.inspect(self._conn).has_table(table):
                return
            target = sa.Table(table, sa.MetaData(), autoload_with=self._conn)
        tests = [target.c[validate_identifier(c, "column")] == v for c, v in equal.items()]
        self._conn.execute(target.delete().where(*tests))

    def insert_new(self, table: str, columns: Columns) -> int:
        # SQLite only (PostgreSQL's bulk writes are ADBC's); the prediction log writes
        # thousands of rows a second through it.
        target = schema.metadata.tables[table]
        return self._insert(target, columns, skip_conflicts=True)

    def execute(self, statement: Statement) -> list[tuple[Any, ...]]:
        result = self._conn.execute(statement)
        return [tuple(row) for row in result] if result.returns_rows else []

    def _insert(self, target: sa.Table, columns: Mapping[str, Any], skip_conflicts: bool) -> int:
        """Insert ``columns`` (Python sequences or Arrow arrays) as plain tuples: SQLAlchemy's
        per-row work on dicts costs several times the insert itself. Values are converted as
        SQLAlchemy would bind them, only for the columns whose type needs it; an Arrow column
        holding one value on every row (a batch's lineage) is written into the statement once
        instead of bound on every row. ``skip_conflicts``: rows whose key is taken are left
        out. Returns the rows inserted."""
        dialect = self._conn.dialect
        constants = _constants(target, columns, dialect)
        bound = [name for name in columns if name not in constants]
        if dialect.name == "sqlite":
            values = [_bound(columns[n], _converter(target, n, dialect)) for n in bound]
            return self._insert_rows(target, list(columns), constants, values, skip_conflicts)
        placeholders: dict[str, Any] = {
            name: sa.literal_column(constants[name]) if name in constants else sa.bindparam(name)
            for name in columns
        }
        insert: sa.Insert = sa.insert(target)
        if skip_conflicts:
            insert = postgresql.insert(target).on_conflict_do_nothing()
        statement = insert.values(placeholders).compile(dialect=dialect)
        names = list(statement.positiontup or bound)
        ordered = [_bound(columns[n], _converter(target, n, dialect)) for n in names]
        rows: list[Any] = list(zip(*ordered, strict=True))
        if statement.positiontup is None:  # PostgreSQL's driver takes names
            rows = [dict(zip(names, row, strict=True)) for row in rows]
        return int(self._conn.exec_driver_sql(statement.string, rows).rowcount)

    def _insert_rows(
        self, target: sa.Table, names: list[str], constants: Mapping[str, str],
        values: list[Sequence[Any]], skip_conflicts: bool,
    ) -> int:  # fmt: skip
        """SQLite: many rows per INSERT statement. Each statement executed costs about as much
        as the row it inserts: a million history rows took 1.1 s one row per statement and
        0.6 s a few hundred at a time."""
        quote = self._conn.dialect.identifier_preparer
        row = "(" + ", ".join(constants.get(name, "?") for name in names) + ")"
        head = f"INSERT INTO {quote.format_table(target)} ({', '.join(map(quote.quote, names))}) "
        tail = " ON CONFLICT DO NOTHING" if skip_conflicts else ""
        width, count = len(values), len(values[0])
        flat: list[Any] = [None] * (width * count)
        for position, column in enumerate(values):
            flat[position::width] = column
        per = max(_SQLITE_VARIABLES // width, 1)
        whole = count - count % per
        inserted = 0
        for rows, start, stop in ((per, 0, whole), (count - whole, whole, count)):
            if start == stop:
                continue
            sql = head + "VALUES " + ", ".join([row] * rows) + tail
            step = rows * width
            groups = [tuple(flat[i : i + step]) for i in range(start * width, stop * width, step)]
            inserted += int(self._conn.exec_driver_sql(sql, groups).rowcount)
        return inserted


#: The parameters one SQLite statement may take (SQLite's limit before 3.32; 32,766 since).
_SQLITE_VARIABLES = 999


def _converter(target: sa.Table, name: str, dialect: Any) -> Callable[[Any], Any] | None:
    """How SQLAlchemy binds a value of ``target``'s column ``name`` (None: as it is)."""
    converter: Callable[[Any], Any] | None = (
        target.c[name].type.dialect_impl(dialect).bind_processor(dialect)
    )
    return converter


def _literal_type(kind: pa.DataType) -> bool:
    types = pa.types
    return bool(
        types.is_string(kind)
        or types.is_integer(kind)
        or types.is_date(kind)
        or types.is_timestamp(kind)
    )


def _constants(target: sa.Table, columns: Mapping[str, Any], dialect: Any) -> dict[str, str]:
    """The SQL literal of each Arrow column null on every row, and of each text, integer, date
    or time column with one value, not null, on every row (never the first column: the rows are
    counted by what is bound). A bound NULL costs about what a bound value does: the history's
    empty decision column was 0.6 s of the 3 s a million rows take on SQLite."""
    found: dict[str, str] = {}
    for name, values in list(columns.items())[1:]:
        if not isinstance(values, pa.Array | pa.ChunkedArray) or len(values) < 2:
            continue
        if values.null_count == len(values):
            found[name] = "NULL"
            continue
        if not _literal_type(values.type):
            continue
        if values.null_count or pc.count_distinct(values).as_py() != 1:
            continue
        render = target.c[name].type.dialect_impl(dialect).literal_processor(dialect)
        if render is not None:
            found[name] = render(values[0].as_py())
    return found


def _bound(values: Any, convert: Callable[[Any], Any] | None) -> Sequence[Any]:
    """Values as the driver takes them; an Arrow column's distinct values are converted once
    (batch columns repeat the same dates and times on every row)."""
    if not isinstance(values, pa.Array | pa.ChunkedArray):
        return values if convert is None else [convert(v) for v in values]
    if convert is None:
        plain: list[Any] = values.to_pylist()
        return plain
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = values.dictionary_encode()
    distinct = [convert(v) for v in encoded.dictionary.to_pylist()]
    missing = convert(None)
    return [missing if i is None else distinct[i] for i in encoded.indices.to_pylist()]


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


_SQL_TO_ARROW: list[tuple[type[Any], pa.DataType]] = [
    (sa.BigInteger, pa.int64()),
    (sa.Integer, pa.int32()),  # after BigInteger, its subclass: binary COPY needs exact widths
    (sa.Float, pa.float64()),
    (sa.DateTime, pa.timestamp("us", tz="UTC")),
    (sa.Boolean, pa.bool_()),
]


def arrow_schema(table: sa.Table, columns: Sequence[str]) -> pa.Schema:
    """The Arrow schema matching ``columns`` of a store table (for bulk writes)."""
    fields = []
    for name in columns:
        arrow_type = pa.string()
        for sql_type, candidate in _SQL_TO_ARROW:
            if isinstance(table.c[name].type, sql_type):
                arrow_type = candidate
                break
        fields.append(pa.field(name, arrow_type))
    return pa.schema(fields)


def rows_for(table: sa.Table, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows for a store table as Arrow, typed to the table's columns."""
    columns = [c.name for c in table.columns if not (c.primary_key and c.autoincrement is True)]
    if rows:
        columns = [c for c in columns if c in rows[0]]
    return pa.Table.from_pylist(rows, schema=arrow_schema(table, columns))

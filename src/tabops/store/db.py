"""Connecting to the tabops store and migrating it; atomic bulk writes start here too
(:meth:`Store.bulk`, implemented in :mod:`tabops.store.bulk`).

The store is SQLite in the embedded workspace and PostgreSQL in production; the URL decides,
and ``store/`` is the only place where the two differ. Bulk writes on PostgreSQL go through
ADBC's Arrow-native binary COPY so that no Python code runs per row.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from tabops.errors import StoreError

if TYPE_CHECKING:
    import pyarrow as pa

    from tabops.store.bulk import BulkTransaction, TableWrite

log = logging.getLogger(__name__)

_MIGRATION_LOCK = threading.Lock()
#: Advisory lock key held while migrating ("tabops" in ASCII).
_MIGRATE_LOCK = 0x7461626F7073

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def validate_identifier(name: str, what: str = "table") -> str:
    """``name`` if it is a plain SQL identifier; identifiers are never built from raw input."""
    if not _IDENTIFIER.match(name):
        raise StoreError(
            f"'{name}' is not a valid {what} name: use letters, digits and underscores, "
            "starting with a letter or underscore (at most 63 characters)."
        )
    return name


def sqlalchemy_url(url: str) -> str:
    """A database URL with tabops' drivers: psycopg 3 for PostgreSQL."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            f"'{url}' is not a database URL. Use sqlite:///path/to/file.db or "
            "postgresql://user:password@host:port/database."
        ) from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def redact(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid URL>"


def _libpq_uri(url: sa.URL, params: dict[str, str]) -> str:
    """A libpq URI; ``params`` are percent-encoded (libpq reads no '+' as a space)."""
    uri = url.set(drivername="postgresql").render_as_string(hide_password=False)
    extra = urlencode(params, quote_via=quote)
    return f"{uri}{'&' if '?' in uri else '?'}{extra}" if extra else uri


@dataclass(frozen=True)
class Timeouts:
    """How long a PostgreSQL connection attempt and a statement may take, in seconds: the
    server sets them so that a hung database fails fast (a CLI run waits as long as the
    database needs)."""

    connect: int
    statement: float

    def libpq(self) -> dict[str, str]:
        """As libpq connection parameters (psycopg's keywords and ADBC's URI alike)."""
        statement_ms = int(self.statement * 1000)
        return {
            "connect_timeout": str(self.connect),
            "options": f"-c statement_timeout={statement_ms}",
        }


class Store:
    """The tabops store: an engine plus the operations that differ by backend."""

    def __init__(self, url: str, timeouts: Timeouts | None = None) -> None:
        self.url = sqlalchemy_url(url)
        self._url = make_url(self.url)
        if self._url.get_backend_name() not in ("sqlite", "postgresql"):
            raise StoreError(
                f"TABOPS_DATABASE_URL '{redact(url)}' is not supported: the tabops store runs on "
                "SQLite or PostgreSQL. Use sqlite:///path/to/tabops.db or "
                "postgresql://user:password@host:port/database (or unset it for the workspace's "
                "SQLite file)."
            )
        self.is_postgres = self._url.get_backend_name() == "postgresql"
        self._timeouts = timeouts.libpq() if timeouts and self.is_postgres else {}
        if self._url.get_backend_name() == "sqlite" and self._url.database:
            Path(self._url.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = sa.create_engine(
            self.url, pool_pre_ping=True, connect_args=self._timeouts
        )
        if self._url.get_backend_name() == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._migrated = False

    def __repr__(self) -> str:
        return f"Store({redact(self.url)})"

    def describe(self) -> str:
        """The store's URL with the password hidden."""
        return redact(self.url)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A transaction on the store; connection failures become a clear :class:`StoreError`."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            raise self._unreachable(exc) from exc

    def _unreachable(self, exc: Exception) -> StoreError:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return StoreError(
            f"Cannot use the tabops store at {self.describe()}: {reason}. Check that the "
            "database is running and that TABOPS_DATABASE_URL is right."
        )

    def migrate(self) -> None:
        """Create or upgrade the store's tables to the current schema version.

        On PostgreSQL an advisory lock serialises concurrent first runs (two workers starting
        against an empty database); DDL is transactional there, so the loser sees the result.
        """
        if self._at_head():
            self._migrated = True
            return
        from alembic import command
        from alembic.config import Config

        # Alembic keeps its running context in module globals: two threads migrating at once
        # (the prediction-log writer and a request) break each other, so one at a time.
        with _MIGRATION_LOCK:
            self._upgrade(command, Config())
            self._migrated = True

    def _at_head(self) -> bool:
        """Whether the store is at the schema's revision already (alembic and its migration
        scripts take 0.2 s to load and check, on every command)."""
        from tabops.store.schema import SCHEMA_REVISION

        try:
            with self.engine.connect() as conn:
                found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        except SQLAlchemyError:  # no store yet, or unreachable: the migration says which
            return False
        return bool(found == SCHEMA_REVISION)

    def ensure_migrated(self) -> None:
        """Migrate unless this object did already: a server opens its store without waiting
        for the database, and the first write (retried until the database answers) migrates."""
        if not self._migrated:
            self.migrate()

    def _upgrade(self, command: Any, config: Any) -> None:
        config.set_main_option("script_location", "tabops.store:migrations")
        try:
            with self.engine.begin() as conn:
                if self.is_postgres:
                    conn.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATE_LOCK}
                    )
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        except sa.exc.OperationalError as exc:
            raise self._unreachable(exc) from exc

    @contextmanager
    def bulk(self, durable: bool = True) -> Iterator[BulkTransaction]:
        """One transaction for bulk appends: everything in it lands, or nothing does.

        On PostgreSQL the rows go through ADBC's Arrow-native binary COPY, streamed from a
        record batch reader as they are produced; elsewhere through SQLAlchemy.
        Unique-key violations raise sqlalchemy.exc.IntegrityError (SQLite) or
        adbc_driver_manager.IntegrityError (PostgreSQL). ``durable=False`` (SQLite) commits
        without waiting for the disk: for rows that a journal on disk holds anyway.
        """
        from tabops.store.bulk import SqlTransaction

        if self.is_postgres:
            with self._adbc_transaction() as transaction:
                yield transaction
        elif durable:
            with self.connect() as conn, _bulk_cache(conn):
                yield SqlTransaction(conn)
        else:
            with self._sqlite_without_sync() as conn, _bulk_cache(conn):
                yield SqlTransaction(conn)

    @contextmanager
    def _sqlite_without_sync(self) -> Iterator[Connection]:
        """A transaction committed without fsync (WAL + synchronous=NORMAL); the pooled
        connection gets its full sync back afterwards."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
                conn.commit()
                try:
                    with conn.begin():
                        yield conn
                finally:
                    try:
                        conn.exec_driver_sql("PRAGMA synchronous=FULL")
                        conn.commit()
                    except sa.exc.SQLAlchemyError:
                        conn.invalidate()  # never back to the pool without its full sync
        except sa.exc.OperationalError as exc:
            raise self._unreachable(exc) from exc

    @contextmanager
    def _adbc_transaction(self) -> Iterator[BulkTransaction]:
        from adbc_driver_postgresql import dbapi

        from tabops.store.bulk import AdbcTransaction

        try:
            conn = dbapi.connect(_libpq_uri(self._url, self._timeouts))
        except dbapi.Error as exc:
            raise self._unreachable(exc) from exc
        try:
            with conn.cursor() as cursor:
                yield AdbcTransaction(cursor, self)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()

    def write_atomically(self, writes: Sequence[TableWrite]) -> None:
        """Append all ``writes`` in one transaction (see :meth:`bulk`)."""
        with self.bulk() as transaction:
            for write in writes:
                transaction.append(write.table, write.rows, replace=write.replace)

    def table_exists(self, name: str) -> bool:
        return sa.inspect(self.engine).has_table(validate_identifier(name))

    def read_table(self, name: str, limit: int | None = None) -> pa.Table:
        """All rows of a table (or the first ``limit``), as Arrow."""
        validate_identifier(name)
        table = sa.Table(name, sa.MetaData(), autoload_with=self.engine)
        query = sa.select(table)
        if limit is not None:
            query = query.limit(limit)
        with self.connect() as conn:
            result = conn.execute(query)
            rows = [dict(row._mapping) for row in result]
            columns = list(result.keys())
        import pyarrow as pa

        return pa.Table.from_pylist(rows) if rows else pa.table({c: [] for c in columns})


def open_store(url: str, migrate: bool = True, timeouts: Timeouts | None = None) -> Store:
    """Open (and by default migrate) the store at ``url``."""
    try:
        store = Store(url, timeouts)
    except SQLAlchemyError as exc:
        raise StoreError(f"Cannot open the tabops store at {redact(url)}: {exc}") from exc
    if migrate:
        store.migrate()
    return store


#: SQLite's page cache during bulk writes (KiB): the history's indexes take rows in no order,
#: and with the default 2 MB cache each insert rereads index pages (4x slower at 1M rows).
_BULK_CACHE_KIB = 65536


@contextmanager
def _bulk_cache(conn: Connection) -> Iterator[None]:
    """A larger page cache for one bulk transaction; the pooled connection gets its default
    back (and frees the pages) afterwards."""
    default = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{_BULK_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(default)}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from tabops.devtools.postgres import free_port
from tabops.errors import StoreError
from tabops.store import schema
from tabops.store.bulk import TableWrite
from tabops.store.db import open_store, redact, sqlalchemy_url, validate_identifier


def test_migrations_create_every_table(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    tables = set(sa.inspect(store.engine).get_table_names())
    assert set(schema.metadata.tables) <= tables
    assert "alembic_version" in tables
    store.migrate()  # idempotent
    with store.engine.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
            == schema.SCHEMA_REVISION
        )


def test_the_schema_revision_is_the_migrations_head_and_a_store_at_it_skips_alembic(
    tmp_path: Path,
) -> None:
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", "tabops.store:migrations")
    assert ScriptDirectory.from_config(config).get_current_head() == schema.SCHEMA_REVISION
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with sa.create_engine(url).begin() as conn:  # a store one migration behind
        config.attributes["connection"] = conn
        command.upgrade(config, "0007")
    store = open_store(url)  # upgraded
    with store.engine.connect() as conn:
        assert (
            conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            == schema.SCHEMA_REVISION
        )
    opened = "from tabops.store.db import open_store; open_store(sys.argv[1])"
    script = f"import sys; {opened}; print('alembic' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", script, url], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"  # at the head: opened without alembic


def test_schema_module_matches_the_migration(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    inspector = sa.inspect(store.engine)
    for name, table in schema.metadata.tables.items():
        migrated = {c["name"] for c in inspector.get_columns(name)}
        assert migrated == {c.name for c in table.columns}, name
        indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes(name)}
        declared = {i.name: [c.name for c in i.columns] for i in table.indexes}
        assert indexes == declared, name


@pytest.mark.parametrize(
    "name",
    ['x"; DROP TABLE quarantine; --', "a b", "1abc", "", "t" * 64, "tab\u00e9", "x.y"],
)
def test_identifiers_are_validated(name: str) -> None:
    with pytest.raises(StoreError, match="not a valid table name"):
        validate_identifier(name)


def test_valid_identifiers_pass() -> None:
    assert validate_identifier("_events_2026") == "_events_2026"


def test_urls() -> None:
    assert sqlalchemy_url("postgresql://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert "secret" not in redact("postgresql://u:secret@h/db")
    with pytest.raises(StoreError, match="is not a database URL"):
        sqlalchemy_url("not a url")


@pytest.mark.parametrize(
    "dialect", ["mysql", "mysql+pymysql", "mariadb", "oracle", "mssql+pyodbc", "duckdb", "nosuch"]
)
def test_store_urls_other_than_sqlite_and_postgresql_say_what_is_supported(dialect: str) -> None:
    with pytest.raises(StoreError) as error:
        open_store(f"{dialect}://user:hunter2@host/db", migrate=False)
    message = str(error.value)
    assert "TABOPS_DATABASE_URL" in message and f"'{dialect}://user:***@host/db'" in message
    assert "sqlite:///" in message and "postgresql://" in message and "hunter2" not in message


def test_unreachable_postgres_is_a_clear_error() -> None:
    url = f"postgresql://tabops:hunter2@127.0.0.1:{free_port()}/nothing"
    with pytest.raises(StoreError) as error:
        open_store(url)
    message = str(error.value)
    assert "Cannot use the tabops store at postgresql+psycopg://tabops:***@127.0.0.1" in message
    assert "TABOPS_DATABASE_URL" in message and "hunter2" not in message


def test_atomic_writes_roll_back_together(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    rows = pa.table({"a": [1, 2]})
    store.write_atomically([TableWrite("user_rows", rows)])

    class BoomError(Exception):
        pass

    with pytest.raises(BoomError), store.bulk() as transaction:
        transaction.append("user_rows", rows, replace=True)
        transaction.append("user_rows", rows)
        raise BoomError
    assert store.read_table("user_rows").num_rows == 2


def test_sqlite_inserts_of_many_statements_keep_every_row_in_order(tmp_path: Path) -> None:
    # SQLite takes a few hundred rows per INSERT statement: 1,234 rows of 3 bound columns are
    # three full statements and a shorter last one.
    from datetime import UTC, datetime, timedelta

    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    count = 1_234
    rows = pa.table({"n": list(range(count)), "text": [f"it's {i}" for i in range(count)],
                     "x": [i / 7 for i in range(count)], "same": ["one"] * count})  # fmt: skip
    with store.bulk() as transaction:
        transaction.append("user_rows", rows)
    assert store.read_table("user_rows").sort_by("n").equals(rows)

    # insert_new counts only the rows it inserted, across statements (7 columns: 142 a
    # statement), and converts times as SQLAlchemy binds them.
    minute = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)

    def buckets(ids: range) -> dict[str, list[object]]:
        return {"id": [f"b{i}" for i in ids], "project": ["p"] * len(ids),
                "model_name": ["m"] * len(ids), "model_version": ["1"] * len(ids),
                "minute": [minute + timedelta(minutes=i) for i in ids],
                "requests": list(ids), "records": list(ids)}  # fmt: skip

    with store.bulk() as transaction:
        assert transaction.insert_new("rejected_requests", buckets(range(300))) == 300
    with store.bulk() as transaction:
        assert transaction.insert_new("rejected_requests", buckets(range(700))) == 400
    table = schema.rejected_requests
    with store.connect() as conn:
        stored = conn.execute(sa.select(table.c.id, table.c.minute, table.c.records)).all()
    assert len(stored) == 700
    assert {(r.id, r.records) for r in stored} == {(f"b{i}", i) for i in range(700)}
    assert max(r.minute for r in stored).replace(tzinfo=UTC) == minute + timedelta(minutes=699)


@pytest.mark.parametrize("rows", [5, 0])
def test_a_batch_run_reads_back_as_written_and_its_rerun_replaces_it(
    tmp_path: Path, rows: int
) -> None:
    # The run's id is written into the statement once, not bound per row, and so is a
    # decision column empty on every row (no rules); quotes and aware times survive.
    from datetime import UTC, date, datetime

    from tabops.batch.history import history_rows
    from tabops.store.batch import (
        BATCH_TABLE,
        ROWS_SCHEMA,
        RunLineage,
        batch_history,
        finish_run,
        first_row_id,
        run_summaries,
        start_run,
    )  # fmt: skip

    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    created = datetime(2026, 12, 6, 10, 30, 15, 123456, tzinfo=UTC)
    lineage = RunLineage("it's", date(2026, 12, 1), "b1", "m", "3")
    scored = pa.record_batch(
        {"id": [str(i) for i in range(rows)], "score": [0.1 * i for i in range(rows)],
         "label": ["no", "yes", "no", "yes", "yes"][:rows],
         "decision": pa.array([None, "review", None, None, "block"][:rows], pa.string())}
    )  # fmt: skip

    def run(batch_id: str, decisions: pa.Array) -> None:
        with store.bulk() as transaction:
            run_id = start_run(transaction, replace(lineage, batch_id=batch_id), created)
            with transaction.stream(BATCH_TABLE, ROWS_SCHEMA) as put:
                put(history_rows(["id"], scored.set_column(3, "decision", decisions), run_id,
                                 first_row_id(run_id)))  # fmt: skip
            finish_run(transaction, run_id, rows)

    run("b1", scored.column("decision"))
    history = batch_history(store, "it's")
    assert history.column("entity_id").to_pylist() == [str(i) for i in range(rows)]
    assert history.column("decision").to_pylist() == scored.column("decision").to_pylist()
    assert set(history.column("created_at").to_pylist()) <= {created}
    assert set(history.column("project").to_pylist()) <= {"it's"}
    run("b2", pa.nulls(rows, pa.string()))  # the same date again: replaced
    again = batch_history(store, "it's")
    assert set(again.column("batch_id").to_pylist()) <= {"b2"}
    assert again.column("decision").null_count == rows == again.num_rows
    [summary] = run_summaries(store, "it's").values()
    assert (summary.batch_id, summary.rows) == ("b2", rows)

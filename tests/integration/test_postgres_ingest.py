"""Ingest against a real PostgreSQL 15 cluster started on 127.0.0.1 by the test harness."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
import yaml

from tabops.context import Context
from tabops.data.ingest import IngestResult, run_ingest
from tabops.data.quarantine import list_entries
from tabops.digest import file_sha256
from tabops.settings import Settings
from tabops.spec import ProjectSpec, parse_spec
from tabops.store.bulk import TableWrite
from tabops.store.db import open_store, sqlalchemy_url
from tabops.store.ledger import list_batches, list_snapshots
from tests.conftest import SMALL_HEADER, small_spec_dict, write_project

pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("postgres")]

ROWS = [
    f"{i},{i}.25,{i},{'red' if i % 2 else 'blue'},{'yes' if i % 3 else 'no'},no"
    for i in range(1, 201)
]


def _pg_ctx(tmp_path: Path, url: str) -> Context:
    return Context(settings=Settings(home=tmp_path / ".tabops", database_url=url))


def _count(url: str, table: str) -> int:
    engine = sa.create_engine(sqlalchemy_url(url))
    with engine.connect() as conn:
        exists = sa.inspect(conn).has_table(table)
        count = (
            conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one() if exists else 0
        )
    engine.dispose()
    return int(count)


def _project(tmp_path: Path, lines: list[str], **spec: object) -> ProjectSpec:
    raw = small_spec_dict(ingest={"table": "clean_rows"}) | spec
    return write_project(tmp_path / "p", "\n".join([SMALL_HEADER, *lines]) + "\n", raw)


def test_ingest_into_postgres_with_copy(tmp_path: Path, pg_url: str) -> None:
    ctx = _pg_ctx(tmp_path, pg_url)
    spec = _project(tmp_path, [*ROWS, "500,-1,1,red,yes,no", "501,1,1"])
    result = run_ingest(spec, ctx)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined, result.rows_rejected) == (
        202,
        200,
        1,
        1,
    )
    assert _count(pg_url, "clean_rows") == 200
    engine = sa.create_engine(sqlalchemy_url(pg_url))
    with engine.connect() as conn:
        types = {c["name"]: str(c["type"]) for c in sa.inspect(conn).get_columns("clean_rows")}
        first = conn.execute(sa.text("SELECT amount, flag FROM clean_rows WHERE id = 3")).one()
    engine.dispose()
    assert types["amount"] == "DOUBLE PRECISION" and types["flag"] == "BOOLEAN"
    assert types["id"] == "BIGINT"
    assert tuple(first) == (3.25, False)
    entries = list_entries(ctx.store, spec.name, status=None)
    assert sorted((e.kind, e.line) for e in entries) == [("contract", 202), ("structural", 203)]
    assert list_snapshots(ctx.store, spec.name)[0].rows == 200


def test_replace_mode_replaces_and_same_file_loads_once(tmp_path: Path, pg_url: str) -> None:
    ctx = _pg_ctx(tmp_path, pg_url)
    spec = _project(tmp_path, ROWS)
    run_ingest(spec, ctx)
    assert run_ingest(spec, ctx).status == "already_loaded"
    (tmp_path / "p" / "data.csv").write_text("\n".join([SMALL_HEADER, *ROWS[:50]]) + "\n")
    run_ingest(spec, ctx)
    assert _count(pg_url, "clean_rows") == 50
    assert len(list_batches(ctx.store, spec.name)) == 2


def test_blocked_batch_writes_nothing(tmp_path: Path, pg_url: str) -> None:
    ctx = _pg_ctx(tmp_path, pg_url)
    bad = [f"{i},x{i},1,red,yes,no" for i in range(1000, 1100)]
    spec = _project(tmp_path, [*ROWS, *bad], contract={"max_quarantine_rate": 0.1})
    result = run_ingest(spec, ctx)
    assert result.status == "blocked"
    assert _count(pg_url, "clean_rows") == 0  # the streamed COPY was rolled back
    assert list_snapshots(ctx.store, spec.name) == []
    assert list_entries(ctx.store, spec.name, status=None) == []
    assert [b.status for b in list_batches(ctx.store, spec.name)] == ["blocked"]


def test_concurrent_duplicate_ingests_load_once(tmp_path: Path, pg_url: str) -> None:
    spec = _project(tmp_path, ROWS, ingest={"table": "clean_rows", "mode": "append"})
    results: list[IngestResult] = []
    errors: list[BaseException] = []

    def ingest(n: int) -> None:
        try:
            results.append(run_ingest(spec, _pg_ctx(tmp_path / f"w{n}", pg_url)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ingest, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(r.status for r in results).count("loaded") == 1
    assert _count(pg_url, "clean_rows") == 200
    ctx = _pg_ctx(tmp_path, pg_url)
    assert [b.status for b in list_batches(ctx.store, spec.name)] == ["committed"]


def test_sql_table_source(tmp_path: Path, pg_url: str) -> None:
    store = open_store(pg_url, migrate=False)
    source = pa.table(
        {"id": [1, 2, 3], "amount": [1.5, 2.5, -1.0], "count": [1, None, 3],
         "color": ["red", "blue", "red"], "flag": [True, False, True], "label": ["no", "yes", "no"]}
    )  # fmt: skip
    store.write_atomically([TableWrite("raw_events", source)])
    spec = parse_spec(small_spec_dict(source={"url": pg_url, "table": "raw_events"}))
    ctx = Context(settings=Settings(home=tmp_path / ".tabops"))
    result = run_ingest(spec, ctx)
    assert (result.rows_loaded, result.rows_quarantined) == (2, 1)
    assert result.source.endswith("table raw_events")
    assert pq.read_table(result.snapshot_path).column("count").to_pylist() == [1, None]  # type: ignore[arg-type]


_KILL_SCRIPT = """
import sys
from pathlib import Path
from tabops.context import Context
from tabops.data.ingest import run_ingest
from tabops.settings import Settings
from tabops.spec import load_spec
ctx = Context(settings=Settings(home=Path(sys.argv[2]), database_url=sys.argv[3]))
print(run_ingest(load_spec(Path(sys.argv[1])), ctx).status, flush=True)
"""


@pytest.mark.slow
def test_killed_load_leaves_nothing_and_completes_on_rerun(tmp_path: Path, pg_url: str) -> None:
    rows = [f"{i},{i % 900}.5,{i % 7},red,yes,no" for i in range(1, 300_001)]
    spec = _project(tmp_path, rows)
    home = tmp_path / ".tabops"
    script = tmp_path / "ingest.py"
    script.write_text(_KILL_SCRIPT)
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    args = [sys.executable, str(script), str(tmp_path / "p"), str(home), pg_url]
    open_store(pg_url)  # migrated up front, so the kill lands in the load itself
    for delay in (0.8, 1.6):
        process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)
        time.sleep(delay)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()
        ctx = _pg_ctx(tmp_path, pg_url)
        batches = list_batches(ctx.store, spec.name)
        if batches:  # it finished before the kill: then it is complete
            assert _count(pg_url, "clean_rows") == 300_000
            break
        assert _count(pg_url, "clean_rows") == 0
        assert list_snapshots(ctx.store, spec.name) == []
        # A kill between the snapshot's rename and the commit leaves a whole, content-addressed
        # file that nothing references (the rerun finds it and keeps it); never a partial one.
        for left in (home / "snapshots" / spec.name).glob("[0-9a-f]*.parquet"):
            assert file_sha256(left) == left.stem
            assert pq.read_metadata(left).num_rows == 300_000
    rerun = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    assert rerun.stdout.strip() in ("loaded", "already_loaded")
    assert _count(pg_url, "clean_rows") == 300_000
    assert len(list_batches(_pg_ctx(tmp_path, pg_url).store, spec.name)) == 1


def test_yaml_spec_with_postgres_url_env(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TABOPS_DATABASE_URL", pg_url)
    monkeypatch.setenv("TABOPS_HOME", str(tmp_path / "home"))
    folder = tmp_path / "q"
    folder.mkdir()
    (folder / "data.csv").write_text("\n".join([SMALL_HEADER, *ROWS]) + "\n")
    (folder / "tabops.yaml").write_text(yaml.safe_dump(small_spec_dict()))
    from tabops.spec import load_spec

    result = run_ingest(load_spec(folder), Context())
    assert result.rows_loaded == 200
    assert _count(pg_url, "ingest_batches") == 1


def test_sql_source_with_64_bit_ids_and_infinity(tmp_path: Path, pg_url: str) -> None:
    """bigint ids past 2^53 stay exact; inf and fractions in an integer column are quarantined."""
    engine = sa.create_engine(sqlalchemy_url(pg_url))
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE wide_ids AS SELECT 9007199254740993 + 2 * i AS id, "
                "i::double precision AS amount, i::double precision AS count, 'red' AS color, "
                "true AS flag, 'no' AS label FROM generate_series(0, 9) AS i"
            )
        )
        conn.execute(sa.text("UPDATE wide_ids SET count = 'Infinity' WHERE amount = 1"))
        conn.execute(sa.text("UPDATE wide_ids SET count = 2.5 WHERE amount = 2"))
    engine.dispose()
    spec = parse_spec(small_spec_dict(source={"url": pg_url, "table": "wide_ids"}))
    ctx = Context(settings=Settings(home=tmp_path / ".tabops"))
    result = run_ingest(spec, ctx)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (10, 8, 2)
    ids = pq.read_table(result.snapshot_path).column("id").to_pylist()  # type: ignore[arg-type]
    assert sorted(ids) == [9007199254740993 + 2 * i for i in range(10) if i not in (1, 2)]
    messages = sorted(e.reasons[0]["message"] for e in list_entries(ctx.store, "small"))
    assert messages == ["2.5 is not a valid integer", "inf is not a valid integer"]

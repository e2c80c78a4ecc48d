from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from tabops.context import Context
from tabops.data.examples import CHURN_UPDATE_DEFECTS, CHURN_UPDATE_ROWS
from tabops.data.infer import infer_spec
from tabops.data.ingest import run_ingest
from tabops.data.quarantine import list_entries
from tabops.data.sources import read_file
from tabops.errors import DataError
from tabops.spec import SourceSpec, load_spec, parse_spec
from tabops.store import schema
from tabops.store.ledger import list_batches, list_snapshots
from tests.conftest import SMALL_HEADER, small_spec_dict, write_project

GOOD = [f"{i},{i}.5,{i},red,yes,no" for i in range(1, 9)]


def _csv(*lines: str) -> str:
    return "\n".join([SMALL_HEADER, *lines]) + "\n"


def test_clean_batch_is_loaded_and_snapshotted(tmp_path: Path, ctx: Context) -> None:
    spec = write_project(tmp_path / "p", _csv(*GOOD))
    result = run_ingest(spec, ctx)
    assert result.status == "loaded"
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (8, 8, 0)
    assert result.snapshot_path is not None
    snapshot = pq.read_table(result.snapshot_path)
    assert snapshot.num_rows == 8 and snapshot.column("amount").to_pylist()[0] == 1.5
    assert Path(result.snapshot_path).name == f"{result.snapshot_hash}.parquet"
    assert [s.snapshot_hash for s in list_snapshots(ctx.store, "small")] == [result.snapshot_hash]


def test_bad_rows_are_quarantined_with_reasons_and_lines(tmp_path: Path, ctx: Context) -> None:
    spec = write_project(
        tmp_path / "p", _csv(*GOOD[:4], "50,-1,1,red,yes,no", "60,1,1,red", *GOOD[4:])
    )
    result = run_ingest(spec, ctx)
    assert (result.rows_in, result.rows_loaded) == (10, 8)
    assert (result.rows_quarantined, result.rows_rejected) == (1, 1)
    assert result.conserved
    entries = {e.kind: e for e in list_entries(ctx.store, "small", status=None)}
    contract, structural = entries["contract"], entries["structural"]
    assert contract.line == 6 and contract.row_number == 5
    assert json.loads(contract.raw)["amount"] == "-1"
    assert contract.reasons == [
        {"column": "amount", "check": "min", "message": "-1.0 is below min 0"}
    ]
    assert structural.line == 7 and structural.raw == "60,1,1,red"
    assert "expected 6 fields, found 4" in structural.summary()
    assert {e.batch_id for e in entries.values()} == {result.batch_id}


def test_same_content_is_loaded_once(tmp_path: Path, ctx: Context) -> None:
    spec = write_project(tmp_path / "p", _csv(*GOOD, "99,1,1,red"))
    first = run_ingest(spec, ctx)
    second = run_ingest(spec, ctx)
    assert second.status == "already_loaded" and second.batch_id == first.batch_id
    assert len(list_batches(ctx.store, "small")) == 1
    assert len(list_entries(ctx.store, "small", status=None)) == 1


def test_quarantine_rate_over_limit_blocks_everything(tmp_path: Path, ctx: Context) -> None:
    raw = small_spec_dict()
    raw["contract"]["max_quarantine_rate"] = 0.1
    spec = write_project(
        tmp_path / "p", _csv(*GOOD[:5], "6,x,1,red,yes,no", "7,y,1,red,yes,no"), raw
    )
    result = run_ingest(spec, ctx)
    assert result.status == "blocked"
    assert (
        "quarantine rate 28.57% is above contract.max_quarantine_rate 10.00%"
        in result.blocked_reasons[0]
    )
    assert result.snapshot_hash is None
    assert list_snapshots(ctx.store, "small") == []
    assert list_entries(ctx.store, "small", status=None) == []
    assert not list((ctx.settings.snapshots_dir / "small").glob("*.parquet"))
    (batch,) = list_batches(ctx.store, "small")
    assert batch.status == "blocked"
    # Once fixed, the same file is not considered loaded: it loads.
    assert (
        run_ingest(
            spec.model_copy(
                update={"contract": spec.contract.model_copy(update={"max_quarantine_rate": 0.5})}
            ),
            ctx,
        ).status
        == "loaded"
    )


@pytest.mark.parametrize(
    ("header", "row", "expected"),
    [
        (SMALL_HEADER + ",extra", "1,1,1,red,yes,no,z", "column 'extra' is new"),
        ("id,amount,count,color,label", "1,1,1,red,no", "column 'flag' is missing"),
    ],
)
def test_schema_drift_blocks(
    tmp_path: Path, ctx: Context, header: str, row: str, expected: str
) -> None:
    spec = write_project(tmp_path / "p", f"{header}\n{row}\n")
    result = run_ingest(spec, ctx)
    assert result.status == "blocked"
    assert any(expected in reason for reason in result.blocked_reasons)
    assert list_snapshots(ctx.store, "small") == []


def test_retyped_column_blocks(tmp_path: Path, ctx: Context) -> None:
    rows = [f"{i},n/a-{i},1,red,yes,no" for i in range(10)]
    result = run_ingest(
        write_project(
            tmp_path / "p", _csv(*rows), small_spec_dict(contract={"max_quarantine_rate": 1.0})
        ),
        ctx,
    )
    assert result.status == "blocked"
    assert "column 'amount' looks retyped" in result.blocked_reasons[0]


def test_append_mode_accumulates(tmp_path: Path, ctx: Context) -> None:
    raw = small_spec_dict(ingest={"mode": "append"})
    spec = write_project(tmp_path / "p", _csv(*GOOD[:4]), raw)
    first = run_ingest(spec, ctx)
    (tmp_path / "p" / "data.csv").write_text(_csv(*GOOD[4:]))
    second = run_ingest(spec, ctx)
    assert (first.snapshot_rows, second.snapshot_rows) == (4, 8)
    snapshots = list_snapshots(ctx.store, "small")
    assert snapshots[0].parent_hash == first.snapshot_hash


def test_publishing_to_a_table(tmp_path: Path, ctx: Context) -> None:
    spec = write_project(
        tmp_path / "p", _csv(*GOOD), small_spec_dict(ingest={"table": "clean_rows"})
    )
    run_ingest(spec, ctx)
    (tmp_path / "p" / "data.csv").write_text(_csv(*GOOD[:3]))
    run_ingest(spec, ctx)  # replace mode: the table holds the latest batch only
    with ctx.store.engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM clean_rows")).scalar_one()
    assert count == 3


def test_parquet_source(tmp_path: Path, ctx: Context) -> None:
    table = pa.table(
        {"id": [1, 2], "amount": [1.0, 2000.0], "count": [1, None], "color": ["red", "red"],
         "flag": [True, False], "label": ["no", "yes"]}
    )  # fmt: skip
    pq.write_table(table, tmp_path / "data.parquet")
    spec = parse_spec(small_spec_dict(path=str(tmp_path / "data.parquet")))
    result = run_ingest(spec, ctx)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    (entry,) = list_entries(ctx.store, "small")
    assert entry.line is None and entry.row_number == 2


def test_sqlite_source(tmp_path: Path, ctx: Context) -> None:
    url = f"sqlite:///{tmp_path / 'source.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE t (id INT, amount REAL, count INT, color TEXT, flag INT, label TEXT)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO t VALUES (1, 1.5, 2, 'red', 1, 'no'), (2, 3, NULL, 'pink', 0, 'yes')"
            )
        )
    spec = parse_spec(small_spec_dict(source={"url": url, "table": "t"}))
    result = run_ingest(spec, ctx)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    query_spec = parse_spec(
        small_spec_dict(source={"url": url, "query": "SELECT * FROM t WHERE id = 1"})
    )
    assert run_ingest(query_spec, ctx).rows_loaded == 1


@pytest.mark.parametrize("url", ["mysql://u:hunter2@h/db", "oracle://h/db", "mssql+pyodbc://h/db"])
def test_sql_source_without_its_driver_is_an_error(url: str, ctx: Context) -> None:
    spec = parse_spec(small_spec_dict(source={"url": url, "table": "t"}))
    with pytest.raises(DataError, match=r"source\.url .*driver is not installed") as error:
        run_ingest(spec, ctx)
    assert "hunter2" not in str(error.value)


def test_header_only_file_is_an_error(tmp_path: Path, ctx: Context) -> None:
    spec = write_project(tmp_path / "p", _csv())
    with pytest.raises(DataError, match="no rows"):
        run_ingest(spec, ctx)
    assert not list((ctx.settings.snapshots_dir / "small").glob("*"))


def test_missing_source_file_is_an_error(tmp_path: Path, ctx: Context) -> None:
    spec = parse_spec(small_spec_dict(path=str(tmp_path / "nope.csv")))
    with pytest.raises(DataError, match=r"nope\.csv does not exist .*source\.path"):
        run_ingest(spec, ctx)


def test_churn_update_defects_are_all_caught(
    churn_data: Path, tmp_path: Path, ctx: Context
) -> None:
    table = read_file(churn_data / "churn.csv").table
    inferred = infer_spec(
        table, SourceSpec(path=str(churn_data / "churn_update.csv")), "churn", None, "churn"
    ).spec
    result = run_ingest(inferred, ctx)
    failures = {check: n for checks in result.failures.values() for check, n in checks.items()}
    assert failures == {
        k: v for k, v in CHURN_UPDATE_DEFECTS.items() if k in ("min", "category", "type", "unique")
    }
    assert result.structural == {"wrong field count": 1, "not valid utf-8": 1}
    assert result.rows_in == CHURN_UPDATE_ROWS
    assert result.rows_loaded == CHURN_UPDATE_ROWS - sum(CHURN_UPDATE_DEFECTS.values())


def test_load_spec_relative_source(tmp_path: Path, ctx: Context) -> None:
    write_project(tmp_path / "p", _csv(*GOOD))
    spec = load_spec(tmp_path / "p" / "tabops.yaml")
    assert run_ingest(spec, ctx).rows_loaded == 8
    with ctx.store.engine.connect() as conn:
        rows = conn.execute(sa.select(schema.ingest_batches.c.spec_hash)).scalars().all()
    assert rows == [spec.spec_hash]


def test_appended_batches_keep_ids_unique(tmp_path: Path, ctx: Context) -> None:
    spec = write_project(tmp_path, f"{SMALL_HEADER}\n1,1,1,red,yes,no\n2,2,2,blue,no,yes\n")
    run_ingest(spec, ctx)
    (tmp_path / "more.csv").write_text(f"{SMALL_HEADER}\n2,5,5,red,yes,no\n3,3,3,red,yes,no\n")
    later = load_spec(tmp_path, ["source.path=more.csv", "ingest.mode=append"])
    result = run_ingest(later, ctx)
    assert (result.rows_loaded, result.rows_quarantined, result.snapshot_rows) == (1, 1, 3)
    assert result.failures == {"id": {"unique": 1}}


def test_content_committed_by_a_concurrent_run_is_already_loaded_not_blocked(
    tmp_path: Path, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs of one file at once (append mode, unique ids): the second found no committed
    batch, then read the first's snapshot as its parent, so every id looked duplicate. It must
    end as already_loaded (the first load stands), not as a blocked batch in the ledger."""
    import tabops.data.ingest as ingest

    raw = small_spec_dict(ingest={"mode": "append"})
    spec = write_project(tmp_path / "p", _csv(*GOOD), raw)
    first = run_ingest(spec, ctx)
    real, looks = ingest.find_committed_batch, []

    def before_the_other_commit(*args: Any) -> Any:
        looks.append(args)  # the first look happened before the other run committed
        return None if len(looks) == 1 else real(*args)

    monkeypatch.setattr(ingest, "find_committed_batch", before_the_other_commit)
    second = run_ingest(spec, ctx)
    assert (first.status, second.status) == ("loaded", "already_loaded")
    assert [b.status for b in list_batches(ctx.store, "small")] == ["committed"]


def test_a_european_file_loads_typed_and_quarantines_misformatted_numbers(
    tmp_path: Path, ctx: Context
) -> None:
    folder = tmp_path / "eu"
    folder.mkdir()
    lines = ["id;income;rate;since;y"]
    lines += [f"{i};1.{i:03d},5;{i % 30},5 %;{1 + i % 28:02d}/03/2024;{'ja' if i % 3 else 'nee'}"
              for i in range(1, 61)]  # fmt: skip
    lines += ["61;1.234.5;3,5 %;01/03/2024;ja", "62;12,5;3.5 %;01/03/2024;nee"]  # two bad cells
    (folder / "data.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    source = SourceSpec.model_validate(
        {"path": str(folder / "data.csv"), "csv": {"delimiter": ";"}}
    )
    table = read_file(folder / "data.csv", source.csv).table
    spec = infer_spec(table.slice(0, 60), source, "y", None, "eu").spec
    result = run_ingest(spec, ctx)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (62, 60, 2)
    snapshot = pq.read_table(result.snapshot_path)
    assert snapshot.column("income").to_pylist()[:2] == [1001.5, 1002.5]
    assert snapshot.column("rate").to_pylist()[:2] == [1.5, 2.5]
    assert str(snapshot.column("since").to_pylist()[0].date()) == "2024-03-02"
    reasons = {e.row_number: e.reasons for e in list_entries(ctx.store, "eu", status=None)}
    assert [r["column"] for r in reasons[61]] == ["income"]
    assert [r["column"] for r in reasons[62]] == ["rate"]

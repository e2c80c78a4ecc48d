from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabops.context import Context
from tabops.data.ingest import run_ingest
from tabops.data.quarantine import ID_COLUMN, export_entries, get_entry, list_entries, replay
from tabops.errors import DataError, NotFoundError
from tabops.spec import ProjectSpec
from tabops.store.ledger import latest_snapshot
from tests.conftest import SMALL_HEADER, write_project

ROWS = [f"{i},{i},1,red,yes,no" for i in range(1, 7)]
BAD = ["7,-5,1,red,yes,no", "8,2,1,purple,yes,no", "9,3,1,red"]


@pytest.fixture
def loaded(tmp_path: Path, ctx: Context) -> ProjectSpec:
    spec = write_project(tmp_path / "p", "\n".join([SMALL_HEADER, *ROWS, *BAD]) + "\n")
    result = run_ingest(spec, ctx)
    assert (result.rows_loaded, result.rows_quarantined, result.rows_rejected) == (6, 2, 1)
    return spec


def _export(spec: ProjectSpec, ctx: Context, path: Path) -> list[dict[str, str]]:
    export_entries(list_entries(ctx.store, spec.name, limit=None), spec, path)
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_export_holds_raw_values_and_reasons(
    loaded: ProjectSpec, ctx: Context, tmp_path: Path
) -> None:
    rows = _export(loaded, ctx, tmp_path / "fixes.csv")
    by_id = {row["id"]: row for row in rows if row["id"]}
    assert by_id["7"]["amount"] == "-5" and "below min" in by_id["7"]["_reasons"]
    assert by_id["8"]["color"] == "purple"
    structural = [row for row in rows if row["_raw"]]
    assert structural[0]["_raw"] == "9,3,1,red" and structural[0]["_line"] == "10"


def test_fixed_rows_replay_once(loaded: ProjectSpec, ctx: Context, tmp_path: Path) -> None:
    fixes = tmp_path / "fixes.csv"
    rows = _export(loaded, ctx, fixes)
    for row in rows:
        if row["id"] == "7":
            row["amount"] = "5"
        if row["_raw"]:
            row.update(id="9", amount="3", count="1", color="red", flag="yes", label="no")
    _write(fixes, rows)  # row 8 (purple) stays wrong
    first = replay(loaded, ctx, fixes)
    assert (first.replayed, first.still_bad, first.skipped) == (2, 1, 0)
    snapshot = latest_snapshot(ctx.store, loaded.name)
    assert snapshot is not None and snapshot.rows == 8
    ids = pq.read_table(snapshot.path).column("id").to_pylist()
    assert sorted(ids) == [1, 2, 3, 4, 5, 6, 7, 9]

    second = replay(loaded, ctx, fixes)
    assert (second.replayed, second.still_bad, second.skipped) == (0, 1, 2)
    assert latest_snapshot(ctx.store, loaded.name).snapshot_hash == snapshot.snapshot_hash  # type: ignore[union-attr]
    open_ids = [e.id for e in list_entries(ctx.store, loaded.name)]
    assert len(open_ids) == 1
    replayed = list_entries(ctx.store, loaded.name, status="replayed")
    assert {e.replayed_batch_id for e in replayed} == {first.batch_id}


def test_replay_needs_an_export(loaded: ProjectSpec, ctx: Context, tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text(SMALL_HEADER + "\n1,1,1,red,yes,no\n")
    with pytest.raises(DataError, match="no _quarantine_id column"):
        replay(loaded, ctx, other)


def test_get_entry(loaded: ProjectSpec, ctx: Context) -> None:
    first = list_entries(ctx.store, loaded.name)[0]
    assert get_entry(ctx.store, loaded.name, first.id) == first
    with pytest.raises(NotFoundError, match="tabops quarantine list"):
        get_entry(ctx.store, loaded.name, 999_999)


def test_replay_keeps_ids_unique_across_the_dataset(
    loaded: ProjectSpec, ctx: Context, tmp_path: Path
) -> None:
    rows = _export(loaded, ctx, tmp_path / "fixes.csv")
    taken = next(row for row in rows if row["id"])
    for row in rows:  # make every row valid, but reuse an id that is already loaded
        row.update(amount="1", count="1", color="red", flag="true", label="no", id="1")
    _write(tmp_path / "fixes.csv", rows)
    result = replay(loaded, ctx, tmp_path / "fixes.csv")
    assert result.replayed == 0
    assert result.still_bad == len(rows)
    entry = get_entry(ctx.store, loaded.name, int(taken["_quarantine_id"]))
    assert [r["check"] for r in entry.reasons] == ["unique"]


def _not_an_id(text: str) -> bool:
    digits = text.strip()
    return not (digits.isascii() and digits.isdigit() and len(digits) <= 19 and int(digits) < 2**63)


EDITED_IDS = st.one_of(
    st.sampled_from(["", " ", "6.0", "abc", str(10**23), "1e23", "-1", "+3", "0x1F", "٣"]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=25).filter(_not_an_id),
)


@given(edited=EDITED_IDS, which=st.integers(0, 2))
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_an_edited_id_names_its_line(
    loaded: ProjectSpec, ctx: Context, tmp_path: Path, edited: str, which: int
) -> None:
    rows = _export(loaded, ctx, tmp_path / "fixes.csv")
    rows[which]["_quarantine_id"] = edited
    _write(tmp_path / "edited.csv", rows)
    with pytest.raises(DataError) as raised:
        replay(loaded, ctx, tmp_path / "edited.csv")
    assert f"line {which + 2}: _quarantine_id {edited!r} is not a quarantine id" in str(
        raised.value
    )
    assert list_entries(ctx.store, loaded.name, status="replayed") == []


@pytest.mark.parametrize(
    ("column", "value"), [("amount", "abc"), ("count", "1.5"), ("flag", "maybe"), ("id", "x")]
)
def test_rows_still_failing_their_type_are_still_bad(
    loaded: ProjectSpec, ctx: Context, tmp_path: Path, column: str, value: str
) -> None:
    rows = _export(loaded, ctx, tmp_path / "fixes.csv")
    for row in rows:  # every row fails the same type check: a batch would look retyped
        row.update(id=row["id"] or "9", amount="1", count="1", color="red", flag="no", label="no")
        row[column] = value
    _write(tmp_path / "fixes.csv", rows)
    result = replay(loaded, ctx, tmp_path / "fixes.csv")
    assert (result.replayed, result.still_bad) == (0, len(rows))
    for entry in list_entries(ctx.store, loaded.name):
        assert [(r["column"], r["check"]) for r in entry.reasons] == [(column, "type")]


def test_a_parquet_replay_file_has_integer_ids(
    loaded: ProjectSpec, ctx: Context, tmp_path: Path
) -> None:
    rows = [r for r in _export(loaded, ctx, tmp_path / "fixes.csv") if r["id"] == "7"]
    rows[0]["amount"] = "5"
    table = pa.Table.from_pylist(rows).set_column(0, ID_COLUMN, pa.array([int(rows[0][ID_COLUMN])]))
    pq.write_table(table, tmp_path / "fixes.parquet")
    assert replay(loaded, ctx, tmp_path / "fixes.parquet").replayed == 1
    pq.write_table(
        table.set_column(0, ID_COLUMN, pa.array([None], pa.int64())), tmp_path / "x.parquet"
    )
    with pytest.raises(
        DataError, match=r"x\.parquet row 1: _quarantine_id None is not a quarantine id"
    ):
        replay(loaded, ctx, tmp_path / "x.parquet")

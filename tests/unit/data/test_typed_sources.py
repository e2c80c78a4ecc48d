"""Typed sources (Parquet, SQL) go through the same contract as CSV text, without a lossy
detour through float64: 64-bit ids stay exact, inf and fractions in integer columns are
quarantined with a reason, and the same values as CSV text give the same rows."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from tabops.context import Context
from tabops.data.contract import check_contract
from tabops.data.ingest import run_ingest
from tabops.data.quarantine import list_entries
from tabops.spec import parse_spec

INT64 = (-(2**63), 2**63 - 1)
SPEC = parse_spec(
    {
        "name": "typed",
        "task": "classification",
        "target": "label",
        "source": {"path": "data.parquet"},
        "columns": {
            "n": {"type": "integer", "nullable": True},
            "x": {"type": "numeric", "nullable": True},
            "label": {"type": "categorical", "role": "target", "categories": ["a"]},
        },
        "contract": {"max_quarantine_rate": 1.0},
    }
)
EDGES = [0, 2**53 + 1, -(2**53) - 1, *INT64, 2**63, 2**64 - 1]


def _table(values: list[object], arrow: pa.DataType) -> pa.Table:
    column = pa.array(values, type=arrow)
    return pa.table({"n": column, "x": column, "label": ["a"] * len(values)})


def _outcome(table: pa.Table) -> tuple[list[dict[str, object]], list[int], list[list[str]]]:
    result = check_contract(table, SPEC)
    reasons = [sorted(f"{r.column}:{r.check}" for r in result.reasons[i]) for i in result.bad_index]
    return result.good.to_pylist(), result.bad_index.tolist(), reasons


@given(
    st.lists(st.one_of(st.sampled_from(EDGES), st.integers(0, 2**64 - 1), st.none()), min_size=1)
)
@settings(max_examples=150, deadline=None)
def test_integers_are_checked_exactly_as_their_csv_text(values: list[int | None]) -> None:
    present = [v for v in values if v is not None]
    if all(INT64[0] <= v <= INT64[1] for v in present):
        arrow = pa.int64()
    elif all(v >= 0 for v in present):
        arrow = pa.uint64()
    else:
        return  # no Arrow integer type holds both
    typed = _outcome(_table(values, arrow))
    text = _outcome(_table(["" if v is None else str(v) for v in values], pa.string()))
    assert typed == text
    good = [v for v in values if v is None or v <= INT64[1]]
    assert [row["n"] for row in typed[0]] == good  # exact, not rounded through float64


@given(
    st.lists(
        st.one_of(st.floats(), st.sampled_from([2.0**63, -(2.0**63), 2.0**53 + 2])), min_size=1
    )
)
@settings(max_examples=150, deadline=None)
def test_floats_in_an_integer_column(values: list[float]) -> None:
    good, bad, reasons = _outcome(_table(values, pa.float64()))
    kept = [
        None if math.isnan(v) else int(v)  # NaN is a missing value
        for v in values
        if math.isnan(v) or (math.isfinite(v) and v == int(v) and -(2**63) <= v < 2**63)
    ]
    assert [row["n"] for row in good] == kept
    assert len(good) + len(bad) == len(values)
    for position, why in zip(bad, reasons, strict=True):
        value = values[position]
        assert "n:type" in why
        assert ("x:type" in why) == math.isinf(value)


def test_parquet_with_64_bit_ids_and_inf_loads(tmp_path: Path, ctx: Context) -> None:
    ids = pa.array([2**62 + 1, 2**63 - 1, 3], type=pa.int64())
    counts = pa.array([1.0, math.inf, 2.0])
    pq.write_table(
        pa.table({"n": ids, "x": counts, "label": ["a", "a", "a"]}), tmp_path / "data.parquet"
    )
    spec = parse_spec(
        SPEC.model_dump(mode="json") | {"source": {"path": str(tmp_path / "data.parquet")}}
    )
    spec.columns["x"].type = spec.columns["n"].type  # x: an integer column holding inf
    result = run_ingest(spec, ctx)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    (entry,) = list_entries(ctx.store, "typed")
    assert entry.row_number == 2 and entry.reasons[0]["column"] == "x"
    assert "inf is not a valid integer" in entry.reasons[0]["message"]


def test_sqlite_columns_holding_several_types(tmp_path: Path, ctx: Context) -> None:
    url = f"sqlite:///{tmp_path / 'source.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (n INT, x REAL, label TEXT)"))
        conn.execute(
            sa.text(
                "INSERT INTO t VALUES (4611686018427387905, 1, 'a'), (1.5, 2, 'a'), "
                "('abc', 3, 'a'), (7, 1e999, 'a')"
            )
        )
    engine.dispose()
    spec = parse_spec(SPEC.model_dump(mode="json") | {"source": {"url": url, "table": "t"}})
    result = run_ingest(spec, ctx)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (4, 1, 3)
    checks = {
        e.row_number: [(r["column"], r["check"]) for r in e.reasons]
        for e in list_entries(ctx.store, "typed")
    }
    assert checks == {2: [("n", "type")], 3: [("n", "type")], 4: [("x", "type")]}

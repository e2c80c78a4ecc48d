"""Range and category limits are one rule: the contract (whole columns, in Arrow) quarantines
exactly the values the request schema (one value at a time) refuses, for the same check."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from tabops.data.contract import check_contract
from tabops.limits import CATEGORY, MAX, MIN, Limits
from tabops.serve.schema import InvalidRecordsError, RequestSchema
from tabops.spec import ColumnSpec, ColumnType, parse_spec

SPEC = parse_spec(
    {
        "name": "limits",
        "task": "classification",
        "target": "label",
        "source": {"path": "data.csv"},
        "columns": {
            "amount": {"type": "numeric", "min": 0, "max": 100.5},
            "n": {"type": "integer", "min": -5},
            "color": {"type": "categorical", "categories": ["red", "blue"]},
            "label": {"type": "categorical", "role": "target"},
        },
    }
)
SCHEMA = RequestSchema(SPEC)
LIMITED = ("amount", "n", "color")

AMOUNTS = st.sampled_from([0.0, 100.5, -0.0, 1e-300, -1e-300]) | st.floats(
    -200, 200, allow_nan=False
)
NS = st.integers(-10, 10)
COLORS = st.sampled_from(["red", "blue", "green", "Red", "bl"])


def _contract_failures(records: list[dict[str, Any]]) -> dict[tuple[int, str], str]:
    table = pa.table(
        {
            "amount": pa.array([r["amount"] for r in records], pa.float64()),
            "n": pa.array([r["n"] for r in records], pa.int64()),
            "color": pa.array([r["color"] for r in records], pa.string()),
            "label": pa.array(["a"] * len(records), pa.string()),
        }
    )
    reasons = check_contract(table, SPEC).reasons
    return {(i, r.column): r.check for i, found in reasons.items() for r in found}


def _refused(record: dict[str, Any]) -> dict[str, str]:
    try:
        SCHEMA.model_rows([{**record}], batch=False)
    except InvalidRecordsError as exc:
        return {p.field: p.message for p in exc.problems}
    return {}


@given(
    st.lists(
        st.fixed_dictionaries({"amount": AMOUNTS, "n": NS, "color": COLORS}),
        min_size=1,
        max_size=20,
    )
)
@settings(max_examples=150, deadline=None)
def test_the_contract_and_the_request_schema_refuse_the_same_values(
    records: list[dict[str, Any]],
) -> None:
    quarantined = _contract_failures(records)
    assert set(quarantined.values()) <= {MIN, MAX, CATEGORY}
    for position, record in enumerate(records):
        refused = _refused(record)
        assert set(refused) == {c for c in LIMITED if (position, c) in quarantined}
        for column, message in refused.items():  # the same check, in the request's words
            limits = Limits.of(SPEC.columns[column])
            assert message == limits.problem(quarantined[position, column], record[column])


def test_messages_keep_their_wording() -> None:
    amount, color = Limits.of(SPEC.columns["amount"]), Limits.of(SPEC.columns["color"])
    assert amount.reason(MIN, -3.0) == "-3.0 is below min 0"
    assert amount.problem(MAX, 1000) == "must be at most 100.5, not 1000"
    assert color.reason(CATEGORY, "green") == "unknown category 'green'; allowed: 'red', 'blue'"
    refused = color.problem(CATEGORY, "green")
    assert refused == "'green' is not one of the categories 'red', 'blue'"
    assert Limits.of(SPEC.columns["n"]).categories is None
    # A client's mistake quotes a few categories, not every zone of a city (about 10 KB).
    zones = [f"zone {n}" for n in range(194)]
    many = Limits.of(ColumnSpec(type=ColumnType.CATEGORICAL, categories=zones))
    assert many.problem(CATEGORY, "Mars") == (
        "'Mars' is not one of the categories 'zone 0', 'zone 1', 'zone 2', 'zone 3', 'zone 4', "
        "'zone 5', 'zone 6', 'zone 7', ... (194 in all)"
    )


def test_a_category_in_another_letter_case_is_refused_and_named() -> None:
    color = Limits.of(SPEC.columns["color"])
    assert color.reason(CATEGORY, "RED") == (
        "unknown category 'RED' ('red' differs in letter case only); allowed: 'red', 'blue'"
    )
    assert _refused({"amount": 1.0, "n": 0, "color": "Blue"})["color"] == (
        "'Blue' is not one of the categories 'red', 'blue' ('blue' differs in letter case only)"
    )
    assert "letter case" not in color.reason(CATEGORY, "green")

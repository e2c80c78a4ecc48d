"""S1 without a server: :class:`tabops.serve.schema.RequestSchema` accepts every record generated
from the schema and refuses every mutation class, naming the field, and the OpenAPI record
schema it publishes never rejects what it accepts."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabops.model.datetimes import value_parts
from tabops.serve.schema import InvalidRecordsError, RequestSchema
from tabops.spec import parse_spec
from tabops.store.predictions import Prediction
from tests.integration.serve.conftest import served_spec_dict, valid_record
from tests.integration.serve.strategies import mutations, valid_records

SCHEMA = RequestSchema(parse_spec(served_spec_dict()))
MUTATIONS = mutations(SCHEMA)
EXAMPLES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def refused_fields(records: list[Any], batch: bool = False) -> list[tuple[int | None, str]]:
    try:
        SCHEMA.model_rows(records, batch)
    except InvalidRecordsError as exc:
        return [(p.record, p.field) for p in exc.problems]
    return []


@EXAMPLES
@given(record=valid_records(SCHEMA))
def test_records_generated_from_the_schema_are_never_rejected(record: dict[str, Any]) -> None:
    [row] = SCHEMA.model_rows([record], batch=False)
    assert list(row) == SCHEMA.model_columns
    assert all(isinstance(v, float | str | datetime) or v is None for v in row.values())
    assert row["when"] is None or row["when"].tzinfo is None  # naive UTC, as the frame has it


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
@EXAMPLES
@given(data=st.data())
def test_every_mutation_is_refused_naming_its_field(kind: str, data: st.DataObject) -> None:
    record, field = data.draw(MUTATIONS[kind])
    assert refused_fields([record]) == [(None, field)]


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_a_mutated_record_in_a_batch_is_named_by_position(kind: str, data: st.DataObject) -> None:
    batch = data.draw(st.lists(valid_records(SCHEMA), min_size=1, max_size=5))
    position = data.draw(st.integers(0, len(batch)))
    record, field = data.draw(MUTATIONS[kind])
    batch.insert(position, record)
    assert refused_fields(batch, batch=True) == [(position, field)]


@EXAMPLES
@given(record=valid_records(SCHEMA) | st.one_of(*MUTATIONS.values()).map(lambda case: case[0]))
def test_the_published_json_schema_accepts_whatever_the_validator_accepts(
    record: dict[str, Any],
) -> None:
    """Clients built from /openapi.json never send what the docs allow and the server refuses:
    anything the validator accepts, the published schema accepts."""
    published = jsonschema_rs.validator_for(SCHEMA.json_schema())
    if not refused_fields([record]):
        assert published.is_valid(record), record


def test_every_problem_in_a_record_is_named_at_once() -> None:
    record = {"x": "one", "n": 1.5, "color": "purple", "flag": 1, "when": "soon", "extra": 0}
    assert sorted(f for _, f in refused_fields([record])) == [
        "color", "extra", "flag", "n", "when", "x"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (2**53, True),
        (-(2**53), True),
        (2**53 + 1, False),  # not exact in float64
        (2**60, False),  # exact, but past what the schema promises
        (2**64 + 1, False),
        (18446744073709551616.0, False),  # what orjson makes of 18446744073709551617
        (3.0, True),
        (3.5, False),
        (True, False),
        ("3", True),  # as a file writes it
        (" 3.0 ", True),
        ("3.5", False),
        ("three", False),
        (None, True),  # n is nullable
    ],
)
def test_integer_column_accepts_only_exact_integers(value: Any, accepted: bool) -> None:
    assert (refused_fields([valid_record(n=value)]) == []) is accepted


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("2026-03-01T10:00:00+00:00", (2026, 3, 1, 6, 10)),
        ("2026-03-01T10:00:00Z", (2026, 3, 1, 6, 10)),
        ("2026-03-01 10:00", (2026, 3, 1, 6, 10)),  # naive: UTC
        ("2026-03-01T01:00:00+02:00", (2026, 2, 28, 5, 23)),  # converted to UTC
        ("2026-03-01", (2026, 3, 1, 6, 0)),
    ],
)
def test_datetimes_become_utc_times_and_parts(text: str, parts: tuple[int, ...]) -> None:
    [row] = SCHEMA.model_rows([valid_record(when=text)], batch=False)
    assert row["when"].tzinfo is None  # naive UTC: the predictor expands it
    assert value_parts(row["when"]) == tuple(float(v) for v in parts)


def test_datetime_format_from_the_spec_is_read_beside_iso_8601() -> None:
    raw = served_spec_dict()
    raw["columns"]["when"]["format"] = "%d/%m/%Y"
    schema = RequestSchema(parse_spec(raw))
    for when in ("01/03/2026", "2026-03-01"):  # the file's format, and what JSON clients send
        [row] = schema.model_rows([valid_record(when=when)], batch=False)
        assert row["when"] == datetime(2026, 3, 1)
    with pytest.raises(InvalidRecordsError, match="when: '03-01-2026' is not a date-time"):
        schema.model_rows([valid_record(when="03-01-2026")], batch=False)


def test_ids_are_optional_logged_and_never_features() -> None:
    [row] = SCHEMA.model_rows([valid_record(id="cust-7")], batch=False)
    assert "id" not in row
    assert SCHEMA.entity_id(valid_record(id="cust-7")) == "cust-7"
    assert SCHEMA.entity_id(valid_record(id=42.0)) == "42"
    assert SCHEMA.entity_id(valid_record()) is None


def test_non_objects_are_refused_as_records() -> None:
    assert refused_fields([[1, 2], "x", 3, None], batch=True) == [(i, "(record)") for i in range(4)]


def test_long_unknown_names_are_cut_in_the_message() -> None:
    name = "k" * 500
    [(_, field)] = refused_fields([valid_record(**{name: 1})])
    assert field == "k" * 64 + "..."


def test_messages_say_what_was_wrong() -> None:
    cases = {
        "x": ("x", 1000, "must be at most 100"),
        "n": ("n", 1.5, "must be an integer"),
        "color": ("color", "purple", "is not one of the categories"),
        "flag": ("flag", 1, "must be true or false"),
        "when": ("when", "soon", "is not a date-time in ISO 8601"),
    }
    for field, value, message in cases.values():
        with pytest.raises(InvalidRecordsError) as info:
            SCHEMA.model_rows([valid_record(**{field: value})], batch=False)
        [problem] = info.value.problems
        assert problem.field == field and message in problem.message


OPEN = RequestSchema(
    parse_spec({**served_spec_dict(), "columns": {
        "amount": {"type": "numeric"},  # no range: only the types bound it
        "note": {"type": "text"},
        "label": {"type": "categorical", "role": "target"},
    }})
)  # fmt: skip


@EXAMPLES
@given(
    amount=st.integers() | st.floats() | st.sampled_from([2**64 - 1, 2**64, -(2**63) - 1]),
    note=st.text(),
)
def test_whatever_is_accepted_can_be_logged(amount: Any, note: str) -> None:
    """The prediction log holds what the store can: 64-bit integers and text without NUL."""
    record = {"amount": amount, "note": note}
    storable = math.isfinite(amount) and (type(amount) is float or -(2**63) <= amount < 2**64)
    try:
        OPEN.model_rows([record], batch=False)
    except InvalidRecordsError as exc:
        refused = {problem.field for problem in exc.problems}
        assert storable or "amount" in refused  # (lossy integers are refused too)
        assert ("note" in refused) is ("\x00" in note)
        return
    assert storable and "\x00" not in note
    Prediction("r", "m", "1", 0.0, None, record, {}, None, None, 0.0).encode()  # does not raise

"""Serving reads numbers the way the spec says its file writes them (``decimal``,
``thousands``, ``units``): from JSON strings and CSV bodies, logged as the numbers they are."""

from __future__ import annotations

import pytest

from tabops.serve.schema import InvalidRecordsError, RequestSchema
from tabops.spec import parse_spec

SPEC = parse_spec({
    "name": "shop", "task": "classification", "target": "label", "positive_class": "yes",
    "source": {"path": "unused.csv"},
    "columns": {
        "income": {"type": "numeric", "decimal": ",", "thousands": ".", "min": 0},
        "balance": {"type": "numeric", "thousands": ",", "units": ["$"]},
        "visits": {"type": "integer", "thousands": ","},
        "plain": {"type": "numeric"},
        "label": {"type": "categorical", "role": "target"},
    },
})  # fmt: skip
SCHEMA = RequestSchema(SPEC)


def test_json_strings_in_the_column_format_read_as_numbers_and_are_logged_as_such() -> None:
    record = {"income": "1.234,5", "balance": "-$1,898.08", "visits": "12,000", "plain": 2.5}
    rows = SCHEMA.model_rows([record], batch=False)
    assert rows == [{"income": 1234.5, "balance": -1898.08, "visits": 12000.0, "plain": 2.5}]
    assert record == {"income": 1234.5, "balance": -1898.08, "visits": 12000, "plain": 2.5}
    assert type(record["visits"]) is int


def test_a_csv_body_reads_each_column_in_its_format() -> None:
    record = {"income": " 12,5 ", "balance": "$ 7", "visits": "1,234", "plain": "3e2"}
    rows = SCHEMA.model_rows([record], batch=True, text=True)
    assert rows == [{"income": 12.5, "balance": 7.0, "visits": 1234.0, "plain": 300.0}]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("income", "1.5", "'1.5' is not a number written like 1.234,5"),
        ("visits", "12.5", "'12.5' is not an integer written like 1,234"),
        ("plain", "n.a.", "'n.a.' is not a number"),
    ],
)
def test_a_csv_field_that_is_no_number_in_the_column_format_is_refused_by_name(
    field: str, value: str, message: str
) -> None:
    record = {"income": "1", "balance": "1", "visits": "1", "plain": "1", field: value}
    with pytest.raises(InvalidRecordsError) as info:
        SCHEMA.model_rows([record], batch=True, text=True)
    assert field in str(info.value) and message in str(info.value), str(info.value)
    assert "or send a number" not in str(info.value)  # a CSV body has only text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("income", "1.5", "'1.5' is not a number written like 1.234,5; or send a number"),
        ("balance", "$1,89", "is not a number written like $1,234.5"),
        ("visits", "1,234.5", "'1,234.5' is not an integer written like 1,234;"),
        ("plain", "2,5", "'2,5' is not a number"),  # plain syntax: no decimal comma
        ("income", "-1,0", "must be at least 0, not -1.0"),
    ],
)
def test_a_string_that_is_no_number_in_the_column_format_is_refused_by_name(
    field: str, value: str, message: str
) -> None:
    record = {"income": 1.0, "balance": 1.0, "visits": 1, "plain": 1.0, field: value}
    with pytest.raises(InvalidRecordsError) as info:
        SCHEMA.model_rows([record], batch=False)
    assert field in str(info.value) and message in str(info.value), str(info.value)


def test_plain_numbers_as_strings_read_as_a_file_holds_them() -> None:
    # Form and spreadsheet clients send every value as text: what a file may hold, they may.
    record = {"income": 1.0, "balance": 1.0, "visits": " 7 ", "plain": "2.5"}
    assert SCHEMA.model_rows([record], batch=False) == [
        {"income": 1.0, "balance": 1.0, "visits": 7.0, "plain": 2.5}
    ]
    assert record["plain"] == 2.5 and record["visits"] == 7  # logged as the numbers they are
    empty = {"income": 1.0, "balance": 1.0, "visits": 1, "plain": ""}  # '' is a file's null
    assert SCHEMA.model_rows([empty], batch=False)[0]["plain"] is None


def test_the_json_schema_says_how_a_number_may_be_written_as_text() -> None:
    properties = SCHEMA.json_schema()["properties"]
    written = properties["balance"]["anyOf"][0]["anyOf"][1]
    assert written == {"type": "string", "description": "a number as text, written like $1,234.5"}
    text = {"type": "string", "description": "a number as text, written like 1234.5"}
    assert properties["plain"]["anyOf"][0]["anyOf"] == [{"type": "number"}, text]


def test_a_nullable_input_left_out_is_null_and_a_required_one_is_named() -> None:
    # 'plain' may be missing in the file (nullable by default): a client may leave it out.
    rows = SCHEMA.model_rows([{"income": 1.0, "balance": 1.0, "visits": 1}], batch=False)
    assert rows[0]["plain"] is None
    assert "plain" not in SCHEMA.json_schema()["required"]
    raw = SPEC.model_dump(mode="json", exclude_none=True)
    raw["columns"]["plain"]["nullable"] = False
    strict = RequestSchema(parse_spec(raw))
    with pytest.raises(InvalidRecordsError, match="plain: is missing"):
        strict.model_rows([{"income": 1.0, "balance": 1.0, "visits": 1}], batch=False)
    assert "plain" in strict.json_schema()["required"]


def test_a_columns_own_null_values_are_null_in_that_column_alone() -> None:
    raw = SPEC.model_dump(mode="json", exclude_none=True)
    raw["columns"]["plain"]["null_values"] = ["Unknown"]
    schema = RequestSchema(parse_spec(raw))
    record = {"income": 1.0, "balance": 1.0, "visits": 1, "plain": " Unknown "}
    assert schema.model_rows([record], batch=False)[0]["plain"] is None
    assert record["plain"] is None  # logged as the missing value it is
    elsewhere = {"income": 1.0, "balance": 1.0, "visits": "Unknown", "plain": 1.0}
    with pytest.raises(InvalidRecordsError, match="visits: 'Unknown' is not an integer"):
        schema.model_rows([elsewhere], batch=False)

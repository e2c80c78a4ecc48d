"""Hypothesis strategies for S1: records generated from a model's request schema, and mutations
of them, one strategy per class of invalid input, each with the field it must be refused for.

The mutation strategies are written for the columns of
:func:`tests.integration.serve.conftest.served_spec_dict`: ``x`` numeric in [-100, 100], ``n``
nullable integer, ``color`` categorical (red, blue, green), ``flag`` boolean, ``when`` nullable
datetime, and ``id`` (role id, optional)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from tabops.serve.schema import MAX_STRING, Column, RequestSchema
from tabops.spec import ColumnType, CsvOptions
from tabops.values import read_number

EXACT = 2**53
#: The served spec's features and its id column.
FEATURES = ("x", "n", "color", "flag", "when")
ID = "id"
#: Characters a valid string may hold: any UTF-8 character but NUL, which the store cannot hold.
STORABLE = st.characters(codec="utf-8", exclude_characters="\x00")

Json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _offsets() -> st.SearchStrategy[timezone | None]:
    minutes = st.integers(-23 * 60 - 59, 23 * 60 + 59)
    return st.none() | st.just(UTC) | minutes.map(lambda m: timezone(timedelta(minutes=m)))


def _iso(stamp: datetime, style: int) -> str:
    if style == 0:
        return stamp.isoformat()
    if style == 1:
        return stamp.isoformat(sep=" ", timespec="seconds")
    if style == 2 and stamp.tzinfo is UTC:
        return stamp.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    return stamp.date().isoformat() if stamp.tzinfo is None else stamp.isoformat()


def datetimes_for(column: Column) -> st.SearchStrategy[str]:
    """Date-time strings the column accepts (years kept clear of the ends of the calendar,
    where a UTC offset would leave years 1-9999)."""
    stamps = st.datetimes(
        datetime(1900, 1, 1),
        datetime(2200, 12, 31),
        timezones=_offsets(),  # type: ignore[arg-type]
    )
    if column.formats:  # any of them, as a file written two ways would
        days = st.datetimes(datetime(1900, 1, 1), datetime(2200, 12, 31))
        return st.builds(lambda d, fmt: d.strftime(fmt), days, st.sampled_from(column.formats))
    return st.builds(_iso, stamps, st.integers(0, 3))


def value_for(column: Column) -> st.SearchStrategy[Any]:
    """Valid JSON values for one column, from its declared type and contract."""
    strategy: st.SearchStrategy[Any]
    if column.type in (ColumnType.NUMERIC, ColumnType.INTEGER):
        lo = -EXACT if column.limits.min is None else max(column.limits.min, -EXACT)
        hi = EXACT if column.limits.max is None else min(column.limits.max, EXACT)
        ints = st.integers(math.ceil(lo), math.floor(hi))
        if column.type == ColumnType.INTEGER:
            strategy = ints | ints.map(float)
        else:
            strategy = ints | st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    elif column.type == ColumnType.BOOLEAN:
        strategy = st.booleans()
    elif column.limits.categories:
        strategy = st.sampled_from(sorted(column.limits.categories))
    elif column.type == ColumnType.CATEGORICAL:
        strategy = st.text(STORABLE, max_size=MAX_STRING)
    elif column.type == ColumnType.DATETIME:
        strategy = datetimes_for(column)
    else:
        strategy = st.text(STORABLE)
    return st.none() | strategy if column.nullable else strategy


def ids() -> st.SearchStrategy[Any]:
    """Entity id values the schema allows: null, a string, a 64-bit integer."""
    return (
        st.none()
        | st.text(STORABLE, max_size=40)
        | st.integers(-(2**63), 2**64 - 1)
        | st.integers(-(2**53), 2**53).map(float)
    )


def valid_records(schema: RequestSchema) -> st.SearchStrategy[dict[str, Any]]:
    """Records every field of which fits ``schema`` (the id column sometimes sent)."""
    required = {c.name: value_for(c) for c in schema.features}
    optional = {name: ids() for name in schema.ids}
    return st.fixed_dictionaries(required, optional=optional)


# -- mutations: each draws (record, field that must be named) -------------------------------


def _set(record: dict[str, Any], field: str, value: Any) -> tuple[dict[str, Any], str]:
    return {**record, field: value}, field


def _strict_floats() -> st.SearchStrategy[float]:
    return st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: not v.is_integer())


#: What a file's field may hold for missing: read as null from a client's string too.
NULL_TOKENS = frozenset(CsvOptions().null_values)


def _bad_datetime(text: str) -> bool:
    """No date-time, nor a null, once trimmed as a file's field is."""
    if text.strip() in NULL_TOKENS:
        return False
    try:
        datetime.fromisoformat(text.strip())
    except ValueError:
        return True
    return False


def _no_number(text: str) -> bool:
    """No number, nor a null, once trimmed as a file's field is."""
    return text.strip() not in NULL_TOKENS and read_number(text.strip(), integer=False) is None


def mutations(schema: RequestSchema) -> dict[str, st.SearchStrategy[tuple[dict[str, Any], str]]]:
    """One strategy per mutation class, for the served spec's schema."""
    base = valid_records(schema)
    allowed = schema.known
    numbers = st.integers(-(10**6), 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    return {
        "drop_column": st.builds(  # a nullable input left out is null: not a mutation
            lambda r, f: ({k: v for k, v in r.items() if k != f}, f),
            base,
            st.sampled_from([c.name for c in schema.features if not c.nullable]),
        ),
        "unknown_column": st.builds(
            lambda r, k, v: _set(r, k, v),
            base,
            st.text(min_size=1, max_size=64).filter(lambda k: k not in allowed),
            Json,
        ),
        "lossy_integer": st.builds(
            lambda r, v: _set(r, "n", v),
            base,
            st.sampled_from([2**63 - 1, -(2**63), 2**64 - 1, 2**53 + 1, -(2**53) - 1])
            | st.integers(EXACT + 1, 10**300)
            | st.integers(-(10**300), -EXACT - 1)
            | st.floats(EXACT * 2, 1e300),
        ),
        "fractional_integer": st.builds(lambda r, v: _set(r, "n", v), base, _strict_floats()),
        "non_finite": st.builds(
            lambda r, f, v: _set(r, f, v),
            base,
            st.sampled_from(["x", "n"]),
            st.sampled_from([math.nan, math.inf, -math.inf]),
        ),
        "string_for_number": st.builds(
            lambda r, f, v: _set(r, f, v),
            base,
            st.sampled_from(["x", "n"]),
            st.text(max_size=30).filter(_no_number),
        ),
        "number_for_string": st.builds(
            lambda r, f, v: _set(r, f, v), base, st.sampled_from(["color", "when"]), numbers
        ),
        "bool_for_number": st.builds(
            lambda r, f, v: _set(r, f, v), base, st.sampled_from(["x", "n"]), st.booleans()
        ),
        "number_for_bool": st.builds(
            lambda r, v: _set(r, "flag", v),
            base,
            st.sampled_from([0, 1, 1.0, 0.0, -1]) | numbers,
        ),
        "container_for_value": st.builds(
            lambda r, f, v: _set(r, f, v),
            base,
            st.sampled_from(FEATURES),
            st.lists(Json, max_size=3) | st.dictionaries(st.text(max_size=5), Json, max_size=3),
        ),
        "null_not_nullable": st.builds(
            lambda r, f: _set(r, f, None), base, st.sampled_from(["x", "color", "flag"])
        ),
        "out_of_range": st.builds(
            lambda r, v: _set(r, "x", v),
            base,
            st.floats(min_value=100, exclude_min=True, allow_infinity=False)
            | st.floats(max_value=-100, exclude_max=True, allow_infinity=False)
            | st.integers(101, EXACT)
            | st.integers(-EXACT, -101),
        ),
        "unknown_category": st.builds(
            lambda r, v: _set(r, "color", v),
            base,
            st.text(max_size=MAX_STRING + 20).filter(
                lambda v: v.strip() not in {"red", "blue", "green"}
            ),
        ),
        "malformed_datetime": st.builds(
            lambda r, v: _set(r, "when", v),
            base,
            st.text(max_size=80).filter(_bad_datetime)
            | st.sampled_from(
                [
                    "yesterday",
                    "2026-13-01",
                    "2026-02-30T00:00:00",
                    "2026-03-01T25:00:00",
                    "0001-01-01T00:00:00+01:00",  # before year 1 once in UTC
                    "9999-12-31T23:59:59-01:00",  # after year 9999 once in UTC
                    "2026-03-01T10:00:00" + "x" * 60,
                ]
            ),
        ),
        "bad_id": st.builds(
            lambda r, v: _set(r, ID, v),
            base,
            st.booleans()
            | _strict_floats()
            | st.sampled_from([math.nan, math.inf])
            | st.integers(2**64, 10**40)
            | st.integers(-(10**40), -(2**63) - 1)
            | st.text(min_size=MAX_STRING + 1, max_size=MAX_STRING + 5)
            | st.tuples(st.text(max_size=10), st.text(max_size=10)).map("\x00".join)
            | st.lists(Json, max_size=2)
            | st.dictionaries(st.text(max_size=3), Json, max_size=2),
        ),
    }

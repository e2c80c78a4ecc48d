"""ISO 8601 date-times with any mix of offsets, 'Z' and naive values: the contract, the
training frame and serving all read each value as the same UTC instant, and the trained
pipeline's datetime step and the compiled predictor's row path expand it into the same parts."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from tabops.data.contract import check_contract, iso_datetimes
from tabops.model.datetimes import value_parts
from tabops.model.features import DatetimeParts
from tabops.model.frame import model_frame
from tabops.serve.schema import Column, _datetime
from tabops.spec import ColumnType, parse_spec

SPEC = parse_spec(
    {
        "name": "stamps",
        "task": "classification",
        "target": "label",
        "source": {"path": "data.csv"},
        "columns": {
            "at": {"type": "datetime", "nullable": True},
            "label": {"type": "categorical", "role": "target", "categories": ["a", "b"]},
        },
    }
)
# Offsets from -12:00 to +14:00 in quarter hours, as real zones have them.
OFFSETS = st.integers(-48, 56).map(lambda q: dt.timezone(dt.timedelta(minutes=15 * q)))
MOMENTS = st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31))  # as serving takes


@st.composite
def iso_values(draw: st.DrawFn) -> str:
    moment = draw(MOMENTS).replace(microsecond=0)
    form = draw(st.sampled_from(["offset", "Z", "naive", "naive-space", "date"]))
    if form == "offset":
        return moment.replace(tzinfo=draw(OFFSETS)).isoformat()
    if form == "Z":
        return moment.isoformat() + "Z"
    if form == "date":
        return moment.date().isoformat()
    return moment.isoformat(sep=" " if form == "naive-space" else "T")


def _as_utc(text: str) -> dt.datetime | None:
    """The documented rule: aware values converted to UTC, naive values taken as UTC; None
    when that leaves the years 1-9999 (0001-01-01T00:00:00+01:00)."""
    value = dt.datetime.fromisoformat(text)
    try:
        return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    except OverflowError:
        return None


def _served(column: Column, value: str) -> dt.datetime | None:
    try:
        return _datetime(column, value)
    except ValueError:
        return None


@given(st.lists(st.one_of(iso_values(), st.just("")), min_size=1, max_size=30))
@settings(max_examples=200, deadline=None)
def test_mixed_offsets_are_read_as_utc_everywhere(values: list[str]) -> None:
    table = pa.table({"at": values, "label": ["a"] * len(values)})
    result = check_contract(table, SPEC)
    expected = [_as_utc(v) if v else None for v in values]
    outside = [i for i, (v, e) in enumerate(zip(values, expected, strict=True)) if v and not e]
    assert result.bad_index.tolist() == outside and result.drift == []  # quarantined, as served
    assert result.good.column("at").to_pylist() == [
        e for i, e in enumerate(expected) if i not in outside
    ]

    column = Column("at", ColumnType.DATETIME, nullable=True)
    served = [_served(column, v) if v else None for v in values]
    inside = table.filter(pa.array([i not in outside for i in range(len(values))]))
    kept = [stamp for i, stamp in enumerate(served) if i not in outside]
    for frame in (model_frame(result.good, SPEC), model_frame(inside, SPEC)):
        assert [None if v is pd.NaT else v for v in frame["at"].tolist()] == kept
        trained = DatetimeParts(("at",)).fit(frame).transform(frame).to_numpy()
        np.testing.assert_array_equal(trained, np.array([value_parts(s) for s in kept]))
    assert all(served[i] is None for i in outside)


def test_a_daylight_saving_change_in_one_column() -> None:
    values = ["2024-03-31T01:30:00+01:00", "2024-03-31T03:30:00+02:00", "2024-03-31T03:30:00"]
    result = check_contract(pa.table({"at": values, "label": ["a", "b", "a"]}), SPEC)
    assert [v.isoformat() for v in result.good.column("at").to_pylist()] == [
        "2024-03-31T00:30:00+00:00",
        "2024-03-31T01:30:00+00:00",
        "2024-03-31T03:30:00+00:00",
    ]


def test_dates_that_are_not_iso_8601_are_type_errors_in_files_as_at_serving() -> None:
    """pandas' ISO8601 parser also reads '2024/01/31'; serving does not, so neither may ingest
    (init records a format for such a column instead)."""
    spec = parse_spec({
        "name": "d", "task": "classification", "target": "y", "source": {"path": "x.csv"},
        "columns": {"t": {"type": "datetime"}, "y": {"type": "categorical", "role": "target"}},
    })  # fmt: skip
    texts = ["2024/01/31", "2024.01.31", "31-01-2024 10:00", "2024-01-31 10:00"]
    table = pa.table({"t": texts, "y": ["a"] * len(texts)})
    bad = check_contract(table, spec).bad_index.tolist()
    column = Column("t", ColumnType.DATETIME, True)
    refused = []
    for row, text in enumerate(texts):
        try:
            _datetime(column, text)
        except ValueError:
            refused.append(row)
    assert bad == refused == [0, 1, 2]


def test_iso_reading_keeps_datetime_objects_and_missing_values_beside_strings() -> None:
    values = pd.Series([dt.datetime(2024, 1, 2, 3, 4), "2024-01-01", None, "2024/01/02"],
                       dtype=object)  # fmt: skip
    read = iso_datetimes(values).tolist()
    assert read[:2] == [
        pd.Timestamp("2024-01-02 03:04", tz="UTC"),
        pd.Timestamp("2024-01-01", tz="UTC"),
    ]
    assert pd.isna(read[2]) and pd.isna(read[3])

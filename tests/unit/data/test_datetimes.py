"""ISO 8601 date-times with any mix of offsets, 'Z' and naive values: the contract, the
training frame and serving all read each value as the same UTC instant."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from tabops.data.contract import check_contract
from tabops.model.frame import DATETIME_PARTS, model_frame
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
MOMENTS = st.datetimes(dt.datetime(1970, 1, 2), dt.datetime(2200, 1, 1))


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


def _as_utc(text: str) -> dt.datetime:
    """The documented rule: aware values converted to UTC, naive values taken as UTC."""
    value = dt.datetime.fromisoformat(text)
    return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)


@given(st.lists(st.one_of(iso_values(), st.just("")), min_size=1, max_size=30))
@settings(max_examples=200, deadline=None)
def test_mixed_offsets_are_read_as_utc_everywhere(values: list[str]) -> None:
    table = pa.table({"at": values, "label": ["a"] * len(values)})
    result = check_contract(table, SPEC)
    assert result.bad_index.tolist() == [] and result.drift == []
    expected = [_as_utc(v) if v else None for v in values]
    assert result.good.column("at").to_pylist() == expected

    column = Column("at", ColumnType.DATETIME, nullable=True)
    served = [_datetime(column, v) if v else None for v in values]
    for frame in (model_frame(result.good, SPEC), model_frame(table, SPEC)):
        for row, parts in enumerate(served):
            for part in DATETIME_PARTS:
                trained = frame[f"at__{part}"].iloc[row]
                assert (trained != trained) if parts is None else trained == parts[f"at__{part}"]


def test_a_daylight_saving_change_in_one_column() -> None:
    values = ["2024-03-31T01:30:00+01:00", "2024-03-31T03:30:00+02:00", "2024-03-31T03:30:00"]
    result = check_contract(pa.table({"at": values, "label": ["a", "b", "a"]}), SPEC)
    assert [v.isoformat() for v in result.good.column("at").to_pylist()] == [
        "2024-03-31T00:30:00+00:00",
        "2024-03-31T01:30:00+00:00",
        "2024-03-31T03:30:00+00:00",
    ]

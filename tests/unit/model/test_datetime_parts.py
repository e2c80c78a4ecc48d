"""The one definition of datetime parts: its integer arithmetic against Python's calendar, for
one value (a request row) and for arrays (a frame), over every year serving accepts."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tabops.model.datetimes import DATETIME_PARTS, array_parts, value_parts

MOMENTS = st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999))


def _calendar(stamp: dt.datetime) -> tuple[float, ...]:
    return tuple(map(float, (stamp.year, stamp.month, stamp.day, stamp.weekday(), stamp.hour)))


@given(st.lists(st.one_of(MOMENTS, st.none()), min_size=1, max_size=50))
@settings(max_examples=300, deadline=None)
def test_parts_are_the_calendars_for_one_value_and_for_arrays(stamps: list[dt.datetime]) -> None:
    expected = [_calendar(s) if s is not None else None for s in stamps]
    by_value = [value_parts(s) for s in stamps]
    by_array = array_parts(stamps)
    assert by_array.shape == (len(stamps), len(DATETIME_PARTS))
    for want, one, row in zip(expected, by_value, by_array.tolist(), strict=True):
        if want is None:
            assert np.isnan(one).all() and np.isnan(row).all()
        else:
            assert one == want and tuple(row) == want


def test_edges_of_the_calendar_and_pandas_values() -> None:
    edges = [
        dt.datetime(1, 1, 1),
        dt.datetime(1969, 12, 31, 23),
        dt.datetime(1970, 1, 1),
        dt.datetime(2000, 2, 29, 5),
        dt.datetime(2100, 3, 1),
        dt.datetime(9999, 12, 31, 23),
    ]
    assert [value_parts(s) for s in edges] == [_calendar(s) for s in edges]
    column = pd.Series(pd.to_datetime(["2026-03-01T10:05", None])).dt.as_unit("us")
    assert value_parts(column[0]) == (2026.0, 3.0, 1.0, 6.0, 10.0)  # a Sunday
    assert np.isnan(value_parts(column[1])).all()  # NaT
    np.testing.assert_array_equal(array_parts(column)[0], [2026, 3, 1, 6, 10])
    aware = pd.Series(pd.to_datetime(["2026-03-01T01:00+02:00"], utc=True))
    np.testing.assert_array_equal(array_parts(aware)[0], [2026, 2, 28, 5, 23])  # in UTC

"""Datetime features: the parts a UTC time is expanded into, defined once for every path.

The trained pipeline's first step (:class:`tabops.model.features.DatetimeParts`) expands frames
with these functions, and the compiled predictor expands frames and single request rows with
the same ones (:mod:`tabops.model.compile`), so training and serving cannot disagree on a part.
Light to import (numpy only): the server uses it without the training stack.

Times are counted in microseconds since 1970-01-01 UTC; the calendar parts come from integer
arithmetic (the proleptic Gregorian calendar, years 1-9999) that gives the same answer for a
Python ``int`` (one request row) and a numpy ``int64`` array (a frame).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any, TypeVar

import numpy as np

#: Parts a datetime feature is expanded into (numbers a model can use); Monday is day 0.
DATETIME_PARTS = ("year", "month", "day", "dayofweek", "hour")
#: The name of the trained pipeline's first step, the one that expands datetimes.
DATETIME_STEP = "datetimes"

_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_DAY, _HOUR = 86_400_000_000, 3_600_000_000

Count = TypeVar("Count", int, np.ndarray)


@cache
def part_columns(name: str) -> tuple[str, ...]:
    """The columns a datetime feature ``name`` becomes, in :data:`DATETIME_PARTS` order."""
    return tuple(f"{name}__{part}" for part in DATETIME_PARTS)


def calendar_parts(micros: Count) -> tuple[Count, ...]:
    """Year, month, day, day of week and hour of UTC times given as microseconds since the
    epoch: one int, or an int64 array (then one array per part)."""
    days = micros // _DAY
    hour = micros // _HOUR - days * 24
    dayofweek = (days + 3) % 7  # 1970-01-01 was a Thursday
    # Civil date from a day count (H. Hinnant's days_from_civil, inverted): eras of 400 years.
    shifted = days + 719_468  # days since 0000-03-01
    era = shifted // 146_097
    day_of_era = shifted - era * 146_097
    year_of_era = (
        day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_from_march = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * month_from_march + 2) // 5 + 1
    month = (month_from_march + 2) % 12 + 1
    year = year_of_era + era * 400 + (month <= 2)
    return year, month, day, dayofweek, hour


def value_parts(value: Any) -> tuple[float, ...]:
    """The parts of one naive UTC time (a ``datetime`` or a pandas ``Timestamp``); NaN for a
    missing one (None or NaT)."""
    if value is None or value != value:  # NaT is not equal to itself
        return (float("nan"),) * len(DATETIME_PARTS)
    return tuple(float(part) for part in calendar_parts((value - _EPOCH) // _MICROSECOND))


def array_parts(values: Any) -> np.ndarray:
    """The parts of naive UTC times (anything numpy reads as ``datetime64``: an array, a
    pandas column, a list with None), one row per value and NaN where a time is missing."""
    stamps = np.asarray(values, dtype="datetime64[us]")
    missing = np.isnat(stamps)
    parts = np.column_stack(calendar_parts(stamps.astype(np.int64))).astype(np.float64)
    parts[missing] = np.nan
    return parts.reshape(len(stamps), len(DATETIME_PARTS))

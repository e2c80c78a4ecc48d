"""A date-time column with the file's own ``format`` (``31.12.2025``) is read at serving in
that format and in ISO 8601, which JSON clients and the version's request example send."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pytest

from tabops.errors import SpecError
from tabops.serve.schema import InvalidRecordsError, RequestSchema
from tabops.spec import parse_spec

SPEC = parse_spec({
    "name": "shop", "task": "classification", "target": "label", "positive_class": "yes",
    "source": {"path": "unused.csv"},
    "columns": {
        "joined": {"type": "datetime", "format": "%d.%m.%Y"},
        "label": {"type": "categorical", "role": "target"},
    },
})  # fmt: skip
SCHEMA = RequestSchema(SPEC)


@pytest.mark.parametrize(
    "value", ["23.05.2026", "2026-05-23", "2026-05-23T00:00:00+00:00", "2026-05-23T02:00:00+02:00"]
)
def test_the_file_format_and_iso_8601_read_as_the_same_time(value: str) -> None:
    [row] = SCHEMA.model_rows([{"joined": value}], batch=False)
    assert row == {"joined": datetime(2026, 5, 23)}


def test_the_file_format_comes_first_when_both_could_read_a_value() -> None:
    spec = SPEC.model_copy(deep=True)
    spec.columns["joined"].format = "%Y-%d-%m"  # day before month
    [row] = RequestSchema(spec).model_rows([{"joined": "2026-05-07"}], batch=False)
    assert row == {"joined": datetime(2026, 7, 5)}


def test_anything_else_names_both_accepted_forms() -> None:
    with pytest.raises(InvalidRecordsError) as info:
        SCHEMA.model_rows([{"joined": "05/23/2026"}], batch=False)
    assert "'05/23/2026' is not a date-time in the format %d.%m.%Y or ISO 8601" in str(info.value)


def test_a_column_written_two_ways_is_read_both_ways_everywhere() -> None:
    from tabops.data.contract import formatted_datetimes, parse_strings

    spec = SPEC.model_copy(deep=True)
    spec.columns["joined"].format = ["%d-%b-%y", "%B %d, %Y"]
    column = spec.columns["joined"]
    texts = ["23-May-26", "May 23, 2026", "2026-05-23", "soon"]
    read, valid = parse_strings(pa.array(texts), column)  # files: ingest and batch scoring
    day = datetime(2026, 5, 23, tzinfo=UTC)
    assert read.to_pylist() == [day, day, None, None] and valid.to_pylist()[:2] == [True, True]
    frame = formatted_datetimes(pd.Series(texts[:2], dtype=object), column.formats)  # the model
    assert list(frame) == [pd.Timestamp(day)] * 2
    schema = RequestSchema(spec)  # serving: both formats and ISO 8601
    rows = schema.model_rows([{"joined": text} for text in texts[:3]], batch=True)
    assert [row["joined"] for row in rows] == [datetime(2026, 5, 23)] * 3
    with pytest.raises(InvalidRecordsError) as info:
        schema.model_rows([{"joined": "soon"}], batch=False)
    assert "in the format %d-%b-%y or %B %d, %Y or ISO 8601" in str(info.value)


def test_an_empty_list_of_formats_is_refused() -> None:
    bad = SPEC.model_dump(mode="json")
    bad["columns"]["joined"]["format"] = []
    with pytest.raises(SpecError, match="give at least one format"):
        parse_spec(bad)

"""A date-time column with the file's own ``format`` (``31.12.2025``) is read at serving in
that format and in ISO 8601, which JSON clients and the version's request example send."""

from __future__ import annotations

from datetime import datetime

import pytest

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

"""``monitor.reference``: the labelled production period CBPE is calibrated on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tabops.errors import SpecError
from tabops.spec import ProjectSpec, parse_spec


def _with_period(spec: ProjectSpec, period: dict[str, object]) -> ProjectSpec:
    raw = spec.model_dump(mode="json", exclude_none=True)
    return parse_spec(raw | {"monitor": {"reference": period}})


def test_dates_and_naive_times_are_utc(spec: ProjectSpec) -> None:
    assert spec.monitor.reference is None  # unset: the frozen test rows
    period = _with_period(spec, {"start": "2026-02-25", "end": "2026-03-02T12:00:00"})
    assert period.monitor.reference is not None
    assert period.monitor.reference.start == datetime(2026, 2, 25, tzinfo=UTC)
    assert period.monitor.reference.end == datetime(2026, 3, 2, 12, tzinfo=UTC)
    offset = _with_period(spec, {"start": "2026-02-25T01:00:00+01:00", "end": "2026-02-26"})
    assert offset.monitor.reference is not None
    assert offset.monitor.reference.start.utcoffset() == timedelta(hours=1)
    assert offset.monitor.reference.start == datetime(2026, 2, 25, tzinfo=UTC)


@pytest.mark.parametrize(
    "period",
    [
        {"start": "2026-03-02", "end": "2026-02-25"},
        {"start": "2026-02-25", "end": "2026-02-25"},
        {"start": "2026-02-25"},
        {"start": "2026-02-25", "end": "soon"},
        {"start": "2026-02-25", "end": "2026-03-01", "days": 3},
    ],
)
def test_a_bad_period_is_refused(spec: ProjectSpec, period: dict[str, object]) -> None:
    with pytest.raises(SpecError, match="reference"):
        _with_period(spec, period)

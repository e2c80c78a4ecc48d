"""A window's refusal metrics from the stored counts: totals, the rate over refused and served
records, one row per field, and the versions and span that refusals alone bring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson

from tabops.monitor.rejections import monitored_span, rejection_rows, with_refusing_versions
from tabops.store.db import open_store
from tabops.store.predictions import PredictionWriter
from tabops.store.rejections import RefusedCounts, RejectedBucket

COUNTS = RefusedCounts(
    requests={"3": (4, 10), "4": (1, 1)},
    fields={"3": {"x": {"type": 2, "max": 5}, "(other)": {"malformed": 3}}},
)


def test_rows_per_version_with_the_rate_over_refused_and_served_records() -> None:
    rows = {(r["metric"], r["column_name"]): r for r in rejection_rows(COUNTS, "3", 30)}
    assert rows[("rejected_requests", None)]["value"] == 4
    assert rows[("rejected_rate", None)]["value"] == 10 / 40
    assert rows[("rejected_field", "x")]["value"] == 7
    assert rows[("rejected_field", "x")]["details"] == {"reasons": {"max": 5, "type": 2},
                                                        "rows": 40}  # fmt: skip
    assert rows[("rejected_field", "(other)")]["value"] == 3
    assert len(rows) == 4


def test_a_version_without_refusals_reports_zeros() -> None:
    rows = rejection_rows(COUNTS, "9", 12)
    assert [(r["metric"], r["value"]) for r in rows] == [
        ("rejected_requests", 0.0),
        ("rejected_rate", 0.0),
    ]
    assert [r["value"] for r in rejection_rows(COUNTS, "9", 0)] == [0.0, 0.0]  # nothing at all


def test_versions_that_only_refused_join_with_no_rows() -> None:
    versions = with_refusing_versions({"3": np.array([0, 1])}, COUNTS)
    assert sorted(versions) == ["3", "4"]
    assert list(versions["3"]) == [0, 1] and len(versions["4"]) == 0


def test_the_span_widens_to_the_minutes_with_refusals(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    day = datetime(2026, 11, 2, tzinfo=UTC)
    logged = (day, day + timedelta(hours=1))
    assert monitored_span(store, "p", "p", logged) == logged
    assert monitored_span(store, "p", "p", None) is None
    late = day + timedelta(days=3)
    bucket = RejectedBucket("a-0", "p", "1", int(late.timestamp()), 1, 1, {("x", "type"): 1})
    PredictionWriter(store).write("p", [orjson.loads(bucket.encode())])
    assert monitored_span(store, "p", "p", logged) == (day, late)
    assert monitored_span(store, "p", "p", None) == (late, late)

"""The batch history's rows of a scored chunk."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa

from tabops.batch.history import history_rows
from tabops.store.batch import HISTORY_SCHEMA

CREATED = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)


def _scored(ids: dict[str, list[object]], scores: list[float]) -> pa.RecordBatch:
    rows = len(scores)
    return pa.RecordBatch.from_pydict(
        {
            **ids,
            "label": ["yes" if s >= 0.5 else "no" for s in scores],
            "score": scores,
            "run_date": [date(2026, 1, 2)] * rows,
            "batch_id": ["b1"] * rows,
            "model_name": ["churn"] * rows,
            "model_version": ["3"] * rows,
        }
    )


def test_each_entity_keeps_its_own_score_and_label_in_entity_order() -> None:
    scored = _scored({"customer": [30, 4, 200, 1]}, [0.9, 0.1, 0.6, 0.2])
    rows = history_rows("churn", ["customer"], scored, CREATED)
    assert rows.schema == HISTORY_SCHEMA
    got = rows.to_pydict()
    assert got["entity_id"] == ["1", "200", "30", "4"]  # text order
    by_entity = dict(
        zip(got["entity_id"], zip(got["score"], got["label"], strict=True), strict=True)
    )
    assert by_entity == {
        "30": (0.9, "yes"),
        "4": (0.1, "no"),
        "200": (0.6, "yes"),
        "1": (0.2, "no"),
    }
    assert set(got["project"]) == {"churn"} and set(got["created_at"]) == {CREATED}
    assert got["decision"] == [None] * 4


def test_several_id_columns_join_with_a_bar() -> None:
    scored = _scored({"shop": ["b", "a"], "day": [2, 7]}, [0.3, 0.8])
    got = history_rows("p", ["shop", "day"], scored, CREATED).to_pydict()
    assert list(zip(got["entity_id"], got["score"], strict=True)) == [("a|7", 0.8), ("b|2", 0.3)]


def test_without_id_columns_the_rows_keep_their_order_and_no_entity() -> None:
    got = history_rows("p", [], _scored({}, [0.3, 0.8, 0.1]), CREATED).to_pydict()
    assert got["entity_id"] == [None] * 3 and got["score"] == [0.3, 0.8, 0.1]

"""The batch history's rows of a scored chunk."""

from __future__ import annotations

import pyarrow as pa

from tabops.batch.history import history_rows
from tabops.store.batch import ROWS_SCHEMA, first_row_id


def _scored(ids: dict[str, list[object]], scores: list[float]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {**ids, "label": ["yes" if s >= 0.5 else "no" for s in scores], "score": scores}
    )


def test_each_row_keeps_its_entity_score_and_label_numbered_in_scoring_order() -> None:
    scored = _scored({"customer": [30, 4, 200]}, [0.9, 0.1, 0.6])
    first = first_row_id(7) + 1000  # the run's second chunk
    rows = history_rows(["customer"], scored, 7, first)
    assert rows.schema == ROWS_SCHEMA
    got = rows.to_pydict()
    assert got["id"] == [first, first + 1, first + 2]
    assert got["run_id"] == [7, 7, 7]
    assert list(zip(got["entity_id"], got["score"], got["label"], strict=True)) == [
        ("30", 0.9, "yes"),
        ("4", 0.1, "no"),
        ("200", 0.6, "yes"),
    ]
    assert got["decision"] == [None] * 3  # no rules


def test_runs_have_disjoint_id_ranges() -> None:
    assert first_row_id(1) < first_row_id(1) + 2**32 - 1 < first_row_id(2)


def test_several_id_columns_join_with_a_bar() -> None:
    scored = _scored({"shop": ["b", "a"], "day": [2, 7]}, [0.3, 0.8])
    got = history_rows(["shop", "day"], scored, 1, first_row_id(1)).to_pydict()
    assert list(zip(got["entity_id"], got["score"], strict=True)) == [("b|2", 0.3), ("a|7", 0.8)]


def test_without_id_columns_the_rows_have_no_entity() -> None:
    got = history_rows([], _scored({}, [0.3, 0.8, 0.1]), 1, first_row_id(1)).to_pydict()
    assert got["entity_id"] == [None] * 3 and got["score"] == [0.3, 0.8, 0.1]

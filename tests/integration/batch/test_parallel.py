"""``--workers N``: chunks scored by worker processes come back whole and in input order."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from tabops.batch.parallel import ReadAhead, score_chunks
from tabops.batch.scoring import ScorerRecipe, recipe_for
from tests.integration.serve.conftest import make_project
from tests.unit.model.conftest import synthetic_table

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("mlflow")]


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> ScorerRecipe:
    project = make_project(tmp_path_factory.mktemp("batch-parallel"), rows=600)
    return recipe_for(project.spec, project.ctx, run_date=date(2026, 12, 2), batch_id="b-par")


def test_workers_give_the_single_process_chunks_in_order(
    recipe: ScorerRecipe, tmp_path: Path
) -> None:
    table = synthetic_table(2500, seed=31).drop_columns(["label", "value"])
    x = table.column("x").to_pylist()
    x[10], x[1900] = 500.0, -500.0  # outside the contract's range: rejects in chunks 1 and 8
    table = table.set_column(table.column_names.index("x"), "x", pa.array(x))
    batches = table.to_batches(max_chunksize=250)
    assert len(batches) == 10

    alone = list(score_chunks(recipe, batches, workers=1))
    pooled = list(score_chunks(recipe, batches, workers=2))

    assert len(pooled) == len(alone) == 10
    for one, other in zip(alone, pooled, strict=True):
        assert other.scored.equals(one.scored)
        assert other.rejects.equals(one.rejects)
    ids = [i for chunk in pooled for i in chunk.scored.column("id").to_pylist()]
    assert ids == [i for i in range(2500) if i not in (10, 1900)]
    assert [c.rejects.num_rows for c in pooled] == [1, 0, 0, 0, 0, 0, 0, 1, 0, 0]


def test_read_ahead_keeps_order_raises_the_readers_error_and_stops_when_left() -> None:
    batches = [pa.record_batch({"n": [i]}) for i in range(5)]
    with ReadAhead(iter(batches)) as ahead:
        assert [b.column(0)[0].as_py() for b in ahead] == list(range(5))

    def failing() -> Iterator[pa.RecordBatch]:
        yield batches[0]
        raise OSError("disk gone")

    with ReadAhead(failing()) as ahead, pytest.raises(OSError, match="disk gone"):
        list(ahead)

    read: list[int] = []

    def endless() -> Iterator[pa.RecordBatch]:
        for i in itertools.count():
            read.append(i)
            yield pa.record_batch({"n": [i]})

    with ReadAhead(endless(), depth=1) as ahead:
        next(iter(ahead))
    assert len(read) <= 3  # one taken, at most one waiting and one being put: bounded
    assert not ahead._thread.is_alive()

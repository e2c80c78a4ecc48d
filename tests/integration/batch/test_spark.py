"""``--engine spark`` gives the local engine's outputs, rejects included, row for row."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tabops.batch.scoring import REJECT_COLUMN, ScorerRecipe, recipe_for
from tabops.batch.spark import default_rejects, score_with_spark
from tests.integration.serve.conftest import ServedProject, make_project
from tests.unit.model.conftest import synthetic_table

pytestmark = [pytest.mark.slow, pytest.mark.spark, pytest.mark.xdist_group("spark")]


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> ScorerRecipe:
    project: ServedProject = make_project(tmp_path_factory.mktemp("batch-spark"), rows=600)
    return recipe_for(project.spec, project.ctx, run_date=date(2026, 12, 1), batch_id="b-spark")


def _input(rows: int) -> pa.Table:
    """Rows with a few the contract refuses: x above its max, a null x, a null flag."""
    table = synthetic_table(rows, seed=21).drop_columns(["label", "value"])
    x = table.column("x").to_numpy().copy().astype(object)
    x[5], x[17] = 1000.0, None
    flag = table.column("flag").to_pylist()
    flag[40] = None
    table = table.set_column(table.column_names.index("x"), "x", pa.array(x, pa.float64()))
    return table.set_column(table.column_names.index("flag"), "flag", pa.array(flag))


def _sorted(table: pa.Table) -> dict[str, list[Any]]:
    return table.sort_by("id").to_pydict()


def test_spark_and_local_outputs_are_identical(
    recipe: ScorerRecipe, spark_session: Any, tmp_path: Path
) -> None:
    source = tmp_path / "input.parquet"
    pq.write_table(_input(3000), source, row_group_size=700)
    output = str(tmp_path / "scored.parquet")

    summary = score_with_spark(recipe, str(source), output, session=spark_session, chunk_rows=500)

    local = recipe.build()
    chunks = [local.score(b) for b in pq.ParquetFile(source).iter_batches(1000)]
    expected = pa.Table.from_batches([c.scored for c in chunks], local.output_schema)
    expected_rejects = pa.Table.from_batches([c.rejects for c in chunks], local.rejects_schema)
    assert (summary.rows_in, summary.scored, summary.rejected) == (3000, 2997, 3)

    found = pq.read_table(output)
    assert found.schema.names == expected.schema.names
    assert found.num_rows == 2997
    spark_rows, local_rows = _sorted(found), _sorted(expected)
    for name in expected.schema.names:
        if expected.schema.field(name).type == pa.float64():
            np.testing.assert_array_equal(spark_rows[name], local_rows[name], err_msg=name)
        else:
            assert spark_rows[name] == local_rows[name], name
    rejects = pq.read_table(summary.rejects)
    assert summary.rejects == default_rejects(output)
    assert _sorted(rejects) == _sorted(expected_rejects)
    ids = [int(i) for i in rejects["id"].to_pylist()]  # the rejects keep values as text
    by_id = sorted(zip(ids, rejects[REJECT_COLUMN].to_pylist(), strict=True))
    assert by_id == [(5, "x"), (17, "x"), (40, "flag")]

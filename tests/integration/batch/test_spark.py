"""``tabops predict --engine spark`` gives the local engine's outputs row for row (rejects
included), and says which extra to install when pyspark is missing."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tabops.batch.run import run_predict
from tabops.batch.sinks import parse_destination
from tabops.batch.sources import Input
from tabops.cli import main
from tabops.errors import TabopsError
from tests.integration.serve.conftest import ServedProject, make_project
from tests.unit.model.conftest import synthetic_table

pytestmark = [pytest.mark.slow, pytest.mark.spark, pytest.mark.xdist_group("spark")]

RUN_DATE = date(2026, 12, 1)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> ServedProject:
    return make_project(tmp_path_factory.mktemp("batch-spark"), rows=600)


def _input(rows: int) -> pa.Table:
    """Rows with a few the contract refuses: x above its max, a null x, a null flag; ``note``
    is no column of the spec."""
    table = synthetic_table(rows, seed=21).drop_columns(["label", "value"])
    table = table.append_column("note", pa.array([f"n{i % 7}" for i in range(rows)]))
    x = table.column("x").to_pylist()
    x[5], x[17] = 1000.0, None
    flag = table.column("flag").to_pylist()
    flag[40] = None
    table = table.set_column(table.column_names.index("x"), "x", pa.array(x, pa.float64()))
    return table.set_column(table.column_names.index("flag"), "flag", pa.array(flag))


def _run(project: ServedProject, source: Path, output: Path, **engine: Any) -> Any:
    destination = parse_destination(str(output), "--output")
    return run_predict(
        project.spec, project.ctx, Input(str(source)), destination,
        destination.sibling(".rejects"), run_date=RUN_DATE, chunk_rows=700,
        keep=["note", "n"], **engine,
    )  # fmt: skip


def _rows(path: Path, key: str = "id") -> pa.Table:
    table = pq.read_table(path)
    order = pa.compute.sort_indices(table.column(key).cast(pa.int64()))
    return table.take(order).drop_columns(["batch_id"])  # each run has its own batch id


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_spark_and_local_engines_write_the_same_rows(
    project: ServedProject, spark_session: Any, tmp_path: Path, kind: str
) -> None:
    source = tmp_path / f"input.{kind}"
    rows = _input(3000)
    if kind == "parquet":
        pq.write_table(rows, source, row_group_size=500)
    else:
        pacsv.write_csv(rows, source)
    local = _run(project, source, tmp_path / "local.parquet", workers=2)
    spark = _run(project, source, tmp_path / "spark.parquet", spark_master="local[2]")

    assert (spark.rows_in, spark.scored, spark.rejected) == (3000, 2997, 3)
    assert (local.rows_in, local.scored, local.rejected) == (3000, 2997, 3)
    found, expected = _rows(tmp_path / "spark.parquet"), _rows(tmp_path / "local.parquet")
    assert found.schema == expected.schema
    assert found.equals(expected)  # every column, scores bit for bit
    assert found.column("score").null_count == 0 and found.num_rows == 2997
    assert found.column_names[:3] == ["id", "note", "n"]  # kept: as text, and as the model read
    assert found.schema.field("n").type == pa.int64()
    rejects = _rows(tmp_path / "spark.rejects.parquet")
    assert rejects.equals(_rows(tmp_path / "local.rejects.parquet"))
    assert rejects.column("id").to_pylist() == ["5", "17", "40"]
    assert rejects.column("reject_column").to_pylist() == ["x", "x", "flag"]
    assert rejects.column("note").to_pylist() == ["n5", "n3", "n5"]


def test_spark_engine_without_pyspark_names_the_extra(
    project: ServedProject,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "input.parquet"
    pq.write_table(_input(50), source)
    for name in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark: ModuleNotFoundError
    monkeypatch.setenv("TABOPS_HOME", str(project.home))
    monkeypatch.setenv("COLUMNS", "1000")
    output = tmp_path / "out.parquet"
    with pytest.raises(SystemExit) as exit_:
        main(["predict", "--spec", str(project.folder), "--input", str(source),
              "--output", str(output), "--engine", "spark"])  # fmt: skip
    assert exit_.value.code == 2
    message = " ".join(capsys.readouterr().err.split())
    assert "pip install 'tabops[spark]'" in message and "pyspark" in message
    assert not output.exists()


def test_spark_engine_refuses_a_csv_with_lines_before_its_header(
    project: ServedProject, tmp_path: Path
) -> None:
    source = tmp_path / "input.csv"
    source.write_text("Scores due Monday\n" + _csv_text(_input(50)), encoding="utf-8")
    spec = project.spec
    spec.source.csv.skip_rows = 1

    def run(output: str, **engine: Any) -> Any:
        destination = parse_destination(str(tmp_path / output), "--output")
        rejects = destination.sibling(".rejects")
        return run_predict(
            spec, project.ctx, Input(str(source)), destination, rejects, run_date=RUN_DATE, **engine
        )

    with pytest.raises(TabopsError, match=r"cannot skip the 1 line\(s\).*local engine"):
        run("spark.parquet", spark_master="local[2]")
    assert run("local.parquet").rows_in == 50  # the local engine can
    spec.source.csv.skip_rows, spec.source.csv.quoting = 0, False
    source.write_text(_csv_text(_input(50)).replace('"', ""), encoding="utf-8")
    with pytest.raises(TabopsError, match=r"cannot read a CSV's quotes as text.*local engine"):
        run("spark2.parquet", spark_master="local[2]")


def _csv_text(table: pa.Table) -> str:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink)
    return bytes(sink.getvalue()).decode()

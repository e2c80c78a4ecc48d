"""Row streams for ``monitor run --data``: Parquet files and SQL tables in chunks of at most
``chunk_rows`` rows, every row once, in order; CSV as ingest reads it, re-chunked."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from tabops.data.sources import stream_file, stream_sql_table
from tabops.errors import DataError, StoreError

TABLE = pa.table({"id": list(range(250)), "x": [i / 2 for i in range(250)],
                  "color": ["red", "blue"] * 125})  # fmt: skip


def _read(stream) -> tuple[list[int], pa.Table]:  # type: ignore[no-untyped-def]
    batches = list(stream.batches())
    return [b.num_rows for b in batches], pa.Table.from_batches(batches)


def test_a_parquet_file_streams_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "rows.parquet"
    pq.write_table(TABLE, path, row_group_size=120)
    stream = stream_file(path, None, chunk_rows=100)
    assert (stream.columns, stream.expected_rows) == (["id", "x", "color"], 250)
    sizes, read = _read(stream)
    assert max(sizes) <= 100 and sum(sizes) == 250
    assert read.to_pydict() == TABLE.to_pydict()


def test_a_csv_file_is_rechunked_with_its_rejects(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    lines = ["id,x,color", *(f"{i},{i / 2},red" for i in range(250)), "1,2,3,4"]
    path.write_text("\n".join(lines) + "\n")
    stream = stream_file(path, None, chunk_rows=64)
    sizes, read = _read(stream)
    assert max(sizes) <= 64 and sum(sizes) == 250 and read.column("id")[249].as_py() == "249"
    assert [r.line for r in stream.rejects] == [252]


def test_an_sql_table_streams_in_chunks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rows.db'}"
    engine = sa.create_engine(url)
    TABLE.to_pandas().to_sql("scored", engine, index=False)
    engine.dispose()
    stream = stream_sql_table(url, "scored", chunk_rows=100)
    assert (stream.columns, stream.expected_rows) == (["id", "x", "color"], 250)
    sizes, read = _read(stream)
    assert sizes == [100, 100, 50]
    assert read.to_pydict() == TABLE.to_pydict()
    with pytest.raises(DataError, match="table missing"):
        stream_sql_table(url, "missing", chunk_rows=100)
    with pytest.raises(StoreError, match="not a valid table name"):
        stream_sql_table(url, "x; DROP TABLE scored", chunk_rows=100)

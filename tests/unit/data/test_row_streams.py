"""Row streams for ``monitor run --data``: Parquet files and SQL tables in chunks of at most
``chunk_rows`` rows, every row once, in order; CSV as ingest reads it, re-chunked."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from tabops.data import csv_reader
from tabops.data.csv_reader import _FastStream, _read_exact, count_rows, stream_csv
from tabops.data.sources import stream_file, stream_sql_table
from tabops.errors import DataError, StoreError
from tabops.spec import CsvOptions

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


class _CountedReads:
    """A file that counts the bytes read from it."""

    def __init__(self, path: Path, reads: list[int]) -> None:
        self._file, self._reads = path.open("rb"), reads

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        self._reads.append(len(data))
        return data

    def __enter__(self) -> _CountedReads:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._file.close()


def test_a_csv_file_streams_a_block_of_lines_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("id,x\n" + "".join(f"{i},{i / 2}\n" for i in range(5000)))
    monkeypatch.setattr(csv_reader, "_READ_SIZE", 4096)
    reads: list[int] = []

    def opened() -> _CountedReads:
        return _CountedReads(path, reads)

    assert count_rows(opened) == 5000  # type: ignore[arg-type]
    stream = stream_csv(opened, CsvOptions(), str(path), 5000, DataError)  # type: ignore[arg-type]
    batches = stream.batches()
    counted = sum(reads)  # the lines counted, and the header
    first = next(batches)
    assert sum(reads) - counted <= 2 * 4096 + 64 < path.stat().st_size
    rest = list(batches)
    assert sum(b.num_rows for b in [first, *rest]) == 5000
    assert stream.lines.tolist() == list(range(2, 5002))
    assert isinstance(stream, _FastStream) and stream.exact_from is None


def test_a_streamed_csv_reads_the_rest_exactly_from_the_first_block_it_cannot_take(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = ["id,note", *(f"{i},plain" for i in range(300))]
    lines[251] = '250,"opened'  # line 252: a quote never closed
    lines += ["300,last", "301,a,b"]
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(csv_reader, "_READ_SIZE", 512)
    stream = stream_file(path, None, chunk_rows=64)
    _, read = _read(stream)
    exact = _read_exact(path.read_bytes(), CsvOptions(), str(path))
    assert read.equals(exact.table) and read.num_rows == 300
    assert [(r.line, r.reason.split(" (")[0]) for r in stream.rejects] == [
        (252, "bad quoting: a quoted value is never closed"),
        (303, "expected 2 fields, found 3"),
    ]
    assert stream.rejects == exact.rejects
    csv_stream = stream_csv(lambda: path.open("rb"), CsvOptions(), str(path), None, DataError)
    list(csv_stream.batches())
    assert isinstance(csv_stream, _FastStream) and csv_stream.exact_from is not None
    assert 2 < csv_stream.exact_from <= 252
    assert csv_stream.lines.tolist() == exact.lines.tolist()


def test_a_gzipped_csv_streams_uncounted_and_a_truncated_one_is_a_data_error(
    tmp_path: Path,
) -> None:
    text = "id,x\n" + "".join(f"{i},{i}\n" for i in range(2000))
    path = tmp_path / "rows.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    stream = stream_file(path, None, chunk_rows=500)
    assert stream.expected_rows is None
    sizes, read = _read(stream)
    assert sizes == [500] * 4 and read.column("x").to_pylist()[-1] == "1999"
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(DataError, match=r"rows\.csv\.gz is a compressed file \(gzip\)"):
        _read(stream_file(path, None, chunk_rows=500))


def test_a_streamed_csv_drops_empty_columns_after_the_last_name_and_rejects_filled_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_reader, "_READ_SIZE", 256)  # many blocks
    path = tmp_path / "rows.csv"
    lines = ["id,x,,", *(f"{i},{i / 2},," for i in range(200))]
    path.write_text("\n".join(lines) + "\n")
    stream = stream_file(path, None, chunk_rows=64)
    _, read = _read(stream)
    assert read.column_names == ["id", "x"] and read.num_rows == 200
    lines[150] = "149,74.5,,late note"  # a value far down an unnamed column: that row's fault
    lines[151] = "150,75.0,x"  # and a row one field short
    path.write_text("\n".join(lines) + "\n")
    stream = stream_file(path, None, chunk_rows=64)
    _, read = _read(stream)
    assert read.num_rows == 198 and 149 not in read.column("id").to_pylist()
    assert [(r.line, r.raw, r.reason) for r in stream.rejects] == [
        (151, "149,74.5,,late note", "a value after the header's last name"),
        (152, "150,75.0,x", "expected 4 fields, found 3"),
    ]
    lines[1:] = [f"{i},{i / 2},,note" for i in range(200)]  # every row: the header is short
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"names no column 4, yet its rows hold values .*'note'"):
        _read(stream_file(path, None, chunk_rows=64))


@pytest.mark.parametrize("data", [b"", b"  \r\n \n", b"\xef\xbb\xbf"])
def test_a_streamed_file_with_nothing_in_it_is_called_empty(tmp_path: Path, data: bytes) -> None:
    # An export that failed: not "the header line is blank, skip the lines before it".
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    with pytest.raises(DataError, match=r"export\.csv is empty; it needs a header line"):
        stream_file(path, None, chunk_rows=64)

"""What ``tabops predict`` reads: a CSV/Parquet file, a folder or glob of them, or an SQL
table or query (the spec's source syntax: a database URL with a table or a query)."""

from __future__ import annotations

import glob
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from tabops.data.sources import RowStream, stream_file, stream_sql_query, stream_sql_table
from tabops.errors import DataError, TabopsError
from tabops.spec import CsvOptions

_DATA_SUFFIXES = (".csv", ".parquet", ".pq", ".gz", ".bz2", ".zst", ".lz4", ".tsv", ".txt")


@dataclass(frozen=True)
class Input:
    """``location``: a path, a folder, a glob, or a database URL (with ``table`` or
    ``query``)."""

    location: str
    table: str | None = None
    query: str | None = None

    @property
    def is_sql(self) -> bool:
        return "://" in self.location and not self.location.startswith("file://")

    def open(self, csv: CsvOptions, chunk_rows: int) -> RowStream:
        if self.is_sql:
            if (self.table is None) == (self.query is None):
                raise TabopsError(
                    "--input is a database URL: name exactly one of --table or --query "
                    "(as source.table or source.query in the spec)."
                )
            if self.table is not None:
                return stream_sql_table(self.location, self.table, chunk_rows)
            assert self.query is not None
            return stream_sql_query(self.location, self.query, chunk_rows)
        if self.table is not None or self.query is not None:
            raise TabopsError(
                f"--table/--query go with a database URL in --input, not with {self.location}."
            )
        files = input_files(self.location)
        if len(files) == 1:
            return stream_file(files[0], csv, chunk_rows)
        return _concatenated([stream_file(f, csv, chunk_rows) for f in files], self.location)


def input_files(location: str) -> list[Path]:
    """The files ``location`` names: itself, a folder's data files, or a glob's matches
    (sorted, so every run reads them in the same order)."""
    path = Path(location.removeprefix("file://")).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if _data_file(p))
        if not found:
            raise DataError(f"--input folder {path} holds no CSV or Parquet file.")
        return found
    if glob.has_magic(location):
        matches = sorted(Path(m) for m in glob.glob(str(path), recursive=True))  # noqa: PTH207
        found = [m for m in matches if m.is_file()]
        if not found:
            raise DataError(f"--input {location} matches no file.")
        return found
    raise DataError(
        f"--input {path} does not exist (looked in {path.resolve().parent}). Pass a CSV or "
        "Parquet file, a folder or a glob of them, or a database URL with --table or --query."
    )


def _data_file(path: Path) -> bool:
    """A CSV or Parquet file (not a hidden one: a temporary file of a run in progress)."""
    name = path.name.lower()
    return path.is_file() and name.endswith(_DATA_SUFFIXES) and not name.startswith(".")


def _concatenated(streams: list[RowStream], location: str) -> RowStream:
    """Several files as one stream; each must have the first one's columns."""
    names = streams[0].columns
    for stream in streams[1:]:
        missing = [n for n in names if n not in stream.columns]
        if missing:
            raise DataError(
                f"{stream.description} lacks the column(s) {missing} that "
                f"{streams[0].description} has: the files of --input {location} must share "
                "their columns."
            )
    totals = [s.expected_rows for s in streams]
    expected = None if None in totals else sum(t or 0 for t in totals)

    def batches() -> Iterator[pa.RecordBatch]:
        for stream in streams:
            for batch in stream.batches():
                yield batch.select(names) if batch.schema.names != names else batch

    return RowStream(
        f"{len(streams)} files of {location}",
        names,
        expected,
        batches,
        lambda: [r for s in streams for r in s.rejects],
    )

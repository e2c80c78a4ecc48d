"""What ``tabops predict`` reads: a CSV/Parquet file, a folder or glob of them, or an SQL
table or query (the spec's source syntax: a database URL with a table or a query)."""

from __future__ import annotations

import fnmatch
import glob
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from tabops import storage
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
        return not storage.is_file_url(self.location)

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


def input_files(location: str) -> list[str]:
    """The files ``location`` names: itself, a folder's data files, or a glob's matches
    (sorted, so every run reads them in the same order); local, or objects of object
    storage (a prefix is a folder; a glob matches as a local recursive one, ``**`` too)."""
    if storage.is_web(location):  # one file, downloaded
        return [location]
    if storage.is_remote(location):
        return _objects(location)
    path = Path(location.removeprefix("file://")).expanduser()
    if path.is_file():
        return [str(path)]
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if _data_file(p))
        if not found:
            raise DataError(f"--input folder {path} holds no CSV or Parquet file.")
        return [str(p) for p in found]
    if glob.has_magic(location):
        matches = sorted(Path(m) for m in glob.glob(str(path), recursive=True))  # noqa: PTH207
        found = [m for m in matches if m.is_file()]
        if not found:
            raise DataError(f"--input {location} matches no file.")
        return [str(m) for m in found]
    raise DataError(
        f"--input {path} does not exist (looked in {path.resolve().parent}). Pass a CSV or "
        "Parquet file, a folder or a glob of them, or a database URL with --table or --query."
    )


def _objects(location: str) -> list[str]:
    """The objects ``location`` names: one object, the data files under a prefix, or the
    objects a glob matches."""
    try:
        if not glob.has_magic(location):
            if storage.exists(location):
                return [location]
            found = [f for f in storage.list_files(location) if _data_name(f)]
            if found:
                return found
            raise DataError(
                f"--input {location}: no such object, nor CSV or Parquet files under it."
            )
        base = location[: min(location.index(c) for c in "*?[" if c in location)]
        folder = base[: base.rindex("/")]
        pattern = location.split("/")
        found = [f for f in storage.list_files(folder) if _matches(f.split("/"), pattern)]
    except (OSError, ValueError) as exc:  # ArrowInvalid is a ValueError: a malformed URL
        raise DataError(f"Cannot list {location}: {exc}.") from exc
    if not found:
        raise DataError(f"--input {location} matches no object.")
    return found


def _matches(parts: list[str], pattern: list[str]) -> bool:
    """Whether a path matches a glob segment by segment, as a local recursive glob does: a
    ``**`` segment stands for any number of folders, and a hidden name matches only a
    pattern that starts with a dot (``**`` passes no hidden folder)."""
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        if not rest:  # the last segment: at least the file's own name, none hidden
            return bool(parts) and not any(part.startswith(".") for part in parts)
        for skipped in range(len(parts) + 1):
            if _matches(parts[skipped:], rest):
                return True
            if skipped < len(parts) and parts[skipped].startswith("."):
                return False
        return False
    return (
        bool(parts)
        and fnmatch.fnmatchcase(parts[0], head)
        and (head.startswith(".") or not parts[0].startswith("."))
        and _matches(parts[1:], rest)
    )


def _data_file(path: Path) -> bool:
    return path.is_file() and _data_name(path.name)


def _data_name(location: str) -> bool:
    """A CSV or Parquet file's name (not a hidden one: a temporary file of a run in
    progress)."""
    name = location.rsplit("/", 1)[-1].lower()
    return name.endswith(_DATA_SUFFIXES) and not name.startswith(".")


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

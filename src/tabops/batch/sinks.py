"""Where ``tabops predict`` writes: a CSV or Parquet file, a folder of Parquet part files
partitioned by run date (each locally or in object storage, ``s3://bucket/scores.parquet``),
or a table of the tabops store's database.

Files are published atomically: written under a temporary name in the destination's folder,
fsynced, then renamed over the old one, so a killed run leaves the previous output whole
(its temporary file is removed by the next run). A folder's run date partition is replaced
the same way. An object is published whole by its upload's completion (a partition's is
``run_date=D/part-00000.parquet``, overwritten). Tables are replaced per run date in one
transaction (:mod:`tabops.store.batch`).
"""

from __future__ import annotations

import gzip
import os
import shutil
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tabops import storage
from tabops.errors import TabopsError
from tabops.store.db import validate_identifier

TABLE_PREFIX = "table:"
_CSV, _GZIP_CSV, _PARQUET = ".csv", ".csv.gz", (".parquet", ".pq")
#: Suffixes of files tabops does not write: a name ending so is refused, not made a folder.
_OTHER_FILES = (".tsv", ".txt", ".json", ".jsonl", ".xlsx", ".xls", ".gz", ".zip", ".bz2",
                ".xz", ".zst", ".feather", ".arrow", ".orc", ".avro")  # fmt: skip
_TEMP = ".tmp-"  # the infix of temporary names: .NAME.tmp-BATCH
_OLD = ".old-"  # a replaced partition, removed once the new one is in place
_BATCH_ROWS = 100_000  # rows read from a spill at a time


@dataclass(frozen=True)
class Destination:
    """A parsed ``--output`` (or ``--rejects``): ``table``, a local ``path`` or an object
    storage ``url``, with its ``kind`` (csv, csv.gz, parquet or folder)."""

    text: str
    table: str | None = None
    path: Path | None = None
    kind: str = "table"
    url: str | None = None

    @property
    def describe(self) -> str:
        if self.table is not None:
            return f"table {self.table}"
        return self.url if self.url is not None else str(self.path)

    def sibling(self, suffix: str) -> Destination:
        """The destination beside this one for its rejects: NAME_rejects, X.rejects.csv,
        FOLDER.rejects/."""
        if self.table is not None:
            return parse_destination(f"{TABLE_PREFIX}{self.table}_rejects", "--rejects")
        if self.url is not None:
            folder, _, name = self.url.rpartition("/")
            stem, dot, ext = name.partition(".")
            if self.kind == "folder":
                return Destination(self.text, url=f"{folder}/{name}{suffix}", kind="folder")
            return Destination(self.text, url=f"{folder}/{stem}{suffix}{dot}{ext}", kind=self.kind)
        assert self.path is not None
        if self.kind == "folder":
            return Destination(self.text, path=self.path.with_name(self.path.name + suffix),
                               kind="folder")  # fmt: skip
        name = self.path.name
        stem, dot, ext = name.partition(".")
        return Destination(self.text, path=self.path.with_name(f"{stem}{suffix}{dot}{ext}"),
                           kind=self.kind)  # fmt: skip


def parse_destination(text: str, option: str) -> Destination:
    """``table:NAME``, a ``.csv``/``.csv.gz``/``.parquet`` file, or a folder (a path without
    a data file's suffix)."""
    if text.startswith(TABLE_PREFIX):
        name = text.removeprefix(TABLE_PREFIX)
        try:
            validate_identifier(name)
        except Exception as exc:
            raise TabopsError(
                f"{option} {text}: '{name}' is not a valid table name (letters, digits and "
                "'_', starting with a letter or '_', at most 63 characters)."
            ) from exc
        return Destination(text, table=name)
    if storage.is_remote(text):
        lower = text.rstrip("/").rpartition("/")[2].lower()
        return Destination(text, url=text.rstrip("/"), kind=_kind(lower, option, text))
    path = Path(text).expanduser()
    kind = _kind(path.name.lower(), option, text)
    if path.exists() and path.is_dir() != (kind == "folder"):
        what = "a folder" if path.is_dir() else "a file"
        wanted = "a folder name" if kind == "folder" else "a .csv, .csv.gz or .parquet file name"
        raise TabopsError(f"{option} {path} exists as {what}; pass {wanted}, or remove it.")
    parent = path.parent
    existing = next(p for p in (parent, *parent.parents) if p.exists())
    if not existing.is_dir():
        raise TabopsError(f"{option} {path}: {existing} is a file, not a folder.")
    return Destination(text, path=path, kind=kind)  # missing folders are made when written


def _kind(name: str, option: str, text: str) -> str:
    if name.endswith(_GZIP_CSV):
        return "csv.gz"
    if name.endswith(_CSV):
        return "csv"
    if name.endswith(_PARQUET):
        return "parquet"
    if name.endswith(_OTHER_FILES):
        raise TabopsError(
            f"{option} {text}: tabops writes .csv, .csv.gz (gzip) and .parquet files, a folder "
            f"of Parquet partitions (a name without a suffix) or table:NAME; not "
            f".{name.rpartition('.')[2]}. Pick one of those."
        )
    return "folder"


def write_file(destination: Destination, spill: Path, run_date: date, batch_id: str) -> None:
    """Write the rows of ``spill`` (a Parquet file of this run's, consumed) to the destination
    file or folder partition, atomically."""
    if destination.url is not None:
        _write_object(destination, spill, run_date)
        return
    assert destination.path is not None
    if destination.kind == "folder":
        _write_partition(destination.path, spill, run_date, batch_id)
        return
    path = destination.path
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(path.parent, path.name)
    temp = path.with_name(f".{path.name}{_TEMP}{batch_id}")
    try:
        _write(temp, destination.kind, spill)
        temp.replace(path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


#: A folder's partitions are named by it (Hive's layout); their files leave it out, as
#: Spark's ``partitionBy`` does: a reader of the folder (pandas, pyarrow.dataset, Spark,
#: DuckDB) takes it from the path, and refused to merge a date column with the path's text.
PARTITION_KEY = "run_date"


def partition(folder: Path, run_date: date) -> Path:
    return folder / f"{PARTITION_KEY}={run_date.isoformat()}"


def _write_object(destination: Destination, spill: Path, run_date: date) -> None:
    """Upload the rows as one object: readers see the old one until the upload completes."""
    assert destination.url is not None
    url, kind = destination.url, destination.kind
    if kind == "folder":
        url = storage.join(url, f"{PARTITION_KEY}={run_date.isoformat()}", "part-00000.parquet")
    filesystem, path = storage.resolve(url)
    with filesystem.open_output_stream(path, compression=None) as sink:  # not by suffix
        _write_to(sink, kind, spill)


def _write_partition(folder: Path, spill: Path, run_date: date, batch_id: str) -> None:
    """Replace the folder's ``run_date=D`` partition: the new one is written complete beside
    it, then swapped in by two renames (a run killed between them leaves the old one under
    .old-: the next run restores it before writing)."""
    folder.mkdir(parents=True, exist_ok=True)
    final = partition(folder, run_date)
    _remove_leftovers(folder, final.name)
    temp = folder / f".{final.name}{_TEMP}{batch_id}"
    temp.mkdir()
    try:
        _write(temp / "part-00000.parquet", "folder", spill)
        _fsync_folder(temp)
        old = folder / f".{final.name}{_OLD}{batch_id}"
        if final.exists():
            final.replace(old)
        temp.replace(final)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    _fsync_folder(folder)
    shutil.rmtree(old, ignore_errors=True)


def _remove_leftovers(folder: Path, name: str) -> None:
    """Remove what a killed run left for ``name``: temporary files (never published), and
    restore a partition that was moved aside but not replaced."""
    if not folder.is_dir():
        return
    for left in folder.glob(f".{name}{_TEMP}*"):
        shutil.rmtree(left) if left.is_dir() else left.unlink()
    for old in sorted(folder.glob(f".{name}{_OLD}*")):
        final = folder / name
        if final.exists():
            shutil.rmtree(old)
        else:
            old.replace(final)


def _write(path: Path, kind: str, spill: Path) -> None:
    """Write a file of ``kind``: csv, parquet, or folder (a partition's Parquet file)."""
    if kind == "parquet":
        # The spill is already the Parquet file a rewrite would make (same writer, same
        # chunks): moved, not decoded and encoded again (half a second per million rows).
        shutil.move(spill, path)
        with path.open("rb+") as moved:
            os.fsync(moved.fileno())
        return
    with path.open("wb") as sink:
        _write_to(sink, kind, spill)
        sink.flush()
        os.fsync(sink.fileno())


def _write_to(sink: Any, kind: str, spill: Path) -> None:
    schema = pq.read_schema(spill)
    if kind in ("csv", "csv.gz"):
        # GzipFile leaves the caller's sink open when closed (to fsync); Arrow's stream not.
        out = gzip.GzipFile(fileobj=sink, mode="wb") if kind == "csv.gz" else nullcontext(sink)
        with out as text, pacsv.CSVWriter(text, schema) as writer:
            for batch in spill_batches(spill):
                writer.write_batch(batch)
        return
    keep = [n for n in schema.names if kind != "folder" or n != PARTITION_KEY]
    with pq.ParquetWriter(sink, pa.schema([schema.field(n) for n in keep])) as writer:
        for batch in spill_batches(spill):
            writer.write_batch(batch.select(keep))


def spill_batches(spill: Path) -> Iterator[pa.RecordBatch]:
    """The rows of a run's Parquet spill, a chunk at a time."""
    yield from pq.ParquetFile(spill).iter_batches(batch_size=_BATCH_ROWS)


def _fsync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

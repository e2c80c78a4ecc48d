"""The day's rows: the spec's ``orchestration.day`` template resolved for a logical date, and
the spec the day is loaded and checked with.

The day's rows are production rows: they may lack the target (labels come later) and the
columns the model ignores. They are ingested under their own ledger name,
``<project>-daily``, so that a day never becomes the project's latest training snapshot;
``tabops quarantine list --set name=<project>-daily`` shows their quarantined rows.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from tabops import storage
from tabops.batch.sources import Input, input_files
from tabops.context import Context
from tabops.data.sources import open_source
from tabops.errors import SpecError, TabopsError
from tabops.spec import DATE_PLACEHOLDER, ColumnRole, IngestSpec, ProjectSpec, SourceSpec
from tabops.store.ledger import find_committed_batch

#: The ledger name of a project's day batches is the project's name and this suffix.
DAILY_SUFFIX = "-daily"
_CHUNK_ROWS = 100_000


class RefusedError(TabopsError):
    """A stage refused its input (a day blocked by the data contract): exit code 3."""

    exit_code = 3
    code = "refused"


def daily_name(spec: ProjectSpec) -> str:
    """The ledger name of ``spec``'s day batches."""
    return f"{spec.name}{DAILY_SUFFIX}"


def fill(template: str, day: date) -> str:
    """``template`` with ``{date}`` replaced by the logical date (YYYY-MM-DD); other braces
    (SQL, globs) are left alone."""
    return template.replace(DATE_PLACEHOLDER, day.isoformat())


def day_input(spec: ProjectSpec, day: date) -> Input:
    """The day's rows as ``tabops predict --input`` reads them; relative paths are relative to
    the spec's folder."""
    settings = spec.orchestration.day
    if settings is None:
        raise SpecError(
            "orchestration.day is not set in tabops.yaml: name the day's rows, e.g. "
            "orchestration: {day: {input: data/days/{date}.csv}}."
        )
    location = fill(settings.input, day)
    found = Input(location)
    if (
        not found.is_sql
        and not storage.is_remote(location)
        and not Path(location).expanduser().is_absolute()
    ):
        location = str(spec.root / location)
    table = None if settings.table is None else fill(settings.table, day)
    query = None if settings.query is None else fill(settings.query, day)
    return Input(location, table, query)


def day_spec(spec: ProjectSpec, ctx: Context, day: date) -> ProjectSpec:
    """The spec the day's rows are ingested with: the day's source (several files staged
    into one Parquet file, so the ledger sees one content hash), the ledger name
    ``<project>-daily``, a replacing ingest, and without the target and the ignored columns
    the rows do not carry."""
    found = day_input(spec, day)
    if found.is_sql:
        source = SourceSpec(url=found.location, table=found.table, query=found.query,
                            csv=spec.source.csv)  # fmt: skip
    else:
        files = _files(found.location, day)
        path = files[0] if len(files) == 1 else _staged(spec, ctx, found, day)
        source = SourceSpec(path=str(path), csv=spec.source.csv)
    present = set(found.open(spec.source.csv, _CHUNK_ROWS).columns)
    optional = (ColumnRole.TARGET, ColumnRole.IGNORED)
    columns = {n: c for n, c in spec.columns.items() if n in present or c.role not in optional}
    # model_copy skips validation on purpose: a day's spec has no target.
    return spec.model_copy(update={
        "name": daily_name(spec), "columns": columns, "source": source, "ingest": IngestSpec(),
    })  # fmt: skip


def day_snapshot(spec: ProjectSpec, ctx: Context, day: date) -> sa.Row[object]:
    """The ledger's committed batch of the day (its snapshot holds the checked rows); a clear
    error when the day was not ingested, or was blocked."""
    daily = day_spec(spec, ctx, day)
    stream = open_source(daily.source, daily.root)
    batch = find_committed_batch(ctx.store, daily.name, stream.content_hash)
    if batch is None:
        raise TabopsError(
            f"The rows of {day} ({stream.description}) have not been ingested (or the data "
            f"contract blocked them): run 'tabops pipeline task daily ingest --date {day}' "
            "first; 'tabops data batches --set name=" + daily.name + "' lists the day batches."
        )
    return batch


def _files(location: str, day: date) -> list[str]:
    try:
        return input_files(location)
    except TabopsError as exc:
        raise TabopsError(
            f"orchestration.day.input for {day}: {exc} (the template is filled with the "
            "logical date)."
        ) from exc


def _staged(spec: ProjectSpec, ctx: Context, found: Input, day: date) -> Path:
    """The day's files concatenated into one Parquet file (written atomically)."""
    folder = ctx.settings.snapshots_dir / daily_name(spec) / "staged"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{day.isoformat()}.parquet"
    partial = folder / f".{day.isoformat()}.parquet.partial"
    stream = found.open(spec.source.csv, _CHUNK_ROWS)
    writer: pq.ParquetWriter | None = None
    try:
        for batch in stream.batches():
            if writer is None:
                writer = pq.ParquetWriter(partial, batch.schema)
            writer.write_table(pa.Table.from_batches([batch]))
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise TabopsError(f"orchestration.day.input for {day}: {found.location} has no rows.")
    partial.replace(target)
    return target

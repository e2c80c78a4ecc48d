"""Production rows with the labels that have arrived: a day's checked rows (its snapshot in
the ``<project>-daily`` ledger) joined with the store's labels table by entity."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from tabops.context import Context
from tabops.data.snapshots import read_snapshot
from tabops.errors import NotFoundError
from tabops.orchestrate.day import daily_name, day_snapshot
from tabops.spec import ColumnRole, ProjectSpec
from tabops.store.labels import entity_labels
from tabops.store.ledger import find_snapshot


def entity_ids(spec: ProjectSpec, rows: pa.Table) -> list[str] | None:
    """Each row's entity as the batch history and the labels name it (the id columns as
    text, joined by '|'); None when the spec declares no id column."""
    ids = spec.columns_with_role(ColumnRole.ID)
    if not ids:
        return None
    parts = [pc.cast(rows.column(n), pa.string()) for n in ids]
    joined = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "|")
    return [str(v) for v in joined.to_pylist()]


def labelled_day(spec: ProjectSpec, ctx: Context, day: date) -> pa.Table:
    """The day's checked rows with the target column filled from the labels received so far
    (null where none has arrived yet)."""
    batch = day_snapshot(spec, ctx, day)
    found = find_snapshot(ctx.store, daily_name(spec), str(batch.snapshot_hash))
    if found is None:
        raise NotFoundError(f"The snapshot of the rows of {day} is not in the catalogue.")
    return with_labels(spec, ctx, read_snapshot(Path(found.path)))


def with_labels(spec: ProjectSpec, ctx: Context, rows: pa.Table) -> pa.Table:
    """``rows`` with the target column set from the labels table (by entity)."""
    entities = entity_ids(spec, rows)
    known = {} if entities is None else entity_labels(ctx.store, spec.name, entities)
    labels = pa.array(
        [known.get(e) for e in entities] if entities else [None] * rows.num_rows, pa.string()
    )
    if spec.target in rows.column_names:
        rows = rows.drop_columns([spec.target])
    return rows.append_column(spec.target, labels)

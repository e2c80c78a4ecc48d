"""The dataset task: the training set of a retrain, loaded as the project's next snapshot.

It is the champion's training snapshot (else the latest) plus the production rows whose
labels have arrived: the checked rows of every ingested day up to the logical date, joined
with the labels table by entity, without the rows the base already has. The union is written
to one Parquet file (rows in a fixed order, so the same inputs give the same bytes) and
ingested like any source: the data contract applies to the production rows too, bad rows are
quarantined with their reasons, and the ledger loads the same content once.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tabops.context import Context
from tabops.data.ingest import run_ingest
from tabops.data.snapshots import read_snapshot
from tabops.errors import NotFoundError, TabopsError
from tabops.orchestrate.day import RefusedError, daily_name
from tabops.orchestrate.labelled import entity_ids, with_labels
from tabops.orchestrate.monitor import midnight
from tabops.registry.models import CHAMPION, registry_for
from tabops.spec import ColumnRole, IngestSpec, ProjectSpec, SourceSpec
from tabops.store.ledger import find_snapshot, latest_snapshot, list_snapshots


def run_dataset(spec: ProjectSpec, ctx: Context, day: date) -> dict[str, Any]:
    """Build and ingest the training set of a retrain on ``day``.

    Raises:
        RefusedError: the data contract blocked the training set.
    """
    base_hash, base = _base(spec, ctx)
    production = _production(spec, ctx, day)
    known = set(entity_ids(spec, base) or [])
    fresh = [i for i, e in enumerate(entity_ids(spec, production) or []) if e not in known]
    production = production.take(pa.array(fresh, pa.int64()))
    combined = pa.concat_tables([base, _conform(production, base.schema)])
    path = _write(spec, ctx, day, combined)
    source = SourceSpec(path=str(path), csv=spec.source.csv)
    ingest = IngestSpec(dvc=spec.ingest.dvc, dvc_remote=spec.ingest.dvc_remote)
    training = spec.model_copy(update={"source": source, "ingest": ingest})
    result = run_ingest(training, ctx)
    if result.status == "blocked":
        raise RefusedError(
            f"The data contract blocked the training set of {day} ({path}): "
            f"{'; '.join(result.blocked_reasons)}; 'tabops quarantine list' shows the rows."
        )
    return {"date": day.isoformat(), "status": result.status, "snapshot_hash": result.snapshot_hash,
            "base_snapshot": base_hash, "base_rows": base.num_rows,
            "production_rows": production.num_rows, "rows_loaded": result.rows_loaded,
            "rows_quarantined": result.rows_quarantined, "batch_id": result.batch_id}  # fmt: skip


def _base(spec: ProjectSpec, ctx: Context) -> tuple[str, pa.Table]:
    champion = registry_for(spec, ctx).by_alias(CHAMPION)
    found = (
        find_snapshot(ctx.store, spec.name, champion.snapshot_hash)
        if champion is not None
        else latest_snapshot(ctx.store, spec.name)
    )
    if found is None:
        raise NotFoundError(
            f"No training snapshot of {spec.name} to retrain from: run 'tabops ingest' (or "
            "'tabops run') first."
        )
    return str(found.snapshot_hash), read_snapshot(Path(found.path))


def _production(spec: ProjectSpec, ctx: Context, day: date) -> pa.Table:
    """Every ingested day's labelled rows up to the end of ``day`` (by the timestamp column,
    when the spec has one), in entity order, each entity once."""
    parts = []
    for snapshot in list_snapshots(ctx.store, daily_name(spec)):
        rows = with_labels(spec, ctx, read_snapshot(Path(snapshot.path)))
        rows = rows.filter(pc.is_valid(rows.column(spec.target)))
        stamps = spec.columns_with_role(ColumnRole.TIMESTAMP)
        if stamps and stamps[0] in rows.column_names:
            cut = pa.scalar(midnight(day + timedelta(days=1)), rows.schema.field(stamps[0]).type)
            rows = rows.filter(pc.less(rows.column(stamps[0]), cut))
        parts.append(rows)
    if not parts:
        raise TabopsError(
            f"No ingested days of {spec.name} to take production rows from: run the daily "
            "flow first (tabops pipeline run daily --date D)."
        )
    rows = pa.concat_tables(parts, promote_options="permissive")
    entities = entity_ids(spec, rows)
    if entities is None:
        raise TabopsError(
            f"{spec.name} declares no id column (role: id): production rows cannot be joined "
            "with their labels. Declare the entity's id column in tabops.yaml."
        )
    first: dict[str, int] = {}
    for position, entity in sorted(enumerate(entities), key=lambda p: p[1]):
        first.setdefault(entity, position)
    return rows.take(pa.array(sorted(first.values(), key=lambda p: entities[p]), pa.int64()))


def _conform(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """``rows`` with ``schema``'s columns and types: absent ones (ignored columns the
    production rows do not carry) are null; labels arrive as text and take the target's type."""
    columns = []
    for field in schema:
        if field.name not in rows.column_names:
            columns.append(pa.nulls(rows.num_rows, field.type))
        else:
            columns.append(pc.cast(rows.column(field.name), field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _write(spec: ProjectSpec, ctx: Context, day: date, rows: pa.Table) -> Path:
    folder = ctx.settings.snapshots_dir / spec.name / "retrain"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{day.isoformat()}.parquet"
    partial = folder / f".{day.isoformat()}.parquet.partial"
    pq.write_table(rows, partial)
    partial.replace(target)
    return target

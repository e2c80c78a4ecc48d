"""The quarantine: list, show, export bad rows for fixing, and replay the fixed ones once.

A replay re-checks the fixed rows against the contract. Rows that now pass join the dataset as
a new batch appended to the latest snapshot, and their quarantine entries are marked
``replayed`` in the same transaction, so replaying the same file twice loads them once.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from tabops import storage
from tabops.context import Context
from tabops.data.contract import check_contract
from tabops.data.ingest import new_batch_id
from tabops.data.snapshots import read_snapshot, write_snapshot
from tabops.data.sources import read_file
from tabops.errors import DataError, NotFoundError
from tabops.spec import CsvOptions, ProjectSpec
from tabops.store import quarantine as quarantine_store
from tabops.store.bulk import TableWrite
from tabops.store.db import Store
from tabops.store.ledger import (
    BatchRecord,
    ReplayLoad,
    SnapshotRecord,
    latest_snapshot,
    record_replay,
)

ID_COLUMN = "_quarantine_id"
HELPER_COLUMNS = (ID_COLUMN, "_line", "_reasons", "_raw")
_ID = re.compile(r"[0-9]{1,19}")
_MAX_ID = 2**63 - 1  # the id column is a 64-bit integer


@dataclass
class QuarantineEntry:
    """One quarantined row."""

    id: int
    batch_id: str
    kind: str
    line: int | None
    row_number: int | None
    status: str
    raw: str
    reasons: list[dict[str, Any]]
    replayed_batch_id: str | None
    created_at: str

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> QuarantineEntry:
        return cls(
            id=row.id,
            batch_id=row.batch_id,
            kind=row.kind,
            line=row.line,
            row_number=row.row_number,
            status=row.status,
            raw=row.raw,
            reasons=json.loads(row.reasons),
            replayed_batch_id=row.replayed_batch_id,
            created_at=str(row.created_at),
        )

    def summary(self) -> str:
        """All reasons on one line."""
        return "; ".join(
            (f"{r['column']}: " if r.get("column") else "") + r["message"] for r in self.reasons
        )

    def values(self, columns: list[str]) -> dict[str, str]:
        """The raw values by column (structural rejects: best-effort split of the line)."""
        if self.kind == "contract":
            raw = json.loads(self.raw)
            return {c: "" if raw.get(c) is None else str(raw[c]) for c in columns}
        fields = next(csv.reader([self.raw]), [])
        if len(fields) != len(columns):
            return dict.fromkeys(columns, "")
        return dict(zip(columns, fields, strict=True))


def list_entries(
    store: Store,
    project: str,
    batch_id: str | None = None,
    status: str | None = "open",
    limit: int | None = 100,
) -> list[QuarantineEntry]:
    """Quarantined rows of ``project``, oldest first, filtered by batch and status."""
    rows = quarantine_store.quarantined_rows(store, project, batch_id, status, limit)
    return [QuarantineEntry.from_row(row) for row in rows]


def get_entry(store: Store, project: str, entry_id: int) -> QuarantineEntry:
    row = quarantine_store.quarantined_row(store, project, entry_id)
    if row is None:
        raise NotFoundError(
            f"No quarantined row {entry_id} in project {project}. "
            "'tabops quarantine list' shows the ids."
        )
    return QuarantineEntry.from_row(row)


def export_entries(entries: list[QuarantineEntry], spec: ProjectSpec, output: Path | str) -> int:
    """Write entries as a CSV to fix by hand: helper columns, then the spec's columns.
    ``output`` is a local path or a storage URL (``s3://bucket/fixes.csv``)."""
    columns = list(spec.columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*HELPER_COLUMNS, *columns])
    for entry in entries:
        values = entry.values(columns)
        raw = entry.raw if entry.kind == "structural" else ""
        writer.writerow(
            [entry.id, entry.line or "", entry.summary(), raw, *(values[c] for c in columns)]
        )
    storage.write_bytes(str(output), buffer.getvalue().encode("utf-8"))
    return len(entries)


@dataclass
class ReplayResult:
    """What a replay did."""

    batch_id: str | None
    rows_in: int
    replayed: int
    still_bad: int
    skipped: int  # unknown ids, other projects, or already replayed
    snapshot_hash: str | None
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def replay(spec: ProjectSpec, ctx: Context, fixes: Path) -> ReplayResult:
    """Re-check fixed rows from ``fixes`` (an exported CSV) and load those that pass, once."""
    # Exports are always comma-separated UTF-8, whatever the source's format; raw structural
    # lines inside them may span lines.
    export_format = CsvOptions(null_values=spec.source.csv.null_values, multiline_values=True)
    batch = read_file(fixes, export_format)
    if batch.rejects:
        first = batch.rejects[0]
        raise DataError(f"{fixes} line {first.line}: {first.reason}. Fix the file and replay.")
    table = batch.table
    if ID_COLUMN not in table.column_names:
        raise DataError(
            f"{fixes} has no {ID_COLUMN} column; replay files come from 'tabops quarantine export'."
        )
    ids = _entry_ids(table.column(ID_COLUMN).to_pylist(), batch.lines, fixes)
    store = ctx.store
    open_ids = quarantine_store.open_ids(store, spec.name, ids)
    first_position: dict[int, int] = {}
    for position, entry_id in enumerate(ids):
        if entry_id in open_ids:
            first_position.setdefault(entry_id, position)
    keep = sorted(first_position.values())
    skipped = len(ids) - len(keep)
    data = table.take(pa.array(keep, type=pa.int64())).drop_columns(
        [c for c in HELPER_COLUMNS if c in table.column_names]
    )
    parent = latest_snapshot(store, spec.name)
    previous = None if parent is None else read_snapshot(parent.path)
    # A replay re-checks each row: rows that still fail are still_bad, however many there
    # are, so only missing or new columns (checked.drift) stop it, never checked.retyped.
    checked = check_contract(data, spec, existing=previous)
    if checked.drift:
        raise DataError(f"{fixes} does not fit the spec: " + "; ".join(checked.drift))
    good_ids = [ids[keep[i]] for i in checked.good_index.tolist()]
    bad = {ids[keep[i]]: checked.reasons[i] for i in checked.bad_index.tolist()}
    result = ReplayResult(None, len(ids), len(good_ids), len(bad), skipped, None)
    if not good_ids and not bad:
        return result

    load = None
    if good_ids:
        batch_id, now = new_batch_id(), datetime.now(UTC)
        combined = checked.good
        if previous is not None:
            combined = pa.concat_tables(
                [previous.select(combined.column_names).cast(combined.schema), combined]
            )
        snapshot_hash, location = write_snapshot(
            combined, ctx.settings.snapshots(spec.name), ctx.settings.snapshots_dir / spec.name
        )
        result.batch_id, result.snapshot_hash = batch_id, snapshot_hash
        source = f"replay of {fixes}"
        load = ReplayLoad(
            BatchRecord(
                batch_id=batch_id,
                project=spec.name,
                source=source,
                content_hash=batch.content_hash,
                spec_hash=spec.spec_hash,
                status="replayed",
                rows_in=len(keep),
                rows_loaded=len(good_ids),
                rows_quarantined=len(bad),
                rows_rejected=0,
                snapshot_hash=snapshot_hash,
                report={"replayed_ids": good_ids},
                started_at=now,
                finished_at=datetime.now(UTC),
            ),
            SnapshotRecord(
                project=spec.name,
                snapshot_hash=snapshot_hash,
                path=location,
                rows=combined.num_rows,
                columns=len(spec.columns),
                batch_id=batch_id,
                parent_hash=None if parent is None else parent.snapshot_hash,
                source=source,
                created_at=now,
            ),
            good_ids,
            TableWrite(spec.ingest.table, checked.good) if spec.ingest.table else None,
        )
    still_bad = {entry_id: [r.as_dict() for r in reasons] for entry_id, reasons in bad.items()}
    record_replay(store, still_bad, load)
    return result


def _entry_ids(values: list[object], lines: np.ndarray | None, fixes: Path) -> list[int]:
    """The quarantine ids of the replay file's rows (CSV text, or Parquet integers); an edited
    id names its line."""
    ids = []
    for position, value in enumerate(values):
        text = "" if value is None else str(value).strip()
        if not _ID.fullmatch(text) or int(text) > _MAX_ID:
            line = f"line {lines[position]}" if lines is not None else f"row {position + 1}"
            raise DataError(
                f"{fixes} {line}: {ID_COLUMN} {value!r} is not a quarantine id. Put back the "
                "id 'tabops quarantine export' wrote there, or delete the row."
            )
        ids.append(int(text))
    return ids

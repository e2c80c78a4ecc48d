"""``run_ingest``: one batch from the source to a snapshot, with the contract and quarantine.

Guarantees (RELIABILITY.md D1-D4):
* rows in = loaded + quarantined + structurally rejected, exactly, reported every time;
* quarantined rows keep the raw row, every reason, the batch id and the line number;
* schema drift or a quarantine rate over the limit blocks the batch: nothing downstream;
* the same content is loaded once (a ledger keyed by content hash, enforced by a unique
  index), and a killed run leaves nothing half-written: the snapshot file is renamed into
  place and every store row of the batch is written in one transaction.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from tabops.context import Context
from tabops.data import versioning
from tabops.data.contract import ContractResult, check_contract, raw_json
from tabops.data.snapshots import read_snapshot, write_snapshot
from tabops.data.sources import SourceBatch, read_source
from tabops.errors import DataError
from tabops.spec import ProjectSpec
from tabops.store import schema
from tabops.store.db import TableWrite
from tabops.store.ledger import (
    find_committed_batch,
    is_conflict,
    latest_snapshot,
    record_blocked_batch,
    rows_for,
)

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    """What one ingest did; ``status`` is loaded, already_loaded or blocked."""

    status: str
    batch_id: str
    source: str
    content_hash: str
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_rejected: int = 0
    snapshot_hash: str | None = None
    snapshot_path: str | None = None
    snapshot_rows: int | None = None
    blocked_reasons: list[str] = field(default_factory=list)
    failures: dict[str, dict[str, int]] = field(default_factory=dict)
    structural: dict[str, int] = field(default_factory=dict)
    table: str | None = None
    dvc_tracked: bool = False
    seconds: float = 0.0

    @property
    def conserved(self) -> bool:
        """Rows in = loaded + quarantined + rejected (always true; reported as a check)."""
        return self.rows_in == self.rows_loaded + self.rows_quarantined + self.rows_rejected

    @property
    def quarantine_rate(self) -> float:
        bad = self.rows_quarantined + self.rows_rejected
        return bad / self.rows_in if self.rows_in else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["conserved"] = self.conserved
        data["quarantine_rate"] = round(self.quarantine_rate, 6)
        return data


def new_batch_id() -> str:
    """A sortable, unique batch id: UTC time plus randomness."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"


def run_ingest(spec: ProjectSpec, ctx: Context, dvc: bool | None = None) -> IngestResult:
    """Ingest the spec's source once: check, quarantine, snapshot, record.

    Args:
        spec: The project spec (source, columns, contract, ingest settings).
        ctx: Settings, store and progress.
        dvc: Track the snapshot with DVC; None uses ``ingest.dvc`` from the spec.
    """
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    store = ctx.store
    with ctx.progress.step("Reading source"):
        batch = read_source(spec.source, spec.root)
    if batch.rows_in == 0:
        raise DataError(f"{batch.description} has a header but no rows; there is nothing to load.")
    batch_id = new_batch_id()
    result = IngestResult(
        status="loaded",
        batch_id=batch_id,
        source=batch.description,
        content_hash=batch.content_hash,
        rows_in=batch.rows_in,
        rows_rejected=len(batch.rejects),
        structural=_count_reasons(batch),
        table=spec.ingest.table,
    )
    previous = find_committed_batch(store, spec.name, batch.content_hash)
    if previous is not None:
        return _already_loaded(result, previous, started)

    with ctx.progress.step("Checking the contract"):
        checked = check_contract(batch.table, spec)
    result.failures = checked.failures
    result.rows_quarantined = len(checked.bad_index)
    result.rows_loaded = len(checked.good_index)
    result.blocked_reasons = _block_reasons(spec, checked, result)
    if result.blocked_reasons:
        result.status = "blocked"
        result.rows_loaded = 0
        result.seconds = time.perf_counter() - started
        record_blocked_batch(store, _ledger_row(spec, result, started_at))
        return result

    with ctx.progress.step("Writing the snapshot"):
        parent = latest_snapshot(store, spec.name)
        data = checked.good
        if spec.ingest.mode == "append" and parent is not None:
            data = _append(read_snapshot(Path(parent.path)), data)
        digest, path = write_snapshot(data, ctx.settings.snapshots_dir / spec.name)
    result.snapshot_hash, result.snapshot_path, result.snapshot_rows = (
        digest,
        str(path),
        data.num_rows,
    )

    use_dvc = spec.ingest.dvc if dvc is None else dvc
    if use_dvc:
        with ctx.progress.step("Tracking the snapshot with DVC"):
            versioning.track(path, spec.root, spec.ingest.dvc_remote)
        result.dvc_tracked = True

    writes = [
        TableWrite("quarantine", _quarantine_rows(spec, batch, checked, batch_id)),
        TableWrite("snapshots", _snapshot_row(spec, result, parent_hash=_hash_of(parent))),
        TableWrite("ingest_batches", _ledger_row(spec, result, started_at)),
    ]
    if spec.ingest.table:
        replace = spec.ingest.mode == "replace"
        writes.insert(0, TableWrite(spec.ingest.table, checked.good, replace=replace))
    with ctx.progress.step(f"Writing to the store ({store.describe()})"):
        try:
            store.write_atomically(writes)
        except Exception as exc:
            if not is_conflict(exc):
                raise
            # Another run committed the same content first: that load stands, ours is void.
            previous = find_committed_batch(store, spec.name, batch.content_hash)
            if previous is None:
                raise
            return _already_loaded(result, previous, started)
    result.seconds = time.perf_counter() - started
    log.info("ingested batch %s: %s", batch_id, result.to_dict())
    return result


def _already_loaded(result: IngestResult, previous: sa.Row[Any], started: float) -> IngestResult:
    result.status = "already_loaded"
    result.batch_id = previous.batch_id
    result.snapshot_hash = previous.snapshot_hash
    result.rows_in = previous.rows_in
    result.rows_loaded = previous.rows_loaded
    result.rows_quarantined = previous.rows_quarantined
    result.rows_rejected = previous.rows_rejected
    result.seconds = time.perf_counter() - started
    return result


def _hash_of(snapshot: Any) -> str | None:
    return None if snapshot is None else str(snapshot.snapshot_hash)


def _count_reasons(batch: SourceBatch) -> dict[str, int]:
    counts: dict[str, int] = {}
    for reject in batch.rejects:
        kind = reject.reason.split(":")[0].split(" (")[0]
        key = "wrong field count" if kind.startswith("expected") else kind
        counts[key] = counts.get(key, 0) + 1
    return counts


def _block_reasons(spec: ProjectSpec, checked: ContractResult, result: IngestResult) -> list[str]:
    reasons = [f"schema drift: {issue}" for issue in checked.drift]
    limit = spec.contract.max_quarantine_rate
    if not checked.drift and result.quarantine_rate > limit:
        reasons.append(
            f"quarantine rate {result.quarantine_rate:.2%} is above "
            f"contract.max_quarantine_rate {limit:.2%}"
        )
    return reasons


def _append(previous: pa.Table, new: pa.Table) -> pa.Table:
    try:
        return pa.concat_tables([previous.select(new.column_names).cast(new.schema), new])
    except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(
            "ingest.mode is append, but the previous snapshot's columns do not fit the new "
            f"batch ({exc}). Ingest once with --set ingest.mode=replace to start a new dataset."
        ) from exc


def _now() -> datetime:
    return datetime.now(UTC)


def _quarantine_rows(
    spec: ProjectSpec, batch: SourceBatch, checked: ContractResult, batch_id: str
) -> pa.Table:
    now = _now()
    rows: list[dict[str, Any]] = [
        {
            "project": spec.name,
            "batch_id": batch_id,
            "kind": "structural",
            "line": reject.line,
            "row_number": None,
            "raw": reject.raw,
            "reasons": json.dumps(
                [{"column": None, "check": "structure", "message": reject.reason}]
            ),
            "status": "open",
            "replayed_batch_id": None,
            "created_at": now,
        }
        for reject in batch.rejects
    ]
    raw_rows = batch.table.take(checked.bad_index).to_pylist() if len(checked.bad_index) else []
    for position, raw in zip(checked.bad_index.tolist(), raw_rows, strict=True):
        line, row_number = batch.locate(position)
        rows.append(
            {
                "project": spec.name,
                "batch_id": batch_id,
                "kind": "contract",
                "line": line,
                "row_number": row_number,
                "raw": raw_json(raw),
                "reasons": json.dumps([r.as_dict() for r in checked.reasons[position]]),
                "status": "open",
                "replayed_batch_id": None,
                "created_at": now,
            }
        )
    return rows_for(schema.quarantine, rows)


def _snapshot_row(spec: ProjectSpec, result: IngestResult, parent_hash: str | None) -> pa.Table:
    return rows_for(
        schema.snapshots,
        [
            {
                "project": spec.name,
                "snapshot_hash": result.snapshot_hash,
                "path": result.snapshot_path,
                "rows": result.snapshot_rows,
                "columns": len(spec.columns),
                "batch_id": result.batch_id,
                "parent_hash": parent_hash,
                "source": result.source,
                "created_at": _now(),
            }
        ],
    )


def _ledger_row(spec: ProjectSpec, result: IngestResult, started_at: datetime) -> pa.Table:
    report = {
        "failures": result.failures,
        "structural": result.structural,
        "blocked_reasons": result.blocked_reasons,
        "mode": spec.ingest.mode,
        "table": spec.ingest.table,
    }
    return rows_for(
        schema.ingest_batches,
        [
            {
                "batch_id": result.batch_id,
                "project": spec.name,
                "source": result.source,
                "content_hash": result.content_hash,
                "spec_hash": spec.spec_hash,
                "status": "committed" if result.status == "loaded" else "blocked",
                "rows_in": result.rows_in,
                "rows_loaded": result.rows_loaded,
                "rows_quarantined": result.rows_quarantined,
                "rows_rejected": result.rows_rejected,
                "snapshot_hash": result.snapshot_hash,
                "report": json.dumps(report),
                "started_at": started_at,
                "finished_at": _now(),
            }
        ],
    )

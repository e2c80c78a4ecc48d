"""``run_ingest``: one batch from the source to a snapshot, with the contract and quarantine.

Guarantees (RELIABILITY.md D1-D4):
* rows in = loaded + quarantined + structurally rejected, exactly, reported every time;
* quarantined rows keep the raw row, every reason, the batch id and the line number;
* schema drift or a quarantine rate over the limit blocks the batch: nothing downstream;
* the same content is loaded once (a ledger keyed by content hash, enforced by a unique
  index), and a killed run leaves nothing half-written: the snapshot file is renamed into
  place and every store row of the batch is written in one transaction.

The batch streams: each record batch is checked, appended to the snapshot file and (with
``ingest.table``) copied into the database while the next one is checked. The verdict comes
at the end; a blocked batch rolls the transaction back and removes the partial snapshot.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from tabops.background import background
from tabops.context import Context
from tabops.data import versioning
from tabops.data.contract import ContractChecker, Reason, raw_json
from tabops.data.snapshots import SnapshotWriter, read_snapshot
from tabops.data.sources import SourceStream, open_source
from tabops.errors import DataError, SpecError
from tabops.progress import Advance
from tabops.spec import ProjectSpec
from tabops.store import schema
from tabops.store.bulk import Put
from tabops.store.ledger import (
    BatchRecord,
    SnapshotRecord,
    find_committed_batch,
    is_conflict,
    latest_snapshot,
    record_blocked_batch,
    record_load,
    snapshot_exists,
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
        """Rows in = loaded + quarantined + rejected (reported with every ingest)."""
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


class _BlockedError(Exception):
    """Raised inside the write transaction to roll it back."""


@dataclass
class _Tally:
    """What the stream of checked batches added up to."""

    rows: int = 0
    loaded: int = 0
    bad_positions: list[int] = field(default_factory=list)
    reasons: dict[int, list[Reason]] = field(default_factory=dict)
    raw: list[dict[str, Any]] = field(default_factory=list)


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
    _check_publish_table(spec.ingest.table)
    track = spec.ingest.dvc if dvc is None else dvc
    if track:
        versioning.check_remote(versioning.remote(spec.ingest.dvc_remote, ctx.settings))
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    store = ctx.store
    with ctx.progress.step("Reading the source"):
        stream = open_source(spec.source, spec.root)
    result = IngestResult(
        status="loaded",
        batch_id=new_batch_id(),
        source=stream.description,
        content_hash=stream.content_hash,
        table=spec.ingest.table,
    )
    previous = find_committed_batch(store, spec.name, stream.content_hash)
    if previous is not None:
        return _already_loaded(result, previous, started)

    checker = ContractChecker(spec, stream.schema)
    if checker.drift:
        rows = sum(batch.num_rows for batch in stream.batches())
        return _blocked(spec, ctx, result, started_at, started, stream, rows, checker.drift)

    parent = latest_snapshot(store, spec.name)
    snapshot = SnapshotWriter(
        ctx.settings.snapshots(spec.name),
        checker.schema,
        staging=ctx.settings.snapshots_dir / spec.name,
        keep_local=track,  # DVC tracks a file in the repository
    )
    try:
        return _load(spec, ctx, result, stream, checker, snapshot, parent, started, started_at, dvc)
    except _BlockedError:
        snapshot.abort()
        # A run of the same content may have committed while this one read it (then its rows
        # were this run's parent, and every id looked duplicate): that load stands.
        previous = find_committed_batch(store, spec.name, stream.content_hash)
        if previous is not None:
            return _already_loaded(result, previous, started)
        return _blocked(spec, ctx, result, started_at, started, stream, result.rows_in, [])
    except BaseException:
        snapshot.abort()
        raise


def _check_publish_table(table: str | None) -> None:
    if table is not None and (table in schema.metadata.tables or table == "alembic_version"):
        raise SpecError(
            f"ingest.table '{table}' is one of tabops' own store tables; publish the rows to "
            "another table name, e.g. --set ingest.table=clean_rows."
        )


def _load(
    spec: ProjectSpec,
    ctx: Context,
    result: IngestResult,
    stream: SourceStream,
    checker: ContractChecker,
    snapshot: SnapshotWriter,
    parent: sa.Row[Any] | None,
    started: float,
    started_at: datetime,
    dvc: bool | None,
) -> IngestResult:
    if spec.ingest.mode == "append" and parent is not None:
        previous = _previous_rows(parent.path, checker.schema)
        checker.remember(previous)  # ids stay unique across appended batches
        snapshot.write(previous)
    tally = _Tally()
    store = ctx.store
    try:
        with (
            ctx.progress.step("Checking and loading rows", total=stream.expected_rows) as advance,
            store.bulk() as transaction,
        ):
            sink: AbstractContextManager[Put] = nullcontext(lambda _batch: None)
            if spec.ingest.table:
                replace = spec.ingest.mode == "replace"
                sink = transaction.stream(spec.ingest.table, checker.schema, replace)
            snapshot_sink = background(_write_all(snapshot), name="snapshot")
            with sink as put, snapshot_sink as put_snapshot:
                for good in _checked_batches(stream, checker, tally, advance):
                    put_snapshot(good)
                    put(good)
            _count(result, stream, checker, tally)
            result.blocked_reasons = _block_reasons(spec, result, checker.retyped())
            if result.blocked_reasons:
                raise _BlockedError
            digest, location = snapshot.finish()
            result.snapshot_hash, result.snapshot_path = digest, location
            result.snapshot_rows = snapshot.rows
            if spec.ingest.dvc if dvc is None else dvc:
                assert snapshot.local is not None  # kept for DVC
                versioning.track(
                    snapshot.local,
                    spec.root,
                    versioning.remote(spec.ingest.dvc_remote, ctx.settings),
                )
                result.dvc_tracked = True
            new = not snapshot_exists(store, spec.name, digest)  # else: rows of an earlier batch
            record_load(
                transaction,
                _batch_record(spec, result, started_at),
                _snapshot_record(spec, result, _hash_of(parent)) if new else None,
                _quarantine_rows(spec, stream, tally, result.batch_id),
            )
    except Exception as exc:
        if not is_conflict(exc):
            raise
        # Another run committed the same content first: that load stands, ours is void.
        previous = find_committed_batch(store, spec.name, result.content_hash)
        if previous is None:
            raise
        return _already_loaded(result, previous, started)
    result.seconds = time.perf_counter() - started
    log.info("ingested batch %s: %s", result.batch_id, result.to_dict())
    return result


def _checked_batches(
    stream: SourceStream,
    checker: ContractChecker,
    tally: _Tally,
    advance: Advance,
) -> Iterator[pa.RecordBatch]:
    """Check each batch, keep its bad rows in ``tally``, and yield its good rows."""
    for batch in stream.batches():
        checked = checker.check(batch, tally.rows)
        tally.rows += batch.num_rows
        tally.loaded += checked.good.num_rows
        tally.bad_positions += checked.bad_positions.tolist()
        tally.reasons.update(checked.reasons)
        tally.raw += checked.raw
        advance(batch.num_rows)
        yield from checked.good.to_batches()


def _write_all(snapshot: SnapshotWriter) -> Callable[[Iterator[pa.RecordBatch]], None]:
    def write(batches: Iterator[pa.RecordBatch]) -> None:
        for batch in batches:
            snapshot.write(pa.Table.from_batches([batch]))

    return write


def _count(
    result: IngestResult, stream: SourceStream, checker: ContractChecker, tally: _Tally
) -> None:
    result.rows_rejected = len(stream.rejects)
    result.rows_in = tally.rows + result.rows_rejected
    result.rows_loaded = tally.loaded
    result.rows_quarantined = len(tally.bad_positions)
    result.failures = checker.failure_counts()
    result.structural = _count_reasons(stream)
    if result.rows_in == 0:
        raise DataError(f"{stream.description} has a header but no rows; there is nothing to load.")


def _previous_rows(location: str, schema_: pa.Schema) -> pa.Table:
    try:
        return read_snapshot(location).select(schema_.names).cast(schema_)
    except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(
            "ingest.mode is append, but the previous snapshot's columns do not fit the new "
            f"batch ({exc}). Ingest once with --set ingest.mode=replace to start a new dataset."
        ) from exc


def _blocked(
    spec: ProjectSpec,
    ctx: Context,
    result: IngestResult,
    started_at: datetime,
    started: float,
    stream: SourceStream,
    rows: int,
    drift: list[str],
) -> IngestResult:
    result.status = "blocked"
    if drift:
        result.blocked_reasons = [f"schema drift: {issue}" for issue in drift]
        result.rows_rejected = len(stream.rejects)
        result.rows_in = rows + result.rows_rejected
        result.rows_quarantined = rows  # nothing is checked against a drifted schema
    result.seconds = time.perf_counter() - started
    record_blocked_batch(ctx.store, _batch_record(spec, result, started_at))
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


def _hash_of(snapshot: sa.Row[Any] | None) -> str | None:
    return None if snapshot is None else str(snapshot.snapshot_hash)


def _count_reasons(stream: SourceStream) -> dict[str, int]:
    counts: dict[str, int] = {}
    for reject in stream.rejects:
        kind = reject.reason.split(":")[0].split(" (")[0]
        key = "wrong field count" if kind.startswith("expected") else kind
        counts[key] = counts.get(key, 0) + 1
    return counts


def _block_reasons(spec: ProjectSpec, result: IngestResult, retyped: list[str]) -> list[str]:
    reasons = [f"schema drift: {issue}" for issue in retyped]
    limit = spec.contract.max_quarantine_rate
    if not retyped and result.quarantine_rate > limit:
        reasons.append(
            f"quarantine rate {result.quarantine_rate:.2%} is above "
            f"contract.max_quarantine_rate {limit:.2%}"
        )
    return reasons


def _quarantine_rows(
    spec: ProjectSpec, stream: SourceStream, tally: _Tally, batch_id: str
) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    base = {"project": spec.name, "batch_id": batch_id, "status": "open", "created_at": now}
    rows: list[dict[str, Any]] = [
        base
        | {
            "kind": "structural",
            "line": reject.line,
            "row_number": None,
            "raw": reject.raw,
            "reasons": json.dumps(
                [{"column": None, "check": "structure", "message": reject.reason}]
            ),
        }
        for reject in stream.rejects
    ]
    lines = stream.lines
    positions = np.array(tally.bad_positions, dtype=np.int64)
    line_of = lines[positions].tolist() if lines is not None else [None] * len(positions)
    for position, line, raw in zip(positions.tolist(), line_of, tally.raw, strict=True):
        rows.append(
            base
            | {
                "kind": "contract",
                "line": line,
                "row_number": position + 1,
                "raw": raw_json(raw),
                "reasons": json.dumps([r.as_dict() for r in tally.reasons[position]]),
            }
        )
    return rows


def _snapshot_record(
    spec: ProjectSpec, result: IngestResult, parent_hash: str | None
) -> SnapshotRecord:
    assert result.snapshot_hash and result.snapshot_path and result.snapshot_rows is not None
    return SnapshotRecord(
        project=spec.name,
        snapshot_hash=result.snapshot_hash,
        path=result.snapshot_path,
        rows=result.snapshot_rows,
        columns=len(spec.columns),
        batch_id=result.batch_id,
        parent_hash=parent_hash,
        source=result.source,
        created_at=datetime.now(UTC),
    )


def _batch_record(spec: ProjectSpec, result: IngestResult, started_at: datetime) -> BatchRecord:
    report = {
        "failures": result.failures,
        "structural": result.structural,
        "blocked_reasons": result.blocked_reasons,
        "mode": spec.ingest.mode,
        "table": spec.ingest.table,
    }
    return BatchRecord(
        batch_id=result.batch_id,
        project=spec.name,
        source=result.source,
        content_hash=result.content_hash,
        spec_hash=spec.spec_hash,
        status="committed" if result.status == "loaded" else "blocked",
        rows_in=result.rows_in,
        rows_loaded=result.rows_loaded,
        rows_quarantined=result.rows_quarantined,
        rows_rejected=result.rows_rejected,
        snapshot_hash=result.snapshot_hash,
        report=report,
        started_at=started_at,
        finished_at=datetime.now(UTC),
    )

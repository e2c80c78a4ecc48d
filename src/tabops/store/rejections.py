"""Refused prediction requests, counted per minute: their journal format, their idempotent
insert, and what monitoring reads of them.

A server counts the requests it refuses (422, or a body that is not JSON) in memory and, once
a minute is over, journals one :class:`RejectedBucket` per model version beside its
predictions; the prediction log's writer stores it here (so a store outage spills the counts
to disk as it does predictions). A bucket has an id unique to its process, so a replay never
counts it twice, and several workers' buckets of one minute simply add up.
Importing this module loads no SQLAlchemy (serving's import stays light); writing does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from tabops.store.bulk import BulkTransaction
    from tabops.store.db import Store

#: The journal line's tag (predictions are arrays, shadow predictions tagged "shadow").
TAG = "rejected"


@dataclass
class RejectedBucket:
    """One minute of one model version's refusals in one process.

    Attributes:
        fields: (field, reason) -> records refused for it (a record counts once per pair).
    """

    id: str
    model_name: str
    model_version: str
    minute: int  # its start, in seconds since the epoch
    requests: int = 0
    records: int = 0
    fields: dict[tuple[str, str], int] = field(default_factory=dict)

    def encode(self) -> bytes:
        """The journal line (without its newline)."""
        refused = [[name, reason, count] for (name, reason), count in self.fields.items()]
        return orjson.dumps({TAG: [self.id, self.model_name, self.model_version, self.minute,
                                   self.requests, self.records, refused]})  # fmt: skip


def insert_buckets(transaction: BulkTransaction, project: str, lines: list[Any]) -> int:
    """Store journaled buckets (each the list under :data:`TAG`) that are not stored yet; how
    many were new."""
    buckets = [RejectedBucket(*line[:6]) for line in lines]
    minutes = {b.id: datetime.fromtimestamp(b.minute, UTC) for b in buckets}
    inserted = transaction.insert_new("rejected_requests", {
        "id": [b.id for b in buckets], "project": [project] * len(buckets),
        "model_name": [b.model_name for b in buckets],
        "model_version": [b.model_version for b in buckets],
        "minute": [minutes[b.id] for b in buckets],
        "requests": [b.requests for b in buckets], "records": [b.records for b in buckets],
    })  # fmt: skip
    fields = [(b, name, reason, count) for b, line in zip(buckets, lines, strict=True)
              for name, reason, count in line[6]]  # fmt: skip
    if fields:  # a replayed bucket's fields are in the store already too: skipped alike
        transaction.insert_new("rejected_fields", {
            "id": [b.id for b, *_ in fields], "field": [f[1][:128] for f in fields],
            "reason": [f[2] for f in fields], "project": [project] * len(fields),
            "model_name": [b.model_name for b, *_ in fields],
            "model_version": [b.model_version for b, *_ in fields],
            "minute": [minutes[b.id] for b, *_ in fields], "records": [f[3] for f in fields],
        })  # fmt: skip
    return inserted


@dataclass(frozen=True)
class RefusedCounts:
    """A time range's refusals per model version.

    Attributes:
        requests: version -> (requests refused, records in them).
        fields: version -> field -> reason -> records refused.
    """

    requests: Mapping[str, tuple[int, int]]
    fields: Mapping[str, Mapping[str, Mapping[str, int]]]


def refused_counts(
    store: Store, project: str, model_name: str, start: datetime, end: datetime
) -> RefusedCounts:
    """What ``model_name``'s servers refused in ``[start, end)`` (minutes starting in it)."""
    import sqlalchemy as sa

    from tabops.store import schema

    r, f = schema.rejected_requests, schema.rejected_fields
    requests = (
        sa.select(r.c.model_version, sa.func.sum(r.c.requests), sa.func.sum(r.c.records))
        .where(r.c.project == project, r.c.model_name == model_name,
               r.c.minute >= start, r.c.minute < end)
        .group_by(r.c.model_version)
    )  # fmt: skip
    fields = (
        sa.select(f.c.model_version, f.c.field, f.c.reason, sa.func.sum(f.c.records))
        .where(f.c.project == project, f.c.model_name == model_name,
               f.c.minute >= start, f.c.minute < end)
        .group_by(f.c.model_version, f.c.field, f.c.reason)
    )  # fmt: skip
    by_field: dict[str, dict[str, dict[str, int]]] = {}
    with store.connect() as conn:
        totals = {v: (int(n), int(k)) for v, n, k in conn.execute(requests)}
        for version, name, reason, count in conn.execute(fields):
            by_field.setdefault(version, {}).setdefault(name, {})[reason] = int(count)
    return RefusedCounts(totals, by_field)


def refused_span(store: Store, project: str, model_name: str) -> tuple[datetime, datetime] | None:
    """The first and last minute with refusals of ``model_name`` (None if there were none)."""
    import sqlalchemy as sa

    from tabops.store import schema

    r = schema.rejected_requests
    query = sa.select(sa.func.min(r.c.minute), sa.func.max(r.c.minute)).where(
        r.c.project == project, r.c.model_name == model_name
    )
    with store.connect() as conn:
        first, last = conn.execute(query).one()
    return None if first is None else (_utc(first), _utc(last))


def _utc(moment: datetime) -> datetime:
    """SQLite returns naive datetimes (stored as UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

"""Refused prediction requests, counted by field and reason for monitoring.

A request is *refused* when its content is: a 422 (records that fail the request schema, a
payload of the wrong shape) or a body that is not JSON (400). Each is counted on the error
path only, so an accepted request pays nothing: into Prometheus counters at once, and into
per-minute buckets that the server journals beside its predictions once the minute is over
(:mod:`tabops.store.rejections`), never a database write per request.

Labels stay bounded: a field is a column of the spec, else :data:`OTHER` (unknown names, and
what is wrong with the body as a whole); a reason is one of
:data:`~tabops.serve.schema.KINDS`. A record counts once per (field, reason), so a refused
batch of 50 records that all lack ``age`` adds 50 to (age, missing).
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable

from tabops.serve.http import ApiError
from tabops.serve.metrics import ServeMetrics
from tabops.serve.model import ServedModel
from tabops.serve.schema import MALFORMED
from tabops.store.rejections import RejectedBucket

#: The field of what names no column of the spec.
OTHER = "(other)"
#: The routes whose refusals count: every way to ask for predictions.
PREDICTION_ROUTES = frozenset({"/predict", "/invocations", "/v2/models/{model_name}/infer"})


def refused(error: ApiError) -> bool:
    """Whether ``error`` refused the request's content (not its key, size or timing)."""
    return error.status == 422 or error.code == "invalid_json"


class Rejections:
    """One process's refusal counts: Prometheus counters, and minutes not yet journaled."""

    def __init__(self, metrics: ServeMetrics, clock: Callable[[], float] = time.time) -> None:
        self._metrics, self._clock = metrics, clock
        self._lock = threading.Lock()  # counted on the event loop, drained at stop in a thread
        self._buckets: dict[tuple[int, str, str], RejectedBucket] = {}
        self._ids = (f"{secrets.token_hex(8)}-{n}" for n in itertools.count())

    def count(self, error: ApiError, served: ServedModel | None) -> None:
        """Count ``error`` against ``served`` (the version that would have answered) if it
        refused the request's content."""
        if served is None or not refused(error):
            return
        fields = _fields(error, served.schema.known)
        records = error.invalid.records if error.invalid is not None else 1
        self._metrics.rejected_requests.inc()
        for (name, reason), count in fields.items():
            self._metrics.rejected_fields.labels(name, reason).inc(count)
        minute = int(self._clock() // 60 * 60)
        key = (minute, served.name, served.version.version)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = RejectedBucket(next(self._ids), *key[1:], minute)
            bucket.requests += 1
            bucket.records += records
            for pair, count in fields.items():
                bucket.fields[pair] = bucket.fields.get(pair, 0) + count

    def drain(self, final: bool = False) -> list[RejectedBucket]:
        """The buckets of minutes that are over (all of them when ``final``), taken out."""
        now = int(self._clock() // 60 * 60)
        with self._lock:
            done = [key for key in self._buckets if final or key[0] < now]
            return [self._buckets.pop(key) for key in done]


def _fields(error: ApiError, known: frozenset[str]) -> Counter[tuple[str, str]]:
    """(field, reason) -> records refused for it."""
    if error.invalid is None:
        return Counter({(OTHER, MALFORMED): 1})
    seen = {(p.record, p.field if p.field in known else OTHER, p.kind)
            for p in error.invalid.problems}  # fmt: skip
    return Counter((name, reason) for _, name, reason in seen)

"""A window's refused requests: what serving answered 422 (or could not read as JSON), from the
per-minute counts the servers stored (:mod:`tabops.store.rejections`).

Per model version and window: ``rejected_requests`` (refused requests), ``rejected_rate``
(refused records over refused plus served ones) and one ``rejected_field`` row per field with
refusals (records refused for it; its reasons in the details). A version that only refused in
a window is measured too: all its traffic failing is what these metrics are for.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np

from tabops.store.db import Store
from tabops.store.rejections import RefusedCounts, refused_span

Row = dict[str, Any]


def with_refusing_versions(groups: Mapping[Any, Any], counts: RefusedCounts) -> dict[str, Any]:
    """The window's served rows by model version (``groups``), plus the versions that only
    refused, with no rows."""
    versions = {str(key): positions for key, positions in groups.items()}
    for version in counts.requests.keys() - versions.keys():
        versions[version] = np.array([], dtype=int)
    return versions


def rejection_rows(counts: RefusedCounts, version: str, served: int) -> list[Row]:
    """One version's refusal metrics in a window where it served ``served`` rows. Each row's
    details carry ``rows``, the records it rests on (an alert's minimum)."""
    requests, records = counts.requests.get(version, (0, 0))
    total = records + served
    rate = records / total if total else 0.0
    rows = [_row("rejected_requests", requests, None, records=records, rows=total),
            _row("rejected_rate", rate, None, records=records, rows=total)]  # fmt: skip
    for name, reasons in sorted(counts.fields.get(version, {}).items()):
        rows.append(_row("rejected_field", sum(reasons.values()), name,
                         reasons=dict(sorted(reasons.items())), rows=total))  # fmt: skip
    return rows


def monitored_span(
    store: Store, project: str, model_name: str, logged: tuple[datetime, datetime] | None
) -> tuple[datetime, datetime] | None:
    """The span of the prediction log (``logged``) widened to the minutes with refusals."""
    refused = refused_span(store, project, model_name)
    if logged is None or refused is None:
        return logged or refused
    return min(logged[0], refused[0]), max(logged[1], refused[1])


def _row(metric: str, value: float, column: str | None, **details: Any) -> Row:
    return {"metric": metric, "column_name": column, "value": float(value), "details": details}

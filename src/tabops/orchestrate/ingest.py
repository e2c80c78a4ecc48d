"""The ingest task: load and verify the day's rows (contract, quarantine, conservation)."""

from __future__ import annotations

from datetime import date
from typing import Any

from tabops.context import Context
from tabops.data.ingest import run_ingest
from tabops.orchestrate.day import RefusedError, day_spec
from tabops.spec import ProjectSpec


def run_day_ingest(spec: ProjectSpec, ctx: Context, day: date) -> dict[str, Any]:
    """Ingest the day's rows under the ledger name ``<project>-daily``. The ledger keys loads
    by content, so running a date again loads nothing twice (status ``already_loaded``).

    Raises:
        RefusedError: the data contract blocked the day (schema drift, too many bad rows).
    """
    daily = day_spec(spec, ctx, day)
    result = run_ingest(daily, ctx, dvc=False)
    if result.status == "blocked":
        raise RefusedError(
            f"The data contract blocked the rows of {day} ({result.source}): "
            f"{'; '.join(result.blocked_reasons)}. Nothing downstream runs; "
            f"'tabops quarantine list --set name={daily.name}' shows the rows."
        )
    return {
        "date": day.isoformat(),
        "status": result.status,
        "batch_id": result.batch_id,
        "snapshot_hash": result.snapshot_hash,
        "source": result.source,
        "rows_in": result.rows_in,
        "rows_loaded": result.rows_loaded,
        "rows_quarantined": result.rows_quarantined,
        "rows_rejected": result.rows_rejected,
        "conserved": result.conserved,
    }

"""The score task: batch-score the day's rows (``tabops predict``) with the champion into
``orchestration.output`` and the store's batch history, run date = the logical date."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from tabops import storage
from tabops.batch.run import run_predict
from tabops.batch.sinks import TABLE_PREFIX, parse_destination
from tabops.context import Context
from tabops.errors import NotFoundError
from tabops.orchestrate.day import day_input, day_snapshot, fill
from tabops.registry.models import CHAMPION, registry_for
from tabops.spec import ProjectSpec
from tabops.store.batch import run_summaries


def run_day_score(spec: ProjectSpec, ctx: Context, day: date) -> dict[str, Any]:
    """Score the day once per champion: when the batch history already holds the day scored
    by the current champion, nothing is rewritten (a rerun changes nothing); otherwise the
    run date's rows are replaced in one transaction (no duplicates)."""
    ingested = day_snapshot(spec, ctx, day)  # the day passed the contract
    champion = registry_for(spec, ctx).by_alias(CHAMPION)
    if champion is None:
        raise NotFoundError(
            f"Model {spec.name} has no champion to score with: run 'tabops run' (or train "
            "and register) first."
        )
    done = run_summaries(ctx.store, spec.name).get(day)
    if done is not None and done.model_version == champion.version:
        return _summary(day, done.batch_id, champion.version, done.rows, None, "already_scored",
                        str(ingested.batch_id))  # fmt: skip
    output = parse_destination(_resolved(spec, ctx, fill(spec.orchestration.output, day)),
                               "orchestration.output")  # fmt: skip
    result = run_predict(spec, ctx, day_input(spec, day), output, output.sibling(".rejects"),
                         run_date=day, alias=CHAMPION)  # fmt: skip
    return _summary(day, result.batch_id, result.model_version, result.scored, result.rejected,
                    "scored", str(ingested.batch_id))  # fmt: skip


def _resolved(spec: ProjectSpec, ctx: Context, text: str) -> str:
    """A relative output goes to the storage's batch folder when TABOPS_STORAGE_URL is set,
    else beside the spec; a table, a URL or an absolute path is used as given."""
    if text.startswith(TABLE_PREFIX) or storage.is_remote(text):
        return text
    placed = ctx.settings.placed(text, "batch", spec.name)
    if placed == text:
        return text if Path(text).expanduser().is_absolute() else str(spec.root / text)
    return placed


def _summary(
    day: date, batch_id: str, version: str, scored: int, rejected: int | None, status: str,
    ingest_batch: str,
) -> dict[str, Any]:  # fmt: skip
    return {"date": day.isoformat(), "status": status, "batch_id": batch_id,
            "model_version": version, "scored": scored, "rejected": rejected,
            "ingest_batch_id": ingest_batch}  # fmt: skip

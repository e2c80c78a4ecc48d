"""The store's history of batch predictions, written while the run scores.

Each scored chunk's history rows go into the run's open store transaction as soon as the chunk
is scored: on PostgreSQL a COPY that the server runs beside the scoring, on SQLite inserts made
while the worker processes score the next chunks. Nothing is visible before the run commits,
so a killed run leaves the history as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from tabops.batch.scoring import ChunkScorer, Lineage
from tabops.store.batch import (
    BATCH_TABLE,
    ROWS_SCHEMA,
    RunLineage,
    finish_run,
    first_row_id,
    start_run,
)
from tabops.store.bulk import BulkTransaction

#: Takes one chunk's scored rows (the output schema).
Keep = Callable[[pa.RecordBatch], None]


@contextmanager
def history_writer(
    transaction: BulkTransaction, project: str, scorer: ChunkScorer, lineage: Lineage
) -> Iterator[Keep]:
    """Yields ``keep(scored)``, which appends the history rows of one chunk; the run date's
    earlier run goes first, in the same transaction, and the run's row count last."""
    run = RunLineage(project, lineage.run_date, lineage.batch_id, lineage.model_name,
                     lineage.model_version)  # fmt: skip
    run_id = start_run(transaction, run, datetime.now(UTC))
    kept = 0

    def keep(batch: pa.RecordBatch) -> None:
        nonlocal kept
        put(history_rows(scorer.ids, batch, run_id, first_row_id(run_id) + kept))
        kept += batch.num_rows

    with transaction.stream(BATCH_TABLE, ROWS_SCHEMA) as put:
        yield keep
    finish_run(transaction, run_id, kept)


def history_rows(
    ids: list[str], batch: pa.RecordBatch, run_id: int, first_id: int
) -> pa.RecordBatch:
    """The history's row of each scored row, numbered from ``first_id``: its entity (the id
    columns joined by '|'), score, label and decision."""
    rows = batch.num_rows
    names = batch.schema.names
    texts = [pc.cast(batch.column(names.index(n)), pa.string()) for n in ids]
    if not texts:
        entity = pa.nulls(rows, pa.string())
    elif len(texts) == 1:
        entity = texts[0]
    else:
        entity = pc.binary_join_element_wise(*texts, "|")

    def column(name: str, kind: pa.DataType) -> pa.Array:
        return batch.column(names.index(name)) if name in names else pa.nulls(rows, kind)

    return pa.RecordBatch.from_pydict(
        {
            "id": pa.arange(first_id, first_id + rows),
            "run_id": pa.array([run_id] * rows, pa.int32()),
            "entity_id": entity,
            "score": column("score", pa.float64()),
            "label": column("label", pa.string()),
            "decision": column("decision", pa.string()),
        },
        schema=ROWS_SCHEMA,
    )

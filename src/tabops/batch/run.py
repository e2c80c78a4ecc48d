"""``tabops predict``: score a file, folder or table into a file, folder or table.

Rows are read in chunks, scored by :class:`~tabops.batch.scoring.ChunkScorer` and spilled to
a temporary Parquet file (memory bounded by the chunk size), their history appended to the
store as they are scored (:mod:`tabops.batch.history`); the run is then published: files
atomically, then the tables, in the same transaction as the history.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from tabops import storage
from tabops.batch.history import Keep, history_writer
from tabops.batch.parallel import ReadAhead, score_chunks
from tabops.batch.scoring import (
    REJECT_COLUMN,
    REJECT_REASON,
    ChunkScorer,
    ScoredChunk,
    ScorerRecipe,
    recipe_for,
    refusal_counts,
)
from tabops.batch.sinks import Destination, spill_batches, write_file
from tabops.batch.sources import Input, input_files
from tabops.context import Context
from tabops.data.sources import RowStream, header_hint, is_parquet
from tabops.errors import DataError, TabopsError
from tabops.progress import SILENT, Progress
from tabops.spec import ProjectSpec
from tabops.store.batch import BATCH_TABLE, check_destination, run_summaries

if TYPE_CHECKING:
    from tabops.batch.monitoring import RunMonitor
    from tabops.store.bulk import BulkTransaction

#: Rows read and scored at once.
CHUNK_ROWS = 100_000
_STRUCTURAL = "(record)"  # the reject column of a CSV record that could not be split
_REASONS = [REJECT_COLUMN, REJECT_REASON]


@dataclass
class PredictResult:
    """What ``tabops predict --json`` prints."""

    rows_in: int = 0
    scored: int = 0
    rejected: int = 0
    outputs: dict[str, str] = field(default_factory=dict)
    run_date: date | None = None
    batch_id: str = ""
    model_name: str = ""
    model_version: str = ""
    seconds: float = 0.0
    monitoring: dict[str, Any] | None = None
    #: Rejected rows per column and check (``{"age": {"missing": 3}}``).
    rejected_by: dict[str, dict[str, int]] = field(default_factory=dict)
    #: The run date's earlier run this one replaced in the history: batch id, version, rows.
    replaced: dict[str, Any] | None = None
    #: What the run did that the user may not expect (an input without its id column).
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_in": self.rows_in,
            "scored": self.scored,
            "rejected": self.rejected,
            "rejected_by": self.rejected_by,
            "outputs": self.outputs,
            "run_date": None if self.run_date is None else self.run_date.isoformat(),
            "batch_id": self.batch_id,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "seconds": round(self.seconds, 3),
            "replaced": self.replaced,
            "warnings": self.warnings,
            **({} if self.monitoring is None else {"monitoring": self.monitoring}),
        }


def run_predict(
    spec: ProjectSpec,
    ctx: Context,
    source: Input,
    output: Destination,
    rejects: Destination,
    *,
    run_date: date,
    version: str | None = None,
    alias: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    monitor: bool = False,
    progress: Progress = SILENT,
    workers: int = 1,
    spark_master: str | None = None,
    keep: Sequence[str] = (),
    allow_empty: bool = False,
) -> PredictResult:
    """Score ``source`` into ``output`` (rejects into ``rejects``) with ``workers`` processes,
    or on Spark when ``spark_master`` is given (``--engine spark``); with ``monitor``, also
    measure the run as a monitoring window (:mod:`tabops.batch.monitoring`). ``keep``: input
    columns to copy into both outputs (``*``: every one). An input without a row to score
    does not replace a run date's earlier rows unless ``allow_empty``."""
    if monitor and spark_master is not None:  # the executors do not send features back
        raise TabopsError("--monitor works with the local engine only, not --engine spark.")
    started = time.perf_counter()
    _remove_killed_runs_spills()
    batch_id = uuid.uuid4().hex
    stream = source.open(spec.source.csv, chunk_rows)  # a missing file: said before loading
    recipe = recipe_for(spec, ctx, version, alias, run_date=run_date, batch_id=batch_id,
                        progress=progress, rows=stream.expected_rows)  # fmt: skip
    if keep:
        recipe = replace(recipe, keep=_kept(keep, stream, recipe.build(scoring=False)))
    # Workers (or Spark's executors) load the model themselves: this process only needs
    # the schemas, and LightGBM's import alone costs seconds of a core they use.
    scorer = recipe.build(scoring=workers <= 1 and spark_master is None)
    absent_ids = _check_columns(stream, scorer)
    for destination, columns in ((output, scorer.output_schema), (rejects, scorer.rejects_schema)):
        if destination.table is not None:
            check_destination(ctx.store, destination.table, columns)
    result = PredictResult(run_date=run_date, batch_id=batch_id,
                           model_name=recipe.lineage.model_name,
                           model_version=recipe.lineage.model_version)  # fmt: skip
    if absent_ids:
        result.warnings.append(
            f"{stream.description} has no {', '.join(map(repr, absent_ids))} (the spec's id): "
            "its rows are scored without one, so the output matches them by position only; "
            "--keep copies other columns of the input beside the scores."
        )
    earlier = run_summaries(ctx.store, spec.name).get(run_date)
    if earlier is not None:  # one run per run date: this one replaces it
        result.replaced = {"batch_id": earlier.batch_id, "model_version": earlier.model_version,
                           "rows": earlier.rows}  # fmt: skip
    watcher = None
    if monitor:
        from tabops.batch.monitoring import RunMonitor

        watcher = RunMonitor(spec, ctx, recipe.lineage.model_version, run_date)
    # One store transaction for the run: the history as chunks are scored, then the tables.
    with (
        tempfile.TemporaryDirectory(prefix=_spill_prefix()) as folder,
        ctx.store.bulk() as transaction,
    ):
        scored, refused = Path(folder) / "scored.parquet", Path(folder) / "rejects.parquet"
        with history_writer(transaction, spec.name, scorer, recipe.lineage) as remember:
            if spark_master is None:
                with _read_ahead(source, stream) as batches:
                    chunks = score_chunks(recipe, batches, workers, scorer,
                                          keep_features=watcher is not None)  # fmt: skip
                    _score(stream, chunks, scorer, (scored, refused), result, progress,
                           watcher, remember)  # fmt: skip
            else:
                _score_on_spark(spec, source, recipe, spark_master, chunk_rows,
                                (scored, refused), result, progress)  # fmt: skip
                for batch in spill_batches(scored):
                    remember(batch)
        if result.scored == 0 and result.replaced and result.replaced["rows"] and not allow_empty:
            why = (
                "rows"
                if result.rows_in == 0
                else f"row it can score ({result.rejected:,} rejected)"
            )
            raise DataError(
                f"{stream.description} has no {why}: publishing would replace the "
                f"{result.replaced['rows']:,} rows of run date {run_date.isoformat()} (batch "
                f"{result.replaced['batch_id']}) with none, and nothing was written. Check the "
                "export that made it, or pass --allow-empty to replace them."
            )
        result.rejected_by = refusal_counts(pq.read_table(refused, columns=_REASONS))
        with progress.step(f"Writing {output.describe}"):
            _publish(transaction, (output, scored), (rejects, refused), run_date, batch_id)
    result.outputs = {"scored": output.describe, "rejects": rejects.describe,
                      "history": f"{BATCH_TABLE} in {ctx.store.describe()}"}  # fmt: skip
    if watcher is not None:
        measured = watcher.finish()
        [window] = measured.windows
        result.monitoring = {"source": measured.source,
                             "window_start": watcher.bounds[0].isoformat(),
                             "features_compared": window.compared, "drifted": window.drifted,
                             "alert_transitions": len(measured.transitions),
                             "alerts": [t.describe() for t in measured.transitions]}  # fmt: skip
    result.seconds = time.perf_counter() - started
    return result


#: A run's spill folder (its scored rows and rejects before they are published), named with
#: the run's process id: a run killed (SIGKILL, out of memory) leaves it behind.
_SPILLS = "tabops-predict-"


def _spill_prefix() -> str:
    return f"{_SPILLS}{os.getpid()}-"


def _remove_killed_runs_spills() -> None:
    """Remove the spill folders of runs whose process is gone: a job killed again and again
    would otherwise fill the temporary folder, hundreds of megabytes each time."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_SPILLS}*-*"):
        pid = folder.name.removeprefix(_SPILLS).split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)  # no signal: only whether the process exists
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            pass  # another user's live process


def _read_ahead(source: Input, stream: RowStream) -> AbstractContextManager[Iterable[Any]]:
    """The stream's batches, files read one chunk ahead on a thread while this one scores
    (a database cursor stays in its own thread: SQLite's refuses another)."""
    if source.is_sql:
        return nullcontext(stream.batches())
    return ReadAhead(stream.batches())


def _kept(keep: Sequence[str], stream: RowStream, scorer: ChunkScorer) -> tuple[str, ...]:
    """The input columns ``--keep`` names (``*``: all), checked against the input's columns
    and the outputs' own."""
    names = list(stream.columns) if "*" in keep else list(dict.fromkeys(keep))
    missing = [n for n in names if n not in stream.columns]
    if missing:
        raise DataError(
            f"--keep: {stream.description} has no column {', '.join(map(repr, missing))}; it "
            f"has {', '.join(stream.columns[:20])}. Name columns of the input (or '*' for all)."
        )
    clash = [n for n in names if n in scorer.answer_columns]
    if clash:
        raise DataError(
            f"--keep: the input's column(s) {', '.join(map(repr, clash))} would take the name "
            "of a column tabops writes (score, label, lineage...); rename them in the input "
            f"or {'list the columns to keep instead of *' if '*' in keep else 'leave them out'}."
        )
    return tuple(names)


def _check_columns(stream: RowStream, scorer: ChunkScorer) -> list[str]:
    """The id columns the input lacks (it is scored without them); an error when it lacks
    another column scoring reads."""
    present = set(stream.columns)
    absent_ids = [n for n in scorer.ids if n not in present]
    missing = [n for n in scorer.required_columns if n not in present and n not in absent_ids]
    if missing:
        raise DataError(
            f"{stream.description} lacks the column(s) {missing} (the spec's id and feature "
            f"columns); it has {sorted(present)[:20]}. Pass data with the spec's columns."
            + header_hint(stream.columns, missing, scorer.spec.source.csv.encoding)
        )
    return absent_ids


def _score(
    stream: RowStream, chunks: Iterator[ScoredChunk], scorer: ChunkScorer,
    spills: tuple[Path, Path], result: PredictResult, progress: Progress,
    watcher: RunMonitor | None, keep: Keep,
) -> None:  # fmt: skip
    """Spill each chunk's scored rows and rejects, and hand the scored rows to ``keep``."""
    scored, refused = spills
    with (
        pq.ParquetWriter(scored, scorer.output_schema) as good,
        pq.ParquetWriter(refused, scorer.rejects_schema) as bad,
        progress.step(f"Scoring {stream.description}", stream.expected_rows) as advance,
    ):
        for chunk in chunks:
            rows = chunk.scored.num_rows + chunk.rejects.num_rows
            if watcher is not None:
                watcher.add(chunk)
            good.write_batch(chunk.scored)
            keep(chunk.scored)
            bad.write_batch(chunk.rejects)
            result.rows_in += rows
            result.scored += chunk.scored.num_rows
            result.rejected += chunk.rejects.num_rows
            advance(rows)
        broken = stream.rejects  # complete once the batches are read
        if broken:
            bad.write_batch(_structural(scorer, broken))
            result.rows_in += len(broken)
            result.rejected += len(broken)


def _score_on_spark(
    spec: ProjectSpec, source: Input, recipe: ScorerRecipe, master: str, chunk_rows: int,
    spills: tuple[Path, Path], result: PredictResult, progress: Progress,
) -> None:  # fmt: skip
    """Spark's executors score the input into the two spill files; publishing is shared."""
    from tabops.batch.spark import spill_with_spark

    if source.is_sql:
        raise TabopsError(
            "--engine spark reads CSV or Parquet files (a file, folder or glob): export the "
            "table, or score it with the local engine."
        )
    if storage.is_web(source.location):
        raise TabopsError(
            "--engine spark reads files through Spark's own file systems, which have no "
            "http(s): download the file, or score it with the local engine."
        )
    files = input_files(source.location)
    csv = spec.source.csv
    if (csv.skip_rows or not csv.quoting) and not all(is_parquet(f) for f in files):
        what = (
            f"skip the {csv.skip_rows} line(s) before a CSV's header (source.csv.skip_rows)"
            if csv.skip_rows
            else "read a CSV's quotes as text (source.csv.quoting: false)"
        )
        raise TabopsError(
            f"--engine spark cannot {what}: convert the files to Parquet, or score them with "
            "the local engine."
        )
    with progress.step(f"Scoring {source.location} on Spark ({master})"):
        summary = spill_with_spark(recipe, files, spills, master=master, chunk_rows=chunk_rows,
                                   delimiter=spec.source.csv.delimiter)  # fmt: skip
    result.rows_in, result.scored, result.rejected = (
        summary.rows_in, summary.scored, summary.rejected,
    )  # fmt: skip


def _structural(scorer: ChunkScorer, broken: list[Any]) -> pa.RecordBatch:
    """CSV records that could not be split into columns, as rejects."""
    rows = len(broken)
    lineage = scorer.lineage_columns(rows)
    columns: dict[str, Any] = {n: pa.nulls(rows, pa.string()) for n in scorer.required_columns}
    columns[REJECT_COLUMN] = pa.array([_STRUCTURAL] * rows, pa.string())
    columns[REJECT_REASON] = pa.array(
        [f"structure: line {r.line}: {r.reason}: {r.raw[:200]}" for r in broken], pa.string()
    )
    return pa.RecordBatch.from_pydict({**columns, **lineage}, schema=scorer.rejects_schema)


def _publish(
    transaction: BulkTransaction, output: tuple[Destination, Path],
    rejects: tuple[Destination, Path], run_date: date, batch_id: str,
) -> None:  # fmt: skip
    """Files first (each atomic), then the destination's and the rejects' tables, in the
    run's transaction (committed by the caller, after the history)."""
    for destination, spill in (output, rejects):
        if destination.table is None:
            write_file(destination, spill, run_date, batch_id)
        else:
            transaction.delete_where(destination.table, {"run_date": run_date})
            transaction.append(destination.table, pa.RecordBatchReader.from_batches(
                pq.read_schema(spill), spill_batches(spill)))  # fmt: skip

"""``tabops predict --engine spark``: the local engine's :class:`ChunkScorer` on Spark executors.

The driver ships the :class:`ScorerRecipe` (a small picklable value: the compiled predictor's
bytes, the spec, the rules' text, the lineage) inside the closure of one ``mapInArrow``
function; each task builds the scorer once for its partition and scores Spark's Arrow batches
with it, so the executors run exactly the code the local engine runs. One pass computes both
outputs: each batch comes back as two struct columns, ``scored`` and ``reject`` (one of them
null per row), persisted once and written as two Parquet folders. ``tabops predict`` then
copies them into its spill files and publishes them as the local engine does (files
atomically, tables per run date in one transaction, the store's batch history).

Spark itself stays a library here: ``local[N]`` runs in this process's JVM on loopback without
the web UI; a cluster URL (``spark://``, ``yarn``, ``k8s://``) scales the same job out, with
the input and output on storage every executor reaches.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from tabops.errors import DataError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from tabops.batch.scoring import ScorerRecipe

#: The rows of one Arrow batch handed to the scorer (Spark's own default is 10,000).
DEFAULT_CHUNK_ROWS = 50_000
_SCORED, _REJECT = "scored", "reject"


@dataclass(frozen=True)
class SparkSummary:
    """What a Spark run did: rows in = scored + rejected."""

    rows_in: int
    scored: int
    rejected: int
    master: str


def spark_session(master: str = "local[2]", *, memory: str = "1g") -> SparkSession:
    """The session (or the running one): loopback, no web UI, small memory, UTC, Arrow.

    In local mode the Python workers must be this interpreter (with tabops and pyarrow), not
    whatever ``python3`` is first on PATH; a cluster's executors set their own.
    """
    from pyspark.sql import SparkSession  # missing: the CLI names the extra (tabops.extras)

    if master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # not the first interface's
    builder: Any = SparkSession.builder
    session: SparkSession = (
        builder.master(master)
        .appName("tabops-predict")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", memory)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    return session


def spill_with_spark(
    recipe: ScorerRecipe,
    files: Sequence[str],
    spills: tuple[Path, Path],
    *,
    master: str = "local[2]",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    delimiter: str = ",",
    session: SparkSession | None = None,
) -> SparkSummary:
    """Score ``files`` on Spark into the local engine's two spill files (scored rows, rejects),
    with the scorer's exact schemas, so ``tabops predict`` publishes them as it publishes its
    own. The executors write Parquet folders beside the spills; this process then copies them
    into the spill files chunk by chunk (bounded memory)."""
    scorer = recipe.build()  # on the driver too: the schemas, and a bad recipe fails here
    folders = tuple(spill.with_name(spill.name + ".spark") for spill in spills)
    summary = score_with_spark(
        recipe, files, str(folders[0]), str(folders[1]), master=master, chunk_rows=chunk_rows,
        delimiter=delimiter, session=session,
    )  # fmt: skip
    for folder, spill, schema in zip(
        folders, spills, (scorer.output_schema, scorer.rejects_schema), strict=True
    ):
        with pq.ParquetWriter(spill, schema) as writer:
            for batch in ds.dataset(folder, format="parquet").to_batches(batch_size=chunk_rows):
                writer.write_batch(batch.select(schema.names).cast(schema))
        shutil.rmtree(folder)
    return summary


def score_with_spark(
    recipe: ScorerRecipe,
    files: Sequence[str],
    output: str,
    rejects: str,
    *,
    master: str = "local[2]",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    delimiter: str = ",",
    session: SparkSession | None = None,
) -> SparkSummary:
    """Score ``files`` (all CSV or all Parquet) into the Parquet folders ``output`` and
    ``rejects`` (any path Spark writes to: local, HDFS, S3)."""
    spark = session or spark_session(master)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(chunk_rows))
    scorer = recipe.build()
    frame = _read(spark, files, scorer.required_columns, scorer.ids, delimiter)
    tagged = frame.mapInArrow(_score_partitions(recipe), _tagged_schema(scorer))
    from pyspark import StorageLevel

    # Persisted: both writes and the counts read the one scoring pass. On disk only: kept in
    # the heap, 10M scored rows ran a 1 GB local driver out of memory.
    tagged = tagged.persist(StorageLevel.DISK_ONLY)
    try:
        scored = tagged.where(f"{_SCORED} IS NOT NULL").select(f"{_SCORED}.*")
        scored.write.mode("overwrite").parquet(output)
        refused = tagged.where(f"{_REJECT} IS NOT NULL").select(f"{_REJECT}.*")
        refused.write.mode("overwrite").parquet(rejects)
        counts = tagged.selectExpr(f"count({_SCORED}) AS s", f"count({_REJECT}) AS r").first()
    finally:
        tagged.unpersist()
    assert counts is not None
    return SparkSummary(
        rows_in=int(counts["s"]) + int(counts["r"]),
        scored=int(counts["s"]),
        rejected=int(counts["r"]),
        master=str(spark.sparkContext.master),
    )


def _score_partitions(recipe: ScorerRecipe) -> Any:
    """The function each task runs: one scorer per partition, one Arrow batch at a time.
    Its closure carries the recipe (pickled once per task by Spark)."""

    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        scorer = recipe.build()
        scored_type = pa.struct(list(scorer.output_schema))
        reject_type = pa.struct(list(scorer.rejects_schema))
        for batch in batches:
            chunk = scorer.score(batch)
            if chunk.scored.num_rows:
                yield _tagged(chunk.scored, scored_type, reject_type, scored_first=True)
            if chunk.rejects.num_rows:
                yield _tagged(chunk.rejects, reject_type, scored_type, scored_first=False)

    return score


def _tagged(
    batch: pa.RecordBatch, own: pa.StructType, other: pa.StructType, *, scored_first: bool
) -> pa.RecordBatch:
    """``batch`` as one struct column beside an all-null one of the other kind."""
    rows = batch.num_rows
    filled = pa.StructArray.from_arrays(batch.columns, fields=list(own))
    empty = pa.nulls(rows, other)
    pair = [filled, empty] if scored_first else [empty, filled]
    return pa.RecordBatch.from_arrays(pair, names=[_SCORED, _REJECT])


def _tagged_schema(scorer: Any) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    arrow = pa.schema(
        [
            pa.field(_SCORED, pa.struct(list(scorer.output_schema))),
            pa.field(_REJECT, pa.struct(list(scorer.rejects_schema))),
        ]
    )
    return from_arrow_schema(arrow)


def _read(
    spark: SparkSession, files: Sequence[str], columns: list[str], ids: list[str], delimiter: str
) -> DataFrame:
    """The input's required columns (but the ``ids`` it lacks). CSV is read as text: the
    scorer types every value as ingest does (Spark's own inference would type some
    differently)."""
    if all(f.lower().endswith((".csv", ".csv.gz", ".tsv", ".txt")) for f in files):
        reader = spark.read.option("header", "true").option("inferSchema", "false")
        # Spark reads an empty field as null; tabops' reader keeps the text '' (the
        # contract's null tokens decide), and the rejects show the text as read.
        frame = reader.option("sep", delimiter).csv(list(files)).na.fill("")
    else:
        frame = spark.read.parquet(*files)
    missing = [c for c in columns if c not in frame.columns and c not in ids]
    if missing:
        raise DataError(
            f"{files[0]} lacks the column(s) the model needs: {', '.join(missing)} "
            f"(it has {', '.join(frame.columns)})"
        )
    return frame.select(*[c for c in columns if c in frame.columns])  # ids may be absent

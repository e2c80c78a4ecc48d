"""``tabops predict --engine spark``: the local engine's :class:`ChunkScorer` on Spark executors.

The driver ships the :class:`ScorerRecipe` (a small picklable value: the compiled predictor's
bytes, the spec, the rules' text, the lineage) inside the closure of one ``mapInArrow``
function; each task builds the scorer once for its partition and scores Spark's Arrow batches
with it, so the executors run exactly the code the local engine runs. One pass computes both
outputs: each batch comes back as two struct columns, ``scored`` and ``reject`` (one of them
null per row), persisted once and written as two Parquet folders, the output and the rejects
beside it. Each folder is written under a temporary name and renamed into place, so a killed
run leaves the previous output whole.

Spark itself stays a library here: ``local[N]`` runs in this process's JVM on loopback without
the web UI; a cluster URL (``spark://``, ``yarn``, ``k8s://``) scales the same job out, with
the input and output on storage every executor reaches.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

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
    output: str
    rejects: str
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


def score_with_spark(
    recipe: ScorerRecipe,
    source: str,
    output: str,
    *,
    master: str = "local[2]",
    rejects: str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    session: SparkSession | None = None,
) -> SparkSummary:
    """Score ``source`` (Parquet or CSV: a file, folder or glob) into the Parquet folder
    ``output`` and its rejects into ``rejects`` (default: beside it, ``<output>.rejects``)."""
    spark = session or spark_session(master)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(chunk_rows))
    rejects = rejects or default_rejects(output)
    scorer = recipe.build()  # on the driver too: the schemas, and a bad recipe fails here
    frame = _read(spark, source, scorer.required_columns)
    tagged = frame.mapInArrow(_score_partitions(recipe), _tagged_schema(scorer))
    from pyspark import StorageLevel

    tagged = tagged.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        _write(tagged.where(f"{_SCORED} IS NOT NULL").select(f"{_SCORED}.*"), output)
        _write(tagged.where(f"{_REJECT} IS NOT NULL").select(f"{_REJECT}.*"), rejects)
        scored, rejected = _counts(tagged)
    finally:
        tagged.unpersist()
    return SparkSummary(
        rows_in=scored + rejected,
        scored=scored,
        rejected=rejected,
        output=output,
        rejects=rejects,
        master=str(spark.sparkContext.master),
    )


def default_rejects(output: str) -> str:
    """The rejects folder beside ``output``: ``out.parquet`` -> ``out.rejects.parquet``."""
    stem, dot, suffix = output.rstrip("/").rpartition(".")
    if dot and "/" not in suffix:
        return f"{stem}.rejects.{suffix}"
    return f"{output.rstrip('/')}.rejects"


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


def _read(spark: SparkSession, source: str, columns: list[str]) -> DataFrame:
    """The input's required columns. CSV is read as text: the scorer types every value as
    ingest does (Spark's own inference would type some differently)."""
    lowered = source.lower()
    if lowered.endswith((".csv", ".csv.gz", ".txt")):
        frame = spark.read.option("header", "true").option("inferSchema", "false").csv(source)
    else:
        frame = spark.read.parquet(source)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{source} lacks the column(s) the model needs: {', '.join(missing)} "
            f"(it has {', '.join(frame.columns)})"
        )
    return frame.select(*columns)


def _write(frame: DataFrame, target: str) -> None:
    """Write ``frame`` as a Parquet folder at ``target``, atomically on a local path (write a
    sibling, then swap it in); other filesystems get Spark's overwrite."""
    if "://" in target and not target.startswith("file://"):
        frame.write.mode("overwrite").parquet(target)
        return
    final = Path(target.removeprefix("file://"))
    staging = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")
    frame.write.parquet(str(staging))
    for marker in staging.glob("*.crc"):  # Hadoop's checksums and _SUCCESS: not data
        marker.unlink()
    for marker in staging.glob(".*.crc"):
        marker.unlink()
    (staging / "_SUCCESS").unlink(missing_ok=True)
    old = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.old")
    if final.exists():
        final.rename(old)
    staging.rename(final)
    if old.exists():
        shutil.rmtree(old) if old.is_dir() else old.unlink()


def _counts(tagged: DataFrame) -> tuple[int, int]:
    rows = tagged.selectExpr(
        f"count({_SCORED}) AS scored", f"count({_REJECT}) AS rejected"
    ).collect()[0]
    return int(rows["scored"]), int(rows["rejected"])

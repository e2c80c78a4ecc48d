"""Benchmark: batch scoring with ``tabops predict``, side by side in one run.

One project is generated, trained and registered as ``benchmarks/serve.py`` builds its own
(20 features: 10 numbers, 3 counts, 2 flags, 5 categories; LightGBM with 200 trees, compiled
to ONNX). Then, on ``--rows`` (1,000,000) generated rows in one Parquet file:

* ``raw ONNX graph``: the compiled ONNX graph alone (ONNX Runtime, one thread) on the whole
  input already encoded into one float32 matrix in memory (the issue's reference);
* ``raw compiled kernel``: the model's native code alone (lleaves, one thread) on the same
  rows encoded into float64 chunks: the ceiling of the kernel ``tabops predict`` now runs;
* ``tabops 1 core`` / ``tabops 2 cores``: ``tabops predict`` end to end, Parquet to Parquet
  (a fresh process: start, model load, read, contract checks, encode, model, write), pinned to
  core 0, then on both cores with ``--workers 2`` (chunks in parallel);
* ``mlflow``: ``mlflow.pyfunc.load_model("models:/<name>@champion").predict`` on the same
  rows in chunks (the model frame already in memory: no read, no checks, no write);
* where the time goes: the phases of the local engine timed one by one in this process
  (read, contract checks and typing, encode, model, output columns, write).

Then ``--csv-rows`` (1,000,000) rows from a CSV into a PostgreSQL table of a throwaway cluster
with ``--workers 2`` (rows/s and the process's peak memory, then the same from a CSV three times
as large: memory must not grow with the file; then the COPY alone, the scored
rows appended through the store's bulk path), and ``--spark-rows`` (10,000,000) rows through
``--engine spark --spark-master local[2]`` against the local engine on both cores.

The machine may be shared: figures are noisy, the load average is reported with them.

Usage: python benchmarks/batch.py [--rows N] [--csv-rows N] [--spark-rows N] [--skip-spark]
       [--skip-postgres] [--workdir DIR] [--write]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from common import write_section  # benchmarks/ is on sys.path when run as a script
from serve import TABOPS, Project, build_project, server_env, synthetic_table

#: Targets from the batch issue (#14).
TARGET_OF_RAW, TARGET_OVER_MLFLOW, TARGET_CSV_PG = 0.8, 10.0, 200_000
#: Rows generated per piece (bounded memory while writing 10M rows).
PIECE = 500_000
CHUNK = 100_000  # the rows of one chunk in the in-process measurements


# -- data ------------------------------------------------------------------------------------


def write_input(path: Path, rows: int, seed: int, kind: str = "parquet") -> Path:
    """``rows`` generated rows without the label, ids 1..rows, written piece by piece."""
    if path.exists():
        return path
    writer: Any = None
    try:
        for start in range(0, rows, PIECE):
            count = min(PIECE, rows - start)
            table = synthetic_table(count, seed=seed * 1000 + start // PIECE).drop_columns(
                ["label"]
            )
            table = table.set_column(0, "id", pa.array(np.arange(start + 1, start + count + 1)))
            if writer is None:
                writer = (
                    pq.ParquetWriter(path, table.schema)
                    if kind == "parquet"
                    else pacsv.CSVWriter(path, table.schema)
                )
            writer.write_table(table, row_group_size=CHUNK) if kind == "parquet" else (
                writer.write_table(table)
            )
    finally:
        if writer is not None:
            writer.close()
    return path


# -- the contenders --------------------------------------------------------------------------


@dataclass
class Timed:
    name: str
    rows: int
    seconds: float
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def _model_parts(project: Project) -> tuple[Any, Any]:
    """The champion's recipe and the scorer it builds (what every engine runs)."""
    from datetime import date

    from tabops.batch.scoring import recipe_for
    from tabops.context import Context
    from tabops.settings import Settings
    from tabops.spec import load_spec

    ctx = Context(settings=Settings(home=project.home))
    recipe = recipe_for(load_spec(project.folder), ctx, run_date=date(2026, 1, 1), batch_id="bench")
    return recipe, recipe.build()


def _one_core() -> contextlib.AbstractContextManager[None]:
    @contextlib.contextmanager
    def pinned() -> Iterator[None]:
        previous = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(previous)})
        try:
            yield
        finally:
            os.sched_setaffinity(0, previous)

    return pinned()


def raw_native(project: Project, source: Path) -> Timed | None:
    """The native code alone (one thread) on the input encoded beforehand, chunk by chunk
    (None when the champion has none: lleaves missing or not LightGBM)."""
    from tabops.model.frame import model_frame
    from tabops.spec import load_spec

    _, scorer = _model_parts(project)
    predictor = scorer.predictor
    if predictor.kind != "native":
        return None
    spec = load_spec(project.folder)
    matrices = [
        predictor.plan.encode_frame(model_frame(batch.to_pandas(), spec))
        for batch in pq.ParquetFile(source).iter_batches(CHUNK)
    ]
    with _one_core():
        predictor._model.predict(matrices[0][:1000], n_jobs=1)  # warm
        started = time.perf_counter()
        for matrix in matrices:
            predictor._model.predict(matrix, n_jobs=1)
        seconds = time.perf_counter() - started
    rows = sum(len(m) for m in matrices)
    return Timed("raw compiled kernel (lleaves)", rows, seconds, "float64 chunks")


def raw_model(project: Project, source: Path) -> Timed:
    """ONNX Runtime alone (one thread) on the whole input, encoded beforehand."""
    import onnxruntime as ort

    from tabops.model.frame import model_frame
    from tabops.spec import load_spec

    recipe, scorer = _model_parts(project)
    spec = load_spec(project.folder)
    plan = scorer.predictor.plan
    matrix = np.vstack(
        [
            plan.encode_frame(model_frame(batch.to_pandas(), spec)).astype(np.float32)
            for batch in pq.ParquetFile(source).iter_batches(CHUNK)
        ]
    )
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(recipe.onnx_model, options, providers=["CPUExecutionProvider"])
    output = session.get_outputs()[1].name  # the probabilities
    passes = []
    with _one_core():
        session.run([output], {"x": matrix[:CHUNK]})  # warm
        for _ in range(REPEATS):
            started = time.perf_counter()
            for start in range(0, len(matrix), CHUNK):
                session.run([output], {"x": matrix[start : start + CHUNK]})
            passes.append(time.perf_counter() - started)
    return Timed("raw ONNX graph", len(matrix), statistics.median(passes),
                 f"{matrix.shape[1]} encoded inputs")  # fmt: skip


def phases(project: Project, source: Path, target: Path) -> dict[str, float]:
    """Seconds of each step of the local engine's work, timed one by one on one core."""
    from tabops.data.contract import explain_values

    _, scorer = _model_parts(project)
    spec, predictor = scorer.spec, scorer.predictor
    native = predictor.kind == "native"
    plan, exact = predictor.plan, getattr(predictor, "_exact", None)
    clock = time.perf_counter
    steps = ("read", "checks and outputs", "encode", "model", "split-threshold check", "write")
    spent = dict.fromkeys(steps, 0.0)
    writer: Any = None
    with _one_core():
        reader = pq.ParquetFile(source)
        batches = reader.iter_batches(CHUNK, columns=scorer.required_columns)
        while True:
            started = clock()
            batch = next(batches, None)
            spent["read"] += clock() - started
            if batch is None:
                break
            started = clock()
            chunk = scorer.score(batch)
            scoring = clock() - started
            # The same work again, step by step: the typed columns (as the checks give them)
            # encoded straight into float32, the graph, the split-threshold check.
            typed = {
                n: explain_values(batch.column(n), spec.columns[n], scorer.nulls)[0]
                for n in scorer.features
            }
            started = clock()
            single = plan.encode_arrays(typed, batch.num_rows, np.float64 if native else np.float32)
            encoded = clock()
            if native:  # float64 straight into the native code: no threshold check
                predictor._run(single)
            else:
                predictor.session.run(predictor._output, {"x": single})
            modelled = clock()
            if exact is not None:  # rows on a split threshold are rescored by LightGBM
                ambiguous = exact.on_threshold(single)
                if ambiguous.any():
                    rows = {n: v.filter(pa.array(ambiguous)) for n, v in typed.items()}
                    exact.scores(plan.encode_arrays(rows, int(ambiguous.sum()), np.float64))
            spent["encode"] += encoded - started
            spent["model"] += modelled - encoded
            spent["split-threshold check"] += clock() - modelled
            spent["checks and outputs"] += scoring - (clock() - started)
            started = clock()
            if writer is None:
                writer = pq.ParquetWriter(target, chunk.scored.schema)
            writer.write_batch(chunk.scored)
            spent["write"] += clock() - started
    writer.close()
    if native:
        del spent["split-threshold check"]
    return spent


def mlflow_batch(project: Project, source: Path, rows: int, chunk: int = CHUNK) -> Timed:
    """MLflow's own batch path: the pyfunc's predict on model-frame chunks, one core."""
    import mlflow

    from tabops.model.frame import model_frame
    from tabops.spec import load_spec

    spec = load_spec(project.folder)
    mlflow.set_tracking_uri(project.mlflow_uri)
    model = mlflow.pyfunc.load_model(f"models:/{project.name}@champion")
    table = pq.read_table(source).slice(0, rows)
    frames = [model_frame(b.to_pandas(), spec) for b in table.to_batches(chunk)]
    with _one_core():
        model.predict(frames[0].head(1000))  # warm
        started = time.perf_counter()
        for frame in frames:
            model.predict(frame)
        seconds = time.perf_counter() - started
    detail = f"pyfunc predict on in-memory model frames, {chunk:,}-row chunks"
    return Timed(f"MLflow ({chunk:,}-row chunks)", len(table), seconds, detail)


def _child(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MB, the process's own VmHWM, polled: wait4's ru_maxrss would
    carry this benchmark's own peak over fork and exec) and stdout of one command."""
    started = time.perf_counter()
    peak_kb = 0
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err)
        while process.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                status = Path(f"/proc/{process.pid}/status").read_text()
                # An exiting process's status has no VmHWM line any more.
                hwm = next((line for line in status.splitlines() if line.startswith("VmHWM")), "")
                if hwm:
                    peak_kb = max(peak_kb, int(hwm.split()[1]))
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr[-4000:]}")
    return seconds, peak_kb // 1024, stdout


#: Each end-to-end run scores a date of its own: a first run of a date, as a daily job makes
#: (a rerun would first delete the date's earlier rows, tested for correctness elsewhere).
_RUN_DATES = iter(f"2026-{month:02d}-{day:02d}" for month in (1, 2) for day in range(1, 29))
#: Runs of each 1,000,000-row case (and passes of the raw graph) whose median is reported.
REPEATS = 3


def tabops_predict(
    project: Project, source: Path, output: str, *options: str, cores: str = "0,1",
    repeats: int = 1, **env: str,
) -> Timed:  # fmt: skip
    """``tabops predict`` end to end in a fresh process pinned to ``cores``, for a run date
    the store's history has no rows of; with ``repeats``, the run of median seconds."""
    runs = []
    for _ in range(repeats):
        command = ["taskset", "-c", cores, TABOPS, "predict", "--input", str(source)]
        command += ["--output", output, "--json", "--run-date", next(_RUN_DATES), *options]
        seconds, peak_mb, stdout = _child(command, project.folder, child_env(project, **env))
        summary = json.loads(stdout)
        # The run's own seconds: model load, read, scoring, publishing (no interpreter start).
        extra = {"peak_mb": peak_mb, "run_seconds": float(summary["seconds"])}
        detail = " ".join(options) or "defaults"
        name = f"tabops predict ({cores})"
        runs.append(Timed(name, int(summary["rows_in"]), seconds, detail, extra))
    runs.sort(key=lambda timed: timed.seconds)
    median = runs[len(runs) // 2]
    median.extra["all_seconds"] = [timed.seconds for timed in runs]
    return median


def forget_history(project: Project) -> None:
    """Empty the project's batch history (kept from an earlier benchmark in ``--workdir``), so
    that every run date is a first run."""
    import sqlalchemy as sa

    from tabops.store import schema
    from tabops.store.batch import first_row_id
    from tabops.store.db import open_store

    store = open_store(f"sqlite:///{project.home / 'tabops.db'}")
    runs, rows = schema.batch_runs, schema.batch_predictions
    mine = runs.c.project == project.name
    with store.connect() as conn:
        for run_id in conn.execute(sa.select(runs.c.id).where(mine)).scalars().all():
            first, after = first_row_id(run_id), first_row_id(run_id + 1)
            conn.execute(rows.delete().where(rows.c.id >= first, rows.c.id < after))
        conn.execute(runs.delete().where(mine))


def child_env(project: Project, **extra: str) -> dict[str, str]:
    """The children's environment: one thread each, and compiled bytecode cached in the work
    folder (a session may set PYTHONDONTWRITEBYTECODE: every process would recompile MLflow,
    LightGBM and pandas from source, tens of seconds that no installed tabops pays)."""
    env = server_env(project.home, **extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(project.folder.parent / "pycache")
    return env


# -- the report ------------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    packages = ["onnxruntime", "lightgbm", "lleaves", "llvmlite", "pyarrow", "mlflow", "pyspark"]
    versions = []
    for name in packages:
        with contextlib.suppress(Exception):
            versions.append(f"{name} {package_version(name)}")
    return (
        f"{platform.machine()}, {os.cpu_count()} cores ({model}); Python "
        f"{platform.python_version()}, {', '.join(versions)}"
    )


def _row(timed: Timed, reference: float, note: str = "", kernel: Timed | None = None) -> str:
    of_kernel = f"{timed.rate / kernel.rate:.2f}x" if kernel else ""
    return (
        f"| {timed.name} | {timed.rows:,} | {timed.seconds:.1f} | {timed.rate:,.0f} | "
        f"{timed.rate / reference:.2f}x | {of_kernel} | {note or timed.detail} |"
    )


def _runs(timed: Timed) -> str:
    return " / ".join(f"{seconds:.1f}" for seconds in timed.extra["all_seconds"]) + " s"


def report(args: argparse.Namespace, results: dict[str, Any]) -> str:
    raw: Timed = results["raw"]
    kernel: Timed | None = results.get("native")
    lines = [
        "## Batch scoring: `tabops predict` (`benchmarks/batch.py`)",
        "",
        f"LightGBM, 200 trees, 20 features ({raw.detail}); `tabops predict` scores it with "
        f"the model's native code (lleaves; the ONNX graph is the issue's reference). Parquet "
        f"to Parquet, {args.rows:,} generated rows; each end-to-end run scores a run date of "
        "its own (a first run, as a daily job; no earlier rows to replace). A shared machine "
        f"is noisy: the raw graph is the median of {REPEATS} passes, each "
        f"{args.rows:,}-row tabops case the median of {REPEATS} runs, after a warm-up run.",
        "",
        "| contender | rows | seconds | rows/s | vs raw ONNX graph | vs raw kernel | "
        "what it does |",
        "|---|---|---|---|---|---|---|",
        _row(
            raw, raw.rate, "ONNX Runtime alone, 1 thread, on the encoded matrix in memory", kernel
        ),
    ]
    if kernel is not None:
        lines.append(_row(kernel, raw.rate, "lleaves alone, 1 thread, on the encoded float64 "
                          "chunks in memory (the kernel tabops predict runs)", kernel))  # fmt: skip
    for key in ("local_1", "local_2"):
        if key in results:
            timed = results[key]
            lines.append(_row(timed, raw.rate, f"end to end, {timed.detail}: runs "
                              f"{_runs(timed)}; run {timed.extra['run_seconds']:.1f} s after "
                              f"the interpreter's start, peak {timed.extra['peak_mb']} MB",
                              kernel))  # fmt: skip
    mlflow: Timed = results["mlflow"]
    lines += [
        _row(mlflow, raw.rate, "", kernel),
        _row(results["mlflow_small"], raw.rate, "", kernel),
    ]
    local_1 = results.get("local_1")
    if local_1 is not None:
        of_raw = local_1.rate / raw.rate
        over_mlflow = local_1.rate / mlflow.rate
        lines += [
            "",
            f"- tabops on 1 core: **{of_raw:.2f}x** the raw ONNX graph (the issue's target >= "
            f"{TARGET_OF_RAW}x: {'met' if of_raw >= TARGET_OF_RAW else '**not met**'}), "
            f"**{over_mlflow:.1f}x** MLflow (target >= {TARGET_OVER_MLFLOW:.0f}x: "
            f"{'met' if over_mlflow >= TARGET_OVER_MLFLOW else '**not met**'}).",
        ]
        if kernel is not None:
            lines.append(f"- against the raw compiled kernel it now runs: "
                         f"**{local_1.rate / kernel.rate:.2f}x** on 1 core.")  # fmt: skip
    if "local_2" in results and local_1 is not None:
        lines.append(
            f"- 2 cores vs 1: **{results['local_2'].rate / local_1.rate:.2f}x** "
            f"({results['local_2'].rate / raw.rate:.2f}x the one-thread raw ONNX graph)."
        )
    spent: dict[str, float] = results["phases"]
    total = sum(spent.values())
    lines += [
        "",
        f"Where the time goes (the local engine's steps timed one by one, one core, "
        f"{CHUNK:,}-row chunks; {total:.1f} s in all):",
        "",
        "| step | seconds | share |",
        "|---|---|---|",
        *[f"| {name} | {seconds:.2f} | {seconds / total:.0%} |" for name, seconds in spent.items()],
    ]
    if local_1 is not None:
        run = local_1.extra["run_seconds"]
        rest, start = run - total, local_1.seconds - run
        lines += [
            "",
            f"The 1-core run took {local_1.seconds:.1f} s: {start:.1f} s to start the "
            f"interpreter and import the CLI, {run:.1f} s "
            f"in the run, of which about {rest:.1f} s outside the steps above (loading the "
            "model from the registry, publishing the output file and the store's batch history).",
        ]
    if "csv_pg" in results:
        timed = results["csv_pg"]
        met = timed.rate >= TARGET_CSV_PG
        lines += [
            "",
            f"CSV to a PostgreSQL table: {timed.rows:,} rows in {timed.seconds:.1f} s (runs "
            f"{_runs(timed)}), "
            f"**{timed.rate:,.0f} rows/s** end to end (target >= {TARGET_CSV_PG:,}: "
            f"{'met' if met else '**not met**'}); {timed.rows / timed.extra['run_seconds']:,.0f} "
            f"rows/s in the run itself (after the interpreter's start); peak memory "
            f"{timed.extra['peak_mb']} MB ({timed.detail}, `--workers 2`).",
        ]
        larger: Timed = timed.extra["csv_3x"]
        lines.append(
            f"The same with {larger.rows:,} rows (a CSV three times as large): "
            f"{larger.seconds:.1f} s, {larger.rate:,.0f} rows/s, peak memory "
            f"{larger.extra['peak_mb']} MB: the CSV is read a block of lines at a time."
        )
        copy: Timed = timed.extra["copy"]
        lines.append(
            f"The COPY alone (the {copy.rows:,} scored rows of the Parquet run appended "
            f"through the store's bulk path): {copy.seconds:.1f} s, **{copy.rate:,.0f} rows/s**."
        )
        one, two = timed.extra["parquet_1"], timed.extra["parquet_2"]
        lines += [
            "",
            "Parquet to Parquet with the store on PostgreSQL (the batch history a COPY the "
            "database server runs beside the scoring), as above otherwise:",
            "",
            "| contender | seconds | rows/s | vs raw ONNX graph | run after the start | runs |",
            "|---|---|---|---|---|---|",
            *[f"| {t.name}: {t.detail} | {t.seconds:.1f} | {t.rate:,.0f} | "
              f"{t.rate / raw.rate:.2f}x | {t.extra['run_seconds']:.1f} s | {_runs(t)} |"
              for t in (one, two)],
        ]  # fmt: skip
    if "spark" in results:
        spark, local = results["spark"], results["spark_local"]
        lines += [
            "",
            f"Spark: {spark.rows:,} rows, Parquet to Parquet.",
            "",
            "| engine | seconds | rows/s | peak MB (the tabops process; not the JVM) |",
            "|---|---|---|---|",
            f"| Spark `local[2]` (JVM start included) | {spark.seconds:.1f} | {spark.rate:,.0f} | "
            f"{spark.extra['peak_mb']} |",
            f"| local engine, 2 workers | {local.seconds:.1f} | {local.rate:,.0f} | "
            f"{local.extra['peak_mb']} |",
            "",
            f"Spark local[2] runs at **{spark.rate / local.rate:.2f}x** the local engine "
            "(JVM start, Parquet read and write by Spark, Arrow transfer to the Python "
            "workers and back; the scoring inside is the same code).",
        ]
    lines += [
        "",
        f"Machine: {machine()}. Load average before/after: {results['load_before']} / "
        f"{results['load_after']} (a shared machine: figures are noisy). "
        f"Measured {datetime.now(UTC):%Y-%m-%d}.",
        f"Command: `python benchmarks/batch.py {' '.join(results['argv'])}` "
        "(`make bench-batch` runs the full scale).",
    ]
    return "\n".join(lines) + "\n"


def _load() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def _step(label: str, call: Callable[[], Timed]) -> Timed:
    timed = call()
    print(f"{label}: {timed.rows:,} rows in {timed.seconds:.1f} s = {timed.rate:,.0f} rows/s",
          file=sys.stderr)  # fmt: skip
    return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--csv-rows", type=int, default=1_000_000)
    parser.add_argument("--spark-rows", type=int, default=10_000_000)
    parser.add_argument("--mlflow-rows", type=int, default=200_000, help="MLflow's share.")
    parser.add_argument("--train-rows", type=int, default=20_000)
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--workdir", type=Path, help="Keep the project and data here.")
    parser.add_argument("--write", action="store_true", help="Update BENCHMARKS.md.")
    args = parser.parse_args()
    results: dict[str, Any] = {"load_before": _load(), "argv": sys.argv[1:]}
    with contextlib.ExitStack() as stack:
        if args.workdir:
            work = args.workdir.resolve()
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tabops-bbatch-")))
        folder = work / "project"
        if (folder / ".tabops" / "mlflow.db").exists():
            from serve import describe_project

            project = describe_project(folder, "bench_serve")
        else:
            project = build_project(folder, "synthetic", args.train_rows)
        source = write_input(work / f"input-{args.rows}.parquet", args.rows, seed=1)
        forget_history(project)
        results["raw"] = _step("raw model", lambda: raw_model(project, source))
        native = raw_native(project, source)
        if native is not None:
            results["native"] = _step("raw kernel", lambda: native)
        results["phases"] = phases(project, source, work / "phases.parquet")
        print(f"phases: {results['phases']}", file=sys.stderr)
        out = str(work / "out-local.parquet")
        warm = write_input(work / "input-warm.parquet", 10_000, seed=9)  # caches, bytecode
        tabops_predict(project, warm, str(work / "out-warm.parquet"), "--workers", "2")
        results["local_1"] = _step(
            "tabops 1 core",
            lambda: tabops_predict(project, source, out, cores="0", repeats=REPEATS),
        )
        results["local_2"] = _step(
            "tabops 2 cores",
            lambda: tabops_predict(
                project, source, out, "--workers", "2", cores="0,1", repeats=REPEATS
            ),
        )
        results["mlflow"] = _step(
            "mlflow", lambda: mlflow_batch(project, source, min(args.mlflow_rows, args.rows))
        )
        results["mlflow_small"] = _step(
            "mlflow small chunks",
            lambda: mlflow_batch(project, source, min(20_000, args.rows), chunk=1000),
        )
        if not args.skip_postgres:
            results["csv_pg"] = _step(
                "csv to postgres", lambda: csv_to_postgres(project, work, args, source)
            )
        if not args.skip_spark:
            big = write_input(work / f"input-{args.spark_rows}.parquet", args.spark_rows, seed=2)
            results["spark"] = _step(
                "spark local[2]",
                lambda: tabops_predict(
                    project, big, str(work / "out-spark.parquet"),
                    "--engine", "spark", "--spark-master", "local[2]",
                ),
            )  # fmt: skip
            results["spark_local"] = _step(
                "local 2 workers",
                lambda: tabops_predict(
                    project, big, str(work / "out-big.parquet"), "--workers", "2"
                ),
            )
        results["load_after"] = _load()
    text = report(args, results)
    print(text)
    if args.write:
        write_section("batch", text)


def csv_to_postgres(project: Project, work: Path, args: argparse.Namespace, parquet: Path) -> Timed:
    """``tabops predict --workers 2`` from a CSV into a table of the store's PostgreSQL
    database; then the COPY alone: the scored rows of the local run appended to a table
    through the store's bulk path (ADBC binary COPY), in this process. Beside it (in
    ``extra``), Parquet to Parquet with the store (the batch history) on PostgreSQL, on one
    core and on two."""
    from tabops.devtools.postgres import postgres_cluster
    from tabops.store.db import open_store

    source = write_input(work / f"input-{args.csv_rows}.csv", args.csv_rows, seed=3, kind="csv")
    with postgres_cluster() as cluster:
        url = cluster.create_database("bench_batch")
        warm = work / "input-warm.parquet"  # migrates the new store: not a daily run's cost
        tabops_predict(project, warm, str(work / "out-warm.parquet"), TABOPS_DATABASE_URL=url)
        timed = tabops_predict(
            project, source, "table:batch_scores", "--workers", "2", cores="0,1",
            repeats=REPEATS, TABOPS_DATABASE_URL=url,
        )  # fmt: skip
        larger = write_input(work / f"input-{3 * args.csv_rows}.csv", 3 * args.csv_rows,
                             seed=4, kind="csv")  # fmt: skip
        timed.extra["csv_3x"] = tabops_predict(
            project, larger, "table:batch_scores", "--workers", "2", cores="0,1",
            TABOPS_DATABASE_URL=url,
        )  # fmt: skip
        out = str(work / "out-pg.parquet")
        timed.extra["parquet_1"] = tabops_predict(
            project, parquet, out, cores="0", repeats=REPEATS, TABOPS_DATABASE_URL=url
        )
        timed.extra["parquet_2"] = tabops_predict(
            project, parquet, out, "--workers", "2", cores="0,1", repeats=REPEATS,
            TABOPS_DATABASE_URL=url,
        )  # fmt: skip
        scored = pq.read_table(work / "out-local.parquet")
        store = open_store(url)
        started = time.perf_counter()
        with store.bulk() as transaction:
            transaction.append("copy_probe", scored)
        seconds = time.perf_counter() - started
    timed.detail = "CSV parse, checks, scoring, COPY into the store's database"
    timed.extra["copy"] = Timed("COPY alone", scored.num_rows, seconds, "ADBC binary COPY")
    return timed


if __name__ == "__main__":
    main()

"""Monitoring at scale: peak memory of ``tabops monitor run --data`` on a big file and table.

Generates ``--rows`` rows (default 10,000,000) x 50 columns (30 numeric, some with missing
values, 20 categorical with 3 to 500 levels) plus a binary target and a timestamp spread
over 28 days, in chunks, to a Parquet file, and COPYs them into a throwaway PostgreSQL
cluster's table. Then, each in its own child process reporting its peak RSS (``VmHWM``: the
kernel's high-water mark of the process' own memory since exec; ``ru_maxrss`` would count
the forking parent's memory too):

- profile: the drift profile alone, streamed (rows typed by the data contract as ingest
  types them, profiled chunk by chunk), from the Parquet file and from the table;
- measure (unless ``--profile-only``): the full ``tabops monitor run --data`` (typing,
  scoring by the champion's compiled predictor, profiling, drift, quality, realized and
  estimated performance per daily window, stored), from both, with a champion trained
  on a 50,000-row sample (one LightGBM trial), on ``--measure-rows`` rows (default: all;
  the bootstrap intervals of realized performance make big windows slow, not big).

Target: peak RSS <= 2 GB whatever the row count. ``--write`` records the result in
BENCHMARKS.md.

Usage: python benchmarks/monitor_scale.py [--rows 10000000] [--measure-rows N]
           [--profile-only] [--write]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

NUMERIC = [f"n{i}" for i in range(30)]
CATEGORICAL = [f"c{i}" for i in range(20)]
CHUNK = 250_000  # rows generated at once
TABLE = "scored"
BUDGET_BYTES = 2 * 1024**3
START = datetime(2026, 11, 1, tzinfo=UTC)
SPAN_DAYS = 28


def spec_dict(source: str) -> dict[str, Any]:
    columns: dict[str, Any] = {n: {"type": "numeric"} for n in NUMERIC}
    columns |= {n: {"type": "categorical"} for n in CATEGORICAL}
    columns |= {
        "label": {"type": "categorical", "role": "target"},
        "at": {"type": "datetime", "role": "timestamp"},
    }
    return {
        "name": "scale",
        "task": "classification",
        "target": "label",
        "positive_class": "yes",
        "source": {"path": source},
        "columns": columns,
        "train": {"trials": 1, "cv_folds": 2, "candidates": [{"estimator": "lightgbm"}]},
    }


def chunk(rows: int, offset: int, total: int, seed: int) -> pa.Table:
    """Rows ``offset`` to ``offset + rows`` of the dataset: the same for any chunking."""
    rng = np.random.default_rng(seed + offset)
    data: dict[str, Any] = {}
    for i, name in enumerate(NUMERIC):
        values = rng.normal(i % 5, 1 + i % 3, rows) if i % 2 else rng.lognormal(1, 0.5, rows)
        if i % 7 == 0:
            values[rng.random(rows) < 0.05] = np.nan
        data[name] = pa.array(values, from_pandas=True)
    for i, name in enumerate(CATEGORICAL):
        levels = [3, 10, 50, 500][i % 4]
        weights = 1.0 / np.arange(1, levels + 1) ** 1.1
        codes = rng.choice(levels, p=weights / weights.sum(), size=rows)
        data[name] = pa.array(np.array([f"v{k}" for k in range(levels)])[codes])
    signal = data["n1"].to_numpy() - 1 + (data["c0"].to_numpy(zero_copy_only=False) == "v0")
    data["label"] = pa.array(np.where(signal + rng.normal(0, 1, rows) > 0.5, "yes", "no"))
    seconds = (np.arange(offset, offset + rows) * (SPAN_DAYS * 86_400 / total)).astype("int64")
    stamps = np.datetime64(START.replace(tzinfo=None), "s") + seconds.astype("timedelta64[s]")
    data["at"] = pa.array(stamps.astype("datetime64[us]"), pa.timestamp("us", tz="UTC"))
    return pa.table(data)


def generate(path: Path, rows: int) -> None:
    writer = None
    for offset in range(0, rows, CHUNK):
        table = chunk(min(CHUNK, rows - offset), offset, rows, seed=1)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=CHUNK)
    assert writer is not None
    writer.close()


def copy_into(url: str, parquet: Path) -> None:
    """CREATE TABLE and COPY the Parquet file's rows in, one row group at a time."""
    import psycopg

    types = {**dict.fromkeys(NUMERIC, "double precision"), **dict.fromkeys(CATEGORICAL, "text"),
             "label": "text", "at": "timestamptz"}  # fmt: skip
    names = list(pq.ParquetFile(parquet).schema_arrow.names)
    with psycopg.connect(url) as conn:
        conn.execute(f"CREATE TABLE {TABLE} ({', '.join(f'{n} {types[n]}' for n in names)})")
        with conn.cursor().copy(f"COPY {TABLE} FROM STDIN (FORMAT csv)") as copy:
            for batch in pq.ParquetFile(parquet).iter_batches(batch_size=CHUNK):
                sink = io.BytesIO()
                options = pacsv.WriteOptions(include_header=False)
                pacsv.write_csv(pa.Table.from_batches([batch]), sink, options)
                copy.write(sink.getvalue())


def child_profile(args: argparse.Namespace) -> None:
    """In the child: the streamed drift profile of the source (as ``--data`` reads it)."""
    from tabops.data.contract import check_values
    from tabops.data.sources import stream_file, stream_sql_table
    from tabops.model.columns import feature_names
    from tabops.monitor.profile import ProfileBuilder
    from tabops.spec import parse_spec

    spec = parse_spec(spec_dict("unused.parquet"))
    if args.table:
        stream = stream_sql_table(args.source, args.table, args.chunk_rows)
    else:
        stream = stream_file(args.source, None, args.chunk_rows)
    builder, rows, started = ProfileBuilder(spec), 0, time.perf_counter()
    names = feature_names(spec)
    for batch in stream.batches():
        typed = {
            n: check_values(batch.column(n), spec.columns[n], spec.source.csv.null_values)[0]
            for n in names
        }
        builder.add(pa.table(typed))
        rows += batch.num_rows
    profile = builder.build()
    seconds = time.perf_counter() - started
    print(json.dumps({"rows": rows, "seconds": seconds, "profiled": profile.rows}))
    Path(args.peak_file).write_text(str(peak_rss()))


def peak_rss() -> int:
    """This process' peak resident memory in bytes since it started (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child_cli(args: argparse.Namespace) -> None:
    """In the child: a tabops command, in process, then its peak RSS."""
    from tabops.cli import main as tabops

    try:
        tabops(args.command)
    except SystemExit as exc:
        if exc.code:
            raise
    Path(args.peak_file).write_text(str(peak_rss()))


def run_child(command: list[str], **kwargs: Any) -> tuple[dict[str, Any], float, int]:
    """Run a ``--child`` of this script to completion: its JSON output, wall seconds and
    peak RSS in bytes."""
    with tempfile.NamedTemporaryFile(prefix="tabops-peak-") as peak:
        started = time.perf_counter()
        command = [*command[:2], "--peak-file", peak.name, *command[2:]]
        done = subprocess.run(command, capture_output=True, **kwargs)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:6])} failed: {done.stderr.decode()[-3000:]}")
        return json.loads(done.stdout), seconds, int(Path(peak.name).read_text())


def train_champion(folder: Path, parquet: Path, env: dict[str, str]) -> None:
    sample = folder / "sample.parquet"
    table = pq.ParquetFile(parquet).read_row_group(0)
    pq.write_table(table.slice(0, 50_000), sample)
    (folder / "tabops.yaml").write_text(yaml.safe_dump(spec_dict("sample.parquet")))
    tabops = str(Path(sys.executable).with_name("tabops"))
    done = subprocess.run([tabops, "run", "--json"], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=3600)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"tabops run failed: {done.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--measure-rows", type=int, help="Rows of the full --data run.")
    parser.add_argument("--profile-only", action="store_true", help="Skip the full --data run.")
    parser.add_argument("--write", action="store_true", help="Record the result in BENCHMARKS.md.")
    parser.add_argument("--child", choices=["profile", "cli"], help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--table", help=argparse.SUPPRESS)
    parser.add_argument("--peak-file", help=argparse.SUPPRESS)
    parser.add_argument("command", nargs="*", help=argparse.SUPPRESS)  # --child cli: after --
    args = parser.parse_args()
    if args.child == "profile":
        child_profile(args)
        return
    if args.child == "cli":
        child_cli(args)
        return

    from tabops.devtools.postgres import postgres_cluster

    results: list[tuple[str, str, float, int]] = []
    with tempfile.TemporaryDirectory(prefix="tabops-bench-") as tmp, postgres_cluster() as pg:
        work = Path(tmp)
        parquet = work / f"{TABLE}.parquet"
        started = time.perf_counter()
        generate(parquet, args.rows)
        print(f"generated {args.rows:,} rows x 52 columns: {parquet.stat().st_size / 1e6:,.0f} MB "
              f"Parquet in {time.perf_counter() - started:.0f} s")  # fmt: skip
        url = pg.create_database("scale")
        started = time.perf_counter()
        copy_into(url, parquet)
        print(f"COPY into PostgreSQL: {time.perf_counter() - started:.0f} s")
        me = [sys.executable, __file__, "--chunk-rows", str(args.chunk_rows), "--child", "profile"]
        for label, where in (("Parquet", ["--source", str(parquet)]),
                             ("PostgreSQL", ["--source", url, "--table", TABLE])):  # fmt: skip
            output, seconds, peak = run_child([*me, *where])
            assert output["rows"] == args.rows, output
            results.append(("drift profile", label, seconds, peak))
            print(f"profile from {label}: {seconds:.0f} s, peak RSS {peak / 2**20:,.0f} MiB")
        if not args.profile_only:
            measure = args.measure_rows or args.rows
            if measure != args.rows:  # the first rows, their times over the same 28 days
                parquet = work / f"{TABLE}_head.parquet"
                generate(parquet, measure)
                url = pg.create_database("scale_head")
                copy_into(url, parquet)
            folder = work / "project"
            folder.mkdir()
            env = {k: v for k, v in os.environ.items() if not k.startswith(("TABOPS_", "MLFLOW_"))}
            env |= {"TABOPS_HOME": str(folder / ".tabops")}
            train_champion(folder, parquet, env)
            run = [sys.executable, __file__, "--child", "cli", "--", "monitor", "run",
                   "--chunk-rows", str(args.chunk_rows), "--json"]  # fmt: skip
            for label, where in (("Parquet", ["--data", str(parquet)]),
                                 ("PostgreSQL", ["--data", url, "--table", TABLE])):  # fmt: skip
                output, seconds, peak = run_child([*run, *where], cwd=folder, env=env)
                assert output["data"]["measured"] == measure, output["data"]
                results.append((f"monitor run --data ({measure:,} rows)", label, seconds, peak))
                print(f"--data from {label}: {seconds:.0f} s, {len(output['windows'])} windows, "
                      f"peak RSS {peak / 2**20:,.0f} MiB")  # fmt: skip
        shutil.rmtree(work / "project", ignore_errors=True)
    report = _report(args, results)
    print(report)
    if args.write:
        sys.path.insert(0, str(Path(__file__).parent))
        from common import write_section

        write_section("monitor-scale", report)


def _report(args: argparse.Namespace, results: list[tuple[str, str, float, int]]) -> str:
    lines = [
        "## Monitoring at scale: `monitor run --data` memory (`benchmarks/monitor_scale.py`)",
        "",
        f"{args.rows:,} rows x 50 features (30 numeric, 20 categorical with 3 to 500 levels) "
        f"plus a binary target and a timestamp over {SPAN_DAYS} days, read in chunks of "
        f"{args.chunk_rows:,} rows from a Parquet file and from a PostgreSQL table (local "
        "cluster, server-side cursor). Each run is its own process; peak RSS is its VmHWM.",
        "",
        "| what | from | seconds | peak RSS | within 2 GB |",
        "|---|---|---|---|---|",
    ]
    for what, where, seconds, peak in results:
        ok = "yes" if peak <= BUDGET_BYTES else "**no**"
        lines.append(f"| {what} | {where} | {seconds:,.0f} | {peak / 2**20:,.0f} MiB | {ok} |")
    lines += [
        "",
        "drift profile: rows typed by the data contract and profiled (the sketches the drift "
        "tests read). monitor run --data: the whole command, typing, scoring with the "
        "champion's compiled predictor (LightGBM via ONNX, trained on a 50,000-row sample), "
        "profiling, per-window drift, quality, realized and estimated performance, stored.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared with other work: "
        f"seconds are indicative, memory is what counts), Python {platform.python_version()}, "
        f"pyarrow {pa.__version__}. Measured {datetime.now(UTC):%Y-%m-%d}.",
        f"Command: `python benchmarks/monitor_scale.py --rows {args.rows}"
        + (" --profile-only" if args.profile_only else "")
        + (f" --measure-rows {args.measure_rows}" if args.measure_rows else "")
        + (f" --chunk-rows {args.chunk_rows}" if args.chunk_rows != 100_000 else "")
        + " --write` (or `make bench-monitor-scale`).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

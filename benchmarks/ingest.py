"""Benchmark: load a 1,000,000-row, 20-column CSV into PostgreSQL.

Contenders, side by side in one run, each into a fresh database of one throwaway PostgreSQL
15 cluster on loopback:

* ``tabops``: ``run_ingest`` with ``ingest.table`` set: CSV parse, every contract check
  (types, nullability, ranges, categories, unique ids), Parquet snapshot, Arrow-native binary
  COPY of the good rows, ledger and quarantine rows, all in one transaction.
* ``pandas.to_sql``: ``pd.read_csv`` then ``DataFrame.to_sql`` (SQLAlchemy 2 + psycopg 3,
  default method), no checks at all.

Pairs run A/B/A/B; the ratio is computed per pair. Results go to BENCHMARKS.md.

Usage: python benchmarks/ingest.py [--rows 1000000] [--pairs 2] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from common import write_section  # benchmarks/ is on sys.path when run as a script

from tabops.context import Context
from tabops.data.ingest import run_ingest
from tabops.devtools.postgres import PostgresCluster, postgres_cluster
from tabops.settings import Settings
from tabops.spec import ProjectSpec, parse_spec
from tabops.store.db import sqlalchemy_url

ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = {
    "merchant_category": ["grocery", "fuel", "travel", "online", "restaurant", "pharmacy"],
    "card_type": ["visa", "mastercard"],
    "channel": ["pos", "ecommerce", "atm"],
    "country": ["US", "GB", "DE", "FR", "ES", "IT", "NL", "SE"],
    "segment": ["retail", "business", "premium"],
}


def generate_csv(path: Path, rows: int, seed: int = 0) -> None:
    """A transactions-like CSV: id, 8 floats, 4 ints, 5 categoricals, a flag, a time, a label."""
    rng = np.random.default_rng(seed)
    columns: dict[str, pa.Array] = {"transaction_id": pa.array(np.arange(1, rows + 1))}
    for i in range(8):
        columns[f"amount_{i}"] = pa.array(np.round(rng.gamma(2.0, 30.0, rows), 2))
    for i in range(4):
        columns[f"count_{i}"] = pa.array(rng.integers(0, 500, rows))
    for name, values in CATEGORIES.items():
        columns[name] = pa.array(np.array(values)[rng.integers(0, len(values), rows)])
    columns["card_present"] = pa.array(rng.integers(0, 2, rows))
    start = np.datetime64("2026-01-01T00:00:00")
    seconds = np.sort(rng.integers(0, 86_400 * 90, rows)).astype("timedelta64[s]")
    columns["event_time"] = pa.array((start + seconds).astype("datetime64[s]").astype(str))
    columns["is_fraud"] = pa.array(np.where(rng.random(rows) < 0.01, "yes", "no"))
    pacsv.write_csv(pa.table(columns), path, write_options=pacsv.WriteOptions(quoting_style="none"))


def spec_for(path: Path) -> ProjectSpec:
    columns: dict[str, dict[str, object]] = {
        "transaction_id": {"type": "integer", "role": "id", "nullable": False, "unique": True}
    }
    for i in range(8):
        columns[f"amount_{i}"] = {"type": "numeric", "nullable": False, "min": 0}
    for i in range(4):
        columns[f"count_{i}"] = {"type": "integer", "nullable": False, "min": 0, "max": 10_000}
    for name, values in CATEGORIES.items():
        columns[name] = {"type": "categorical", "nullable": False, "categories": values}
    columns["card_present"] = {"type": "boolean", "nullable": False}
    columns["event_time"] = {"type": "datetime", "role": "timestamp", "nullable": False}
    columns["is_fraud"] = {
        "type": "categorical", "role": "target", "nullable": False, "categories": ["no", "yes"],
    }  # fmt: skip
    spec = parse_spec(
        {
            "name": "bench",
            "task": "classification",
            "target": "is_fraud",
            "positive_class": "yes",
            "source": {"path": str(path)},
            "columns": columns,
            "ingest": {"table": "transactions"},
        }
    )
    return spec


def run_tabops(cluster: PostgresCluster, csv_path: Path, work: Path, run: int) -> float:
    url = cluster.create_database(f"tabops_{run + 1}")
    ctx = Context(settings=Settings(home=work / f"home_{run}", database_url=url))
    ctx.store  # noqa: B018 - open and migrate before timing: a one-time cost, not per load
    started = time.perf_counter()
    result = run_ingest(spec_for(csv_path), ctx)
    elapsed = time.perf_counter() - started
    assert result.status == "loaded" and result.rows_loaded == _rows(csv_path), result
    _check_count(url, "transactions", result.rows_loaded)
    return elapsed


def run_to_sql(cluster: PostgresCluster, csv_path: Path, run: int) -> float:
    url = cluster.create_database(f"to_sql_{run + 1}")
    engine = sa.create_engine(sqlalchemy_url(url))
    started = time.perf_counter()
    frame = pd.read_csv(csv_path)
    frame.to_sql("transactions", engine, index=False, chunksize=None)
    elapsed = time.perf_counter() - started
    engine.dispose()
    _check_count(url, "transactions", len(frame))
    return elapsed


_ROW_COUNTS: dict[Path, int] = {}


def _rows(path: Path) -> int:
    if path not in _ROW_COUNTS:
        with path.open("rb") as handle:
            _ROW_COUNTS[path] = sum(1 for _ in handle) - 1
    return _ROW_COUNTS[path]


def _check_count(url: str, table: str, expected: int) -> None:
    engine = sa.create_engine(sqlalchemy_url(url))
    with engine.connect() as conn:
        count = conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one()
    engine.dispose()
    assert count == expected, f"{table}: {count} rows, expected {expected}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="Do not update BENCHMARKS.md.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tabops-bench-") as tmp, postgres_cluster() as pg:
        work = Path(tmp)
        csv_path = work / "transactions.csv"
        generate_csv(csv_path, args.rows)
        size_mb = csv_path.stat().st_size / 1e6
        print(f"{args.rows:,} rows, {size_mb:.0f} MB CSV; PostgreSQL on 127.0.0.1:{pg.port}")
        warm = work / "warm.csv"  # one small untimed load each: caches and catalogs warm
        generate_csv(warm, 10_000, seed=1)
        run_tabops(pg, warm, work, -1)
        run_to_sql(pg, warm, -1)
        pairs = []
        for run in range(args.pairs):
            tabops_s = run_tabops(pg, csv_path, work, run)
            to_sql_s = run_to_sql(pg, csv_path, run)
            pairs.append((tabops_s, to_sql_s))
            print(
                f"pair {run + 1}: tabops {args.rows / tabops_s:,.0f} rows/s ({tabops_s:.2f} s), "
                f"to_sql {args.rows / to_sql_s:,.0f} rows/s ({to_sql_s:.2f} s), "
                f"ratio {to_sql_s / tabops_s:.1f}x"
            )
    report = _report(args.rows, size_mb, pairs)
    print(report)
    if not args.no_write:
        write_section("ingest", report)


def _report(rows: int, size_mb: float, pairs: list[tuple[float, float]]) -> str:
    ratios = [b / a for a, b in pairs]
    tabops_rate = statistics.median(rows / a for a, _ in pairs)
    to_sql_rate = statistics.median(rows / b for _, b in pairs)
    lines = [
        "## Ingest: CSV into PostgreSQL (`benchmarks/ingest.py`)",
        "",
        f"{rows:,} rows x 20 columns ({size_mb:.0f} MB CSV), local PostgreSQL "
        f"on loopback, {len(pairs)} A/B pairs.",
        "",
        "| contender | rows/s (median) | what it does |",
        "|---|---|---|",
        f"| tabops ingest | {tabops_rate:,.0f} | parse, contract checks on every row, "
        "Parquet snapshot, binary COPY (ADBC), ledger, one transaction |",
        f"| pandas `read_csv` + `to_sql` | {to_sql_rate:,.0f} | parse and insert, no checks |",
        "",
        "Ratio per pair (to_sql time / tabops time): "
        + ", ".join(f"{r:.1f}x" for r in ratios)
        + f"; median **{statistics.median(ratios):.1f}x** (target: >= 10x).",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, pandas {pd.__version__}, pyarrow {pa.__version__}. "
        f"Measured {datetime.now(UTC):%Y-%m-%d}.",
        f"Command: `python benchmarks/ingest.py --rows {rows} --pairs {len(pairs)}` "
        "(or `make bench-ingest`).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

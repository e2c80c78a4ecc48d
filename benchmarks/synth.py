"""Generation speed of the synthetic fraud generator (`tabops synth fraud`), on one core.

The process pins itself to one CPU (like `taskset -c 1`); `make bench-synth` also sets
OMP_NUM_THREADS=1 (numpy's random generators and pandas run on one thread anyway). Each run
generates the same dataset (the handbook's size by default: 5,000 customers, 10,000
terminals, 183 days, about 1.75 million transactions) and counts generation time only:
pools, profiles, transactions, frauds, drift and labels, not file writing (timed apart).
A first run warms up imports and is not counted. Results go to BENCHMARKS.md.
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
from typing import Any

import numpy as np
import pandas as pd
from common import write_section  # benchmarks/ is on sys.path when run as a script

from tabops.synth.config import FraudConfig, parse_fraud_config
from tabops.synth.fraud import generate_fraud
from tabops.synth.output import write_fraud_files

#: A drift calendar like the example's, so the benchmark covers every step.
CALENDAR: list[dict[str, Any]] = [
    {"scenario": "new_merchant_category", "start_day": 60, "end_day": 120, "category": "bnpl"},
    {"scenario": "amount_inflation", "start_day": 90, "end_day": 183, "multiplier": 1.2},
    {"scenario": "card_testing", "start_day": 120, "end_day": 127},
    {"scenario": "null_column", "start_day": 150, "end_day": 160, "column": "merchant_category"},
]


def pin_to_one_core(cpu: int) -> str:
    """Run this process on ``cpu`` only (or the first allowed CPU); returns a description."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity on this platform)"
    allowed = sorted(os.sched_getaffinity(0))
    chosen = cpu if cpu in allowed else allowed[0]
    os.sched_setaffinity(0, {chosen})
    return f"pinned to CPU {chosen}"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure(config: FraudConfig, runs: int) -> dict[str, object]:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    started = time.perf_counter()
    generate_fraud(config)  # warm-up: imports, Faker's locale data
    first = time.perf_counter() - started
    seconds, rows, fraud_rate = [], 0, 0.0
    for _ in range(runs):
        dataset = generate_fraud(config)
        seconds.append(dataset.seconds)
        rows, fraud_rate = len(dataset.transactions), dataset.fraud_rate
    with tempfile.TemporaryDirectory(prefix="tabops-bench-synth-") as folder:
        started = time.perf_counter()
        write_fraud_files(dataset, Path(folder))
        write_seconds = time.perf_counter() - started
    rates = [rows / s for s in seconds]
    return {"rows": rows, "fraud_rate": fraud_rate, "seconds": seconds, "rates": rates,
            "median": statistics.median(rates), "first_seconds": first,
            "write_seconds": write_seconds, "load": load}  # fmt: skip


def report(config: FraudConfig, result: dict[str, object], pinned: str, command: str) -> str:
    rates = result["rates"]
    seconds = result["seconds"]
    assert isinstance(rates, list) and isinstance(seconds, list)
    per_run = ", ".join(f"{r:,.0f}" for r in rates)
    lines = [
        "## Synthetic fraud generator (`benchmarks/synth.py`)",
        "",
        f"`generate_fraud` on the handbook's size: {config.n_customers:,} customers, "
        f"{config.terminals:,} terminals, {config.days} days, the three fraud scenarios and a "
        f"4-entry drift calendar: **{result['rows']:,} transactions** "
        f"(fraud rate {result['fraud_rate']:.2%}), late labels included; one core "
        f"({pinned}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}). "
        "Generation time only (pools, profiles, transactions, "
        "frauds, drift, labels); writing the Parquet files is shown apart.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| transactions/s, median of {len(rates)} runs | **{result['median']:,.0f}** "
        "(target: >= 200,000) |",
        f"| transactions/s per run | {per_run} |",
        f"| generation time per run (s) | {', '.join(f'{s:.2f}' for s in seconds)} |",
        f"| first run in a fresh process (imports, Faker locale), s | "
        f"{result['first_seconds']:.2f} |",
        f"| writing the Parquet files (not counted), s | {result['write_seconds']:.2f} |",
        "",
        f"Machine: {platform.machine()}, {cpu_model()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}. "
        f"Measured {datetime.now(UTC):%Y-%m-%d}; 1-minute load average at the start "
        f"{result['load']:.1f} (other work shared the machine; hence the spread between runs).",
        f"Command: `{command}` (or `make bench-synth`); "
        "`taskset -c 1 python benchmarks/synth.py` pins the same way from outside.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--days", type=int, default=183)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cpu", type=int, default=1, help="CPU to pin to (default 1).")
    parser.add_argument("--no-write", action="store_true", help="Do not update BENCHMARKS.md.")
    args = parser.parse_args()
    pinned = pin_to_one_core(args.cpu)
    calendar = [e for e in CALENDAR if int(e["start_day"]) < args.days]
    config = parse_fraud_config(
        {"n_customers": args.customers, "days": args.days, "drift": calendar}
    )
    result = measure(config, args.runs)
    command = (
        f"python benchmarks/synth.py --customers {args.customers} --days {args.days} "
        f"--runs {args.runs}"
    )
    text = report(config, result, pinned, command)
    print(text)
    if not args.no_write:
        write_section("synth", text)


if __name__ == "__main__":
    main()

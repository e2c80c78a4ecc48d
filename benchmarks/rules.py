"""Speed of the rules engine on the original monitor's three rules (examples/fraud/rules.yaml).

Row by row (serving): the median time of one ``RuleSet.evaluate_row`` call (all three rules,
the decision and the result object) on request-like dicts of ten fields. Vectorised (batch,
backtests): rows per second of ``RuleSet.evaluate_frame`` on a 1,000,000-row frame, with
``transaction_type`` stored as Python strings (object dtype, as read from CSV) and as a pandas
categorical (as read from Parquet snapshots). Each timing is the median of several repeats
after a warm-up. Prints the results; ``--write`` also records them in BENCHMARKS.md.

Usage: python benchmarks/rules.py [--rows 1000000] [--repeats 5] [--write]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import ROOT, write_section  # benchmarks/ is on sys.path when run as a script

from tabops.rules.engine import RuleSet, load_rules

RULES = ROOT / "examples" / "fraud" / "rules.yaml"


def transactions(rows: int, seed: int = 0) -> pd.DataFrame:
    """Request-like transactions: the monitor's fields and a few others."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "transaction_id": np.arange(rows),
            "amount": rng.lognormal(3.5, 1.2, rows).round(2),
            "account_blacklisted": rng.random(rows) < 0.02,
            "transaction_type": rng.choice(
                np.array(["real-time", "settlement", "dispute"], dtype=object),
                p=[0.8, 0.15, 0.05],
                size=rows,
            ),
            "card_present": rng.random(rows) < 0.6,
            "merchant_category": rng.choice(["grocery", "travel", "fuel", "online"], rows),
            "card_type": rng.choice(["Visa", "MasterCard"], rows),
            "customer_id": rng.integers(0, 5000, rows),
            "terminal_id": rng.integers(0, 10000, rows),
            "hour": rng.integers(0, 24, rows),
        }
    )


def per_row_microseconds(rules: RuleSet, rows: list[dict[str, object]], repeats: int) -> float:
    """Median microseconds of one evaluate_row call."""
    for row in rows[:1000]:
        rules.evaluate_row(row)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        for row in rows:
            rules.evaluate_row(row)
        timings.append((time.perf_counter() - started) / len(rows) * 1e6)
    return statistics.median(timings)


def frame_rows_per_second(rules: RuleSet, frame: pd.DataFrame, repeats: int) -> float:
    """Median rows per second of evaluate_frame."""
    rules.evaluate_frame(frame.head(1000))
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        rules.evaluate_frame(frame)
        timings.append(time.perf_counter() - started)
    return len(frame) / statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="Rows of the frame.")
    parser.add_argument("--repeats", type=int, default=5, help="Timed repeats (median).")
    parser.add_argument("--write", action="store_true", help="Record in BENCHMARKS.md.")
    args = parser.parse_args()

    rules = load_rules(Path(RULES))
    frame = transactions(args.rows)
    records = transactions(20_000, seed=1).to_dict("records")
    rows = [{str(k): v for k, v in record.items()} for record in records]
    python_rows = [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()} for row in rows
    ]
    micro_python = per_row_microseconds(rules, python_rows, args.repeats)
    micro_numpy = per_row_microseconds(rules, rows, args.repeats)
    categorical = frame.assign(transaction_type=frame["transaction_type"].astype("category"))
    speed_object = frame_rows_per_second(rules, frame, args.repeats)
    speed_categorical = frame_rows_per_second(rules, categorical, args.repeats)
    decisions = rules.evaluate_frame(frame).decision.value_counts(dropna=False).to_dict()

    body = (
        f"Rules engine on the monitor's 3 rules ({RULES.relative_to(ROOT)}), "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"numpy {np.__version__}, pandas {pd.__version__}; `python benchmarks/rules.py`.\n\n"
        "| measure | result |\n|---|---|\n"
        f"| evaluate_row, JSON-like dict (Python values) | {micro_python:.2f} µs per row |\n"
        f"| evaluate_row, dict from a DataFrame (numpy values) | {micro_numpy:.2f} µs per row |\n"
        f"| evaluate_frame, {args.rows:,} rows, strings as object | "
        f"{speed_object / 1e6:.1f} M rows/s |\n"
        f"| evaluate_frame, {args.rows:,} rows, strings as categorical | "
        f"{speed_categorical / 1e6:.1f} M rows/s |\n\n"
        f"Decisions on the generated rows: {decisions}.\n"
    )
    print(body)
    if args.write:
        write_section("rules", body)


if __name__ == "__main__":
    main()

"""Cost of growth: wall time and peak memory of ``tabops run`` (ingest, train with a fixed trial
budget, register) on generated 100,000- and 1,000,000-row datasets.

Each size runs in its own process under /usr/bin/time, so peak memory is the whole run's
maximum resident set size. Results go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import yaml
from common import write_section  # benchmarks/ is on sys.path when run as a script

TABOPS = str(Path(sys.executable).with_name("tabops"))
CATEGORIES = {
    "merchant_category": [f"mcc_{i}" for i in range(20)],
    "channel": ["web", "app", "pos", "atm"],
    "country": [f"c{i}" for i in range(30)],
}


def generate(path: Path, rows: int, seed: int = 0) -> None:
    """A tabular binary target with a known signal in numbers and categories."""
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {"id": np.arange(rows)}
    signal = np.zeros(rows)
    for i in range(8):
        values = rng.normal(size=rows)
        columns[f"num_{i}"] = np.round(values, 4)
        signal += values * (0.8 if i < 3 else 0.05)
    for name, values in CATEGORIES.items():
        picked = rng.integers(0, len(values), rows)
        columns[name] = np.array(values)[picked]
        signal += (picked % 3 == 0) * 0.5
    columns["flag"] = rng.random(rows) < 0.3
    signal += columns["flag"] * 0.7
    columns["label"] = np.where(signal + rng.normal(scale=1.5, size=rows) > 1.0, "yes", "no")
    pacsv.write_csv(pa.table(columns), path)


def spec(path: Path, trials: int) -> dict[str, object]:
    columns: dict[str, object] = {"id": {"type": "integer", "role": "id", "unique": True}}
    columns |= {f"num_{i}": {"type": "numeric"} for i in range(8)}
    columns |= {name: {"type": "categorical", "categories": v} for name, v in CATEGORIES.items()}
    columns["flag"] = {"type": "boolean"}
    columns["label"] = {"type": "categorical", "role": "target", "categories": ["no", "yes"]}
    return {"name": "bench", "task": "classification", "target": "label",
            "positive_class": "yes", "source": {"path": str(path)}, "columns": columns,
            "train": {"trials": trials, "cv_folds": 3}}  # fmt: skip


def measure(rows: int, trials: int, work: Path) -> dict[str, float]:
    folder = work / f"rows_{rows}"
    folder.mkdir()
    generate(folder / "data.csv", rows)
    (folder / "tabops.yaml").write_text(yaml.safe_dump(spec(folder / "data.csv", trials)))
    command = ["/usr/bin/time", "-f", "TIME %e %M", TABOPS, "run", "--json"]
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    timing = re.search(r"TIME ([\d.]+) (\d+)", done.stderr)
    if done.returncode not in (0, 3) or timing is None:
        sys.exit(f"tabops run failed on {rows} rows:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout)
    best = next(
        c for c in result["train"]["candidates"] if c["estimator"] == result["train"]["best"]
    )
    return {"rows": rows, "seconds": float(timing.group(1)),
            "peak_mb": int(timing.group(2)) / 1024, "auc": best["test"]["roc_auc"],
            "train_seconds": result["train"]["seconds"]}  # fmt: skip


def report(results: list[dict[str, float]], trials: int, command: str) -> str:
    lines = [
        "## Training: cost of growth (`benchmarks/train.py`)",
        "",
        f"`tabops run` (ingest, train 2 candidates x {trials} trials x 3-fold CV, register) on a "
        "generated 15-column binary dataset; wall time and peak resident memory of the process.",
        "",
        "| rows | wall time (s) | of which training (s) | peak memory (MB) | test ROC AUC |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['rows']:,.0f} | {r['seconds']:.1f} | {r['train_seconds']:.1f} | "
        f"{r['peak_mb']:,.0f} | {r['auc']:.4f} |"
        for r in results
    ]
    lines += [
        "",
        f"Machine: {platform.machine()}, 2 cores, Python {platform.python_version()}. "
        f"Measured {datetime.now(UTC):%Y-%m-%d}. Command: `{command}` (or `make bench-train`).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="Do not update BENCHMARKS.md.")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="tabops-bench-train-") as folder:
        for rows in args.rows:
            results.append(measure(rows, args.trials, Path(folder)))
            print(results[-1], file=sys.stderr)
    command = (
        f"python benchmarks/train.py --rows {' '.join(map(str, args.rows))} --trials {args.trials}"
    )
    text = report(results, args.trials, command)
    print(text)
    if not args.no_write:
        write_section("train", text)


if __name__ == "__main__":
    main()

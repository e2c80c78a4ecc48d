"""tabops' sketch-based data drift against Evidently 0.7's DataDriftPreset, side by side.

Generates a reference and a current frame of ``--rows`` rows each with 15 mixed features (nine
numeric, six categorical; some unchanged, some drifted by amounts near and far from the
thresholds), then times
- tabops: profiling both frames (the reference profile is normally built once, at
  registration, but it is counted here) plus the drift computation;
- Evidently: ``Report([DataDriftPreset()]).run`` on the same frames with the same column
  types, in a separate Python environment (Evidently pins pandas < 3 and is not a tabops
  dependency), e.g. ``python -m venv /tmp/evvenv && /tmp/evvenv/bin/pip install
  "evidently==0.7.*" "pandas<3" pyarrow``;
and compares the per-column methods, scores and verdicts. ``--datasets N`` repeats with new
seeds, to compare more columns. ``--write`` records the result in BENCHMARKS.md.

Usage: python benchmarks/monitor_drift.py [--rows 1000000] [--datasets 1]
           [--evidently-python /tmp/evvenv/bin/python] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

NUMERIC = [f"n{i}" for i in range(9)]
CATEGORICAL = [f"c{i}" for i in range(6)]
#: Evidently's method display names that are p-values (drift below the threshold).
P_VALUE_METHODS = {"K-S p_value", "chi-square p_value", "Z-test p_value"}
EVIDENTLY_NAMES = {
    "ks": "K-S p_value",
    "chisquare": "chi-square p_value",
    "z": "Z-test p_value",
    "jensenshannon": "Jensen-Shannon distance",
    "wasserstein": "Wasserstein distance (normed)",
}


def frames(rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current rows; the comments give each column's expected verdict."""
    rng = np.random.default_rng(seed)

    def both(make: Any) -> tuple[Any, Any]:
        return make(rng, False), make(rng, True)

    def zipf_choice(levels: int, tilt: float) -> Any:
        def make(r: np.random.Generator, cur: bool) -> np.ndarray:
            weights = 1.0 / np.arange(1, levels + 1) ** (1.1 + (tilt if cur else 0.0))
            return r.choice([f"v{i}" for i in range(levels)], p=weights / weights.sum(), size=rows)

        return make

    def with_missing(values: np.ndarray, r: np.random.Generator) -> np.ndarray:
        values[r.random(rows) < 0.1] = np.nan
        return values

    columns: dict[str, tuple[Any, Any]] = {
        "n0": both(lambda r, c: r.normal(0, 1, rows)),  # same
        "n1": both(lambda r, c: r.normal(0.05 if c else 0, 1, rows)),  # W ~0.05: no drift
        "n2": both(lambda r, c: r.normal(0.3 if c else 0, 1, rows)),  # W ~0.3: drift
        "n3": both(lambda r, c: r.lognormal(3, 0.8, rows)),  # heavy tail, same
        "n4": both(lambda r, c: r.lognormal(3.15 if c else 3, 0.8, rows)),  # drift
        "n5": both(lambda r, c: r.uniform(0.04 if c else 0, 1.04 if c else 1, rows)),  # W ~0.14
        "n6": both(lambda r, c: with_missing(r.exponential(2.0, rows), r)),  # same, 10% missing
        "n7": both(lambda r, c: r.poisson(4, rows).astype(np.float64)),  # counts, same
        "n8": both(  # four values: a category-like test; JS ~0.09
            lambda r, c: r.choice(
                4, p=(0.3, 0.3, 0.25, 0.15) if c else (0.4, 0.3, 0.2, 0.1), size=rows
            ).astype(np.float64)
        ),
        "c0": both(zipf_choice(3, 0.0)),  # same
        "c1": both(zipf_choice(10, 0.6)),  # mix changed: drift
        "c2": both(zipf_choice(50, 0.0)),  # same
        "c3": both(zipf_choice(200, 0.05)),  # slight change: no drift
        "c4": both(lambda r, c: r.random(rows) < (0.36 if c else 0.3)),  # JS ~0.05: no drift
        "c5": both(  # a new category in 5% of current rows
            lambda r, c: np.where(
                r.random(rows) < (0.05 if c else 0), "new", r.choice(["a", "b"], size=rows)
            )
        ),
    }
    reference = pd.DataFrame({name: pair[0] for name, pair in columns.items()})
    current = pd.DataFrame({name: pair[1] for name, pair in columns.items()})
    return reference, current


def run_tabops(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, Any]:
    from tabops.monitor.drift import data_drift
    from tabops.monitor.profile import profile_frame
    from tabops.spec import parse_spec

    columns: dict[str, Any] = {n: {"type": "numeric"} for n in NUMERIC}
    columns |= {n: {"type": "categorical"} for n in CATEGORICAL if n != "c4"}
    columns |= {"c4": {"type": "boolean"}, "label": {"type": "categorical", "role": "target"}}
    spec = parse_spec(
        {
            "name": "bench",
            "task": "classification",
            "target": "label",
            "source": {"path": "unused.csv"},
            "columns": columns,
        }
    )
    start = time.perf_counter()
    ref_profile = profile_frame(spec, reference)
    reference_done = time.perf_counter()
    cur_profile = profile_frame(spec, current)
    profiled = time.perf_counter()
    result = data_drift(ref_profile, cur_profile)
    done = time.perf_counter()
    return {
        "seconds": done - start,
        # What a monitoring window costs once the reference profile is stored.
        "window_seconds": done - reference_done,
        "drift_seconds": done - profiled,
        "profile_bytes": len(ref_profile.to_bytes()),
        "columns": {
            c.column: {
                "method": EVIDENTLY_NAMES[c.method],
                "value": c.statistic,
                "drifted": c.drifted,
                "psi": c.psi,
            }
            for c in result.columns
        },
    }


def evidently_worker(folder: Path) -> None:
    """Runs inside the Evidently environment: imports neither tabops nor its dependencies."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    reference = pd.read_parquet(folder / "reference.parquet")
    current = pd.read_parquet(folder / "current.parquet")
    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    start = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    seconds = time.perf_counter() - start
    columns = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if not config["type"].endswith("ValueDrift"):
            continue
        method, threshold, value = config["method"], config["threshold"], metric["value"]
        if method in P_VALUE_METHODS:
            drifted = value <= threshold if method.startswith("K-S") else value < threshold
        else:
            drifted = value >= threshold
        columns[config["column"]] = {
            "method": method,
            "value": float(value),
            "drifted": bool(drifted),
        }
    (folder / "evidently.json").write_text(json.dumps({"seconds": seconds, "columns": columns}))


def run_evidently(reference: pd.DataFrame, current: pd.DataFrame, python: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        reference.to_parquet(folder / "reference.parquet")
        current.to_parquet(folder / "current.parquet")
        subprocess.run([python, __file__, "--evidently-worker", str(folder)], check=True)
        result: dict[str, Any] = json.loads((folder / "evidently.json").read_text())
        return result


def compare(tabops: dict[str, Any], evidently: dict[str, Any]) -> list[str]:
    lines = [
        "| column | method | tabops | Evidently | tabops drift | Evidently drift | PSI |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, ours in tabops["columns"].items():
        theirs = evidently["columns"][name]
        method = ours["method"] if ours["method"] == theirs["method"] else "DIFFERENT"
        lines.append(
            f"| {name} | {method} | {ours['value']:.4g} | {theirs['value']:.4g} "
            f"| {ours['drifted']} | {theirs['drifted']} | {ours['psi']:.3f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--datasets", type=int, default=1)
    parser.add_argument("--evidently-python", default="/tmp/evvenv/bin/python")
    parser.add_argument("--evidently-worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if args.evidently_worker:
        evidently_worker(args.evidently_worker)
        return

    load = os.getloadavg()[0]
    lines, agree, total, ours_s, theirs_s = [], 0, 0, 0.0, 0.0
    for seed in range(args.datasets):
        reference, current = frames(args.rows, seed)
        ours = run_tabops(reference, current)
        theirs = run_evidently(reference, current, args.evidently_python)
        ours_s, theirs_s = ours_s + ours["seconds"], theirs_s + theirs["seconds"]
        for name, column in ours["columns"].items():
            total += 1
            agree += column["drifted"] == theirs["columns"][name]["drifted"]
        lines += [
            f"Dataset {seed}: tabops {ours['seconds']:.2f} s (with a stored reference profile "
            f"{ours['window_seconds']:.2f} s; drift from profiles "
            f"{ours['drift_seconds'] * 1000:.0f} ms, reference profile "
            f"{ours['profile_bytes'] / 1e6:.2f} MB), Evidently {theirs['seconds']:.1f} s",
            "",
            *compare(ours, theirs),
            "",
        ]
    summary = (
        f"{args.rows:,} vs {args.rows:,} rows x 15 features, {args.datasets} dataset(s): "
        f"tabops {ours_s:.2f} s, Evidently {theirs_s:.1f} s ({theirs_s / ours_s:.0f}x); "
        f"same verdict on {agree}/{total} columns ({agree / total:.0%})."
    )
    command = " ".join(["python benchmarks/monitor_drift.py", *sys.argv[1:]])
    machine = (
        f"`{command}` on {_cpu_model()} ({os.cpu_count()} cores shared with other jobs, load "
        f"average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end), "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}; Evidently "
        f"{_evidently_version(args.evidently_python)} in its own environment."
    )
    body = "\n".join(
        ["## Data drift vs Evidently DataDriftPreset", "", machine, "", summary, "", *lines]
    )
    print(body)
    if args.write:
        sys.path.insert(0, str(Path(__file__).parent))
        from common import write_section

        write_section("monitor-drift", body)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def _evidently_version(python: str) -> str:
    found = subprocess.run(
        [python, "-c", "import evidently; print(evidently.__version__)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return found.stdout.strip()


if __name__ == "__main__":
    main()

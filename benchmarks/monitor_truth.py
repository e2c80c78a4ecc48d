"""The monitor measured against ground truth: the fraud generator's drift calendar.

Generates a fraud stream with scheduled feature and concept drifts (``monitor_truth.yaml``
beside this script), trains and registers a champion on a drift-free period (the fraud
example's spec, few trials), writes the later period's scored rows to the prediction log with
their transaction times and all their late labels (as if the monitor ran once every label had
come), runs the monitor in daily windows, and compares with the calendar:

- **detection delay** of each scheduled feature drift, in windows from its first day (0: flagged
  on its first day), by the drifted feature's per-feature drift verdict (``drifted``); a
  ``null_column`` event is judged by its column's missing rate instead (drift tests compare the
  values present, as Evidently's do; see the table);
- **false alarms**: a drift-free window (no calendar entry active, none carried on by the
  history features) is a false alarm when any feature's verdict is ``drifted``;
- **estimated (CBPE) vs realized ROC AUC** on windows of at least 2,000 rows with no concept
  drift active.

Targets (issue 13): every feature drift detected within 2 daily windows (delay 0 or 1); false
alarms in at most 1 of 20 drift-free windows; estimated ROC AUC within 0.02 of realized.
``--write`` records the result in BENCHMARKS.md.

Usage: python benchmarks/monitor_truth.py [--customers 3000] [--trials 2] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import yaml

from tabops.context import Context
from tabops.model.frame import json_records, model_frame
from tabops.monitor.performance import Calibrator, estimated_binary, realized_binary
from tabops.monitor.reference import reference_for
from tabops.monitor.run import run_monitor
from tabops.pipeline import run_lifecycle
from tabops.registry.compiled import load_predictor
from tabops.registry.models import CHAMPION, registry_for
from tabops.serve.schema import RequestSchema
from tabops.settings import Settings
from tabops.spec import ProjectSpec, load_spec
from tabops.store.labels import upsert_labels
from tabops.store.monitoring import prediction_window, window_metrics
from tabops.store.predictions import Prediction, PredictionWriter
from tabops.synth.config import load_fraud_config
from tabops.synth.fraud import GROUND_TRUTH_COLUMNS, FraudDataset, generate_fraud

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "examples" / "fraud"
CONFIG = HERE / "monitor_truth.yaml"
#: Days the history features need before they are stationary (see monitor_truth.yaml).
WARMUP_DAYS = 40
TRAIN_DAYS = 15
#: Scenarios that change the relation between features and fraud (CBPE cannot see them).
CONCEPT = {"card_testing", "amount_inflation"}
#: Scenarios whose effect the history features (1 to 30 days back) carry past their end.
LINGERING = {"card_testing", "amount_inflation"}
#: The feature each feature-drift scenario changes, and the signal that should flag it.
FEATURE_SIGNALS = {
    "new_merchant_category": ("merchant_category", "drifted"),
    "amount_inflation": ("amount", "drifted"),
    "null_column": (None, "missing_rate"),  # the entry's own column
}
#: A missing rate counts as flagged this far above the reference's.
MISSING_RATE_JUMP = 0.05
MIN_CBPE_ROWS = 2000
TOLERANCE = 0.02


@dataclass
class Truth:
    """What the monitor found on each daily window, and the calendar it is judged against."""

    windows: list[datetime]
    rows: dict[datetime, int]
    metrics: pd.DataFrame
    calendar: list[dict[str, Any]]
    reference_missing: dict[str, float]
    events: list[dict[str, Any]] = field(default_factory=list)
    free: list[datetime] = field(default_factory=list)
    false_alarms: dict[datetime, list[str]] = field(default_factory=dict)
    cbpe: list[dict[str, Any]] = field(default_factory=list)
    pooled: dict[str, float] = field(default_factory=dict)


def split(data: FraudDataset, warmup: int, train_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training period (after the warm-up) and the monitored period after it."""
    tx = data.transactions
    day0 = pd.Timestamp(data.config.start_date)
    begin, cut = day0 + pd.Timedelta(days=warmup), day0 + pd.Timedelta(days=warmup + train_days)
    train = tx[(tx["tx_datetime"] >= begin) & (tx["tx_datetime"] < cut)]
    return train, tx[tx["tx_datetime"] >= cut]


def train_champion(folder: Path, train: pd.DataFrame, trials: int) -> tuple[ProjectSpec, Context]:
    """The fraud example's project trained on ``train`` and registered (with its reference)."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load((EXAMPLE / "tabops.yaml").read_text())
    raw.pop("decision", None)  # the model alone: the rules play no part in monitoring
    raw["source"] = {"path": "train.csv"}
    raw["train"] |= {"trials": trials, "cv_folds": 2}
    (folder / "tabops.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    train.to_csv(folder / "train.csv", index=False)
    spec = load_spec(folder)
    ctx = Context(settings=Settings(home=folder / ".tabops"))
    result = run_lifecycle(spec, ctx, force=True)
    if result.register is None:
        raise SystemExit(f"training failed: {result.to_dict()}")
    return spec, ctx


def log_predictions(
    spec: ProjectSpec, ctx: Context, later: pd.DataFrame, labels: pd.DataFrame
) -> str:
    """Score ``later`` with the champion and log each row at its transaction time, as serving
    would (request id ``tx-<id>``); store every label of those rows. The champion's version."""
    registry = registry_for(spec, ctx)
    version = registry.by_alias(CHAMPION)
    assert version is not None
    schema = RequestSchema(spec)
    predictor = load_predictor(registry, version, schema.model_columns)
    frame = later.drop(columns=list(GROUND_TRUTH_COLUMNS))
    classes = [str(c) for c in predictor.classes or []]
    scores = predictor.predict_frame(model_frame(frame, spec))[:, classes.index("1")]
    metrics, _ = registry.run_summary(version.run_id)
    threshold = float(metrics["threshold"])
    records = json_records(frame[schema.model_columns])
    times = (frame["tx_datetime"] - pd.Timestamp(0)) / pd.Timedelta(seconds=1)
    decisions = np.where(scores >= threshold, "1", "0")
    # Journal lines, as serving's journal hands them to the prediction-log writer.
    lines = [
        Prediction(f"tx-{tid}", spec.name, version.version, float(at), None, record,
                   {"label": label, "score": float(s)}, float(s), label, 0.0).encode()
        for tid, at, record, s, label in zip(frame["transaction_id"], times, records, scores,
                                             decisions, strict=True)
    ]  # fmt: skip
    writer = PredictionWriter(ctx.store)
    for start in range(0, len(lines), 50_000):
        writer.write(spec.name, [orjson.loads(line) for line in lines[start : start + 50_000]])
    mine = labels[labels["transaction_id"].isin(set(later["transaction_id"]))]
    upsert_labels(ctx.store, [
        {"project": spec.name, "request_id": f"tx-{tid}", "entity_id": None, "event_time": None,
         "label": str(int(y)), "source": "benchmark",
         "received_at": pd.Timestamp(at).tz_localize("UTC").to_pydatetime()}
        for tid, y, at in zip(mine["transaction_id"], mine["label"], mine["label_time"],
                              strict=True)
    ])  # fmt: skip
    return version.version


def measure(spec: ProjectSpec, ctx: Context, data: FraudDataset) -> Truth:
    """Run the monitor over the logged period and judge it against the calendar."""
    run_monitor(spec, ctx)
    metrics = window_metrics(ctx.store, spec.name, spec.name)
    metrics["window_start"] = pd.to_datetime(metrics["window_start"], utc=True)
    rows = metrics[metrics["metric"] == "rows"].set_index("window_start")["value"]
    version = str(metrics["model_version"].iloc[0])
    profile = reference_for(spec, ctx, version).profile
    reference_missing = {n: s.missing / max(1, s.missing + s.count)
                         for n, s in profile.features.items()}  # fmt: skip
    truth = Truth(
        windows=sorted(rows.index),
        rows={k: int(v) for k, v in rows.items()},
        metrics=metrics,
        calendar=data.calendar_records,
        reference_missing=reference_missing,
    )
    judge(truth)
    truth.pooled = pooled_cbpe(spec, ctx, version, [row["window"] for row in truth.cbpe])
    return truth


def pooled_cbpe(
    spec: ProjectSpec, ctx: Context, version: str, windows: list[datetime]
) -> dict[str, float]:
    """Where CBPE's gap comes from, over the compared windows pooled: the estimate with the
    reference's calibration (fitted on the frozen test rows), and with one refitted on these
    rows' own labels (what the estimate would be if the test rows' calibration still held)."""
    if not windows:
        return {}
    parts = [prediction_window(ctx.store, spec.name, spec.name, w, w + timedelta(days=1))
             for w in windows]  # fmt: skip
    served = pd.concat([part.served for part in parts])
    score = pd.to_numeric(served["score"]).to_numpy(dtype=float)
    truth = (served["label"] == "1").to_numpy()
    reference = reference_for(spec, ctx, version)
    calibrate = reference.calibrator()
    assert calibrate is not None and reference.threshold is not None
    refitted = Calibrator(truth, score)
    bottom = calibrate(score) == 0  # rows the test rows' calibration calls never positive
    return {
        "realized": realized_binary(truth, score, "roc_auc", reference.threshold).value,
        "estimated": estimated_binary(score, "roc_auc", reference.threshold, calibrate).value,
        "refitted": estimated_binary(score, "roc_auc", reference.threshold, refitted).value,
        "test_roc_auc": reference.test_metrics.get("roc_auc", float("nan")),
        "bottom_share": float(bottom.mean()),
        "bottom_fraud_rate": float(truth[bottom].mean()) if bottom.any() else float("nan"),
        "fraud_rate": float(truth.mean()),
    }


def _active(truth: Truth, window: datetime) -> list[dict[str, Any]]:
    end = window + timedelta(days=1)
    return [e for e in truth.calendar
            if _utc(e["start"]) < end and _utc(e["end"]) > window]  # fmt: skip


def _lingering(truth: Truth, window: datetime) -> bool:
    return any(e["scenario"] in LINGERING and _utc(e["start"]) <= window for e in truth.calendar)


def _utc(text: Any) -> datetime:
    stamp = pd.Timestamp(text)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp


def _flagged(truth: Truth, window: datetime) -> list[str]:
    m = truth.metrics
    hit = m[(m["window_start"] == window) & (m["metric"] == "drifted") & (m["value"] > 0)]
    return sorted(hit["column_name"])


def _value(truth: Truth, window: datetime, metric: str, column: str | None = None) -> Any:
    m = truth.metrics
    hit = m[(m["window_start"] == window) & (m["metric"] == metric)]
    if column is not None:
        hit = hit[hit["column_name"] == column]
    return None if hit.empty else hit.iloc[0]


def judge(truth: Truth) -> None:
    for entry in truth.calendar:
        windows = [w for w in truth.windows
                   if _utc(entry["start"]) <= w < _utc(entry["end"])]  # fmt: skip
        event: dict[str, Any] = {"entry": entry, "windows": len(windows), "delay": None}
        if entry["scenario"] in FEATURE_SIGNALS:
            column, signal = FEATURE_SIGNALS[entry["scenario"]]
            column = column or entry["params"]["column"]
            event |= {"column": column, "signal": signal}
            for delay, window in enumerate(windows):
                if _signalled(truth, window, column, signal):
                    event["delay"] = delay
                    break
        event["flagged"] = sorted({c for w in windows for c in _flagged(truth, w)})
        truth.events.append(event)
    for window in truth.windows:
        if _active(truth, window) or _lingering(truth, window):
            continue
        truth.free.append(window)
        flagged = _flagged(truth, window)
        if flagged:
            truth.false_alarms[window] = flagged
    for window in truth.windows:
        concept = any(e["scenario"] in CONCEPT for e in _active(truth, window))
        if concept or truth.rows[window] < MIN_CBPE_ROWS:
            continue
        realized = _value(truth, window, "roc_auc")
        estimated = _value(truth, window, "estimated_roc_auc")
        if realized is None or estimated is None:
            continue
        details = json.loads(realized["details"])
        truth.cbpe.append({
            "window": window, "rows": truth.rows[window], "realized": realized["value"],
            "low": details.get("low"), "high": details.get("high"),
            "estimated": estimated["value"],
            "feature_drift": [e["scenario"] for e in _active(truth, window)],
        })  # fmt: skip


def _signalled(truth: Truth, window: datetime, column: str, signal: str) -> bool:
    found = _value(truth, window, signal, column)
    if found is None:
        return False
    if signal == "missing_rate":
        return bool(found["value"] > truth.reference_missing.get(column, 0) + MISSING_RATE_JUMP)
    return bool(found["value"] > 0)


def report(truth: Truth, header: list[str]) -> tuple[str, dict[str, bool]]:
    """The markdown body and whether each target was met."""
    lines = [*header, "", "| event | days | feature | signal | delay (windows) | also flagged |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    detected = True
    for event in truth.events:
        entry = event["entry"]
        days = f"{entry['start_day']}-{entry['end_day'] - 1}"
        if "column" in event:
            delay = "not detected" if event["delay"] is None else str(event["delay"])
            detected &= event["delay"] is not None and event["delay"] <= 1
            flagged = ", ".join(event["flagged"]) or "-"
            lines.append(f"| {entry['scenario']} | {days} | {event['column']} | "
                         f"{event['signal']} | {delay} | {flagged} |")  # fmt: skip
        else:
            lines.append(f"| {entry['scenario']} (concept) | {days} | - | - | - | "
                         f"{', '.join(event['flagged']) or '-'} |")  # fmt: skip
    alarms = len(truth.false_alarms)
    lines += ["", f"False alarms: {alarms} of {len(truth.free)} drift-free windows"
              + ("" if not alarms else ": " + "; ".join(
                  f"{w:%m-%d} {', '.join(c)}" for w, c in truth.false_alarms.items()))]  # fmt: skip
    lines += ["", "| window | rows | realized ROC AUC (95% CI) | estimated | difference |",
              "|---|---|---|---|---|"]  # fmt: skip
    gaps = []
    for row in truth.cbpe:
        gap = row["estimated"] - row["realized"]
        gaps.append(abs(gap))
        note = f" ({', '.join(row['feature_drift'])})" if row["feature_drift"] else ""
        interval = f"({row['low']:.3f}-{row['high']:.3f})"
        lines.append(f"| {row['window']:%Y-%m-%d}{note} | {row['rows']:,} | "
                     f"{row['realized']:.3f} {interval} | {row['estimated']:.3f} | "
                     f"{gap:+.3f} |")  # fmt: skip
    within = sum(g <= TOLERANCE for g in gaps)
    inside = sum(r["low"] <= r["estimated"] <= r["high"] for r in truth.cbpe)
    if gaps:
        lines += ["", f"Estimated vs realized ROC AUC on {len(gaps)} windows: mean absolute "
                  f"difference {np.mean(gaps):.3f}, largest {max(gaps):.3f}; within "
                  f"{TOLERANCE} on {within} of {len(gaps)}; inside the realized value's 95% "
                  f"bootstrap interval on {inside} of {len(gaps)}."]  # fmt: skip
    pooled = truth.pooled
    if pooled:
        lines += ["", f"Pooled over those windows: realized {pooled['realized']:.3f}, estimated "
                  f"{pooled['estimated']:.3f} (the model's test ROC AUC: "
                  f"{pooled['test_roc_auc']:.3f}); with the calibration refitted on these rows' "
                  f"own labels the same estimator gives {pooled['refitted']:.3f}. The "
                  f"{pooled['bottom_share']:.0%} lowest-scored rows, which the test rows' "
                  f"calibration calls never fraudulent (no fraud among them in the test "
                  f"period), hold {pooled['bottom_fraud_rate']:.2%} frauds here (all rows: "
                  f"{pooled['fraud_rate']:.2%})."]  # fmt: skip
    met = {
        "feature drifts detected within 2 windows": detected,
        "false alarms <= 1 in 20 drift-free windows": alarms <= len(truth.free) / 20,
        f"estimated ROC AUC within {TOLERANCE} of realized": bool(gaps) and within == len(gaps),
    }
    lines += ["", "| target | met |", "|---|---|",
              *(f"| {k} | {'yes' if v else '**no**'} |" for k, v in met.items())]  # fmt: skip
    return "\n".join(lines), met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=None, help="default: the config's")
    parser.add_argument("--seed", type=int, default=None, help="default: the config's")
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="build the project here and keep it")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    load = os.getloadavg()[0]
    started = time.perf_counter()
    config = load_fraud_config(CONFIG, {"n_customers": args.customers, "seed": args.seed})
    data = generate_fraud(config)
    train, later = split(data, WARMUP_DAYS, TRAIN_DAYS)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="monitor-truth-"))
    try:
        spec, ctx = train_champion(folder, train, args.trials)
        trained = time.perf_counter()
        log_predictions(spec, ctx, later, data.labels)
        logged = time.perf_counter()
        truth = measure(spec, ctx, data)
        done = time.perf_counter()
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    command = "python benchmarks/monitor_truth.py " + " ".join(sys.argv[1:])
    header = [
        "## The monitor against the fraud generator's drift calendar",
        "",
        f"`{command.strip()}` on {_cpu_model()} ({os.cpu_count()} cores shared with other jobs, "
        f"load average {load:.1f} at the start), {datetime.now(UTC):%Y-%m-%d}: seed {config.seed}, "
        f"{config.n_customers:,} customers, {len(data.transactions):,} transactions over "
        f"{config.days} days; trained on days {WARMUP_DAYS}-{WARMUP_DAYS + TRAIN_DAYS - 1} "
        f"({len(train):,} rows), monitored {len(later):,} logged predictions in "
        f"{len(truth.windows)} daily windows (all labels in). Train {trained - started:.0f} s, "
        f"log {logged - trained:.0f} s, monitor {done - logged:.0f} s. Delay 0: flagged on the "
        "event's first day; a null_column event is flagged when its column's missing rate is "
        f"over {MISSING_RATE_JUMP:.0%} above the reference's (drift tests compare the values "
        "present).",
    ]
    body, _ = report(truth, header)
    print(body)
    if args.write:
        sys.path.insert(0, str(HERE))
        from common import write_section

        write_section("monitor-truth", body)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


if __name__ == "__main__":
    main()

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
  drift active, after the labelled reference period (the first REFERENCE_DAYS monitored days,
  ``monitor.reference``) that CBPE's calibration is fitted on, as NannyML fits it.

The realized ROC AUC is itself a measurement: a day with ~50 frauds moves it by about +-0.03
(one standard error) by chance, so a 0.02 verdict on such a window judges the noise, not the
estimate. The target is therefore judged on the windows precise enough for it: those whose
realized 95% bootstrap interval has a half-width of at most 0.02 (a perfect estimator then
lands within 0.02 about 95% of the time), among the daily windows and the 7-day blocks of the
judged days (~40,000 rows a week at 3,000 customers; ``--customers`` scales the stream). Every
window is listed, precise or not, with the estimate's bias over the daily ones, the noise
floor (the mean absolute difference a perfect estimator would show, from each day's
bootstrap interval) and the share of days the estimate falls inside the realized interval.
The blocks also show the share of frauds the model scores below 0.001, which no calibration
can tell from the legitimate rows there: where it moves, the relation between score and fraud
moves with it.

Targets (issue 13): every feature drift detected within 2 daily windows (delay 0 or 1); false
alarms in at most 1 of 20 drift-free windows; estimated ROC AUC within 0.02 of realized.
``--write`` records the result in BENCHMARKS.md.

Usage: python benchmarks/monitor_truth.py [--customers 3000] [--seed 11] [--trials 2]
[--keep DIR [--reuse]] [--write [--section monitor-truth]]
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
#: Monitored days whose logged scores and labels calibrate CBPE (before the first event).
REFERENCE_DAYS = 5
#: Days per block in the per-window comparison on larger windows.
BLOCK_DAYS = 7
#: A window's realized ROC AUC is precise enough for a TOLERANCE verdict when its 95%
#: bootstrap interval is at most this wide on either side.
PRECISE_HALF_WIDTH = 0.02
#: Frauds scored below this are out of the model's sight (the "hidden" share of a block).
LOW_SCORE = 0.001


@dataclass
class Truth:
    """What the monitor found on each daily window, and the calendar it is judged against."""

    windows: list[datetime]
    rows: dict[datetime, int]
    metrics: pd.DataFrame
    calendar: list[dict[str, Any]]
    reference_missing: dict[str, float]
    reference_end: datetime | None = None  # CBPE's labelled reference period ends here
    events: list[dict[str, Any]] = field(default_factory=list)
    free: list[datetime] = field(default_factory=list)
    false_alarms: dict[datetime, list[str]] = field(default_factory=dict)
    cbpe: list[dict[str, Any]] = field(default_factory=list)
    blocks: list[dict[str, Any]] = field(default_factory=list)
    pooled: dict[str, float] = field(default_factory=dict)


def split(data: FraudDataset, warmup: int, train_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training period (after the warm-up) and the monitored period after it."""
    tx = data.transactions
    day0 = pd.Timestamp(data.config.start_date)
    begin, cut = day0 + pd.Timedelta(days=warmup), day0 + pd.Timedelta(days=warmup + train_days)
    train = tx[(tx["tx_datetime"] >= begin) & (tx["tx_datetime"] < cut)]
    return train, tx[tx["tx_datetime"] >= cut]


def train_champion(
    folder: Path,
    train: pd.DataFrame,
    trials: int,
    reference: tuple[datetime, datetime] | None = None,
) -> tuple[ProjectSpec, Context]:
    """The fraud example's project trained on ``train`` and registered (with its reference);
    ``reference``: the labelled production period CBPE is calibrated on (``monitor.reference``)."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load((EXAMPLE / "tabops.yaml").read_text())
    raw.pop("decision", None)  # the model alone: the rules play no part in monitoring
    raw["source"] = {"path": "train.csv"}
    raw["train"] |= {"trials": trials, "cv_folds": 2}
    if reference is not None:
        raw["monitor"]["reference"] = {"start": reference[0].isoformat(),
                                       "end": reference[1].isoformat()}  # fmt: skip
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
        reference_end=None if spec.monitor.reference is None else spec.monitor.reference.end,
    )
    judge(truth)
    judged = [row["window"] for row in truth.cbpe if not row["reference"]]
    calibration = [row["window"] for row in truth.cbpe if row["reference"]]
    truth.pooled = pooled_cbpe(spec, ctx, version, judged)
    truth.blocks = blocks_cbpe(spec, ctx, version, judged, calibration)
    return truth


def _scored(
    spec: ProjectSpec, ctx: Context, windows: list[datetime]
) -> tuple[np.ndarray, np.ndarray]:
    """The logged scores of ``windows`` (daily) and whether each row is a fraud."""
    parts = [prediction_window(ctx.store, spec.name, spec.name, w, w + timedelta(days=1))
             for w in windows]  # fmt: skip
    served = pd.concat([part.served for part in parts])
    return pd.to_numeric(served["score"]).to_numpy(dtype=float), (served["label"] == "1").to_numpy()


def pooled_cbpe(
    spec: ProjectSpec, ctx: Context, version: str, windows: list[datetime]
) -> dict[str, float]:
    """Where CBPE's gap comes from, over the judged windows pooled: the estimate calibrated on
    the labelled reference period, on the frozen test rows (the default without
    ``monitor.reference``), and refitted on these rows' own labels (the best the estimator
    can do: the calibration that holds on them)."""
    if not windows:
        return {}
    score, truth = _scored(spec, ctx, windows)
    reference = reference_for(spec, ctx, version)
    without = spec.model_copy(
        update={"monitor": spec.monitor.model_copy(update={"reference": None})}
    )
    on_test_rows = reference_for(without, ctx, version).calibrator()
    calibrate = reference.calibrator()
    threshold = reference.threshold
    assert calibrate is not None and on_test_rows is not None and threshold is not None
    bottom = on_test_rows(score) == 0  # rows the test rows' calibration calls never positive
    return {
        "realized": realized_binary(truth, score, "roc_auc", threshold).value,
        "estimated": estimated_binary(score, "roc_auc", threshold, calibrate).value,
        "test_rows": estimated_binary(score, "roc_auc", threshold, on_test_rows).value,
        "refitted": estimated_binary(score, "roc_auc", threshold, Calibrator(truth, score)).value,
        "test_roc_auc": reference.test_metrics.get("roc_auc", float("nan")),
        "bottom_share": float(bottom.mean()),
        "bottom_fraud_rate": float(truth[bottom].mean()) if bottom.any() else float("nan"),
        "fraud_rate": float(truth.mean()),
    }


def blocks_cbpe(
    spec: ProjectSpec,
    ctx: Context,
    version: str,
    windows: list[datetime],
    calibration: list[datetime],
) -> list[dict[str, Any]]:
    """Estimated vs realized ROC AUC on consecutive BLOCK_DAYS-day blocks of the judged
    windows (full blocks only), by the monitor's own estimator and calibration; first the
    ``calibration`` period's windows as one block (in-sample: not judged)."""
    reference = reference_for(spec, ctx, version)
    assert reference.threshold is not None
    blocks = [windows[i : i + BLOCK_DAYS] for i in range(0, len(windows) - BLOCK_DAYS + 1,
                                                          BLOCK_DAYS)]  # fmt: skip
    found = []
    for block in [calibration, *blocks] if calibration else blocks:
        score, truth = _scored(spec, ctx, block)
        realized = realized_binary(truth, score, "roc_auc", reference.threshold)
        estimated = estimated_binary(score, "roc_auc", reference.threshold,
                                     reference.calibrator())  # fmt: skip
        found.append({"start": block[0], "end": block[-1], "rows": len(score),
                      "frauds": int(truth.sum()), "realized": realized.value,
                      "low": realized.low, "high": realized.high,
                      "estimated": estimated.value, "reference": block is calibration,
                      "hidden": float(np.mean(score[truth] < LOW_SCORE))})  # fmt: skip
    return found


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
            "reference": truth.reference_end is not None and window < truth.reference_end,
        })  # fmt: skip


def _signalled(truth: Truth, window: datetime, column: str, signal: str) -> bool:
    found = _value(truth, window, signal, column)
    if found is None:
        return False
    if signal == "missing_rate":
        return bool(found["value"] > truth.reference_missing.get(column, 0) + MISSING_RATE_JUMP)
    return bool(found["value"] > 0)


def report(truth: Truth, header: list[str]) -> tuple[str, dict[str, bool | None]]:
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
    lines += ["", "| window | rows | realized ROC AUC (95% CI) | estimated | difference | "
              f"within {TOLERANCE} | realized precise to {PRECISE_HALF_WIDTH} |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    gaps, noise, inside = [], [], 0
    precise: list[tuple[str, float]] = []  # (window, difference) of the judgeable windows
    for row in truth.cbpe:
        gap = row["estimated"] - row["realized"]
        notes = [*row["feature_drift"], *(["reference period: not judged"] if row["reference"]
                                          else [])]  # fmt: skip
        note = f" ({', '.join(notes)})" if notes else ""
        lines.append(f"| {row['window']:%Y-%m-%d}{note} | {row['rows']:,} | "
                     f"{_realized(row)} | {row['estimated']:.3f} | {gap:+.3f} | "
                     f"{_within(gap)} | {_precision(row)} |")  # fmt: skip
        if not row["reference"]:
            gaps.append(gap)
            # A perfect estimator is off by |N(0, se)| on average: se * sqrt(2 / pi).
            noise.append(_half_width(row) / 1.96 * np.sqrt(2 / np.pi))
            inside += row["low"] <= row["estimated"] <= row["high"]
            if _half_width(row) <= PRECISE_HALF_WIDTH:
                precise.append((f"{row['window']:%m-%d}", gap))
    within = sum(abs(g) <= TOLERANCE for g in gaps)
    bias = float(np.mean(gaps)) if gaps else float("nan")
    if gaps:
        lines += ["", f"Judged: {len(gaps)} daily windows after the reference period. Bias "
                  f"(mean difference) {bias:+.3f}; mean absolute difference "
                  f"{np.mean(np.abs(gaps)):.3f}, against a noise floor of {np.mean(noise):.3f} "
                  f"(what a perfect estimator would show, from each day's bootstrap interval); "
                  f"largest {max(np.abs(gaps)):.3f}; within {TOLERANCE} on {within} of "
                  f"{len(gaps)}; inside the realized value's 95% bootstrap interval on "
                  f"{inside} of {len(gaps)}; realized precise to {PRECISE_HALF_WIDTH} (95% "
                  f"half-width) on {len(precise)} of {len(gaps)}."]  # fmt: skip
    if truth.blocks:
        lines += ["", f"The same judged days in {BLOCK_DAYS}-day windows (first, the reference "
                  "period the calibration was fitted on, in-sample):", "",
                  f"| days | rows | frauds | frauds scored < {LOW_SCORE} | realized ROC AUC "
                  f"(95% CI) | estimated | difference | within {TOLERANCE} | realized precise "
                  f"to {PRECISE_HALF_WIDTH} |",
                  "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for block in truth.blocks:
            gap = block["estimated"] - block["realized"]
            days = f"{block['start']:%Y-%m-%d} to {block['end']:%m-%d}"
            if block["reference"]:
                days += " (reference period: not judged)"
            elif _half_width(block) <= PRECISE_HALF_WIDTH:
                precise.append((f"{block['start']:%m-%d} to {block['end']:%m-%d}", gap))
            lines.append(f"| {days} | {block['rows']:,} | {block['frauds']} | "
                         f"{block['hidden']:.0%} | {_realized(block)} | "
                         f"{block['estimated']:.3f} | {gap:+.3f} | {_within(gap)} | "
                         f"{_precision(block)} |")  # fmt: skip
    if truth.blocks:
        lines += ["", f"Frauds scored < {LOW_SCORE} look like legitimate rows to the model "
                  "(mostly frauds at terminals compromised less than a week before, whose risk "
                  "features do not count them yet); the calibration expects the reference "
                  "period's share of them: a week with a smaller share has a higher realized "
                  "ROC AUC than estimated, one with a larger share a lower one."]  # fmt: skip
    failing = [f"{w} ({g:+.3f})" for w, g in precise if abs(g) > TOLERANCE]
    lines += ["", f"Windows whose realized ROC AUC is precise enough for a {TOLERANCE} verdict "
              f"(95% half-width <= {PRECISE_HALF_WIDTH}): {len(precise)}; the estimate is "
              f"within {TOLERANCE} on {len(precise) - len(failing)} of them"
              + (f"; not on {', '.join(failing)}." if failing else ".")]  # fmt: skip
    pooled = truth.pooled
    if pooled:
        lines += ["", f"Pooled over the judged windows: realized {pooled['realized']:.3f}; "
                  f"estimated {pooled['estimated']:.3f} with the calibration fitted on the "
                  f"reference period, {pooled['test_rows']:.3f} with it fitted on the frozen "
                  f"test rows (the default without `monitor.reference`; the model's test ROC "
                  f"AUC: {pooled['test_roc_auc']:.3f}), {pooled['refitted']:.3f} refitted on "
                  f"these rows' own labels. The {pooled['bottom_share']:.0%} lowest-scored "
                  f"rows, which the test rows' calibration calls never fraudulent, hold "
                  f"{pooled['bottom_fraud_rate']:.2%} frauds here (all rows: "
                  f"{pooled['fraud_rate']:.2%})."]  # fmt: skip
    met: dict[str, bool | None] = {
        "feature drifts detected within 2 windows": detected,
        "false alarms <= 1 in 20 drift-free windows": alarms <= len(truth.free) / 20,
        f"estimated ROC AUC: bias within {TOLERANCE} (daily windows)": abs(bias) <= TOLERANCE,
        f"estimated ROC AUC within {TOLERANCE} of realized on every window whose realized "
        f"value is precise to {PRECISE_HALF_WIDTH} ({len(precise) - len(failing)} of "
        f"{len(precise)})": not failing if precise else None,
        f"estimated ROC AUC within {TOLERANCE} of realized on every daily window, precise or "
        f"not ({within} of {len(gaps)})": bool(gaps) and within == len(gaps),
    }
    verdicts = {True: "yes", False: "**no**", None: "not judged: no window precise enough"}
    lines += ["", "| target | met |", "|---|---|",
              *(f"| {k} | {verdicts[v]} |" for k, v in met.items())]  # fmt: skip
    return "\n".join(lines), met


def _half_width(row: dict[str, Any]) -> float:
    """Half the width of a realized value's 95% interval (infinite when it has none)."""
    if row["low"] is None or row["high"] is None:
        return float("inf")
    return float(row["high"] - row["low"]) / 2


def _realized(row: dict[str, Any]) -> str:
    if row["low"] is None or row["high"] is None:
        return f"{row['realized']:.3f} (no interval)"
    return f"{row['realized']:.3f} ({row['low']:.3f}-{row['high']:.3f})"


def _within(gap: float) -> str:
    return "yes" if abs(gap) <= TOLERANCE else "**no**"


def _precision(row: dict[str, Any]) -> str:
    width = _half_width(row)
    return f"{'yes' if width <= PRECISE_HALF_WIDTH else 'no'} (±{width:.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=None, help="default: the config's")
    parser.add_argument("--seed", type=int, default=None, help="default: the config's")
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="build the project here and keep it")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --keep: monitor the project already built there (same "
        "--seed and --customers) instead of training and logging again",
    )
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--section", default="monitor-truth",
                        help="the BENCHMARKS.md section --write replaces")  # fmt: skip
    args = parser.parse_args()
    if args.reuse and (args.keep is None or not (args.keep / "tabops.yaml").exists()):
        parser.error("--reuse needs --keep DIR holding a project built by an earlier run")

    load = os.getloadavg()[0]
    started = time.perf_counter()
    config = load_fraud_config(CONFIG, {"n_customers": args.customers, "seed": args.seed})
    data = generate_fraud(config)
    train, later = split(data, WARMUP_DAYS, TRAIN_DAYS)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="monitor-truth-"))
    try:
        first = pd.Timestamp(config.start_date, tz="UTC") + pd.Timedelta(
            days=WARMUP_DAYS + TRAIN_DAYS
        )
        period = (
            first.to_pydatetime(),
            (first + pd.Timedelta(days=REFERENCE_DAYS)).to_pydatetime(),
        )
        if args.reuse:
            spec = load_spec(folder)
            ctx = Context(settings=Settings(home=folder / ".tabops"))
            trained = logged = time.perf_counter()
        else:
            spec, ctx = train_champion(folder, train, args.trials, period)
            trained = time.perf_counter()
            log_predictions(spec, ctx, later, data.labels)
            logged = time.perf_counter()
        truth = measure(spec, ctx, data)
        done = time.perf_counter()
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    command = "python benchmarks/monitor_truth.py " + " ".join(sys.argv[1:])
    timing = (
        f"Monitor {done - logged:.0f} s (trained and logged by an earlier run)"
        if args.reuse
        else f"Train {trained - started:.0f} s, log {logged - trained:.0f} s, "
        f"monitor {done - logged:.0f} s"
    )
    header = [
        "## The monitor against the fraud generator's drift calendar",
        "",
        f"`{command.strip()}` on {_cpu_model()} ({os.cpu_count()} cores shared with other jobs, "
        f"load average {load:.1f} at the start), {datetime.now(UTC):%Y-%m-%d}: seed {config.seed}, "
        f"{config.n_customers:,} customers, {len(data.transactions):,} transactions over "
        f"{config.days} days; trained on days {WARMUP_DAYS}-{WARMUP_DAYS + TRAIN_DAYS - 1} "
        f"({len(train):,} rows), monitored {len(later):,} logged predictions in "
        f"{len(truth.windows)} daily windows (all labels in). {timing}. CBPE is calibrated on the "
        f"first {REFERENCE_DAYS} monitored days' logged scores and labels (`monitor.reference`) "
        "and judged on the later ones. Delay 0: flagged on the "
        "event's first day; a null_column event is flagged when its column's missing rate is "
        f"over {MISSING_RATE_JUMP:.0%} above the reference's (drift tests compare the values "
        "present).",
    ]
    body, _ = report(truth, header)
    print(body)
    if args.write:
        sys.path.insert(0, str(HERE))
        from common import write_section

        write_section(args.section, body)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


if __name__ == "__main__":
    main()

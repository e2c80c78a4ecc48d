"""The fraud example's month, small: a project folder with the example's spec (fewer trials),
30 days of labelled history to train the champion on, then one CSV per day of the month
(features only, as production sends them) and the late labels, released day by day into the
store's labels table as the simulated clock passes them. The drift calendar's concept drift
(``card_testing``) starts mid-month."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from tabops.context import Context
from tabops.settings import Settings
from tabops.spec import ProjectSpec, load_spec
from tabops.store.labels import upsert_labels
from tabops.synth.config import load_fraud_config
from tabops.synth.fraud import GROUND_TRUTH_COLUMNS, generate_fraud
from tabops.synth.simulate import with_warmup

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "fraud"
WARMUP_DAYS = 16  # generated for the history features, then dropped
START = date(2026, 3, 15)
TRAIN_DAYS = 14  # short: a retrain late in the month trains on days of the new pattern
MONTH_START = START + timedelta(days=TRAIN_DAYS)  # 2026-03-29
DRIFT_DAY = 8  # card testing from the month's 9th day
MONTH_DAYS = 30


@dataclass
class FraudMonth:
    folder: Path
    labels: pd.DataFrame  # transaction_id, label, label_time

    @property
    def spec(self) -> ProjectSpec:
        return load_spec(self.folder)

    @property
    def ctx(self) -> Context:
        return Context(settings=Settings(home=self.folder / ".tabops"))

    def day(self, n: int) -> date:
        return MONTH_START + timedelta(days=n)

    def release_labels(self, until: date) -> int:
        """Put every label known by the end of ``until`` into the store (an upsert by request
        id: releasing twice keeps one label per transaction)."""
        cut = pd.Timestamp(until + timedelta(days=1))
        due = self.labels[self.labels["label_time"] < cut]
        now = datetime.now(UTC)
        rows = [
            {"project": "fraud", "request_id": f"tx-{t}", "entity_id": str(t), "event_time": None,
             "label": str(int(v)), "source": "test", "received_at": now}
            for t, v in zip(due["transaction_id"], due["label"], strict=True)
        ]  # fmt: skip
        upsert_labels(self.ctx.store, rows)
        return len(rows)


def make_month(folder: Path, customers: int = 500, **orchestration: Any) -> FraudMonth:
    """Write the project: tabops.yaml, rules.yaml, data/train/transactions.csv and
    data/days/<date>.csv for every day of the month."""
    config = load_fraud_config(EXAMPLE / "synth.yaml", {
        "n_customers": customers, "days": TRAIN_DAYS + MONTH_DAYS, "seed": 7,
        "start_date": START, "maturity_days": 3,
        "drift": [{"scenario": "card_testing", "start_day": TRAIN_DAYS + DRIFT_DAY,
                   "end_day": TRAIN_DAYS + MONTH_DAYS, "cards_per_day": 25}],
    })  # fmt: skip
    data = with_warmup(config, WARMUP_DAYS, generate_fraud)
    tx = data.transactions
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE / "rules.yaml", folder / "rules.yaml")
    spec = yaml.safe_load((EXAMPLE / "tabops.yaml").read_text())
    spec["train"] |= {"trials": 1, "cv_folds": 2}  # the gate is judged, not the model
    for key, value in orchestration.items():
        spec["orchestration"][key] = value
    (folder / "tabops.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    train = tx[tx["tx_datetime"] < pd.Timestamp(MONTH_START)]
    (folder / "data" / "train").mkdir(parents=True)
    train.to_csv(folder / "data" / "train" / "transactions.csv", index=False)
    days = folder / "data" / "days"
    days.mkdir(parents=True)
    month = tx[tx["tx_datetime"] >= pd.Timestamp(MONTH_START)]
    month = month.drop(columns=list(GROUND_TRUTH_COLUMNS))
    for day, rows in month.groupby(month["tx_datetime"].dt.date):
        rows.to_csv(days / f"{day.isoformat()}.csv", index=False)
    labels = data.labels[data.labels["transaction_id"].isin(set(month["transaction_id"]))]
    return FraudMonth(folder, labels.reset_index(drop=True))

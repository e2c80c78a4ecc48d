"""The simulation's clock follows the transactions answered, never the wall clock: which labels
are released is decided by what was sent, however fast or slow the machine is."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tabops.synth.config import parse_fraud_config
from tabops.synth.fraud import FraudDataset, generate_fraud
from tabops.synth.simulate import (
    Finished,
    Pace,
    Schedule,
    SimulationStats,
    _release,
    with_warmup,
)

START = datetime(2026, 2, 1)


def dataset(gaps: list[int], delays: list[int]) -> FraudDataset:
    """Transactions ``gaps`` minutes apart, each labelled ``delays`` minutes after it."""
    times = [START + timedelta(minutes=sum(gaps[: i + 1])) for i in range(len(gaps))]
    ids = list(range(len(gaps)))
    transactions = pd.DataFrame({"transaction_id": ids, "tx_datetime": times})
    labels = pd.DataFrame({
        "transaction_id": ids,
        "label_time": [t + timedelta(minutes=d) for t, d in zip(times, delays, strict=True)],
        "label": [i % 2 for i in ids],
    })  # fmt: skip
    return cast(FraudDataset, SimpleNamespace(transactions=transactions, labels=labels))


class Client:
    """Records the labels posted to /feedback; knows every id."""

    def __init__(self) -> None:
        self.labels: list[str] = []

    async def post(self, path: str, json: dict[str, Any]) -> Any:
        assert path == "/feedback"
        self.labels += [item["request_id"] for item in json["labels"]]
        return SimpleNamespace(status_code=200, json=lambda: {"unknown_request_ids": []})


CASES = st.integers(1, 30).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 600), min_size=n, max_size=n),
        st.lists(st.integers(0, 3000), min_size=n, max_size=n),
        st.integers(0, n),
        st.sampled_from([None, 0.5, 60.0]),
    )
)


@settings(max_examples=40)
@given(CASES)
def test_labels_released_are_those_due_by_the_last_answered_transaction(
    case: tuple[list[int], list[int], int, float | None],
) -> None:
    gaps, delays, done, day_seconds = case
    data = dataset(gaps, delays)
    schedule = Schedule(data, Pace(day_seconds=day_seconds))
    client, stats = Client(), SimulationStats(labels_pending=len(gaps))  # as simulate_http
    asyncio.run(_release(client, schedule, stats, 0, done, final=True))
    now = schedule.times[done - 1] if done else schedule.start
    due = data.labels[data.labels["label_time"].to_numpy(dtype="datetime64[us]") <= now]
    assert sorted(client.labels) == sorted(f"tx-{i}" for i in due["transaction_id"])
    assert stats.labels_released == len(due)
    assert stats.labels_pending == len(gaps) - len(due)


@given(st.permutations(list(range(12))), st.integers(0, 12))
def test_the_clock_counts_only_transactions_answered_with_all_earlier_ones(
    order: list[int], answered: int
) -> None:
    finished = Finished(len(order))
    for position in order[:answered]:
        finished.add(position)
    done = set(order[:answered])
    expected = next((i for i in range(len(order)) if i not in done), len(order))
    assert finished.prefix == expected


def test_after_the_last_transaction_the_clock_runs_at_the_day_seconds_pace() -> None:
    schedule = Schedule(dataset([0, 10], [0, 0]), Pace(day_seconds=2.0))
    assert schedule.clock(2) == np.datetime64(START + timedelta(minutes=10))
    assert schedule.clock(2, after=1.0) == np.datetime64(START + timedelta(hours=12, minutes=10))
    assert Schedule(dataset([0], [0]), Pace()).clock(1, after=5.0) == np.datetime64(START)


def test_warmup_days_are_generated_but_not_sent_and_the_calendar_keeps_its_days() -> None:
    config = parse_fraud_config({
        "n_customers": 200, "days": 4, "start_date": "2026-04-01", "history_features": True,
        "drift": [{"scenario": "null_column", "start_day": 2, "end_day": 3, "column": "amount"}],
    })  # fmt: skip
    cold = generate_fraud(config)
    warm = with_warmup(config, 10, generate_fraud)
    tx = warm.transactions
    assert tx["tx_datetime"].min() >= pd.Timestamp("2026-04-01")
    assert tx["tx_datetime"].max() < pd.Timestamp("2026-04-05")
    assert set(warm.labels["transaction_id"]) == set(tx["transaction_id"])
    emptied = tx.loc[tx["amount"].isna(), "tx_datetime"].dt.normalize().unique()
    assert list(emptied) == [pd.Timestamp("2026-04-03")]  # day 2, counted from the start date
    first_day = tx["tx_datetime"] < pd.Timestamp("2026-04-02")
    cold_first = cold.transactions["tx_datetime"] < pd.Timestamp("2026-04-02")
    # Warm: a customer's 7-day count on the first day includes the days before it.
    warm_mean = tx.loc[first_day, "customer_nb_tx_7d"].mean()
    assert warm_mean > 2 * cold.transactions.loc[cold_first, "customer_nb_tx_7d"].mean()

"""``generate_fraud``: a synthetic card-transaction stream with fraud, late labels and drift.

Modelled on the transaction simulator of the Fraud Detection Handbook (Le Borgne et al.,
"Reproducible Machine Learning for Credit Card Fraud Detection - Practical Handbook",
chapter 3): each customer makes Poisson(mean per day) transactions a day, at a time drawn
around midday, for an amount drawn from its own normal distribution, at a terminal within
reach. Three fraud scenarios label the transactions:

1. ``amount``: every amount above the threshold (220) is a fraud;
2. ``compromised_terminals``: terminals compromised each day stay so for 28 days, and all
   their transactions are frauds;
3. ``compromised_customers``: customers whose credentials leak each day stay so for 14 days;
   a third of their transactions are frauds, with amounts multiplied by 5.

A later scenario wins where they overlap (as in the handbook). Around that, tabops adds the
original monitor's attributes (names, card numbers, card type, merchant, category,
transaction type, card-present and blacklisted flags), late labels (:mod:`.labels`) and a
drift calendar (:mod:`.drift`). Everything is vectorised; Faker only builds small pools.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tabops.progress import SILENT, Progress
from tabops.synth.config import (
    CARD_TYPES,
    MERCHANT_CATEGORIES,
    TRANSACTION_TYPES,
    FraudConfig,
)
from tabops.synth.drift import apply_drift, calendar_frame, calendar_records, card_testing_rows
from tabops.synth.features import add_history_features
from tabops.synth.labels import late_labels
from tabops.synth.pools import build_pools
from tabops.synth.profiles import Profiles, build_profiles
from tabops.synth.rows import (
    AMOUNT,
    COMPROMISED_CUSTOMER,
    COMPROMISED_TERMINAL,
    FRAUD_SCENARIOS,
    LEGIT,
    S_CUSTOMER_FRAUD,
    S_CUSTOMERS,
    S_LABELS,
    S_TERMINAL_FRAUD,
    S_TERMINALS,
    S_TRANSACTIONS,
    SECONDS_PER_DAY,
    Columns,
    Rows,
    categorical,
    stream,
)

log = logging.getLogger(__name__)

#: Transaction time of day: normal around midday, as in the handbook (seconds).
_TIME_MEAN, _TIME_STD = SECONDS_PER_DAY / 2, 20_000.0

#: The ground truth in the transactions table; a model must not see these as features.
GROUND_TRUTH_COLUMNS = ("is_fraud", "fraud_scenario")


@dataclass
class FraudDataset:
    """What :func:`generate_fraud` produced.

    Attributes:
        config: The config it was generated from.
        transactions: One row per transaction, in time order (ids follow that order).
        labels: Late label events: transaction_id, label (1 fraud, 0 legit), label_time.
        calendar: The drift calendar as applied (ground truth), one row per entry.
        calendar_records: The same calendar as JSON-ready dicts (``params`` as a mapping).
        customers: The customer profile table.
        terminals: The terminal profile table.
        seconds: Generation time (everything but writing).
    """

    config: FraudConfig
    transactions: pd.DataFrame
    labels: pd.DataFrame
    calendar: pd.DataFrame
    calendar_records: list[dict[str, Any]]
    customers: pd.DataFrame
    terminals: pd.DataFrame
    seconds: float

    @property
    def fraud_rate(self) -> float:
        """Fraction of the transactions that are frauds."""
        return float(self.transactions["is_fraud"].mean()) if len(self.transactions) else 0.0

    def summary(self) -> dict[str, Any]:
        """Counts and rates for a report (JSON-ready)."""
        tx = self.transactions
        by_scenario = tx["fraud_scenario"].value_counts()
        first = self.config.start_date
        return {
            "seed": self.config.seed,
            "start_date": first.isoformat(),
            "days": self.config.days,
            "customers": self.config.n_customers,
            "terminals": self.config.terminals,
            "transactions": len(tx),
            "frauds": int(tx["is_fraud"].sum()),
            "fraud_rate": self.fraud_rate,
            "frauds_by_scenario": {
                name: int(by_scenario.get(code, 0))
                for code, name in FRAUD_SCENARIOS.items()
                if code != LEGIT
            },
            "label_events": len(self.labels),
            "last_label_time": (
                str(self.labels["label_time"].iloc[-1]) if len(self.labels) else None
            ),
            "drift": self.calendar_records,
            "seconds": self.seconds,
            "transactions_per_second": len(tx) / self.seconds if self.seconds > 0 else None,
        }


def generate_fraud(config: FraudConfig, progress: Progress = SILENT) -> FraudDataset:
    """Generate transactions, late labels and the applied drift calendar for ``config``.

    The same config (seed included) gives identical frames.

    Args:
        config: What to generate.
        progress: Reports each step.
    """
    started = time.perf_counter()
    seed = config.seed
    with progress.step(
        f"Building {config.n_customers:,} customers and {config.terminals:,} terminals"
    ):
        pools = build_pools(seed, CARD_TYPES)
        profiles = build_profiles(
            config, pools, stream(seed, S_CUSTOMERS), stream(seed, S_TERMINALS)
        )
    with progress.step(f"Simulating {config.days:,} days of transactions"):
        rows = simulate_transactions(config, profiles, stream(seed, S_TRANSACTIONS))
    with progress.step("Applying the fraud scenarios and the drift calendar"):
        add_frauds(config, rows, profiles.n_terminals)
        extra = card_testing_rows(config, profiles.n_customers, profiles.n_terminals)
        rows = Rows.concat([rows, *extra.values()])
        rows = rows.take(np.argsort(rows.time_keys(), kind="stable"))
        columns = Columns(
            amount=rows.amount.copy(),
            category=profiles.category[rows.terminal],
            categories=list(MERCHANT_CATEGORIES),
            nulls={},
        )
        touched = apply_drift(config, rows, columns, {i: len(r) for i, r in extra.items()})
        records = calendar_records(config, touched)
        transactions = _frame(config, rows, columns, profiles)
    if config.history_features:
        with progress.step("Computing history features (customer spending, terminal risk)"):
            transactions = add_history_features(transactions, config.history_delay_days)
    with progress.step("Emitting late labels"):
        labels = late_labels(
            config,
            transactions["transaction_id"].to_numpy(),
            transactions["tx_datetime"].to_numpy(),
            transactions["is_fraud"].to_numpy(),
            stream(seed, S_LABELS),
        )
    dataset = FraudDataset(
        config=config,
        transactions=transactions,
        labels=labels,
        calendar=calendar_frame(records),
        calendar_records=records,
        customers=profiles.customers_frame(),
        terminals=profiles.terminals_frame(),
        seconds=0.0,
    )
    dataset.seconds = time.perf_counter() - started
    log.debug("generated %d transactions in %.2f s", len(transactions), dataset.seconds)
    return dataset


def simulate_transactions(
    config: FraudConfig, profiles: Profiles, rng: np.random.Generator
) -> Rows:
    """Legitimate transactions: Poisson counts per customer and day, times, amounts, terminals."""
    n = profiles.n_customers
    counts = rng.poisson(profiles.tx_per_day, size=(config.days, n)).ravel()
    customer = np.repeat(np.tile(np.arange(n, dtype=np.int64), config.days), counts)
    day = np.repeat(np.arange(config.days, dtype=np.int64), n)
    day = np.repeat(day, counts)
    second = rng.normal(_TIME_MEAN, _TIME_STD, len(customer))
    kept = (second > 0) & (second < SECONDS_PER_DAY)  # the handbook drops the others
    customer, day, second = customer[kept], day[kept], second[kept].astype(np.int64)
    size = len(customer)

    mean = profiles.mean_amount[customer]
    amount = rng.normal(mean, profiles.std_amount[customer])
    negative = np.flatnonzero(amount < 0)
    amount[negative] = rng.uniform(0.0, 2.0 * mean[negative])
    amount = np.round(amount, 2)

    available = np.diff(profiles.offsets)[customer]
    pick = (rng.random(size) * available).astype(np.int64)
    terminal = profiles.reachable[profiles.offsets[customer] + pick]

    settings = config.transactions
    weights = np.array([settings.types.get(t, 0.0) for t in TRANSACTION_TYPES])
    tx_type = rng.choice(len(weights), size=size, p=weights / weights.sum()).astype(np.int8)
    card_present = rng.random(size) < settings.card_present_rate
    return Rows(
        customer=customer,
        terminal=terminal,
        day=day,
        second=second,
        amount=amount,
        tx_type=tx_type,
        card_present=card_present,
        scenario=np.zeros(size, dtype=np.int8),
    )


def add_frauds(config: FraudConfig, rows: Rows, n_terminals: int) -> None:
    """Label ``rows`` with the handbook's three scenarios, in place (later ones win)."""
    scenarios = config.scenarios
    if scenarios.amount.enabled:
        rows.scenario[rows.amount > scenarios.amount.threshold] = AMOUNT

    terminals = scenarios.compromised_terminals
    if terminals.enabled:
        rng = stream(config.seed, S_TERMINAL_FRAUD)
        hit = _compromised(rows.terminal, rows.day, n_terminals, config.days,
                           terminals.daily_rate, terminals.duration_days, rng)  # fmt: skip
        rows.scenario[hit] = COMPROMISED_TERMINAL

    customers = scenarios.compromised_customers
    if customers.enabled:
        rng = stream(config.seed, S_CUSTOMER_FRAUD)
        exposed = _compromised(rows.customer, rows.day, config.n_customers, config.days,
                               customers.daily_rate, customers.duration_days, rng)  # fmt: skip
        exposed = np.flatnonzero(exposed)
        hit = exposed[rng.random(len(exposed)) < customers.fraud_fraction]
        rows.scenario[hit] = COMPROMISED_CUSTOMER
        rows.amount[hit] = np.round(rows.amount[hit] * customers.amount_multiplier, 2)
        rows.card_present[hit] = rng.random(len(hit)) < customers.card_present_rate


def _compromised(
    entity: np.ndarray,
    day: np.ndarray,
    population: int,
    days: int,
    daily_rate: float,
    duration: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Mask of the rows whose entity (terminal or customer) is compromised on the row's day.

    Each day, Poisson(daily_rate x population) entities are compromised for ``duration``
    days from that day on (the handbook: a fixed 2 terminals or 3 customers a day).
    """
    per_day = rng.poisson(daily_rate * population, days)
    start = np.repeat(np.arange(days, dtype=np.int64), per_day)
    victim = rng.integers(0, population, len(start)).astype(np.int64)
    lengths = np.minimum(duration, days - start)
    victim = np.repeat(victim, lengths)
    ends = np.cumsum(lengths)
    covered = np.repeat(start - (ends - lengths), lengths) + np.arange(int(lengths.sum()))
    keys = np.unique(victim * days + covered)
    if not len(keys):
        return np.zeros(len(entity), dtype=bool)
    row_keys = entity * days + day
    position = np.minimum(np.searchsorted(keys, row_keys), len(keys) - 1)
    hit: np.ndarray = keys[position] == row_keys
    return hit


def _frame(config: FraudConfig, rows: Rows, columns: Columns, profiles: Profiles) -> pd.DataFrame:
    """The transactions table from time-ordered rows (nulls from the drift calendar applied)."""
    size = len(rows)
    start = np.datetime64(config.start_date, "us")
    tx_time = start + (rows.time_keys() * 1_000_000).astype("timedelta64[us]")
    nulls = columns.nulls

    def text(name: str, codes: np.ndarray, categories: Sequence[str]) -> pd.Categorical:
        if name in nulls:
            codes = np.where(nulls[name], -1, codes)
        return categorical(codes, categories)

    def flag(name: str, values: np.ndarray) -> pd.arrays.BooleanArray:
        mask = nulls.get(name, np.zeros(size, dtype=bool))
        return pd.arrays.BooleanArray(values, mask)

    amount = columns.amount
    if "amount" in nulls:
        amount = np.where(nulls["amount"], np.nan, amount)
    customer = rows.customer
    card_numbers = profiles.card_numbers
    return pd.DataFrame(
        {
            "transaction_id": np.arange(size, dtype=np.int64),
            "tx_datetime": tx_time,
            "customer_id": customer,
            "customer_name": text("customer_name", profiles.name[customer], profiles.names),
            "card_number": categorical(customer, card_numbers),
            "card_type": text("card_type", profiles.card_type[customer], list(CARD_TYPES)),
            "account_blacklisted": flag("account_blacklisted", profiles.blacklisted[customer]),
            "terminal_id": rows.terminal,
            "merchant_name": text(
                "merchant_name", profiles.merchant[rows.terminal], profiles.merchants
            ),
            "merchant_category": text("merchant_category", columns.category, columns.categories),
            "transaction_type": text("transaction_type", rows.tx_type, list(TRANSACTION_TYPES)),
            "card_present": flag("card_present", rows.card_present),
            "amount": amount,
            "is_fraud": (rows.scenario != LEGIT).astype(np.int8),
            "fraud_scenario": rows.scenario,
        }
    )

"""The drift calendar: scripted changes with a known window, applied and recorded as truth.

Each entry applies on days ``start_day`` (inclusive) to ``end_day`` (exclusive, clipped to the
simulated period):

* ``card_testing`` adds bursts of small card-not-present transactions on a few terminals,
  all fraudulent (``fraud_scenario`` 4);
* ``amount_inflation`` multiplies every amount (after fraud labelling: prices move, fraud
  patterns do not, so a model trained before sees more large legitimate amounts);
* ``new_merchant_category`` moves a fraction of the terminals to a category never seen before;
* ``null_column`` empties a column on a fraction of the rows.

:func:`calendar_frame` returns the calendar as it was applied: the window, the parameters and
how many rows each entry touched.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from tabops.synth.config import (
    TRANSACTION_TYPES,
    AmountInflation,
    CardTesting,
    FraudConfig,
    NewMerchantCategory,
    NullColumn,
)
from tabops.synth.rows import (
    CARD_TESTING,
    S_CARD_TESTING,
    S_DRIFT,
    SECONDS_PER_DAY,
    Columns,
    Rows,
    stream,
)

#: Mean seconds between two attempts on the same card in a card-testing burst.
_ATTEMPT_GAP_SECONDS = 30.0


def card_testing_rows(config: FraudConfig, n_customers: int, n_terminals: int) -> dict[int, Rows]:
    """The extra transactions of every ``card_testing`` entry, by the entry's index."""
    return {
        index: _card_testing(entry, config.days, n_customers, n_terminals,
                             stream(config.seed, S_CARD_TESTING, index))
        for index, entry in enumerate(config.drift)
        if isinstance(entry, CardTesting)
    }  # fmt: skip


def _card_testing(
    entry: CardTesting, days: int, n_customers: int, n_terminals: int, rng: np.random.Generator
) -> Rows:
    end = min(entry.end_day, days)
    day = np.repeat(np.arange(entry.start_day, end, dtype=np.int64), entry.cards_per_day)
    cards, attempts = len(day), entry.transactions_per_card
    customer = rng.integers(0, n_customers, cards)
    used = rng.choice(n_terminals, size=min(entry.terminals, n_terminals), replace=False)
    terminal = used[rng.integers(0, len(used), cards)]
    gaps = rng.exponential(_ATTEMPT_GAP_SECONDS, (cards, attempts))
    gaps[:, 0] = 0.0
    offsets = np.cumsum(gaps, axis=1)
    latest_start = np.maximum(SECONDS_PER_DAY - 1 - offsets[:, -1], 0.0)
    start = rng.uniform(0.0, 1.0, cards) * latest_start
    second = np.minimum(start[:, None] + offsets, SECONDS_PER_DAY - 1).astype(np.int64)
    amount = np.round(rng.uniform(entry.min_amount, entry.max_amount, cards * attempts), 2)
    size = cards * attempts
    return Rows(
        customer=np.repeat(customer, attempts).astype(np.int64),
        terminal=np.repeat(terminal, attempts).astype(np.int64),
        day=np.repeat(day, attempts),
        second=second.ravel(),
        amount=np.maximum(amount, 0.01),
        tx_type=np.full(size, TRANSACTION_TYPES.index("real-time"), dtype=np.int8),
        card_present=np.zeros(size, dtype=bool),
        scenario=np.full(size, CARD_TESTING, dtype=np.int8),
    )


def apply_drift(
    config: FraudConfig, rows: Rows, columns: Columns, added: dict[int, int]
) -> list[int]:
    """Apply every non-additive entry to ``columns`` in calendar order, in place.

    Args:
        config: The config holding the calendar.
        rows: All transactions, in time order.
        columns: The values the calendar changes.
        added: Rows added by each card-testing entry, by the entry's index.

    Returns:
        The number of rows each entry touched (card testing: the rows it added).
    """
    touched: list[int] = []
    for index, entry in enumerate(config.drift):
        window = rows.in_window(entry.start_day, min(entry.end_day, config.days))
        rng = stream(config.seed, S_DRIFT, index)
        if isinstance(entry, CardTesting):
            touched.append(added[index])
        elif isinstance(entry, AmountInflation):
            columns.amount[window] = np.round(columns.amount[window] * entry.multiplier, 2)
            touched.append(int(window.sum()))
        elif isinstance(entry, NewMerchantCategory):
            switched = rng.random(config.terminals) < entry.terminal_fraction
            if entry.category not in columns.categories:
                columns.categories.append(entry.category)
            affected = window & switched[rows.terminal]
            columns.category[affected] = columns.categories.index(entry.category)
            touched.append(int(affected.sum()))
        elif isinstance(entry, NullColumn):
            affected = window & (rng.random(len(rows)) < entry.fraction)
            previous = columns.nulls.get(entry.column)
            columns.nulls[entry.column] = affected if previous is None else previous | affected
            touched.append(int(affected.sum()))
    return touched


def calendar_records(config: FraudConfig, touched: list[int]) -> list[dict[str, Any]]:
    """The calendar as applied: scenario, window (days and dates), params, rows touched."""
    records = []
    for entry, rows in zip(config.drift, touched, strict=True):
        end_day = min(entry.end_day, config.days)
        records.append(
            {
                "scenario": entry.scenario,
                "start_day": entry.start_day,
                "end_day": end_day,
                "start": _day(config.start_date, entry.start_day).isoformat(),
                "end": _day(config.start_date, end_day).isoformat(),
                "params": entry.params(),
                "rows": rows,
            }
        )
    return records


def calendar_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The calendar records as a table (``params`` as a JSON object in text)."""
    frame = pd.DataFrame(
        {
            "scenario": pd.Series([r["scenario"] for r in records], dtype=object),
            "start_day": pd.Series([r["start_day"] for r in records], dtype=np.int64),
            "end_day": pd.Series([r["end_day"] for r in records], dtype=np.int64),
            "start": pd.Series(
                [np.datetime64(r["start"], "us") for r in records], dtype="datetime64[us]"
            ),
            "end": pd.Series(
                [np.datetime64(r["end"], "us") for r in records], dtype="datetime64[us]"
            ),
            "params": pd.Series(
                [json.dumps(r["params"], sort_keys=True) for r in records], dtype=object
            ),
            "rows": pd.Series([r["rows"] for r in records], dtype=np.int64),
        }
    )
    return frame


def _day(start: date, offset: int) -> date:
    return start + timedelta(days=offset)

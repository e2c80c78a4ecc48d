"""The generator's working set: one numpy array per transaction attribute, before sorting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import cast

import numpy as np
import pandas as pd

SECONDS_PER_DAY = 86_400

#: ``fraud_scenario`` codes; 0 is a legitimate transaction.
LEGIT, AMOUNT, COMPROMISED_TERMINAL, COMPROMISED_CUSTOMER, CARD_TESTING = range(5)
FRAUD_SCENARIOS: dict[int, str] = {
    LEGIT: "legit",
    AMOUNT: "amount",
    COMPROMISED_TERMINAL: "compromised_terminals",
    COMPROMISED_CUSTOMER: "compromised_customers",
    CARD_TESTING: "card_testing",
}


@dataclass
class Rows:
    """Transactions as parallel arrays (row order is not time order until sorted)."""

    customer: np.ndarray  # int64
    terminal: np.ndarray  # int64
    day: np.ndarray  # int64, 0 = the start date
    second: np.ndarray  # int64, second of the day
    amount: np.ndarray  # float64
    tx_type: np.ndarray  # int8, index into TRANSACTION_TYPES
    card_present: np.ndarray  # bool
    scenario: np.ndarray  # int8, a FRAUD_SCENARIOS code

    def __len__(self) -> int:
        return len(self.customer)

    @staticmethod
    def concat(parts: list[Rows]) -> Rows:
        """All ``parts`` one after another."""
        return Rows(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Rows)))

    def take(self, index: np.ndarray) -> Rows:
        """The rows at ``index`` (positions or a boolean mask), in that order."""
        return Rows(*(getattr(self, f.name)[index] for f in fields(Rows)))

    def time_keys(self) -> np.ndarray:
        """Seconds since the start of the first day."""
        keys: np.ndarray = self.day * SECONDS_PER_DAY + self.second
        return keys

    def in_window(self, start_day: int, end_day: int) -> np.ndarray:
        """Mask of the rows on days ``start_day`` (inclusive) to ``end_day`` (exclusive)."""
        return (self.day >= start_day) & (self.day < end_day)


def stream(seed: int, *key: int) -> np.random.Generator:
    """An independent random stream for one part of the generator.

    Each part (customers, terminals, transactions, each fraud scenario, each drift entry,
    labels) draws from its own stream, so switching one part on or off, or adding a drift
    entry, leaves every other part's draws unchanged.
    """
    return np.random.default_rng([seed, *key])


#: Stream keys (the first number after the seed).
S_CUSTOMERS, S_TERMINALS, S_TRANSACTIONS, S_TERMINAL_FRAUD, S_CUSTOMER_FRAUD = range(5)
S_DRIFT, S_CARD_TESTING, S_LABELS = range(5, 8)


@dataclass
class Columns:
    """Per-row values that the drift calendar may change, after rows are in time order."""

    amount: np.ndarray
    category: np.ndarray  # code into ``categories``
    categories: list[str]
    nulls: dict[str, np.ndarray]  # column -> mask of rows that arrive empty


def categorical(codes: np.ndarray, categories: Sequence[str] | np.ndarray) -> pd.Categorical:
    """A categorical column from integer codes (-1 is missing) without copying strings."""
    return pd.Categorical.from_codes(cast("Sequence[int]", codes), pd.Index(categories))

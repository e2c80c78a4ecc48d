"""History features of the Fraud Detection Handbook: what a model can know about a transaction
from the ones before it (the raw columns alone barely separate compromised terminals and leaked
credentials from normal spending).

Per transaction, over the windows 1, 7 and 30 days:

- the customer's number of transactions and mean amount, this one included;
- the terminal's number of transactions and fraud rate, in the window ending ``delay_days``
  before this transaction (frauds become known late, so the recent past is not usable);

and whether it happened at the weekend or at night. All windows look only backwards, so the
features are the same whether computed in a batch or as the stream goes. Computed with sorted
keys, ``searchsorted`` and cumulative sums: no Python loop per row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WINDOWS_DAYS = (1, 7, 30)
_DAY = 86_400
_SHIFT = 34  # bits for seconds since the first transaction (about 540 years)


def history_feature_names() -> list[str]:
    names = ["tx_during_weekend", "tx_during_night"]
    for days in WINDOWS_DAYS:
        names += [f"customer_nb_tx_{days}d", f"customer_avg_amount_{days}d"]
    for days in WINDOWS_DAYS:
        names += [f"terminal_nb_tx_{days}d", f"terminal_risk_{days}d"]
    return names


def add_history_features(transactions: pd.DataFrame, delay_days: int = 7) -> pd.DataFrame:
    """``transactions`` (time-ordered) with the history features appended."""
    stamps = transactions["tx_datetime"]
    seconds = ((stamps - stamps.min()).dt.total_seconds()).to_numpy(np.int64)
    # Whole cents: integer sums are exact, so a row's features never depend on other rows'
    # values through floating-point rounding.
    cents = np.rint(np.nan_to_num(transactions["amount"].to_numpy(np.float64)) * 100)
    amount = cents.astype(np.int64)
    fraud = transactions["is_fraud"].to_numpy(np.int64)
    columns: dict[str, np.ndarray] = {
        "tx_during_weekend": (stamps.dt.dayofweek >= 5).to_numpy(np.int8),
        "tx_during_night": (stamps.dt.hour < 6).to_numpy(np.int8),
    }
    customer = _Windows(transactions["customer_id"].to_numpy(np.int64), seconds)
    for days in WINDOWS_DAYS:
        count, total = customer.sums(amount, days * _DAY, 0)
        columns[f"customer_nb_tx_{days}d"] = count
        columns[f"customer_avg_amount_{days}d"] = np.round(total / np.maximum(count, 1)) / 100
    terminal = _Windows(transactions["terminal_id"].to_numpy(np.int64), seconds)
    for days in WINDOWS_DAYS:
        count, frauds = terminal.sums(fraud, days * _DAY, delay_days * _DAY)
        columns[f"terminal_nb_tx_{days}d"] = count
        columns[f"terminal_risk_{days}d"] = np.round(frauds / np.maximum(count, 1), 4)
    return transactions.assign(**columns)


class _Windows:
    """Backward time windows per entity over (entity, time) keys sorted once."""

    def __init__(self, entity: np.ndarray, seconds: np.ndarray) -> None:
        self.order = np.lexsort((np.arange(len(seconds)), seconds, entity))
        self.entity, self.seconds = entity, seconds
        self.keys = (entity[self.order] << _SHIFT) | seconds[self.order]

    def sums(self, values: np.ndarray, span: int, lag: int) -> tuple[np.ndarray, np.ndarray]:
        """Per row: the count and sum of ``values`` over the entity's rows with times in
        (t - lag - span, t - lag] (with ``lag`` 0 the row itself counts)."""
        base = self.entity << _SHIFT
        end, begin = self.seconds - lag, self.seconds - lag - span
        if lag == 0:  # up to the row itself (rows at the same second before it count too)
            hi = np.empty(len(self.order), dtype=np.int64)
            hi[self.order] = np.arange(1, len(self.order) + 1)
        else:
            hi = np.searchsorted(self.keys, base | end.clip(min=0), side="right")
        lo = np.where(
            begin < 0,
            np.searchsorted(self.keys, base, side="left"),  # the window starts before the data
            np.searchsorted(self.keys, base | begin.clip(min=0), side="right"),
        )
        cumulative = np.concatenate([[0], np.cumsum(values[self.order])])
        empty = end < 0  # the window ends before the data starts
        count = np.where(empty, 0, hi - lo)
        total = np.where(empty, 0, cumulative[hi] - cumulative[lo])
        return count, total

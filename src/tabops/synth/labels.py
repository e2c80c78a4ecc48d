"""Late labels: when the truth about each transaction becomes known.

A fraud is known when its chargeback arrives, ``label_delay`` days after the transaction (a
draw from the configured distribution); a legitimate transaction is confirmed once it has
matured, ``maturity_days`` after it happened. Labels are events of their own, in the order
they become known: ``transaction_id``, ``label`` (1 fraud, 0 legitimate, as ``is_fraud``) and
``label_time``. Events may fall after the simulated period: they are kept, for a simulation to
release when its clock gets there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tabops.synth.config import FraudConfig

_SECONDS_PER_DAY = 86_400


def late_labels(
    config: FraudConfig,
    transaction_id: np.ndarray,
    tx_time: np.ndarray,
    is_fraud: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """One label event per transaction, sorted by ``label_time``.

    Args:
        config: The label delay distribution and the maturity period.
        transaction_id: The transactions' ids.
        tx_time: When each happened (``datetime64[us]``).
        is_fraud: 1 for a fraud, 0 otherwise.
        rng: The labels' random stream (one draw per fraud, in transaction order).
    """
    fraud = np.flatnonzero(is_fraud)
    delay_days = np.full(len(transaction_id), float(config.maturity_days))
    delay_days[fraud] = config.label_delay.sample(rng, len(fraud))
    delay = np.round(delay_days * _SECONDS_PER_DAY).astype("timedelta64[s]")  # whole seconds
    label_time = tx_time.astype("datetime64[us]") + delay
    order = np.argsort(label_time, kind="stable")
    return pd.DataFrame(
        {
            "transaction_id": transaction_id[order],
            "label": is_fraud[order].astype(np.int8),
            "label_time": label_time[order],
        }
    )

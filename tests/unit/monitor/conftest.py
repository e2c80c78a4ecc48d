"""A mixed-type project and a generator of its rows with controllable shifts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tabops.spec import ProjectSpec, parse_spec

COLORS = ("red", "blue", "green", "black")


@pytest.fixture(scope="session")
def spec() -> ProjectSpec:
    columns: dict[str, Any] = {
        "id": {"type": "integer", "role": "id"},
        "amount": {"type": "numeric"},
        "items": {"type": "integer"},
        "color": {"type": "categorical"},
        "flag": {"type": "boolean"},
        "opened": {"type": "datetime"},
        "note": {"type": "text"},
        "label": {"type": "categorical", "role": "target"},
    }
    return parse_spec(
        {
            "name": "mixed",
            "task": "classification",
            "target": "label",
            "positive_class": "yes",
            "source": {"path": "unused.csv"},
            "columns": columns,
        }
    )


def make_rows(
    rows: int,
    seed: int,
    *,
    shift: float = 0.0,
    colors: tuple[float, ...] = (0.4, 0.3, 0.2, 0.1),
    flag_rate: float = 0.3,
) -> pd.DataFrame:
    """Rows of the mixed project: ``shift`` moves amount's mean by that many standard
    deviations, ``colors`` and ``flag_rate`` set the category mix; some amounts are missing."""
    rng = np.random.default_rng(seed)
    amount = rng.normal(100 + 20 * shift, 20, size=rows)
    amount[rng.random(rows) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "id": np.arange(rows),
            "amount": amount,
            "items": rng.poisson(3, size=rows) + 1,
            "color": rng.choice(COLORS, p=colors, size=rows),
            "flag": rng.random(rows) < flag_rate,
            "opened": pd.Timestamp("2026-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 86_400 * 30, size=rows), unit="s"),
            "note": ["free text"] * rows,
            "label": np.where(rng.random(rows) < 0.2, "yes", "no"),
        }
    )

"""Generated data and conditions shared by the rules tests (no tabops logic here)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from tabops.rules.expr import render_literal

#: Columns of :func:`random_frame`, one per storage kind the evaluators must handle.
FIELDS = [
    "amount",  # float64 with NaN and infinities
    "count",  # nullable Int64
    "account_blacklisted",  # object booleans with None
    "card_present",  # numpy bool
    "transaction_type",  # object strings with None
    "merchant_category",  # pandas Categorical with NaN
    "card_type",  # pandas StringDtype with NA
    "mixed",  # object: floats, ints, strings, booleans, None, NaN, a datetime
    "ts",  # datetime64 with NaT
    "empty",  # all None
]
STRINGS = ["real-time", "settlement", "dispute", "Visa", "", "grocery", "a\"b'c"]


def random_frame(rows: int, seed: int) -> pd.DataFrame:
    """Random rows of every column kind, about 10% nulls in each."""
    rng = np.random.default_rng(seed)

    def nulls(p: float = 0.1) -> np.ndarray:
        return rng.random(rows) < p

    amount = rng.choice([0.0, 1.0, 2.5, 100.0, 101.0, -3.0, 1e300, np.inf, -np.inf], size=rows)
    amount = np.where(rng.random(rows) < 0.5, rng.normal(100, 80, size=rows).round(2), amount)
    amount[nulls()] = np.nan
    count = pd.array(rng.integers(-3, 6, size=rows), dtype="Int64")
    count[nulls()] = pd.NA
    account_blacklisted = np.array(rng.random(rows) < 0.3, dtype=object)
    account_blacklisted[nulls()] = None
    transaction_type = rng.choice(np.array(STRINGS[:3], dtype=object), size=rows)
    transaction_type[nulls()] = None
    merchant = pd.Categorical(rng.choice(["grocery", "travel", "", "Visa"], size=rows))
    merchant[nulls()] = np.nan
    card_type = pd.array(rng.choice(["Visa", "MasterCard"], size=rows), dtype="string")
    card_type[nulls()] = pd.NA
    pool: list[object] = [0.0, 1.0, 2, -1, 100, "real-time", "1", "", True, False, None,
                          float("nan"), 10**400, dt.datetime(2024, 1, 1)]  # fmt: skip
    mixed = np.empty(rows, dtype=object)
    for i, pick in enumerate(rng.integers(0, len(pool), size=rows)):
        mixed[i] = pool[pick]
    ts = pd.Series(pd.date_range("2024-01-01", periods=rows, freq="min")).mask(nulls())
    return pd.DataFrame(
        {
            "amount": amount,
            "count": count,
            "account_blacklisted": pd.Series(account_blacklisted, dtype=object),
            "card_present": rng.random(rows) < 0.5,
            "transaction_type": pd.Series(transaction_type, dtype=object),
            "merchant_category": merchant,
            "card_type": card_type,
            "mixed": pd.Series(mixed, dtype=object),
            "ts": ts,
            "empty": pd.Series(np.full(rows, None, dtype=object), dtype=object),
        }
    )


_number = st.one_of(
    st.integers(-5, 200).map(lambda i: render_literal(float(i))),
    st.floats(-1e6, 1e6, allow_nan=False).map(render_literal),
    st.sampled_from(["0", "1e300", "0.1"]),
)
_string = st.sampled_from(STRINGS).map(render_literal)
_leaf = st.one_of(
    st.sampled_from(FIELDS),
    _number,
    _string,
    st.sampled_from(["true", "false"]),
)
_BINARY = ["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "and", "or"]


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    lists = st.one_of(
        st.lists(_number, min_size=1, max_size=4),
        st.lists(_string, min_size=1, max_size=4),
        st.lists(st.sampled_from(["true", "false"]), min_size=1, max_size=2),
    ).map(lambda items: "[" + ", ".join(items) + "]")
    return st.one_of(
        st.tuples(inner, st.sampled_from(_BINARY), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda c: f"(not {c})"),
        inner.map(lambda c: f"(-{c})"),
        st.tuples(inner, st.booleans()).map(
            lambda t: f"({t[0]} is {'not null' if t[1] else 'null'})"
        ),
        st.tuples(inner, st.booleans(), lists).map(
            lambda t: f"({t[0]} {'not in' if t[1] else 'in'} {t[2]})"
        ),
    )


#: Syntactically valid conditions over :data:`FIELDS`, fully parenthesised, of any typing.
conditions = st.recursive(_leaf, _extend, max_leaves=10)

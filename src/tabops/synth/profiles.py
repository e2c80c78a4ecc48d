"""Customer and terminal profiles, and which terminals each customer uses.

As in the handbook's simulator, customers and terminals sit on a 100 x 100 grid; a customer
has a mean amount (uniform), an amount spread proportional to it and a mean number of
transactions per day (uniform), and transacts at the terminals within ``radius`` of home.
Unlike the handbook, a customer with no terminal in reach uses the nearest one instead of
never transacting. Identities and merchants come from the Faker pools.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tabops.synth.config import CARD_TYPES, MERCHANT_CATEGORIES, FraudConfig
from tabops.synth.pools import Pools, card_numbers, customer_names
from tabops.synth.rows import categorical

GRID = 100.0
#: At most this many (customer, terminal) candidate pairs are held at once.
_CANDIDATE_BUDGET = 4_000_000
#: At most this many cells per side of the grid (a tiny radius must not allocate millions).
_MAX_CELLS_PER_SIDE = 512


@dataclass(frozen=True)
class Profiles:
    """Customers and terminals as arrays indexed by id, plus the customers' terminal lists."""

    customer_xy: np.ndarray  # (n_customers, 2)
    mean_amount: np.ndarray
    std_amount: np.ndarray
    tx_per_day: np.ndarray
    blacklisted: np.ndarray  # bool
    card_type: np.ndarray  # code into CARD_TYPES
    name: np.ndarray  # code into names
    names: list[str]
    card_numbers: np.ndarray  # one unique number per customer
    terminal_xy: np.ndarray  # (n_terminals, 2)
    merchant: np.ndarray  # code into merchants
    merchants: list[str]
    category: np.ndarray  # code into MERCHANT_CATEGORIES
    offsets: np.ndarray  # customer c uses reachable[offsets[c]:offsets[c + 1]]
    reachable: np.ndarray

    @property
    def n_customers(self) -> int:
        return len(self.mean_amount)

    @property
    def n_terminals(self) -> int:
        return len(self.terminal_xy)

    def customers_frame(self) -> pd.DataFrame:
        """The customer profile table (the handbook's, plus identities)."""
        return pd.DataFrame(
            {
                "customer_id": np.arange(self.n_customers, dtype=np.int64),
                "x": self.customer_xy[:, 0],
                "y": self.customer_xy[:, 1],
                "mean_amount": self.mean_amount,
                "std_amount": self.std_amount,
                "mean_tx_per_day": self.tx_per_day,
                "customer_name": categorical(self.name, self.names),
                "card_number": self.card_numbers,
                "card_type": categorical(self.card_type, CARD_TYPES),
                "account_blacklisted": self.blacklisted,
                "n_terminals": np.diff(self.offsets),
            }
        )

    def terminals_frame(self) -> pd.DataFrame:
        """The terminal profile table, with merchant names and categories."""
        return pd.DataFrame(
            {
                "terminal_id": np.arange(self.n_terminals, dtype=np.int64),
                "x": self.terminal_xy[:, 0],
                "y": self.terminal_xy[:, 1],
                "merchant_name": categorical(self.merchant, self.merchants),
                "merchant_category": categorical(self.category, list(MERCHANT_CATEGORIES)),
            }
        )


def build_profiles(
    config: FraudConfig,
    pools: Pools,
    customer_rng: np.random.Generator,
    terminal_rng: np.random.Generator,
) -> Profiles:
    """Draw every customer's and terminal's profile and link customers to terminals."""
    settings = config.customers
    n = config.n_customers
    rng = customer_rng
    customer_xy = rng.uniform(0, GRID, (n, 2))
    mean_amount = rng.uniform(*settings.mean_amount, n)
    tx_per_day = rng.uniform(*settings.tx_per_day, n)
    blacklisted = rng.random(n) < settings.blacklisted_fraction
    weights = np.array([settings.card_types.get(t, 0.0) for t in CARD_TYPES])
    card_type = rng.choice(len(CARD_TYPES), size=n, p=weights / weights.sum()).astype(np.int8)
    full_names = customer_names(pools, rng, n)
    name_codes, name_values = pd.factorize(full_names)
    numbers = card_numbers(pools, card_type, list(CARD_TYPES), rng)

    n_terminals = config.terminals
    terminal_xy = terminal_rng.uniform(0, GRID, (n_terminals, 2))
    merchant = terminal_rng.integers(0, len(pools.companies), n_terminals)
    shares = np.array(list(MERCHANT_CATEGORIES.values()))
    category = terminal_rng.choice(len(shares), size=n_terminals, p=shares / shares.sum())
    offsets, reachable = reachable_terminals(customer_xy, terminal_xy, config.radius)
    return Profiles(
        customer_xy=customer_xy,
        mean_amount=mean_amount,
        std_amount=mean_amount * settings.std_ratio,
        tx_per_day=tx_per_day,
        blacklisted=blacklisted,
        card_type=card_type,
        name=name_codes.astype(np.int32),
        names=[str(v) for v in name_values],
        card_numbers=numbers,
        terminal_xy=terminal_xy,
        merchant=merchant.astype(np.int32),
        merchants=pools.companies,
        category=category.astype(np.int16),
        offsets=offsets,
        reachable=reachable,
    )


def reachable_terminals(
    customers: np.ndarray, terminals: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """The terminals within ``radius`` of each customer, as CSR (offsets, terminal ids).

    Terminals are bucketed into square cells at least ``radius`` wide, so only the 3 x 3 cells
    around a customer are candidates; customers are processed in chunks to bound memory.
    A customer with no terminal in reach gets the nearest one.
    """
    side = max(radius, GRID / _MAX_CELLS_PER_SIDE)  # cells at least radius wide
    cells_per_side = int(np.ceil(GRID / side)) + 1
    cell_of = (np.floor(terminals / side).astype(np.int64) * [cells_per_side, 1]).sum(axis=1)
    order = np.argsort(cell_of, kind="stable")
    counts = np.bincount(cell_of, minlength=cells_per_side**2)
    starts = np.cumsum(counts) - counts
    per_customer = 9 * max(1.0, len(terminals) * (side / GRID) ** 2)
    chunk = max(1, int(_CANDIDATE_BUDGET // per_customer))
    found: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    for first in range(0, len(customers), chunk):
        xy = customers[first : first + chunk]
        home = np.floor(xy / side).astype(np.int64)
        shifts = np.array([(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)])
        near = home[:, None, :] + shifts[None, :, :]  # (chunk, 9, 2)
        inside = ((near >= 0) & (near < cells_per_side)).all(axis=2)
        cell = np.where(inside, near[..., 0] * cells_per_side + near[..., 1], 0).ravel()
        lengths = np.where(inside.ravel(), counts[cell], 0)
        owner = np.repeat(np.arange(first, first + len(xy)), 9)
        candidate = order[_ragged_positions(starts[cell], lengths)]
        owner = np.repeat(owner, lengths)
        distance2 = ((customers[owner] - terminals[candidate]) ** 2).sum(axis=1)
        keep = distance2 < radius * radius
        found.append(candidate[keep])
        owners.append(owner[keep])
    reachable = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
    owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
    per_owner = np.bincount(owner, minlength=len(customers))
    lonely = np.flatnonzero(per_owner == 0)
    if len(lonely):  # insert each lonely customer's nearest terminal, keeping owner order
        nearest = _nearest(customers[lonely], terminals)
        owner = np.concatenate([owner, lonely])
        reachable = np.concatenate([reachable, nearest])
        by_owner = np.argsort(owner, kind="stable")
        owner, reachable = owner[by_owner], reachable[by_owner]
        per_owner[lonely] = 1
    offsets = np.concatenate([[0], np.cumsum(per_owner)]).astype(np.int64)
    return offsets, reachable.astype(np.int64)


def _ragged_positions(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + n) for s, n in zip(starts, lengths)])``, vectorised."""
    total = int(lengths.sum())
    ends = np.cumsum(lengths)
    shift = np.repeat(starts - (ends - lengths), lengths)
    return shift + np.arange(total)


def _nearest(points: np.ndarray, terminals: np.ndarray) -> np.ndarray:
    chunk = max(1, _CANDIDATE_BUDGET // max(1, len(terminals)))
    nearest = [
        ((points[i : i + chunk, None, :] - terminals[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
        for i in range(0, len(points), chunk)
    ]
    return np.concatenate(nearest).astype(np.int64)

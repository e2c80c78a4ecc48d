"""Identity pools built once with a seeded Faker; every per-row draw is numpy indexing.

Faker is slow (microseconds per value) and only used here, for a few hundred values per pool:
first and last names, company names for merchants, and issuer prefixes (BINs) per card type.
Card numbers themselves are assembled with numpy: an issuer prefix, a unique account number and
a Luhn check digit, so they are valid, unique per customer and match the card type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Pool sizes: enough variety for realistic-looking data, small enough to build in ~50 ms.
FIRST_NAMES, LAST_NAMES, COMPANIES, BINS_PER_TYPE = 200, 200, 400, 8
_FAKER_CARD_TYPE = {"Visa": "visa16", "MasterCard": "mastercard"}
_ACCOUNT_DIGITS = 9  # 6-digit issuer prefix + 9 account digits + 1 check digit = 16


@dataclass(frozen=True)
class Pools:
    """Values drawn from Faker once per seed."""

    first_names: list[str]
    last_names: list[str]
    companies: list[str]
    bins: dict[str, list[int]]  # card type -> 6-digit issuer prefixes


def build_pools(seed: int, card_types: tuple[str, ...]) -> Pools:
    """Faker pools for ``seed`` (en_US locale, seeded on its own instance)."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    # dict.fromkeys: drop repeats, keep Faker's order (so the pools depend on the seed only).
    first = list(dict.fromkeys(fake.first_name() for _ in range(FIRST_NAMES)))
    last = list(dict.fromkeys(fake.last_name() for _ in range(LAST_NAMES)))
    companies = list(dict.fromkeys(fake.company() for _ in range(COMPANIES)))
    bins = {
        card_type: list(
            dict.fromkeys(
                int(fake.credit_card_number(card_type=_FAKER_CARD_TYPE[card_type])[:6])
                for _ in range(BINS_PER_TYPE)
            )
        )
        for card_type in card_types
    }
    return Pools(first, last, companies, bins)


def customer_names(pools: Pools, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` full names combined from the first- and last-name pools."""
    first = np.asarray(pools.first_names, dtype=object)[rng.integers(0, len(pools.first_names), n)]
    last = np.asarray(pools.last_names, dtype=object)[rng.integers(0, len(pools.last_names), n)]
    return np.asarray(first + " " + last, dtype=object)


def card_numbers(
    pools: Pools, card_types: np.ndarray, names: list[str], rng: np.random.Generator
) -> np.ndarray:
    """Unique, Luhn-valid 16-digit card numbers whose prefix matches each card's type.

    Args:
        pools: The issuer prefixes per card type.
        card_types: One code per card, an index into ``names``.
        names: Card type names, in code order.
        rng: The random source.
    """
    n = len(card_types)
    prefixes = np.zeros(n, dtype=np.int64)
    for code, name in enumerate(names):
        chosen = card_types == code
        bins = np.asarray(pools.bins[name], dtype=np.int64)
        prefixes[chosen] = bins[rng.integers(0, len(bins), int(chosen.sum()))]
    accounts = rng.choice(10**_ACCOUNT_DIGITS, size=n, replace=False).astype(np.int64)
    payload = prefixes * 10**_ACCOUNT_DIGITS + accounts  # 15 digits
    numbers: np.ndarray = (payload * 10 + luhn_check_digit(payload)).astype(str).astype(object)
    return numbers


def luhn_check_digit(payload: np.ndarray) -> np.ndarray:
    """The Luhn check digit appended to each number in ``payload`` (vectorised)."""
    total = np.zeros(len(payload), dtype=np.int64)
    rest = payload.astype(np.int64).copy()
    double = True  # the payload's last digit is doubled once the check digit is appended
    while rest.any():
        digit = rest % 10
        if double:
            digit = digit * 2
            digit = np.where(digit > 9, digit - 9, digit)
        total += digit
        rest //= 10
        double = not double
    return (10 - total % 10) % 10


def luhn_valid(number: str) -> bool:
    """Whether a card number passes the Luhn check (for tests and callers)."""
    digits = [int(c) for c in number]
    checksum = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit * 2 > 9 else digit * 2
        checksum += digit
    return checksum % 10 == 0

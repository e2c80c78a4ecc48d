"""A column's value limits, the one rule for range and category checks.

The data contract applies it to whole columns of a file (vectorised, in Arrow) and the request
schema to each value a client sends: both read the limits from :meth:`Limits.of` and word their
messages here, so that a value the contract quarantines is a value serving refuses, and the
reverse. Light to import (no pandas): the server uses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tabops.spec import ColumnSpec, ColumnType

MIN, MAX, CATEGORY = "min", "max", "category"  # the checks, as quarantine reasons name them
_SHOWN = 8  # categories quoted in a quarantine reason


@dataclass(frozen=True)
class Limits:
    """The values a column allows: a range (numbers, bounds included) and categories."""

    min: float | None = None
    max: float | None = None
    categories: tuple[str, ...] | None = None  # spec order; None allows any
    allowed: frozenset[str] | None = field(default=None, init=False, compare=False)
    #: Each category by its case-folded spelling, to name it when a refused value differs from
    #: it in letter case only.
    folded: dict[str, str] = field(default_factory=dict, init=False, compare=False)

    def __post_init__(self) -> None:
        if self.categories is not None:  # a set for per-value lookups
            object.__setattr__(self, "allowed", frozenset(self.categories))
            self.folded.update((c.casefold(), c) for c in reversed(self.categories))

    @classmethod
    def of(cls, column: ColumnSpec) -> Limits:
        """The spec's limits of ``column`` (categories apply to categorical columns only)."""
        categorical = column.type == ColumnType.CATEGORICAL and column.categories is not None
        return cls(column.min, column.max, tuple(column.categories or ()) if categorical else None)

    def number_check(self, number: float) -> str | None:
        """The check a present number fails (:data:`MIN` or :data:`MAX`), else None."""
        if self.min is not None and number < self.min:
            return MIN
        if self.max is not None and number > self.max:
            return MAX
        return None

    def category_check(self, value: str) -> str | None:
        """:data:`CATEGORY` when ``value`` is not an allowed category, else None."""
        return CATEGORY if self.allowed is not None and value not in self.allowed else None

    def reason(self, check: str, value: Any) -> str:
        """The contract's quarantine reason for a row's typed ``value``."""
        if check == MIN:
            return f"{value} is below min {self.min:g}"
        if check == MAX:
            return f"{value} is above max {self.max:g}"
        return f"unknown category {value!r}{self._case_hint(value)}; allowed: {self._short_list()}"

    def problem(self, check: str, value: Any) -> str:
        """The request schema's message for a field whose client value is ``value``."""
        if check == MIN:
            return f"must be at least {self.min:g}, not {value!r}"
        if check == MAX:
            return f"must be at most {self.max:g}, not {value!r}"
        return (
            f"'{str(value)[:64]}' is not one of the categories {self._short_list()}"
            f"{self._case_hint(value)}"
        )

    def _case_hint(self, value: Any) -> str:
        """Names the category ``value`` differs from in letter case only: categories are
        compared exactly (only boolean tokens ignore case)."""
        same = self.folded.get(value.casefold()) if isinstance(value, str) else None
        return f" ({same!r} differs in letter case only)" if same is not None else ""

    def _short_list(self) -> str:
        values = self.categories or ()
        shown = ", ".join(repr(v) for v in values[:_SHOWN])
        return shown + (f", ... ({len(values)} in all)" if len(values) > _SHOWN else "")

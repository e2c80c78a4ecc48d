"""How a value written as text is read: the one place for boolean tokens and number syntax.

The data contract reads files with these rules (vectorised, in Arrow) and serving reads clients
with the same ones (a JSON value, a ``text/csv`` body, an OIP v2 ``BYTES`` tensor), so that a row
accepted from the training file is accepted from a client, and the reverse.

Booleans: a column whose spec records ``true_values``/``false_values`` (``tabops init`` writes
the tokens it saw, e.g. ``Yes``/``No``) accepts exactly those strings; a spec without them
accepts the default tokens below, in any letter case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tabops.spec import ColumnSpec

#: Numbers as text: plain decimals with an optional exponent (no ``1_000``, ``nan`` or hex).
FLOAT_PATTERN = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
#: Integers as text; ``12.0`` is the integer 12. 19 digits may still overflow int64.
INTEGER_PATTERN = r"^[+-]?\d{1,19}(\.0*)?$"
DEFAULT_TRUE = ("true", "t", "yes", "y", "1")
DEFAULT_FALSE = ("false", "f", "no", "n", "0")

# re.ASCII: Python's \d also matches other scripts' digits, Arrow's (RE2) only 0-9.
_FLOAT = re.compile(FLOAT_PATTERN, re.ASCII)
_INTEGER = re.compile(INTEGER_PATTERN, re.ASCII)


@dataclass(frozen=True)
class BooleanTokens:
    """The strings a boolean column is read from."""

    true: frozenset[str]
    false: frozenset[str]
    exact: bool  # tokens recorded in the spec match exactly; the defaults in any letter case

    @classmethod
    def of(cls, column: ColumnSpec) -> BooleanTokens:
        """The column's recorded tokens, or the defaults."""
        if column.true_values is not None and column.false_values is not None:
            return cls(frozenset(column.true_values), frozenset(column.false_values), True)
        return cls(frozenset(DEFAULT_TRUE), frozenset(DEFAULT_FALSE), False)

    def read(self, text: str) -> bool | None:
        """The boolean ``text`` stands for, or None when it is no token of this column."""
        key = text if self.exact else text.lower()
        if key in self.true:
            return True
        if key in self.false:
            return False
        return None

    def describe(self) -> str:
        """The tokens for an error message: ``'Yes' (true) or 'No' (false)``."""
        true, false = sorted(self.true), sorted(self.false)
        case = "" if self.exact else ", in any letter case"
        return f"{_quoted(true)} (true) or {_quoted(false)} (false){case}"


def _quoted(tokens: list[str]) -> str:
    return "/".join(repr(t) for t in tokens)


def read_number(text: str, integer: bool) -> int | float | None:
    """``text`` as a number under the contract's syntax, or None when it is not one.

    Integers come back as ``int`` (``"12.0"`` is 12), other numbers as ``float`` like the
    contract's float64 (``1e999`` is infinite: the caller refuses it with its own message).
    """
    if integer:
        return int(text.split(".", 1)[0]) if _INTEGER.fullmatch(text) else None
    return float(text) if _FLOAT.fullmatch(text) else None

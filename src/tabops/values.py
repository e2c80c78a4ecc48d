"""How a value written as text is read: the one place for boolean tokens and number syntax.

The data contract reads files with these rules (vectorised, in Arrow) and serving reads clients
with the same ones (a JSON value, a ``text/csv`` body, an OIP v2 ``BYTES`` tensor), so that a row
accepted from the training file is accepted from a client, and the reverse.

Booleans: a column whose spec records ``true_values``/``false_values`` (``tabops init`` writes
the tokens it saw, e.g. ``Yes``/``No``) accepts those strings; a spec without them accepts the
default tokens below. Letter case never matters: ``yes`` and ``YES`` mean what ``Yes`` means.

Numbers: plain decimals unless the column records how its file writes them (``decimal: ','``,
``thousands: '.'``, ``units: ['%']``): :class:`NumberFormat` rewrites such text to the plain
syntax first, so ``1.234,5`` and ``14.2%`` read as 1234.5 and 14.2.

Header names: :func:`header_names`, for a file's header and a ``text/csv`` body's alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from tabops.spec import ColumnSpec

#: Numbers as text: plain decimals with an optional exponent (no ``1_000``, ``nan`` or hex).
FLOAT_PATTERN = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
#: Integers as text; ``12.0`` is the integer 12. 19 digits may still overflow int64.
INTEGER_PATTERN = r"^[+-]?\d{1,19}(\.0*)?$"
DEFAULT_TRUE = ("true", "t", "yes", "y", "1")
DEFAULT_FALSE = ("false", "f", "no", "n", "0")

#: Separators a number's digit groups may use (``thousands``), and its decimal marks.
THOUSANDS_SEPARATORS = (",", ".", " ", "'")
DECIMAL_MARKS = (".", ",")

_SPACES = (" ", "\u00a0", "\u202f")  # space, no-break space, narrow no-break space

# re.ASCII: Python's \d also matches other scripts' digits, Arrow's (RE2) only 0-9.
_FLOAT = re.compile(FLOAT_PATTERN, re.ASCII)
_INTEGER = re.compile(INTEGER_PATTERN, re.ASCII)


def boolean_spellings(categories: list[str] | None) -> dict[str, str] | None:
    """Two categories written as a boolean's (``TRUE``/``FALSE``, ``Yes``/``No``), by their
    lower-cased spelling: another file of the source may write ``True``, and a boolean
    column reads any letter case. None for any other categories."""
    if categories is None or len(categories) != 2:
        return None
    spelled = {c.lower(): c for c in categories}
    true, false = (any(k in tokens for k in spelled) for tokens in (DEFAULT_TRUE, DEFAULT_FALSE))
    return spelled if len(spelled) == 2 and true and false else None


@dataclass(frozen=True)
class BooleanTokens:
    """The strings a boolean column is read from, in any letter case."""

    true: frozenset[str]  # as written in the spec (or the defaults): for messages and schemas
    false: frozenset[str]
    recorded: bool  # the spec's own tokens, not the defaults

    @classmethod
    def of(cls, column: ColumnSpec) -> BooleanTokens:
        """The column's recorded tokens, or the defaults."""
        if column.true_values is not None and column.false_values is not None:
            return cls(frozenset(column.true_values), frozenset(column.false_values), True)
        return cls(frozenset(DEFAULT_TRUE), frozenset(DEFAULT_FALSE), False)

    @cached_property
    def true_keys(self) -> frozenset[str]:
        """The true tokens lower-cased: what a lower-cased value is matched against."""
        return frozenset(t.lower() for t in self.true)

    @cached_property
    def false_keys(self) -> frozenset[str]:
        return frozenset(t.lower() for t in self.false)

    def read(self, text: str) -> bool | None:
        """The boolean ``text`` stands for, or None when it is no token of this column."""
        key = text.lower()
        if key in self.true_keys:
            return True
        if key in self.false_keys:
            return False
        return None

    def describe(self) -> str:
        """The tokens for an error message: ``'Yes' (true) or 'No' (false), in any letter
        case`` (the case said only of tokens with letters)."""
        true, false = sorted(self.true), sorted(self.false)
        tokens = f"{_quoted(true)} (true) or {_quoted(false)} (false)"
        lettered = any(t.lower() != t.upper() for t in self.true | self.false)
        return f"{tokens}, in any letter case" if lettered else tokens

    def pattern(self) -> str:
        """A JSON Schema (ECMA-262) pattern matching every token in any letter case."""
        tokens = sorted(self.true | self.false)
        return "^(?:" + "|".join(_any_case(t) for t in tokens) + ")$"


def _any_case(token: str) -> str:
    return "".join(
        f"[{c.upper()}{c.lower()}]" if c.upper() != c.lower() else re.escape(c) for c in token
    )


def _quoted(tokens: list[str]) -> str:
    return "/".join(repr(t) for t in tokens)


#: The name given to a first column whose header is blank (R's row names, a pandas index),
#: as R's own datasets name it.
ROW_NAMES = "rownames"


def header_names(fields: list[str]) -> list[str]:
    """The header's names as tabops reads them: trimmed of spaces and of byte-order marks
    (one inside the line, as joined files have it, would stay in a name), without the blank
    fields after the last name, which spreadsheets export for empty columns (``a,b,c,,``),
    and with a blank first name (the only blank one) read as :data:`ROW_NAMES`: R's
    ``write.csv`` and pandas' ``to_csv`` write their row names or index so, by default."""
    names = [field.replace("\ufeff", "").strip() for field in fields]
    while names and not names[-1]:
        names.pop()
    if names and names[0] == "" and names.count("") == 1 and ROW_NAMES not in names:
        names[0] = ROW_NAMES
    return names


def unique_names(columns: list[str]) -> list[str]:
    """``columns`` with a repeated name numbered as pandas numbers it: the second ``x`` is
    ``x.1`` (or the next number no column has), so that a file naming a column twice (a join's
    export) reads as it does in pandas."""
    taken, seen = set(columns), set()
    unique = []
    for column in columns:
        name, number = column, 0
        while column in seen and name in taken:
            number += 1
            name = f"{column}.{number}"
        taken.add(name)
        seen.add(column)
        unique.append(name)
    return unique


def is_placeholder(text: str) -> bool:
    """Whether ``text`` is punctuation alone ('-', '--', '.', '*', '—'), as spreadsheets and
    statistics offices write a missing figure (``init`` reads such cells among numbers as
    missing)."""
    stripped = text.strip()
    return bool(stripped) and not any(c.isalnum() or c.isspace() for c in stripped)


def read_number(text: str, integer: bool) -> int | float | None:
    """``text`` as a number under the contract's syntax, or None when it is not one.

    Integers come back as ``int`` (``"12.0"`` is 12), other numbers as ``float`` like the
    contract's float64 (``1e999`` is infinite: the caller refuses it with its own message).
    """
    if integer:
        return int(text.split(".", 1)[0]) if _INTEGER.fullmatch(text) else None
    return float(text) if _FLOAT.fullmatch(text) else None


def natural_order(labels: list[str]) -> list[str]:
    """Labels in the order people read them: those written as numbers by their value (``2``
    before ``10``), then the others as text. Class and category lists are shown this way;
    a model keeps its own (text) order inside."""

    def key(label: str) -> tuple[int, float, str]:
        number = float(label) if _FLOAT.fullmatch(label) else None
        return (1, 0.0, label) if number is None else (0, number, label)

    return sorted(labels, key=key)


@dataclass(frozen=True)
class NumberFormat:
    """How a column's numbers are written as text, beyond the plain syntax.

    The contract applies it to whole Arrow columns (:mod:`tabops.data.contract`), serving to
    one value (:meth:`to_plain`), both with :attr:`unit_pattern` and :attr:`grouped_pattern`.
    """

    decimal: str = "."
    thousands: str | None = None
    units: tuple[str, ...] = ()

    @classmethod
    def of(cls, column: ColumnSpec) -> NumberFormat:
        return cls(column.decimal, column.thousands, tuple(column.units or ()))

    @property
    def plain(self) -> bool:
        return self == NumberFormat()

    def example(self, integer: bool = False) -> str:
        """A number written this way, for messages: ``$1,234.5``, ``1.234,5%``, ``1,234``,
        ``1234 pcs``."""
        number = f"1{self.thousands or ''}234" + ("" if integer else f"{self.decimal}5")
        if not self.units:
            return number
        unit = self.units[0]
        if unit[0].isalpha():  # a unit word follows its number
            return f"{number} {unit}"
        return number + unit if unit == "%" else unit + number

    @property
    def unit_pattern(self) -> str | None:
        """A unit at either end, with its spaces; a sign before a leading unit is kept by the
        replacement ``\\1`` (``-$5`` is -5)."""
        if not self.units:
            return None
        symbols = "|".join(re.escape(u) for u in sorted(self.units, key=len, reverse=True))
        return rf"^([+-]?)\s*(?:{symbols})\s*|\s*(?:{symbols})\s*$"

    @property
    def separators(self) -> tuple[str, ...]:
        """The characters that group digits: ``thousands``, and for a space the no-break
        spaces spreadsheets write in its place (French locales)."""
        if self.thousands is None:
            return ()
        return _SPACES if self.thousands == " " else (self.thousands,)

    @property
    def grouped_pattern(self) -> str | None:
        """A number whose integer digits are grouped by ``thousands`` in threes."""
        if self.thousands is None:
            return None
        sep = "[" + "".join(re.escape(c) for c in self.separators) + "]"
        mark = re.escape(self.decimal)
        return rf"^[+-]?\d{{1,3}}(?:{sep}\d{{3}})+(?:{mark}\d*)?(?:[eE][+-]?\d+)?$"

    def to_plain(self, text: str) -> str:
        """``text`` in the plain syntax; a value misusing the format (``1,23`` with
        ``thousands: ','``, a ``.`` where the decimal mark is ``,``) stays unparseable."""
        if (units := self.unit_pattern) is not None:
            text = re.sub(units, r"\1", text)
        if (grouped := self.grouped_pattern) is not None and re.fullmatch(grouped, text, re.ASCII):
            for separator in self.separators:
                text = text.replace(separator, "")
        if self.decimal != ".":
            text = "invalid" if "." in text else text.replace(self.decimal, ".")
        return text

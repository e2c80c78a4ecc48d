"""Row-by-row evaluation: a condition compiled once into a tree of small closures.

Values are first normalised (:func:`normalise`) into one of four runtime kinds: a number (a
Python ``float``; booleans are 1.0 and 0.0), a string, null (``None``), or "other" (a
present value of another type, such as a datetime, which only ``is null`` can test). The
vectorised evaluator (:mod:`tabops.rules.vectorised`) implements exactly the same semantics:

- a comparison involving null is false (also ``!=``); values of different kinds are never
  equal, and ``<``-style comparisons between different kinds are false;
- arithmetic needs two numbers, otherwise it yields null; division or ``%`` by zero and
  results that are not a number (``inf - inf``) yield null;
- in a boolean position (``and``, ``or``, ``not``, the whole condition), a value is true
  when it is a non-zero number (so boolean true); null, strings and 0 are false.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final

import numpy as np
import pandas as pd

from tabops.rules.expr import (
    Arith,
    Compare,
    Field,
    IsNull,
    Literal,
    Logical,
    Membership,
    Negate,
    Node,
    Not,
)


class _Other:
    """A present value that is neither a number nor a string (a date, a list, ...)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "OTHER"


OTHER: Final = _Other()

Value = float | str | _Other | None
Row = Mapping[str, Value]
ValueFn = Callable[[Row], Value]
CondFn = Callable[[Row], bool]


def normalise(value: Any) -> Value:
    """A row value as the evaluator sees it: float, str, None (null) or :data:`OTHER`."""
    cls = value.__class__
    if cls is float:
        return None if value != value else value
    if cls is str:
        return value  # type: ignore[no-any-return]
    if cls is bool:
        return 1.0 if value else 0.0
    if value is None:
        return None
    if cls is int:
        return _float(value)
    return _normalise_other(value)


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except OverflowError:
        number = math.inf if value > 0 else -math.inf
    return None if number != number else number


def _normalise_other(value: Any) -> Value:
    if isinstance(value, bool | np.bool_):
        return 1.0 if value else 0.0
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, numbers.Real | Decimal):
        return _float(value)
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.datetime64 | np.timedelta64) and np.isnat(value):
        return None
    return OTHER


def compile_row(node: Node) -> CondFn:
    """Compile a condition into a function of a normalised row (field -> :data:`Value`).

    The row must hold every field the condition uses (missing fields: pass None).
    """
    return _condition(node)


def truthy(value: Value) -> bool:
    """Whether a value counts as true in a boolean position."""
    return value.__class__ is float and value != 0.0


def _condition(node: Node) -> CondFn:
    match node:
        case Literal(value=bool() as constant):
            return lambda _row: constant
        case Field(name=name):
            return lambda row: (v := row[name]).__class__ is float and v != 0.0
        case Not(operand=Field(name=name)):
            return lambda row: not ((v := row[name]).__class__ is float and v != 0.0)
        case Logical(op="and", operands=operands):
            return _all([_condition(o) for o in operands])
        case Logical(op="or", operands=operands):
            return _any([_condition(o) for o in operands])
        case Not(operand=operand):
            inner = _condition(operand)
            return lambda row: not inner(row)
        case Compare():
            return _compare(node)
        case Membership(operand=operand, values=values, negated=negated):
            return _membership(_value(operand), values, negated)
        case IsNull(operand=operand, negated=negated):
            value = _value(operand)
            if negated:
                return lambda row: value(row) is not None
            return lambda row: value(row) is None
    value = _value(node)
    return lambda row: truthy(value(row))


def _all(parts: list[CondFn]) -> CondFn:
    if len(parts) == 2:
        first, second = parts
        return lambda row: first(row) and second(row)
    if len(parts) == 3:
        first, second, third = parts
        return lambda row: first(row) and second(row) and third(row)

    def every(row: Row) -> bool:
        return all(part(row) for part in parts)

    return every


def _any(parts: list[CondFn]) -> CondFn:
    if len(parts) == 2:
        first, second = parts
        return lambda row: first(row) or second(row)

    def some(row: Row) -> bool:
        return any(part(row) for part in parts)

    return some


def _value(node: Node) -> ValueFn:
    match node:
        case Literal(value=value):
            constant = _literal(value)
            return lambda _row: constant
        case Field(name=name):
            return lambda row: row[name]
        case Negate(operand=operand):
            inner = _value(operand)
            return lambda row: _negate(inner(row))
        case Arith(op=op, left=left, right=right):
            return _arith(op, _value(left), _value(right))
    condition = _condition(node)
    return lambda row: 1.0 if condition(row) else 0.0


def _literal(value: float | str | bool) -> float | str:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    return value


def _negate(value: Value) -> Value:
    return -value if value.__class__ is float else None


def _checked(result: float) -> float | None:
    return None if result != result else result


def _add(a: float, b: float) -> float | None:
    return _checked(a + b)


def _sub(a: float, b: float) -> float | None:
    return _checked(a - b)


def _mul(a: float, b: float) -> float | None:
    return _checked(a * b)


def _div(a: float, b: float) -> float | None:
    return None if b == 0.0 else _checked(a / b)


def _mod(a: float, b: float) -> float | None:
    return None if b == 0.0 else _checked(a % b)


_ARITH = {"+": _add, "-": _sub, "*": _mul, "/": _div, "%": _mod}


def _arith(op: str, left: ValueFn, right: ValueFn) -> ValueFn:
    apply = _ARITH[op]

    def arith(row: Row) -> Value:
        a = left(row)
        if a.__class__ is not float:
            return None
        b = right(row)
        if b.__class__ is not float:
            return None
        return apply(a, b)

    return arith


def equal(a: Value, b: Value) -> bool:
    """``a == b`` under the rule semantics (kinds must match; null and other never equal)."""
    cls = a.__class__
    return (cls is float or cls is str) and cls is b.__class__ and a == b


def _order(test: Callable[[Any, Any], bool]) -> Callable[[Value, Value], bool]:
    def compare(a: Value, b: Value) -> bool:
        cls = a.__class__
        return (cls is float or cls is str) and cls is b.__class__ and test(a, b)

    return compare


_COMPARE: dict[str, Callable[[Value, Value], bool]] = {
    "==": equal,
    "!=": lambda a, b: a is not None and b is not None and not equal(a, b),
    "<": _order(lambda a, b: a < b),
    "<=": _order(lambda a, b: a <= b),
    ">": _order(lambda a, b: a > b),
    ">=": _order(lambda a, b: a >= b),
}
_NUMBER_TESTS: dict[str, Callable[[float, float], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _compare(node: Compare) -> CondFn:
    left = _value(node.left)
    right = node.right
    if isinstance(node.left, Field) and isinstance(right, Literal):
        # The common case, one closure instead of three: field op constant.
        name, constant = node.left.name, _literal(right.value)
        kind = constant.__class__
        test = _NUMBER_TESTS[node.op]
        if node.op == "!=":
            return lambda row: (
                (v := row[name]) is not None
                and (
                    v.__class__ is not kind or test(v, constant)  # type: ignore[arg-type]
                )
            )
        return lambda row: (v := row[name]).__class__ is kind and test(v, constant)  # type: ignore[arg-type]
    compare = _COMPARE[node.op]
    right_value = _value(right)
    return lambda row: compare(left(row), right_value(row))


def _membership(value: ValueFn, values: tuple[Literal, ...], negated: bool) -> CondFn:
    members = frozenset(_literal(v.value) for v in values)
    kind = next(iter(members)).__class__
    if negated:
        return lambda row: (
            (v := value(row)) is not None and not (v.__class__ is kind and v in members)
        )
    return lambda row: (v := value(row)).__class__ is kind and v in members

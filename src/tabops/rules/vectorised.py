"""Vectorised evaluation over a pandas DataFrame: one numpy boolean mask per condition.

The semantics are those of :mod:`tabops.rules.rowwise`, operation by operation; each column
is split once into its numbers (float64, NaN where the row holds no number), its strings
(an object array, None where the row holds no string) and a presence mask (not null).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

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
    render,
)
from tabops.rules.rowwise import normalise

Mask = NDArray[np.bool_]
Floats = NDArray[np.float64]
Objects = NDArray[np.object_]


@dataclass(frozen=True)
class Vec:
    """A value for every row.

    Attributes:
        num: The number, or NaN where the row holds none (booleans are 1.0 and 0.0).
        strs: The string, or None where the row holds none; None when no row holds one.
        is_str: Where ``strs`` holds a string; None when ``strs`` is None.
        present: Where the value is not null.
        factors: For a categorical column: each row's category code (-1 for null) and the
            categories as a Vec, so that comparisons with constants run on the categories.
    """

    num: Floats
    strs: Objects | None
    is_str: Mask | None
    present: Mask
    factors: tuple[NDArray[np.intp], Vec] | None = None


class Columns:
    """The frame's columns as :class:`Vec` values, extracted once each, on demand."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.rows = len(frame)
        self._cache: dict[str, Vec] = {}
        #: Masks of sub-conditions by canonical text: shared by every rule of one evaluation.
        self.memo: dict[str, Mask] = {}

    def get(self, name: str) -> Vec:
        """The column ``name``; all null when the frame has no such column."""
        if name not in self._cache:
            if name in self.frame.columns:
                column = self.frame[name]
                if isinstance(column, pd.DataFrame):
                    column = column.iloc[:, 0]
                self._cache[name] = column_vec(column)
            else:
                self._cache[name] = _constant(None, self.rows)
        return self._cache[name]


CondFn = Callable[[Columns], Mask]
ValueFn = Callable[[Columns], Vec]


def compile_frame(node: Node) -> CondFn:
    """Compile a condition into a function of :class:`Columns` returning a boolean mask."""
    return _condition(node)


# --------------------------------------------------------------------------------------------
# Columns to Vec


def column_vec(series: pd.Series) -> Vec:
    """Split a column into numbers, strings and presence, as :func:`normalise` would."""
    dtype = series.dtype
    n = len(series)
    if isinstance(dtype, pd.CategoricalDtype):
        categories = column_vec(pd.Series(np.asarray(dtype.categories, dtype=object)))
        codes = series.cat.codes.to_numpy()
        valid = codes >= 0
        safe = np.where(valid, codes, 0)
        if len(dtype.categories) == 0:
            return _constant(None, n)
        strs = is_str = None
        if categories.strs is not None and categories.is_str is not None:
            strs = categories.strs.take(safe)
            strs[~valid] = None
            is_str = categories.is_str.take(safe) & valid
        num = np.where(valid, categories.num.take(safe), np.nan)
        present = categories.present.take(safe) & valid
        return Vec(num, strs, is_str, present, (codes.astype(np.intp), categories))
    if dtype == np.bool_:
        return Vec(series.to_numpy(dtype=np.float64), None, None, np.ones(n, dtype=bool))
    if dtype.kind in "iufb" and (
        isinstance(dtype, np.dtype) or pd.api.types.is_extension_array_dtype(dtype)
    ):
        num = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return Vec(num, None, None, ~np.isnan(num))
    if isinstance(dtype, pd.StringDtype):
        present = series.notna().to_numpy()
        strs = series.to_numpy(dtype=object, copy=True)  # not a view of the caller's frame
        strs[~present] = None
        return Vec(np.full(n, np.nan), strs, present, present)
    if dtype.kind in "mM":  # datetimes and timedeltas: present or null, nothing else
        return Vec(np.full(n, np.nan), None, None, series.notna().to_numpy())
    return _object_vec(series.to_numpy(dtype=object))


def _object_vec(values: Objects) -> Vec:
    n = len(values)
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred == "string":
        if pd.api.types.infer_dtype(values, skipna=False) == "string":  # no nulls: skip isna
            present = np.ones(n, dtype=bool)
            return Vec(np.full(n, np.nan), values, present, present)
        present = ~pd.isna(values)
        strs = values.copy()
        strs[~present] = None
        return Vec(np.full(n, np.nan), strs, present, present)
    if inferred == "boolean":
        present = ~pd.isna(values)
        num = np.where(present, values, np.nan).astype(np.float64)
        return Vec(num, None, None, present)
    if inferred == "empty":
        return _constant(None, n)
    if inferred in ("floating", "integer", "mixed-integer-float"):
        try:
            num = np.asarray(pd.to_numeric(pd.Series(values)), dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            pass
        else:
            return Vec(num, None, None, ~np.isnan(num))
    return _generic_vec(values)


def _generic_vec(values: Objects) -> Vec:
    """Element by element through :func:`normalise`: slow, but exact for mixed columns."""
    n = len(values)
    num = np.full(n, np.nan)
    strs = np.full(n, None, dtype=object)
    is_str = np.zeros(n, dtype=bool)
    present = np.zeros(n, dtype=bool)
    for i, raw in enumerate(values):
        value = normalise(raw)
        if value is None:
            continue
        present[i] = True
        if value.__class__ is float:
            num[i] = value
        elif value.__class__ is str:
            strs[i] = value
            is_str[i] = True
    if not is_str.any():
        return Vec(num, None, None, present)
    return Vec(num, strs, is_str, present)


def _constant(value: float | str | None, n: int) -> Vec:
    if value is None:
        return Vec(np.full(n, np.nan), None, None, np.zeros(n, dtype=bool))
    if isinstance(value, str):
        strs = np.empty(n, dtype=object)
        strs.fill(value)
        return Vec(np.full(n, np.nan), strs, np.ones(n, dtype=bool), np.ones(n, dtype=bool))
    return Vec(np.full(n, float(value)), None, None, np.ones(n, dtype=bool))


# --------------------------------------------------------------------------------------------
# Compilation


def truthy(vec: Vec) -> Mask:
    """Where the value counts as true: a non-zero number."""
    num = vec.num
    mask: Mask = (num != 0.0) & ~np.isnan(num)
    return mask


def _condition(node: Node) -> CondFn:
    if isinstance(node, Literal):
        return _uncached_condition(node)
    key = render(node)
    compute = _uncached_condition(node)

    def cached(cols: Columns) -> Mask:
        mask = cols.memo.get(key)
        if mask is None:
            mask = cols.memo[key] = compute(cols)
        return mask

    return cached


def _uncached_condition(node: Node) -> CondFn:
    """The mask function of ``node``; callers must not modify the masks it returns."""
    match node:
        case Literal(value=bool() as constant):
            return lambda cols: np.full(cols.rows, constant, dtype=bool)
        case Logical(op=op, operands=operands):
            parts = [_condition(o) for o in operands]
            combine = np.logical_and if op == "and" else np.logical_or

            def logical(cols: Columns) -> Mask:
                mask = parts[0](cols).copy()
                for part in parts[1:]:
                    combine(mask, part(cols), out=mask)
                return mask

            return logical
        case Not(operand=operand):
            inner = _condition(operand)
            return lambda cols: ~inner(cols)
        case Compare(op=op, left=left, right=Literal(value=constant)):
            return _compare_constant(op, _value(left), _scalar(constant))
        case Compare(op=op, left=Literal(value=constant), right=right):
            return _compare_constant(_FLIPPED[op], _value(right), _scalar(constant))
        case Compare(op=op, left=left, right=right):
            return _compare(op, _value(left), _value(right))
        case Membership(operand=operand, values=values, negated=negated):
            return _membership(_value(operand), values, negated)
        case IsNull(operand=operand, negated=negated):
            tested = _value(operand)
            if negated:
                return lambda cols: tested(cols).present.copy()
            return lambda cols: ~tested(cols).present
    value = _value(node)
    return lambda cols: truthy(value(cols))


def _value(node: Node) -> ValueFn:
    match node:
        case Literal(value=value):
            constant = 1.0 if value is True else 0.0 if value is False else value
            return lambda cols: _constant(constant, cols.rows)
        case Field(name=name):
            return lambda cols: cols.get(name)
        case Negate(operand=operand):
            inner = _value(operand)
            return lambda cols: _number(-inner(cols).num)
        case Arith(op=op, left=left, right=right):
            return _arith(op, _value(left), _value(right))
    condition = _condition(node)
    return lambda cols: _number(condition(cols).astype(np.float64))


def _number(num: Floats) -> Vec:
    return Vec(num, None, None, ~np.isnan(num))


_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "%": np.remainder,
}


def _arith(op: str, left: ValueFn, right: ValueFn) -> ValueFn:
    apply = _ARITH[op]

    def arith(cols: Columns) -> Vec:
        a, b = left(cols).num, right(cols).num
        with np.errstate(all="ignore"):
            result = np.asarray(apply(a, b), dtype=np.float64)
        if op in ("/", "%"):
            result[b == 0.0] = np.nan
        return _number(result)

    return arith


def _equal(a: Vec, b: Vec) -> Mask:
    mask: Mask = a.num == b.num
    if a.strs is not None and b.strs is not None and a.is_str is not None and b.is_str is not None:
        both = a.is_str & b.is_str
        mask |= both & np.asarray(a.strs == b.strs, dtype=bool)
    return mask


_TESTS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _compare(op: str, left: ValueFn, right: ValueFn) -> CondFn:
    def compare(cols: Columns) -> Mask:
        a, b = left(cols), right(cols)
        if op == "==":
            return _equal(a, b)
        if op == "!=":
            return a.present & b.present & ~_equal(a, b)
        test = _TESTS[op]
        with np.errstate(invalid="ignore"):
            mask: Mask = np.asarray(test(a.num, b.num), dtype=bool)
        if (
            a.strs is not None
            and b.strs is not None
            and a.is_str is not None
            and b.is_str is not None
        ):
            both = a.is_str & b.is_str
            if both.any():
                mask[both] |= np.asarray(test(a.strs[both], b.strs[both]), dtype=bool)
        return mask

    return compare


def _membership(value: ValueFn, values: tuple[Literal, ...], negated: bool) -> CondFn:
    items = [_scalar(v.value) for v in values]
    numbers = [item for item in items if isinstance(item, float)]
    strings = [item for item in items if isinstance(item, str)]

    def member_of(vec: Vec) -> Mask:
        if vec.factors is not None:
            codes, categories = vec.factors
            return _by_code(member_of(categories), codes)
        if numbers:
            mask: Mask = np.isin(vec.num, np.asarray(numbers, dtype=np.float64))
        else:
            mask = np.zeros(len(vec.present), dtype=bool)
            if vec.strs is not None and vec.is_str is not None:
                found = pd.Series(vec.strs, copy=False).isin(strings).to_numpy()
                mask = vec.is_str & found
        return vec.present & ~mask if negated else mask

    return lambda cols: member_of(value(cols))


def _scalar(value: float | str | bool) -> float | str:
    """A literal as a runtime value (booleans are numbers)."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    return value


def _by_code(per_category: Mask, codes: NDArray[np.intp]) -> Mask:
    """A mask over the categories spread to the rows; rows with code -1 (null) get False."""
    mask: Mask = np.append(per_category, False)[codes]
    return mask


_FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _compare_constant(op: str, value: ValueFn, constant: float | str) -> CondFn:
    """``value op constant``: compared with the scalar, on the categories when there are any."""

    def against(vec: Vec) -> Mask:
        if vec.factors is not None:
            codes, categories = vec.factors
            return _by_code(against(categories), codes)
        mask: Mask
        if isinstance(constant, float):
            if op == "!=":
                mask = vec.present & (vec.num != constant)
            else:
                with np.errstate(invalid="ignore"):
                    mask = np.asarray(_TESTS[op](vec.num, constant), dtype=bool)
            return mask
        if vec.strs is None or vec.is_str is None:
            return vec.present.copy() if op == "!=" else np.zeros(len(vec.present), dtype=bool)
        if op in ("==", "!="):
            equal = np.asarray(vec.strs == constant, dtype=bool) & vec.is_str
            mask = vec.present & ~equal if op == "!=" else equal
            return mask
        mask = np.zeros(len(vec.present), dtype=bool)
        mask[vec.is_str] = np.asarray(_TESTS[op](vec.strs[vec.is_str], constant), dtype=bool)
        return mask

    return lambda cols: against(value(cols))

"""The data contract: every row checked against the spec's columns, vectorised with Arrow.

:func:`check_contract` types each column as the spec declares, and finds for every row each
check it fails: missing value, wrong type, out of range, unknown category, duplicate id.
It also finds schema drift (a column added, missing or retyped), which blocks a whole batch.
Rows are never dropped: each one ends up good or quarantined with its reasons.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tabops.spec import ColumnRole, ColumnSpec, ColumnType, ProjectSpec

_FLOAT = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_INTEGER = r"^[+-]?\d{1,18}(\.0*)?$"
_TRUE = ["true", "t", "yes", "y", "1"]
_FALSE = ["false", "f", "no", "n", "0"]
_SAMPLE = 3  # example bad values quoted in a drift message


@dataclass(frozen=True)
class Reason:
    """One failed check of one row."""

    column: str
    check: str  # missing | type | min | max | category | unique
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"column": self.column, "check": self.check, "message": self.message}


@dataclass
class ContractResult:
    """The outcome of checking one batch."""

    good: pa.Table  # typed per spec, spec column order
    good_index: np.ndarray  # positions of the good rows in the input
    bad_index: np.ndarray  # positions of the quarantined rows in the input
    reasons: dict[int, list[Reason]]  # input position -> every failed check
    drift: list[str] = field(default_factory=list)
    failures: dict[str, dict[str, int]] = field(default_factory=dict)  # column -> check -> rows

    @property
    def blocked_by_drift(self) -> bool:
        return bool(self.drift)


@dataclass
class _Column:
    """One column typed, with the masks of its failures."""

    values: pa.Array
    checks: dict[str, np.ndarray]  # check -> boolean mask of failing rows
    messages: dict[str, Any]  # check -> message, or a function of the row position


def check_contract(table: pa.Table, spec: ProjectSpec) -> ContractResult:
    """Check every row of ``table`` against ``spec``'s columns.

    Args:
        table: The batch: all strings (CSV) or typed (Parquet, SQL).
        spec: The project spec whose columns are the contract.
    """
    drift = _structural_drift(table, spec)
    if drift:
        empty = np.array([], dtype=np.int64)
        return ContractResult(table.slice(0, 0), empty, empty, {}, drift=drift)

    typed: dict[str, pa.Array] = {}
    failing: list[tuple[str, str, np.ndarray, Any]] = []
    for name, col in spec.columns.items():
        source = table.column(name).combine_chunks()
        if col.role == ColumnRole.IGNORED:
            typed[name] = source
            continue
        checked = _check_column(name, source, col, spec.source.csv.null_values)
        typed[name] = checked.values
        retyped = _retyped(name, col, source, checked, spec.contract.retype_fraction)
        if retyped:
            drift.append(retyped)
        for check, mask in checked.checks.items():
            if mask.any():
                failing.append((name, check, mask, checked.messages[check]))

    bad = np.zeros(table.num_rows, dtype=bool)
    for _, _, mask, _ in failing:
        bad |= mask
    bad_index = np.flatnonzero(bad)
    reasons: dict[int, list[Reason]] = defaultdict(list)
    failures: dict[str, dict[str, int]] = defaultdict(dict)
    for name, check, mask, message in failing:
        positions = np.flatnonzero(mask)
        failures[name][check] = len(positions)
        for position in positions.tolist():
            text = message(position) if callable(message) else message
            reasons[position].append(Reason(name, check, text))
    good_index = np.flatnonzero(~bad)
    good = pa.table(typed).take(good_index) if bad_index.size else pa.table(typed)
    return ContractResult(good, good_index, bad_index, dict(reasons), drift, dict(failures))


def _structural_drift(table: pa.Table, spec: ProjectSpec) -> list[str]:
    expected = list(spec.columns)
    present = set(table.column_names)
    drift = [
        f"column '{name}' is missing from the source (declared in the spec)"
        for name in expected
        if name not in present
    ]
    drift += [
        f"column '{name}' is new: the spec does not declare it (add it to 'columns', "
        "with role: ignored to keep it out of the model)"
        for name in table.column_names
        if name not in spec.columns
    ]
    return drift


def _retyped(
    name: str, col: ColumnSpec, source: pa.Array, checked: _Column, fraction: float
) -> str | None:
    """A drift message when most non-null values fail the column's type."""
    bad_type = checked.checks.get("type")
    if bad_type is None or not bad_type.any():
        return None
    non_null = int(len(checked.values) - checked.values.null_count) + int(bad_type.sum())
    if bad_type.sum() <= fraction * non_null:
        return None
    examples = source.filter(pa.array(bad_type)).slice(0, _SAMPLE).to_pylist()
    return (
        f"column '{name}' looks retyped: {int(bad_type.sum())} of {non_null} values are not "
        f"{col.type.value} (e.g. {', '.join(repr(v) for v in examples)})"
    )


def _as_numpy_mask(array: pa.Array) -> np.ndarray:
    """A boolean Arrow array as a numpy mask, nulls counted as False."""
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _check_column(name: str, source: pa.Array, col: ColumnSpec, null_values: list[str]) -> _Column:
    values, null, bad_type = _typed(source, col, null_values)
    checks: dict[str, np.ndarray] = {"type": bad_type}
    messages: dict[str, Any] = {"type": lambda i: _type_message(source, i, col)}
    if not col.nullable:
        checks["missing"] = null
        messages["missing"] = "missing value (the column is not nullable)"
    if col.min is not None:
        checks["min"] = _as_numpy_mask(pc.less(values, col.min))
        messages["min"] = lambda i: f"{values[i].as_py()} is below min {col.min:g}"
    if col.max is not None:
        checks["max"] = _as_numpy_mask(pc.greater(values, col.max))
        messages["max"] = lambda i: f"{values[i].as_py()} is above max {col.max:g}"
    if col.categories is not None and col.type == ColumnType.CATEGORICAL:
        allowed = pa.array(col.categories, type=pa.string())
        checks["category"] = _as_numpy_mask(pc.invert(pc.is_in(values, value_set=allowed))) & ~null
        messages["category"] = lambda i: (
            f"unknown category {values[i].as_py()!r}; allowed: {_short_list(col.categories)}"
        )
    if col.unique or col.role == ColumnRole.ID:
        series = pd.Series(values.to_pandas())
        duplicated = series.duplicated(keep="first").to_numpy() & ~null
        checks["unique"] = duplicated
        messages["unique"] = lambda i: f"duplicate value {values[i].as_py()!r} (must be unique)"
    return _Column(values=values, checks=checks, messages=messages)


def _short_list(values: list[str] | None, limit: int = 8) -> str:
    values = values or []
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def _type_message(source: pa.Array, position: int, col: ColumnSpec) -> str:
    return f"{source[position].as_py()!r} is not a valid {col.type.value}"


def _typed(
    source: pa.Array, col: ColumnSpec, null_values: list[str]
) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """The column typed per spec, its null mask and its bad-type mask."""
    if not (pa.types.is_string(source.type) or pa.types.is_large_string(source.type)):
        native = _from_typed(source, col)
        if native is not None:
            return native
        source = pc.cast(source, pa.string())
    trimmed = pc.utf8_trim_whitespace(source)
    null_array = pc.or_(pc.is_null(trimmed), pc.is_in(trimmed, value_set=pa.array(null_values)))
    null = _as_numpy_mask(null_array)
    present = pc.if_else(null_array, pa.scalar(None, pa.string()), trimmed)
    values, valid = parse_strings(present, col)
    bad_type = ~_as_numpy_mask(valid) & ~null
    return values, null, bad_type


def parse_strings(present: pa.Array, col: ColumnSpec) -> tuple[pa.Array, pa.Array]:
    """Parse non-null strings as ``col.type``: values (null where invalid) and a validity mask."""
    kind = col.type
    if kind == ColumnType.NUMERIC:
        valid = pc.match_substring_regex(present, _FLOAT)
        return pc.cast(pc.if_else(valid, present, None), pa.float64()), valid
    if kind == ColumnType.INTEGER:
        valid = pc.match_substring_regex(present, _INTEGER)
        digits = pc.replace_substring_regex(pc.if_else(valid, present, None), r"\.0*$", "")
        return pc.cast(digits, pa.int64()), valid
    if kind == ColumnType.BOOLEAN:
        lowered = pc.utf8_lower(present)
        is_true = pc.is_in(lowered, value_set=pa.array(_TRUE))
        valid = pc.or_(is_true, pc.is_in(lowered, value_set=pa.array(_FALSE)))
        return pc.if_else(valid, is_true, None), valid
    if kind == ColumnType.DATETIME:
        parsed = _parse_datetimes(present, col.format)
        return parsed, pc.is_valid(parsed)
    return present, pc.is_valid(present)


def _parse_datetimes(present: pa.Array, fmt: str | None) -> pa.Array:
    if fmt is not None:
        return pc.strptime(present, format=fmt, unit="us", error_is_null=True)
    series = pd.Series(present.to_pandas(), dtype="object")
    try:
        parsed = pd.to_datetime(series, errors="coerce", format="ISO8601")
    except (ValueError, TypeError):
        parsed = pd.to_datetime(series, errors="coerce", format="ISO8601", utc=True)
    return pa.array(parsed, type=pa.timestamp("us", tz=getattr(parsed.dt, "tz", None)))


def _from_typed(
    source: pa.Array, col: ColumnSpec
) -> tuple[pa.Array, np.ndarray, np.ndarray] | None:
    """Check a natively typed column (Parquet, SQL); None means: parse it as strings."""
    kind, arrow = col.type, source.type
    null = _as_numpy_mask(pc.is_null(source, nan_is_null=True))
    no_bad = np.zeros(len(source), dtype=bool)
    numeric = (
        pa.types.is_integer(arrow) or pa.types.is_floating(arrow) or pa.types.is_decimal(arrow)
    )
    if kind == ColumnType.NUMERIC and numeric:
        values = pc.cast(source, pa.float64())
        finite = _as_numpy_mask(pc.is_finite(values))
        values = pc.if_else(pc.is_nan(values), None, values)
        return values, null, ~finite & ~null
    if kind == ColumnType.INTEGER and numeric:
        as_float = pc.cast(source, pa.float64())
        integral = _as_numpy_mask(pc.equal(pc.floor(as_float), as_float))
        bad = ~integral & ~null
        kept = pc.if_else(pa.array(bad | null), None, as_float)
        return pc.cast(kept, pa.int64()), null, bad
    if kind == ColumnType.BOOLEAN and (pa.types.is_boolean(arrow) or pa.types.is_integer(arrow)):
        if pa.types.is_boolean(arrow):
            return source, null, no_bad
        valid = pc.is_in(source, value_set=pa.array([0, 1], type=arrow))
        return (
            pc.if_else(valid, pc.cast(source, pa.bool_()), None),
            null,
            ~_as_numpy_mask(valid) & ~null,
        )
    if kind == ColumnType.DATETIME and (pa.types.is_timestamp(arrow) or pa.types.is_date(arrow)):
        return pc.cast(source, pa.timestamp("us", tz=getattr(arrow, "tz", None))), null, no_bad
    return None


def raw_json(row: dict[str, Any]) -> str:
    """A raw row as JSON text for the quarantine (dates and decimals as strings)."""
    return json.dumps(row, default=str, ensure_ascii=False)

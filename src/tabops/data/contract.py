"""The data contract: every row checked against the spec's columns, vectorised with Arrow.

:func:`check_contract` types each column as the spec declares, and finds for every row each
check it fails: missing value, wrong type, out of range, unknown category, duplicate id.
It also finds schema drift (a column added, missing or retyped), which blocks a whole batch.
Rows are never dropped: each one ends up good or quarantined with its reasons.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tabops.limits import CATEGORY, MAX, MIN, Limits
from tabops.spec import ColumnRole, ColumnSpec, ColumnType, ProjectSpec, Task
from tabops.values import (
    FLOAT_PATTERN,
    INTEGER_PATTERN,
    BooleanTokens,
    NumberFormat,
    boolean_spellings,
    is_placeholder,
)

_SAMPLE = 3  # example bad values quoted in a drift message
#: Fewer failed values than this are bad rows (quarantined), never a retyped column: one
#: '34,5' among the blanks of a mostly empty column had blocked a 40-row batch.
_MIN_RETYPED = 5
_ZONE_SUFFIX = r"[T ]\d.*(?:[Zz]|[+-]\d\d(?::?\d\d)?)$"  # a time with a zone or offset
_ISO_DATE = r"[+-]?\d{4}(?:-\d\d-\d\d|\d{4})(?:[T ]|$)"  # 2024-01-31 or 20240131, then a time


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
    """The outcome of checking one whole table."""

    good: pa.Table  # typed per spec, spec column order
    good_index: np.ndarray  # positions of the good rows in the input
    bad_index: np.ndarray  # positions of the quarantined rows in the input
    reasons: dict[int, list[Reason]]  # input position -> every failed check
    drift: list[str] = field(default_factory=list)  # columns missing or new: nothing checked
    failures: dict[str, dict[str, int]] = field(default_factory=dict)  # column -> check -> rows
    retyped: list[str] = field(default_factory=list)  # columns whose values mostly failed


@dataclass
class CheckedBatch:
    """The outcome of checking one batch of a stream; positions count from the stream start."""

    good: pa.Table
    bad_positions: np.ndarray
    reasons: dict[int, list[Reason]]
    raw: list[dict[str, Any]]  # the raw values of each bad row, in bad_positions order


@dataclass
class _Column:
    """One column typed, with the masks of its failures."""

    values: pa.Array
    checks: dict[str, np.ndarray]  # check -> boolean mask of failing rows
    messages: dict[str, Any]  # check -> message, or a function of the row position


@dataclass
class _TypeTally:
    """Per column: values that failed their type, out of how many present, with examples."""

    failed: int = 0
    present: int = 0
    examples: list[Any] = field(default_factory=list)


class ContractChecker:
    """Checks a stream of batches against the spec, keeping what spans batches: unique values
    seen so far, failure counts, and the type-failure tallies that reveal a retyped column."""

    def __init__(self, spec: ProjectSpec, source_schema: pa.Schema) -> None:
        self.spec = spec
        self.drift = _structural_drift(source_schema.names, spec)
        self.failures: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._seen: dict[str, np.ndarray] = {}  # sorted distinct values of unique columns
        self._types: dict[str, _TypeTally] = defaultdict(_TypeTally)
        self.schema = pa.schema(
            [_output_field(name, col, source_schema) for name, col in spec.columns.items()]
            if not self.drift
            else []
        )

    def remember(self, rows: pa.Table) -> None:
        """Treat ``rows`` (typed, e.g. the snapshot being appended to) as seen before, so that
        unique columns stay unique across the whole dataset, not only within one batch."""
        for name, col in self.spec.columns.items():
            if (col.unique or col.role == ColumnRole.ID) and name in rows.column_names:
                self._remember(name, _present(rows.column(name).combine_chunks()))

    def check(self, batch: pa.RecordBatch | pa.Table, offset: int) -> CheckedBatch:
        """Check one batch whose first row is row ``offset`` of the stream."""
        table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
        typed: dict[str, pa.Array] = {}
        failing: list[tuple[str, str, np.ndarray, Any]] = []
        for name, col in self.spec.columns.items():
            source = table.column(name).combine_chunks()
            if col.role == ColumnRole.IGNORED:
                typed[name] = source
                continue
            checked = _check_column(source, col, self.spec.source.csv.null_values)
            if col.unique or col.role == ColumnRole.ID:
                checked.checks["unique"] = self._repeated(name, checked.values)
                checked.messages["unique"] = _unique_message(checked.values)
            typed[name] = checked.values
            self._tally_types(name, source, checked)
            for check, mask in checked.checks.items():
                if mask.any():
                    failing.append((name, check, mask, checked.messages[check]))

        bad = np.zeros(table.num_rows, dtype=bool)
        for _, _, mask, _ in failing:
            bad |= mask
        reasons: dict[int, list[Reason]] = defaultdict(list)
        for name, check, mask, message in failing:
            positions = np.flatnonzero(mask)
            self.failures[name][check] += len(positions)
            for position in positions.tolist():
                text = message(position) if callable(message) else message
                reasons[position + offset].append(Reason(name, check, text))
        local_bad = np.flatnonzero(bad)
        good = pa.Table.from_arrays([typed[f.name] for f in self.schema], schema=self.schema)
        if local_bad.size:
            good = good.filter(pa.array(~bad))
        raw = table.take(local_bad).to_pylist() if local_bad.size else []
        return CheckedBatch(good, local_bad + offset, dict(reasons), raw)

    def _repeated(self, name: str, values: pa.Array) -> np.ndarray:
        """Rows whose value was seen before, in this batch or an earlier one (nulls never)."""
        positions = np.flatnonzero(_as_numpy_mask(values.is_valid()))
        present = _present(values)
        repeated = pd.Series(present).duplicated().to_numpy()  # within this batch
        seen = self._seen.get(name)
        if seen is not None and len(seen):
            found = np.searchsorted(seen, present).clip(max=len(seen) - 1)
            repeated |= seen[found] == present
        self._remember(name, present)
        mask = np.zeros(len(values), dtype=bool)
        mask[positions[repeated]] = True
        return mask

    def _remember(self, name: str, present: np.ndarray) -> None:
        # A sorted array, not a set: vectorised lookups, no Python object per value.
        seen = self._seen.get(name)
        merged = np.concatenate([seen, present]) if seen is not None else present
        merged = np.sort(merged, kind="stable")  # radix sort for integers: linear
        if len(merged) > 1:
            merged = merged[np.concatenate(([True], merged[1:] != merged[:-1]))]
        self._seen[name] = merged

    def _tally_types(self, name: str, source: pa.Array, checked: _Column) -> None:
        bad_type = checked.checks["type"]
        tally = self._types[name]
        failed = int(bad_type.sum())
        tally.failed += failed
        tally.present += int(len(checked.values) - checked.values.null_count) + failed
        if failed and len(tally.examples) < _SAMPLE:
            tally.examples += source.filter(pa.array(bad_type)).slice(0, _SAMPLE).to_pylist()

    def retyped(self) -> list[str]:
        """Columns whose values mostly failed their type: schema drift, once all batches are in."""
        messages = []
        for name, tally in self._types.items():
            if (
                tally.failed >= _MIN_RETYPED
                and tally.failed > self.spec.contract.retype_fraction * tally.present
            ):
                examples = ", ".join(repr(v) for v in tally.examples[:_SAMPLE])
                kind = self.spec.columns[name].type.value
                messages.append(
                    f"column '{name}' looks retyped: {tally.failed} of {tally.present} values "
                    f"are not {kind} (e.g. {examples})"
                )
        return messages

    def failure_counts(self) -> dict[str, dict[str, int]]:
        return {name: dict(checks) for name, checks in self.failures.items()}


def check_contract(
    table: pa.Table, spec: ProjectSpec, existing: pa.Table | None = None
) -> ContractResult:
    """Check every row of a whole ``table`` against ``spec``'s columns.

    Args:
        table: All strings (CSV) or typed (Parquet, SQL).
        spec: The project spec whose columns are the contract.
        existing: Rows already in the dataset; unique columns must not repeat their values.
    """
    checker = ContractChecker(spec, table.schema)
    if existing is not None:
        checker.remember(existing)
    empty = np.array([], dtype=np.int64)
    if checker.drift:
        return ContractResult(table.slice(0, 0), empty, empty, {}, drift=checker.drift)
    checked = checker.check(table, 0)
    bad = np.zeros(table.num_rows, dtype=bool)
    bad[checked.bad_positions] = True
    return ContractResult(
        good=checked.good,
        good_index=np.flatnonzero(~bad),
        bad_index=checked.bad_positions,
        reasons=checked.reasons,
        failures=checker.failure_counts(),
        retyped=checker.retyped(),
    )


#: Each column type as Arrow holds it (typed columns at ingest; ids in batch outputs).
ARROW_TYPES = {
    ColumnType.NUMERIC: pa.float64(),
    ColumnType.INTEGER: pa.int64(),
    ColumnType.BOOLEAN: pa.bool_(),
    ColumnType.CATEGORICAL: pa.string(),
    ColumnType.TEXT: pa.string(),
    ColumnType.DATETIME: pa.timestamp("us", tz="UTC"),
}


def _output_field(name: str, col: ColumnSpec, source_schema: pa.Schema) -> pa.Field:
    """The snapshot's field for a column: its spec type, or the source's for ignored columns."""
    if col.role == ColumnRole.IGNORED:
        return source_schema.field(name)
    return pa.field(name, ARROW_TYPES[col.type])


def _structural_drift(column_names: list[str], spec: ProjectSpec) -> list[str]:
    present = set(column_names)
    drift = [
        f"column '{name}' is missing from the source (declared in the spec)"
        for name in spec.columns
        if name not in present
    ]
    drift += [
        f"column '{name}' is new: the spec does not declare it (add it to 'columns', "
        "with role: ignored to keep it out of the model)"
        for name in column_names
        if name not in spec.columns
    ]
    return drift


def _present(values: pa.Array) -> np.ndarray:
    """The non-null values as a numpy array (numbers and times native, the rest objects)."""
    return np.asarray(values.drop_null().to_numpy(zero_copy_only=False))


def _unique_message(values: pa.Array) -> Any:
    return lambda i: f"duplicate value {values[i].as_py()!r} (must be unique)"


def _as_numpy_mask(array: pa.Array) -> np.ndarray:
    """A boolean Arrow array as a numpy mask, nulls counted as False."""
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def check_values(
    source: pa.Array, col: ColumnSpec, null_values: list[str]
) -> tuple[pa.Array, dict[str, np.ndarray]]:
    """One column typed as ingest types it (null where a value is invalid), with the mask of
    the rows failing each of its checks (type, missing, min, max, category): the values
    ingest would quarantine, for readers that count them instead (``monitor run --data``)."""
    checked = _check_column(source, col, null_values)
    return checked.values, checked.checks


def target_labels(source: pa.Array, spec: ProjectSpec) -> tuple[pd.Series, dict[str, np.ndarray]]:
    """Each row's label as training reads it (text for classes), None where missing or refused
    by the contract, with the masks of the refused values per check (a missing label is no
    refusal: its row is unlabelled)."""
    assert spec.target is not None
    values, checks = check_values(source, spec.columns[spec.target], spec.source.csv.null_values)
    failed = {check: mask for check, mask in checks.items() if mask.any() and check != "missing"}
    bad = np.zeros(len(source), dtype=bool)
    for mask in failed.values():
        bad |= mask
    labels: pd.Series = values.to_pandas().astype(object)
    labels[bad] = None
    if spec.task != Task.REGRESSION:
        known = labels.notna()
        labels[known] = labels[known].astype(str)
    return labels, failed


def explain_values(
    source: pa.Array, col: ColumnSpec, null_values: list[str]
) -> tuple[pa.Array, dict[str, np.ndarray], Callable[[str, int], str]]:
    """As :func:`check_values`, with ``reason(check, position)``: why that row failed that
    check, in ingest's words (batch scoring's rejects)."""
    checked = _check_column(source, col, null_values)

    def reason(check: str, position: int) -> str:
        message = checked.messages[check]
        return str(message(position) if callable(message) else message)

    return checked.values, checked.checks, reason


def _check_column(source: pa.Array, col: ColumnSpec, null_values: list[str]) -> _Column:
    values, null, bad_type = _typed(source, col, null_values)
    checks: dict[str, np.ndarray] = {"type": bad_type}
    messages: dict[str, Any] = {"type": lambda i: _type_message(source, i, col)}
    if not col.nullable:
        checks["missing"] = null
        messages["missing"] = "missing value (the column is not nullable)"
    # The limits' rule (tabops.limits), applied to the whole column at once.
    limits = Limits.of(col)
    failing: dict[str, pa.Array] = {}
    if limits.min is not None:
        failing[MIN] = pc.less(values, limits.min)
    if limits.max is not None:
        failing[MAX] = pc.greater(values, limits.max)
    if limits.categories is not None:
        allowed = pa.array(limits.categories, type=pa.string())
        failing[CATEGORY] = pc.invert(pc.is_in(values, value_set=allowed))
    for check, mask in failing.items():
        checks[check] = _as_numpy_mask(mask) & ~null
        messages[check] = _limit_message(limits, check, values)
    return _Column(values=values, checks=checks, messages=messages)


def _limit_message(limits: Limits, check: str, values: pa.Array) -> Any:
    return lambda i: limits.reason(check, values[i].as_py())


def _type_message(source: pa.Array, position: int, col: ColumnSpec) -> str:
    value = source[position].as_py()
    message = f"{value!r} is not a valid {col.type.value}"
    if col.type == ColumnType.BOOLEAN:
        message += f" (expected {BooleanTokens.of(col).describe()})"
    elif isinstance(value, str) and is_placeholder(value):
        message += (
            f" (if {value.strip()!r} marks a missing value, add it to source.csv.null_values)"
        )
    elif isinstance(value, str) and value.strip() and not re.search(r"\d", value):
        message += (  # a word where a number or a date belongs: 'Unknown', 'not available'
            f" (if {value.strip()!r} marks a missing value here, add it to the column's "
            "null_values in tabops.yaml)"
        )
    return message


def _typed(
    source: pa.Array, col: ColumnSpec, null_values: list[str]
) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """The column typed per spec, its null mask and its bad-type mask."""
    if not (pa.types.is_string(source.type) or pa.types.is_large_string(source.type)):
        native = _from_typed(source, col)
        if native is not None:
            return native
        source = pc.cast(source, pa.string())
    clean = _clean_strings(source, col)
    if clean is not None:
        no_failures = np.zeros(len(source), dtype=bool)
        return clean, no_failures, no_failures
    trimmed = pc.utf8_trim_whitespace(source)
    tokens = pa.array([*null_values, *(col.null_values or [])], pa.string())
    null_array = pc.or_(pc.is_null(trimmed), pc.is_in(trimmed, value_set=tokens))
    null = _as_numpy_mask(null_array)
    present = pc.if_else(null_array, pa.scalar(None, pa.string()), trimmed)
    values, valid = parse_strings(present, col)
    bad_type = ~_as_numpy_mask(valid) & ~null
    return values, null, bad_type


def _clean_strings(source: pa.Array, col: ColumnSpec) -> pa.Array | None:
    """The column typed in one pass when every value is present and valid as it stands (the
    common case), else None: then the careful path trims, finds nulls and checks each value."""
    if source.null_count:
        return None
    kind = col.type
    if kind in (ColumnType.NUMERIC, ColumnType.INTEGER):
        # '1.234' is 1234 with thousands: '.', so a formatted column takes the careful path
        return _cast_plain(source, kind) if NumberFormat.of(col).plain else None
    try:
        if kind == ColumnType.DATETIME and col.format is None:
            return _as_utc(pc.cast(source, pa.timestamp("us")))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    categories = Limits.of(col).categories
    if categories is not None:  # categorical, every value allowed
        allowed = pa.array(categories, type=pa.string())
        return source if pc.all(pc.is_in(source, value_set=allowed)).as_py() else None
    return None


def parse_strings(present: pa.Array, col: ColumnSpec) -> tuple[pa.Array, pa.Array]:
    """Parse non-null strings as ``col.type``: values (null where invalid) and a validity mask."""
    kind = col.type
    if kind in (ColumnType.NUMERIC, ColumnType.INTEGER):
        number_format = NumberFormat.of(col)
        if not number_format.plain:
            present = _to_plain_numbers(present, number_format)
        values = _cast_plain(present, kind)  # the common case, every value valid: no regex
        if values is not None:
            return values, pc.is_valid(values)
    if kind == ColumnType.NUMERIC:
        matches = pc.match_substring_regex(present, FLOAT_PATTERN)
        values = pc.cast(pc.if_else(matches, present, None), pa.float64())
        valid = pc.fill_null(pc.is_finite(values), False)  # '1e999' matches but is inf
        return pc.if_else(valid, values, None), valid
    if kind == ColumnType.INTEGER:
        matches = pc.match_substring_regex(present, INTEGER_PATTERN)
        digits = pc.replace_substring_regex(pc.if_else(matches, present, None), r"\.0*$", "")
        values = _to_int64(pc.replace_substring_regex(digits, r"^\+", ""))
        return values, pc.is_valid(values)
    if kind == ColumnType.BOOLEAN:
        tokens = BooleanTokens.of(col)
        keys = pc.utf8_lower(present)
        is_true = pc.is_in(keys, value_set=pa.array(sorted(tokens.true_keys), pa.string()))
        is_false = pc.is_in(keys, value_set=pa.array(sorted(tokens.false_keys), pa.string()))
        valid = pc.or_(is_true, is_false)
        return pc.if_else(valid, is_true, None), valid
    if kind == ColumnType.DATETIME:
        parsed = _as_utc(_parse_datetimes(present, col.formats))
        return parsed, pc.is_valid(parsed)
    if (spelled := boolean_spellings(col.categories)) is not None:  # 'True' is 'TRUE'
        found = pc.index_in(pc.utf8_lower(present), value_set=pa.array(list(spelled)))
        declared = pc.take(pa.array(list(spelled.values()), pa.string()), found)
        present = pc.if_else(pc.is_valid(found), declared, present)
    return present, pc.is_valid(present)


def _to_plain_numbers(present: pa.Array, number_format: NumberFormat) -> pa.Array:
    """``present`` rewritten to the plain number syntax, as :meth:`NumberFormat.to_plain`."""
    text = present
    if (units := number_format.unit_pattern) is not None:
        text = pc.replace_substring_regex(text, units, r"\1")
    if (grouped := number_format.grouped_pattern) is not None:
        ungrouped = text
        for separator in number_format.separators:
            ungrouped = pc.replace_substring(ungrouped, separator, "")
        text = pc.if_else(pc.match_substring_regex(text, grouped), ungrouped, text)
    if number_format.decimal != ".":
        swapped = pc.replace_substring(text, number_format.decimal, ".")
        text = pc.if_else(pc.match_substring(text, "."), pa.scalar("invalid"), swapped)
    return text


def _cast_plain(values: pa.Array, kind: ColumnType) -> pa.Array | None:
    """``values`` (strings, nulls allowed) cast in one Arrow pass when the cast accepts exactly
    what the regexes accept: finite floats and decimal integers. Else None."""
    try:
        cast = pc.cast(values, ARROW_TYPES[kind])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if kind == ColumnType.NUMERIC and not pc.all(pc.is_finite(cast)).as_py():
        return None  # 'nan', 'inf' and overflows: the regex path reports them
    if kind == ColumnType.INTEGER and _has_hex_prefix(values):
        return None  # Arrow reads '0x1F' as hex; tabops takes decimal integers only
    return cast


def _has_hex_prefix(values: pa.Array) -> bool:
    # Two plain substring scans: several times faster than one case-insensitive (regex) scan.
    return any(pc.any(pc.match_substring(values, x)).as_py() for x in ("x", "X"))


def _to_int64(digits: pa.Array) -> pa.Array:
    """Decimal strings as int64, null where the value does not fit (19-digit overflow)."""
    try:
        return pc.cast(digits, pa.int64())
    except pa.ArrowInvalid:  # rare: look at each value
        fits = [None if v is None or not -(2**63) <= int(v) < 2**63 else int(v)
                for v in digits.to_pylist()]  # fmt: skip
        return pa.array(fits, type=pa.int64())


def _as_utc(values: pa.Array) -> pa.Array:
    """Timestamps in UTC (values without a zone are taken as UTC): one type for every batch."""
    return pc.cast(values, ARROW_TYPES[ColumnType.DATETIME])


def _parse_datetimes(present: pa.Array, formats: tuple[str, ...]) -> pa.Array:
    if formats:  # each value by the first format that reads it
        return pc.coalesce(*(
            _as_utc(pc.strptime(present, format=fmt, unit="us", error_is_null=True))
            for fmt in formats
        ))  # fmt: skip
    try:  # the common case, every value plain ISO 8601 without a zone: one Arrow cast
        return pc.cast(present, pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    parsed = iso_datetimes(pd.Series(present.to_pandas(), dtype="object"))
    return pa.array(parsed, type=ARROW_TYPES[ColumnType.DATETIME])


def formatted_datetimes(values: pd.Series, formats: tuple[str, ...]) -> pd.Series:
    """A pandas column of date-times in UTC by the contract's rule: strings in the first of
    ``formats`` that reads them (ISO 8601 when there are none), timestamps as they are."""
    if values.dtype == object and not formats:
        return iso_datetimes(values)
    if not formats or pd.api.types.is_datetime64_any_dtype(values):
        return pd.to_datetime(values, utc=True, errors="coerce")
    parsed = pd.to_datetime(values, utc=True, errors="coerce", format=formats[0])
    for fmt in formats[1:]:
        parsed = parsed.fillna(pd.to_datetime(values, utc=True, errors="coerce", format=fmt))
    return parsed


def iso_datetimes(strings: pd.Series) -> pd.Series:
    """ISO 8601 strings as UTC timestamps (NaT where invalid), whatever mix of offsets ('Z',
    '+01:00' then '+02:00' across a daylight-saving change) and naive values: aware values are
    converted to UTC and naive ones taken as UTC, as serving does. Aware and naive values are
    parsed apart: pandas reads a naive value after an aware one with that one's offset."""
    aware = strings.str.contains(_ZONE_SUFFIX, na=False, regex=True)
    # pandas' ISO8601 also reads '2024/01/31', which serving (datetime.fromisoformat) refuses;
    # values that are no string (datetime objects, missing ones) go to pandas as before
    iso = strings.str.match(_ISO_DATE).ne(False)
    parsed = pd.Series(pd.NaT, index=strings.index, dtype="datetime64[us, UTC]")
    for part in (aware & iso, ~aware & iso):
        if part.any():
            found = pd.to_datetime(strings[part], errors="coerce", format="ISO8601", utc=True)
            parsed[part] = found.dt.as_unit("us")
    # pandas parses years 1677-2262 only; serving takes years 1-9999: read the rest as it does
    # (one by one, so only what starts like a date: not every value of a string column).
    left = parsed.isna() & strings.str.match(r"\d{4}-?\d\d", na=False)
    if left.any():
        parsed[left] = pd.Series(
            [_python_iso(v) for v in strings[left]],
            index=parsed.index[left],
            dtype="datetime64[us, UTC]",
        )
    return parsed


def _python_iso(value: object) -> dt.datetime | None:
    """One ISO 8601 value in UTC by Python's reading of it, or None."""
    try:
        stamp = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
        return stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp.astimezone(dt.UTC)
    except (ValueError, OverflowError):  # e.g. 0001-01-01T00:00:00+01:00 is before year 1
        return None


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
        # Not a safe cast: an integer past 2^53 rounds to the nearest float, as its text does.
        values = pc.cast(source, pa.float64(), safe=False)
        finite = _as_numpy_mask(pc.is_finite(values))
        values = pc.if_else(pc.is_nan(values), None, values)
        return values, null, ~finite & ~null
    if kind == ColumnType.INTEGER and (pa.types.is_integer(arrow) or pa.types.is_floating(arrow)):
        bad = ~_as_numpy_mask(_fits_int64(source)) & ~null
        kept = pc.if_else(pa.array(bad | null), None, source)
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
        return (
            _as_utc(pc.cast(source, pa.timestamp("us", tz=getattr(arrow, "tz", None)))),
            null,
            no_bad,
        )
    return None


def _fits_int64(source: pa.Array) -> pa.Array:
    """Which values of an integer or float array are int64 values, without a detour through
    float64 (it rounds 64-bit ids past 2^53): floats must be finite, whole and in range."""
    if pa.types.is_floating(source.type):
        return pc.and_(
            pc.equal(pc.floor(source), source),
            pc.and_(pc.greater_equal(source, -(2.0**63)), pc.less(source, 2.0**63)),
        )
    if source.type == pa.uint64():
        return pc.less_equal(source, pa.scalar(2**63 - 1, pa.uint64()))
    return pc.is_valid(source)  # every other integer type fits


def raw_json(row: dict[str, Any]) -> str:
    """A raw row as JSON text for the quarantine (dates and decimals as strings)."""
    return json.dumps(row, default=str, ensure_ascii=False)

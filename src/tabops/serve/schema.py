"""The request schema: strict validation of records against the model's input columns.

Every feature must be present, of its declared type, finite, representable without loss in
the model's float64 input and inside the spec's contract (min, max, categories). A value is read
as the training data meant it (:mod:`tabops.values`): a boolean is ``true``/``false`` or one of
the column's tokens (``"Yes"``, or ``1`` where the file had ``1``); ``12.0`` is the integer 12.
Nothing else is coerced: ``1.5`` is not an integer and in JSON ``"3"`` is not a number. A
``text/csv`` body is read as text, with the contract's rules (``text=True``). Columns with role
``id`` may be sent too; they are logged as the entity id, never given to the model.

A valid record becomes a *model row*: the model-frame columns of
:func:`tabops.model.frame.model_frame` (datetimes as naive UTC times, which the predictor
expands as the trained pipeline does), ready for a predictor.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tabops.limits import CATEGORY, MAX, MIN, Limits
from tabops.model.columns import feature_names
from tabops.spec import ColumnRole, ColumnType, ProjectSpec
from tabops.values import BooleanTokens, NumberFormat, read_number

#: Longest accepted string value (categories, ids, datetimes); text columns are exempt.
MAX_STRING = 1000
_NUMERIC = (ColumnType.NUMERIC, ColumnType.INTEGER)
#: Integers beyond this are not all exact in float64; integer columns refuse them.
_EXACT_INT = 2**53
_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1
#: What pandas names a column with a blank header (a file's row names, an index written out):
#: a pandas client sends it with every record, and it is never a model's input.
_PANDAS_INDEX = re.compile(r"Unnamed: \d+")
_NUL = "\x00"  # PostgreSQL text cannot hold it: a logged record with one could never be stored
#: What is wrong with a field (:attr:`Problem.kind`), for the refusal counts: the data
#: contract's checks (missing, type, min, max, category) and serving's own two.
MISSING, TYPE, UNKNOWN_FIELD, MALFORMED = "missing", "type", "unknown_field", "malformed"
KINDS = (MISSING, TYPE, MIN, MAX, CATEGORY, UNKNOWN_FIELD, MALFORMED)


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field of one record."""

    field: str
    message: str
    record: int | None = None  # position in a batch; None for a single record
    kind: str = TYPE  # one of KINDS; not sent to clients (the message says it)

    def to_dict(self) -> dict[str, Any]:
        where = {} if self.record is None else {"record": self.record}
        return {"field": self.field, "message": self.message, **where}

    def __str__(self) -> str:
        where = "" if self.record is None else f"record {self.record}: "
        return f"{where}{self.field}: {self.message}"


class InvalidRecordsError(Exception):
    """Records that do not fit the schema; ``problems`` names every field, ``records`` is how
    many records the request had (all refused with it)."""

    def __init__(self, problems: list[Problem], records: int = 1) -> None:
        self.problems, self.records = problems, records
        shown = "; ".join(str(p) for p in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(f"{len(problems)} invalid field(s): {shown}{more}")


@dataclass(frozen=True)
class Column:
    """One input column and its rules."""

    name: str
    type: ColumnType
    nullable: bool
    limits: Limits = field(default_factory=Limits)  # range, categories: tabops.limits
    formats: tuple[str, ...] = ()  # datetime columns: strftime formats tried in turn
    booleans: BooleanTokens | None = None  # boolean columns: the strings read as true/false
    numbers: NumberFormat = field(default_factory=NumberFormat)  # how text writes numbers
    nulls: frozenset[str] = frozenset()  # strings read as missing: the file's and the column's


Converter = Callable[[Column, Any], Any]  # raises ValueError with the problem


class _OutOfLimitsError(ValueError):
    """A value of the right type outside the contract's limits; ``check`` is the one it fails."""

    def __init__(self, check: str, message: str) -> None:
        super().__init__(message)
        self.check = check


def _shown(name: str) -> str:
    return name if len(name) <= 64 else name[:64] + "..."


def _unknown(value: Any) -> str:
    """The problem of a field no column has: records wrapped under a key are named as such."""
    if isinstance(value, list | dict):
        return (
            "is not an input of this model: send the record itself, or a JSON array of "
            "records (for wrapped records, /invocations takes MLflow's dataframe_records "
            "and instances)"
        )
    return "is not an input of this model"


class RequestSchema:
    """The input columns of a project's model, from its spec."""

    def __init__(self, spec: ProjectSpec) -> None:
        nulls = frozenset(spec.source.csv.null_values)
        self.features = [_column(spec, name, nulls) for name in feature_names(spec)]
        self.ids = spec.columns_with_role(ColumnRole.ID)
        # Every column of the data may be sent (a row cut from the training file carries the
        # target and ignored columns); only features reach the model, ids are logged.
        self.known = frozenset(spec.columns)
        # Ignored columns (often what is kept out for privacy: names, card numbers) are
        # accepted and never logged.
        self.unlogged = frozenset(spec.columns_with_role(ColumnRole.IGNORED))
        self._converters: list[tuple[Column, Converter]] = [
            (c, _CONVERTERS[c.type]) for c in self.features
        ]

    def logged(self, record: dict[str, Any]) -> dict[str, Any]:
        """What the prediction log keeps of a record: all but the spec's ignored columns."""
        if self.unlogged.isdisjoint(record):
            return record
        return {k: v for k, v in record.items() if k not in self.unlogged}

    @property
    def model_columns(self) -> list[str]:
        """The model frame's columns, in order: the features."""
        return [column.name for column in self.features]

    def model_rows(
        self, records: list[Any], batch: bool, text: bool = False
    ) -> list[dict[str, Any]]:
        """Each record as a model row; :class:`InvalidRecordsError` naming every bad field.

        Records are normalised in place, so that the prediction log, rules and shadow scoring
        see typed values: boolean tokens become ``true``/``false`` and, with ``text`` (a CSV
        body: every value a string), numbers and nulls are read with the contract's rules.
        """
        rows: list[dict[str, Any]] = []
        problems: list[Problem] = []
        for position, record in enumerate(records):
            where = position if batch else None
            if not isinstance(record, dict):
                problems.append(Problem("(record)", "must be a JSON object", where, MALFORMED))
                continue
            before = len(problems)
            rows.append(self._features(record, where, text, problems))
            for name in self.ids:
                problem = _id_problem(record.get(name))
                if problem is not None:
                    problems.append(Problem(name, problem, where))
            # Unknown names are looked for when there is room for one, or when fields are
            # missing (a record wrapped in {"rows": [...]}: say so first, not what it lacks).
            if len(record) > len(self._converters) or len(problems) > before:
                problems[before:before] = [
                    Problem(_shown(name), _unknown(value), where, UNKNOWN_FIELD)
                    for name, value in record.items()
                    if name not in self.known and not _PANDAS_INDEX.fullmatch(name)
                ]
        if problems:
            raise InvalidRecordsError(problems, len(records))
        return rows

    def _features(
        self, record: dict[str, Any], where: int | None, text: bool, problems: list[Problem]
    ) -> dict[str, Any]:
        """One record's model row; what is wrong goes to ``problems``."""
        row: dict[str, Any] = {}
        for column, convert in self._converters:
            if column.name not in record:  # left out: null, where null is allowed
                if column.nullable:
                    _put_null(row, column)
                else:
                    problems.append(Problem(column.name, "is missing", where, MISSING))
                continue
            value = record[column.name]
            try:
                # A string is read as a file's field is (trimmed, null tokens, numbers in the
                # column's syntax): what a file may hold, a client may send. Free text stays.
                if type(value) is str and (text or column.type != ColumnType.TEXT):
                    instead = "" if text or column.numbers.plain else "; or send a number"
                    value = record[column.name] = _from_text(column, value, instead)
                if value is None:
                    if not column.nullable:
                        problems.append(Problem(column.name, "must not be null", where, MISSING))
                    _put_null(row, column)
                    continue
                converted = convert(column, value)
            except ValueError as exc:
                kind = exc.check if isinstance(exc, _OutOfLimitsError) else TYPE
                problems.append(Problem(column.name, str(exc), where, kind))
                continue
            row[column.name] = converted
            if column.booleans is not None and type(value) is not bool:
                record[column.name] = converted == 1.0  # a token: log it as a boolean
        return row

    def entity_id(self, record: dict[str, Any]) -> str | None:
        """The record's id column value, if it sent one (logged, not used by the model)."""
        for name in self.ids:
            value = record.get(name)
            if type(value) is float:  # an integral float (validated): 3.0 is the id 3
                value = int(value)
            if value is not None and not isinstance(value, dict | list):
                return str(value)[:128]
        return None

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of one record (OpenAPI 3.1): types, ranges, categories, nulls."""
        properties = {c.name: _json_type(c) for c in self.features}
        for name in self.ids:
            properties[name] = {
                "anyOf": [
                    {"type": "string", "maxLength": MAX_STRING},
                    {"type": "integer", "minimum": -(2**63), "maximum": 2**64 - 1},
                    {"type": "null"},
                ],
                "description": "Entity id (optional): logged with the prediction, not a feature.",
            }
        for name in sorted(self.known - properties.keys()):
            properties[name] = {
                "description": "A column of the data the model does not use "
                "(target, timestamp or ignored): accepted and not used."
            }
        return {
            "type": "object",
            "properties": properties,
            "required": [c.name for c in self.features if not c.nullable],
            "patternProperties": {
                f"^{_PANDAS_INDEX.pattern}$": {
                    "description": "pandas' name for a blank header (an index): accepted and "
                    "not used."
                }
            },
            "additionalProperties": False,
        }


def _column(spec: ProjectSpec, name: str, nulls: frozenset[str]) -> Column:
    declared = spec.columns[name]
    booleans = BooleanTokens.of(declared) if declared.type == ColumnType.BOOLEAN else None
    return Column(
        name,
        declared.type,
        declared.nullable,
        Limits.of(declared),
        declared.formats,
        booleans,
        NumberFormat.of(declared),
        nulls | frozenset(declared.null_values or ()),
    )


def _from_text(column: Column, text: str, instead: str = "") -> Any:
    """A field as the contract reads it from a file: trimmed, null tokens are null,
    numbers in the column's syntax (``instead``: what else the client may send); other
    types stay strings for their converter."""
    stripped = text.strip()
    if stripped in column.nulls:
        return None
    if column.type not in _NUMERIC:
        return stripped
    return _formatted_number(column, stripped, instead)


def _put_null(row: dict[str, Any], column: Column) -> None:
    row[column.name] = "" if column.type == ColumnType.TEXT else None


def _number(column: Column, value: Any) -> float:
    kind = type(value)  # a string was read as a number before (RequestSchema._from_text)
    if kind is not float and kind is not int:  # bool is an int subclass: refused here
        raise ValueError(f"must be a number, not {_json_name(value)}")
    if kind is int and not _INT64_MIN <= value <= _UINT64_MAX:
        # JSON parsers stop at 64 bits (orjson), so the prediction log could not hold it.
        raise ValueError("is outside the 64-bit integer range; send it as a float (e.g. 1.8e19)")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("must be a finite number")
    if kind is int and number != value:
        raise ValueError(f"{value} cannot be represented exactly as a float64 (lossy)")
    if column.type == ColumnType.INTEGER and not number.is_integer():
        raise ValueError(f"must be an integer, not {value!r} (lossy)")
    if column.type == ColumnType.INTEGER and abs(number) > _EXACT_INT:
        # What the OpenAPI schema promises; past it a JSON parser may already have rounded the
        # client's integer to a float (orjson does for integers beyond 64 bits).
        raise ValueError(f"must be between -2^53 and 2^53 to be exact in float64, not {value!r}")
    check = column.limits.number_check(number)
    if check is not None:
        raise _OutOfLimitsError(check, column.limits.problem(check, value))
    return number


def _formatted_number(column: Column, text: str, instead: str = "") -> int | float:
    """Trimmed ``text`` read as the column's files write numbers (a CSV field, or a JSON
    string for a column with a recorded writing); ``instead``: what else the client may send."""
    integer = column.type == ColumnType.INTEGER
    number = read_number(column.numbers.to_plain(text), integer)
    if number is None:
        kind = "an integer" if integer else "a number"
        written = "" if column.numbers.plain else f" written like {column.numbers.example(integer)}"
        raise ValueError(f"'{text[:64]}' is not {kind}{written}{instead}")
    return number


def _boolean(column: Column, value: Any) -> float:
    kind = type(value)
    if kind is bool:
        return 1.0 if value else 0.0
    assert column.booleans is not None
    read = None
    if kind is str:
        read = column.booleans.read(value)
    elif kind is int and column.booleans.recorded:  # 1 where the file had 1
        read = column.booleans.read(str(value))
    if read is None:
        shown = f"'{value[:64]}'" if kind is str else _json_name(value)
        raise ValueError(f"must be true or false (or {column.booleans.describe()}), not {shown}")
    return 1.0 if read else 0.0


def _category(column: Column, value: Any) -> str:
    if type(value) is not str:
        raise ValueError(f"must be a string, not {_json_name(value)}")
    if len(value) > MAX_STRING:
        raise ValueError(f"is longer than {MAX_STRING} characters")
    _refuse_nul(value)
    check = column.limits.category_check(value)
    if check is not None:
        raise _OutOfLimitsError(check, column.limits.problem(check, value))
    return value


def _text(column: Column, value: Any) -> str:
    if type(value) is not str:
        raise ValueError(f"must be a string, not {_json_name(value)}")
    _refuse_nul(value)
    return value


def _refuse_nul(value: str) -> None:
    if _NUL in value:
        raise ValueError("must not contain the NUL character (\\u0000)")


def _datetime(column: Column, value: Any) -> datetime:
    """The time as a naive UTC ``datetime``, as the model frame has it."""
    if type(value) is not str or len(value) > 64:
        raise ValueError(f"must be a date-time string, not {_json_name(value)}")
    try:
        stamp = _parsed_time(value, column.formats)
    except ValueError:
        expected = f"{_formats(column.formats)} or ISO 8601" if column.formats else "ISO 8601"
        raise ValueError(f"'{value}' is not a date-time in {expected}") from None
    # Like pandas.to_datetime(utc=True): naive times are UTC, aware ones converted to UTC.
    if stamp.tzinfo is None:
        return stamp
    try:
        return stamp.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise ValueError(f"'{value}' is outside the years 1-9999 in UTC") from None


def _parsed_time(value: str, formats: tuple[str, ...]) -> datetime:
    """The column's own formats first (a row copied from its file), then ISO 8601, which JSON
    clients and the version's request example send whatever the file's format."""
    for fmt in formats:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            pass
    return datetime.fromisoformat(value)


def _formats(formats: tuple[str, ...]) -> str:
    return "the format " + " or ".join(formats)


_CONVERTERS: dict[ColumnType, Converter] = {
    ColumnType.NUMERIC: _number,
    ColumnType.INTEGER: _number,
    ColumnType.BOOLEAN: _boolean,
    ColumnType.CATEGORICAL: _category,
    ColumnType.TEXT: _text,
    ColumnType.DATETIME: _datetime,
}


def _id_problem(value: Any) -> str | None:
    """What is wrong with an entity id value (None when it is fine): ids are logged, so they
    must be what the schema promises, a string or a 64-bit integer (or null / absent)."""
    if value is None:
        return None
    if type(value) is str:
        if _NUL in value:
            return "must not contain the NUL character (\\u0000)"
        return None if len(value) <= MAX_STRING else f"is longer than {MAX_STRING} characters"
    if type(value) is float:  # JSON Schema's integers include 3.0, but a float past 2^53 may
        # be what the JSON parser made of a longer integer (orjson does past 64 bits): lossy
        if not (value.is_integer() and abs(value) <= _EXACT_INT):
            return "must be a string or an exact integer, not a fractional or rounded number"
        value = int(value)
    if type(value) is int:
        return None if _INT64_MIN <= value <= _UINT64_MAX else "is outside the 64-bit integer range"
    return f"must be a string or an integer, not {_json_name(value)}"


def _json_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), "null")


def _json_type(column: Column) -> dict[str, Any]:
    schema: dict[str, Any]
    if column.type in _NUMERIC:
        schema = {"type": "integer" if column.type == ColumnType.INTEGER else "number"}
        if column.limits.min is not None:
            schema["minimum"] = column.limits.min
        if column.limits.max is not None:
            schema["maximum"] = column.limits.max
        if column.type == ColumnType.INTEGER:  # exactly representable in float64
            schema.setdefault("minimum", -_EXACT_INT)
            schema.setdefault("maximum", _EXACT_INT)
        example = column.numbers.example(column.type == ColumnType.INTEGER)
        written = {"type": "string", "description": f"a number as text, written like {example}"}
        schema = {"anyOf": [schema, written]}
    elif column.booleans is not None:
        tokens = sorted(column.booleans.true | column.booleans.false)
        numbers = [int(t) for t in tokens if t in ("0", "1") and column.booleans.recorded]
        text = {"type": "string", "pattern": column.booleans.pattern()}
        schema = {"anyOf": [{"type": "boolean"}, text]}
        if numbers:
            schema["anyOf"].append({"type": "integer", "enum": numbers})
        schema["description"] = f"true, false or {column.booleans.describe()}"
    elif column.type == ColumnType.DATETIME and column.formats:
        accepted = _formats(column.formats)
        schema = {"type": "string", "description": f"A date-time in {accepted} or ISO 8601"}
    elif column.type == ColumnType.DATETIME:
        schema = {"type": "string", "format": "date-time"}
    elif column.limits.categories is not None:
        schema = {"type": "string", "enum": sorted(column.limits.categories)}
    elif column.type == ColumnType.CATEGORICAL:
        schema = {"type": "string", "maxLength": MAX_STRING}
    else:
        schema = {"type": "string"}
    if column.nullable:
        schema = {"anyOf": [schema, {"type": "null"}]}
    return schema

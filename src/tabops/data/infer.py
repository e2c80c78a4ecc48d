"""Inferring a project spec from data: each column's role, type, nullability and ranges.

Every inference comes with a reason a person can check ("customerID: id, unique string").
The inferred contract accepts the data it was inferred from, row for row, except the rows
whose cells the reasons name as no number (a column is numeric when at most 1% are not).
A placeholder made of punctuation alone ('-', '.', '*') that stands where a number column has
no number is read as missing, written into the spec's ``source.csv.null_values``.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tabops.data.contract import check_contract, parse_strings
from tabops.data.leakage import PAIR_VALUES, leak_reason, linear_leak, pair_leaks
from tabops.errors import DataError
from tabops.spec import (
    ColumnRole,
    ColumnSpec,
    ColumnType,
    ContractSpec,
    Observed,
    ProjectSpec,
    SourceSpec,
    Task,
    TrainSpec,
)
from tabops.values import BooleanTokens, NumberFormat, is_placeholder, natural_order

_ID_NAME = re.compile(
    r"(^id$|[ ._]h?id$|^id[._]|ID$|Id$|^uuid$|(?i:(^|[ ._])key$)|^(nr|seq|seqno|hid|pid)$)"
)
#: Standard identifier codes (a book's ISBN, a product's EAN, UPC or SKU, a phone's IMEI):
#: digits that name one thing, never a quantity, whatever their repeats or gaps.
_CODE_NAME = re.compile(
    r"(?i:(^|[ ._-])(isbn|issn|ean|upc|gtin|sku|asin|imei|iban|ssn)([ ._-]?1[03])?$)"
)
#: Postal codes: numbers that name places, read as categories (a code 3000 is no less than
#: 3977); English, French, German, Spanish names (not CAP or CP: a market cap, a chest pain type).
_POSTAL_NAME = re.compile(
    r"(?i:(^|[ ._-])(zip|zipcode|zip[ ._-]code|post[ ._-]?code|postal[ ._-]?code|code[ ._-]postal"
    r"|plz|postleitzahl|c[oó]digo[ ._-]postal)$)"
)
#: Share of distinct values from which an integer column named like an id (but with repeats)
#: is taken for a record key rather than a feature, whatever its number of distinct values.
_MIN_REPEATED_ID_SHARE = 0.5
#: The names R, pandas and spreadsheets give a column of row names or row numbers.
_ROW_NAME = re.compile(
    r"^(rownames?|row\.names|unnamed: ?0|index|row|row ?(number|no|num)|#|no\.?|nr\.?|n[°º]\.?)$",
    re.I,
)
#: Rows from which a column counting 0, 1, 2... or 1, 2, 3... down the file is taken for a
#: row number whatever its name (fewer rows: too likely a small feature such as a step).
_ROW_NUMBER_MIN_ROWS = 100
#: Names of a row's time: English words within a name, whole words of other languages and
#: of periods (the Portuguese 'data', the German 'Datum', 'Período', 'week'), and Japanese and
#: Chinese words within a name (a publication date '公表_年月日', '日付', '日期', '時間').
_TIME_NAME = re.compile(
    r"(time|date|_ts$|^ts$|_at$|timestamp|年月日|日付|日時|時刻|日期|时间|時間"
    r"|(^|[ _.-])(data|datum|fecha|dia|día|jour|giorno|zeitpunkt|zeitraum|periodo|período"
    r"|période|periode|period|day|week|month|semana|mes|mois|monat)([ _.-]|$))",
    re.IGNORECASE,
)
_POSITIVE = ["yes", "true", "1", "y", "t", "positive", "pos", "fraud", "churn", "churned", "bad"]
#: A digit or a letter is the positive label only beside its opposite: the '1' of 0/1 is, the
#: '1' of 1/2 is a code (German credit's 1 is a good loan, its minority 2 the bad one).
_PAIRED_POSITIVE = {"1": "0", "y": "n", "t": "f"}
_MAX_CATEGORIES = 50
_MAX_CATEGORY_RATIO = 0.05
_TEXT_MIN_LENGTH = 25
_MAX_CLASSES = 100
_REGRESSION_MIN_DISTINCT = 20
#: A numeric target with fractions and more distinct values than this is a quantity (a few,
#: such as doses 0, 1 and 2.5, can be classes).
_FRACTION_CLASSES = 5
#: A column is numeric when at most this share of its present values is not a number.
_MAX_BAD_NUMBER_SHARE = 0.01
_BAD_EXAMPLES = 3
#: A first, vectorised pass for placeholders (no letter, digit or space); RE2's \w is ASCII, so
#: candidates are checked again with :func:`~tabops.values.is_placeholder` (a lone 'é' is a value).
_PLACEHOLDER = r"^[^\w\s]+$"
#: Number syntaxes tried in turn (decimal mark, digit-group separator): a ',' is read as
#: grouping thousands before it is read as a decimal mark.
_NUMBER_SYNTAXES: tuple[tuple[Literal[".", ","], Literal[",", ".", " ", "'"] | None], ...] = (
    (".", None), (".", ","), (",", "."), (",", " "), (".", " "), (".", "'"),
)  # fmt: skip
_FORMAT_SAMPLE = 200
#: Share of its first values that may fail a syntax other than the plain one before the whole
#: column is tried with it (the 1% allowed of the whole column may sit at its start).
_HEAD_SLACK = 0.25
_UNITS = ("%", "$", "€", "£", "¥", "₹")
#: Times of day without a date: read as datetimes on 1900-01-01 (what Arrow and Python's
#: strptime both give), so the model sees their hour. Last, after every date format.
_TIME_OF_DAY_FORMATS = ("%H:%M", "%H:%M:%S", "%I:%M %p", "%I:%M:%S %p")
#: How a time of day is written: two-digit minutes, so '2:1' (a score) is no time.
_TIME_OF_DAY = r"^\d{1,2}:\d{2}(:\d{2})?( ?[AaPp][Mm])?$"
#: Dates written as 8 digits, tried in turn in a column named like a date: ISO 8601's basic
#: form, then month-first (the NYC squirrel census' 10142018), then day-first.
_COMPACT_DATE_FORMATS = ("%Y%m%d", "%m%d%Y", "%d%m%Y")
#: Months without a day (2018-01, 01/2018, Jan-2018), tried in a column named like a date only:
#: elsewhere '2018-01' is as likely a code.
_MONTH_FORMATS = ("%Y-%m", "%Y/%m", "%m/%Y", "%m-%Y", "%b-%Y", "%b %Y", "%B %Y", "%b-%y")
#: Date formats tried in turn when the values are not ISO 8601; month-first before day-first.
#: (No fractions of seconds: Arrow's strptime has no %f.)
_DATETIME_FORMATS = (
    *(
        date + time
        for date in ("%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d", "%d.%m.%Y", "%m-%d-%Y", "%d-%m-%Y",
                     "%m/%d/%y", "%d/%m/%y", "%d.%m.%y", "%d-%b-%Y", "%d %b %Y", "%b %d, %Y",
                     "%b %d %Y", "%B %d, %Y", "%B %d %Y", "%d %B %Y", "%d-%b-%y")
        for time in ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p")
    ),
    "%Y-%m-%d %H:%M:%S UTC",  # BigQuery's export
    *_TIME_OF_DAY_FORMATS,
)  # fmt: skip


@dataclass
class Inference:
    """An inferred spec, the reason behind each column's inference, and what needs a look."""

    spec: ProjectSpec
    reasons: dict[str, str]
    quarantined: int = 0  # rows of the data that the inferred contract quarantines
    notes: list[str] = field(default_factory=list)  # for the user, beside the reasons
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Profile:
    name: str
    present: pa.Array  # trimmed strings, null where missing
    non_null: int
    nulls: int
    distinct: int

    @cached_property
    def counts(self) -> pa.StructArray:
        """Each present value with its number of rows (``values``, ``counts``)."""
        return pc.value_counts(self.present.drop_null())


def _profile(name: str, column: pa.Array, null_values: list[str]) -> _Profile:
    strings = column if pa.types.is_string(column.type) else pc.cast(column, pa.string())
    return _without(name, pc.utf8_trim_whitespace(strings), null_values)


def _without(name: str, trimmed: pa.Array, null_values: list[str]) -> _Profile:
    """The profile of ``trimmed`` strings with ``null_values`` read as missing."""
    missing = pc.or_(pc.is_null(trimmed), pc.is_in(trimmed, value_set=pa.array(null_values)))
    present = pc.if_else(missing, pa.scalar(None, pa.string()), trimmed)
    non_null = len(present) - present.null_count
    distinct = len(pc.unique(present.drop_null()))
    return _Profile(name, present, non_null, present.null_count, distinct)


def _placeholders(profile: _Profile) -> list[str]:
    """The column's present values made of punctuation alone."""
    present = profile.present.drop_null()
    marked = pc.unique(present.filter(pc.match_substring_regex(present, _PLACEHOLDER)))
    return [v for v in marked.to_pylist() if is_placeholder(v)]


#: Null tokens that are also words a category can be ('None': a car without airbags).
_WORD_NULLS = ("None",)


def _count_of(table: pa.Table, column: str, word: str) -> int:
    """How many of a text column's values are ``word`` (spaces around it trimmed)."""
    values = table.column(column)
    if not pa.types.is_string(values.type):
        return 0
    return int(pc.sum(pc.equal(pc.utf8_trim_whitespace(values), word)).as_py() or 0)


#: A word null token the target holds in at least this share of its rows is a class there.
_WORD_CLASS_SHARE = 0.05


def _target_word_classes(table: pa.Table, target: str, null_values: list[str]) -> dict[str, int]:
    """The word null tokens ('None') that a text target holds as a class, with their counts:
    'None' for no damage in 89% of a file's rows is an answer, and read as a missing label it
    left training the other 11%."""
    found = {}
    for token in (t for t in _WORD_NULLS if t in null_values):
        count = _count_of(table, target, token)
        if count and count >= _WORD_CLASS_SHARE * table.num_rows:
            found[token] = count
    return found


def _target_word_note(target: str, classes: dict[str, int]) -> str:
    listed = ", ".join(f"'{w}' ({n:,} rows)" for w, n in classes.items())
    return (
        f"{listed} is a class of the target '{target}', not a missing label: it is left out of "
        "source.csv.null_values, and the other columns holding it read it as missing still "
        "(their own null_values)."
    )


def _word_null_notes(
    table: pa.Table, null_values: list[str], profiles: dict[str, _Profile]
) -> list[str]:
    """A note naming the text columns where a word among ``null_values`` is read as missing."""
    notes = []
    for token in (t for t in _WORD_NULLS if t in null_values):
        found = []
        for name in table.column_names:
            count = _count_of(table, name, token)
            rest = profiles[name]
            if count and rest.non_null and _number_reading(rest, _MAX_BAD_NUMBER_SHARE) is None:
                found.append(f"'{name}' ({count:,} rows)")
        if found:
            notes.append(
                f"'{token}' is read as missing in {', '.join(found)}, as source.csv.null_values "
                f"says. If it is a value there (no airbags, no garage), remove '{token}' from "
                "source.csv.null_values in tabops.yaml: it is then a category of its own."
            )
    return notes


#: Words for "no value" (compared in lower case). Among a column's numbers or dates they are
#: read as missing in that column alone: elsewhere the same word may be a category (police
#: data's race 'Unknown' beside its age 'Unknown').
_MISSING_WORDS = pa.array(sorted({
    "unknown", "unk", "unkn", "missing", "none", "nil", "null", "na", "n.a.", "n.a", "n/k",
    "not known", "not available", "unavailable", "n/av", "no data", "nodata", "no info",
    "not applicable", "n.app", "not stated", "not reported", "not recorded", "not given",
    "not specified", "unspecified", "undefined", "blank", "(blank)", "empty", "nd", "n.d.",
    "#value!", "#div/0!", "#ref!", "#num!", "#name?", "#null!",
}))  # fmt: skip


def _no_value_words(profile: _Profile) -> list[str]:
    """The column's present values that are words for no value (``_MISSING_WORDS``)."""
    distinct = pc.unique(profile.present.drop_null())
    words = distinct.filter(pc.is_in(pc.utf8_lower(distinct), value_set=_MISSING_WORDS))
    return sorted(str(w) for w in words.to_pylist()) if len(words) < len(distinct) else []


def _missing_words(profile: _Profile) -> list[str]:
    """The column's words for no value, when its other values read as numbers or dates."""
    found = _no_value_words(profile)
    if not found:
        return []
    rest = _without(profile.name, profile.present, found)
    if (
        _number_reading(rest, _MAX_BAD_NUMBER_SHARE) is None
        and _compact_date(rest) is None
        and _datetime_reading(rest) is None
    ):
        return []
    return found


def _missing_markers(
    profiles: dict[str, _Profile],
) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """The placeholders that stand for a missing number, and the columns holding them: each is
    found in a column that reads as numbers without them. Those no column holds as a value
    are read as missing everywhere; the others (a '+'/'-' strand beside a '-' among numbers)
    in the number columns alone, returned per column."""
    numbers: dict[str, list[str]] = {}
    values: set[str] = set()
    for name, profile in profiles.items():
        if not (found := _placeholders(profile)):
            continue
        # Without its words for no value too ('-' and 'Unknown' in one column): those are the
        # column's own (see _missing_words), read as missing after the placeholders.
        rest = _without(name, profile.present, found + _no_value_words(profile))
        if rest.non_null and _number_reading(rest, _MAX_BAD_NUMBER_SHARE) is not None:
            numbers[name] = found
        else:
            values.update(found)
    markers = sorted({m for found in numbers.values() for m in found} - values)
    columns = [name for name, found in numbers.items() if set(found) & set(markers)]
    own = {name: kept for name, found in numbers.items() if (kept := sorted(values & set(found)))}
    return markers, columns, own


def _parses_as(profile: _Profile, reading: ColumnSpec) -> bool:
    return profile.non_null > 0 and _all_parse(profile.present.drop_null(), reading)


def _all_parse(values: pa.Array, reading: ColumnSpec) -> bool:
    """Whether every one of ``values`` (no nulls) is a valid value of ``reading``."""
    _, valid = parse_strings(values, reading)
    return bool(pc.all(pc.fill_null(valid, False)).as_py())


def _number_range(profile: _Profile, reading: ColumnSpec) -> tuple[float, float]:
    values, _ = parse_strings(profile.present, reading)
    bounds = pc.min_max(values)
    return float(bounds["min"].as_py()), float(bounds["max"].as_py())


def _not_parsed(profile: _Profile, reading: ColumnSpec) -> pa.Array:
    """The present values that are not valid values of ``reading``."""
    return _invalid(profile.present.drop_null(), reading)


def _invalid(values: pa.Array, reading: ColumnSpec) -> pa.Array:
    """Those of ``values`` (no nulls) that are not valid values of ``reading``."""
    _, valid = parse_strings(values, reading)
    return values.filter(pc.invert(pc.fill_null(valid, False)))


def _bad_cells_note(bad: pa.Array, profile: _Profile, what: str = "a number") -> str:
    examples = ", ".join(repr(v) for v in pc.unique(bad).to_pylist()[:_BAD_EXAMPLES])
    verb = "is" if len(bad) == 1 else "are"
    return (
        f"; {len(bad):,} of {profile.non_null:,} values {verb} not {what}: {examples}, "
        f"{'that row' if len(bad) == 1 else 'those rows'} will be quarantined"
    )


def _units(profile: _Profile) -> list[str] | None:
    """The currency symbol or ``%`` the column's values carry, the one most of them do if
    several are (a price list writes free items as ``0``, the others as ``$4.99``)."""
    values = profile.present.drop_null()
    if (word := _word_unit(values)) is not None:
        return [word]
    carried: dict[str, int] = {}
    for unit in _UNITS:
        at_start = pc.starts_with(pc.utf8_ltrim(values, characters="+-"), unit)
        count = pc.sum(pc.cast(pc.or_(at_start, pc.ends_with(values, unit)), pa.int64())).as_py()
        if count:
            carried[unit] = count
    return [max(carried, key=lambda unit: carried[unit])] if carried else None


#: A number then a unit word (7 pcs, 12.5 kg, 30 °C, 120 m²): the word, at most 10 characters.
_WORD_UNIT = r"^[+-]?\d[\d.,]*\s*(?P<unit>[^\W\d_][^\d\s]{0,9}|°[A-Za-z]?)$"


def _word_unit(values: pa.Array) -> str | None:
    """The unit word all but 1% of ``values`` are written with (``pcs`` in ``7 pcs``): read off
    as the currency symbols are."""
    if not len(values):
        return None
    matched = pc.extract_regex(values, _WORD_UNIT)  # a struct, null where no match
    counts = pc.value_counts(matched.field("unit").filter(matched.is_valid())).to_pylist()
    if not counts:
        return None
    top = max(counts, key=lambda item: item["counts"])
    if top["counts"] < (1 - _MAX_BAD_NUMBER_SHARE) * len(values):
        return None
    return str(top["values"])


def _number_reading(profile: _Profile, tolerance: float) -> tuple[ColumnSpec, pa.Array] | None:
    """How the column's numbers are written (plain, or a decimal comma, digit groups, a unit)
    and the values that are no number that way, when at most ``tolerance`` of them are not."""
    units = _units(profile)
    head = profile.present.drop_null()[:_FORMAT_SAMPLE]
    tolerated: tuple[ColumnSpec, pa.Array] | None = None
    for decimal, thousands in _NUMBER_SYNTAXES:
        reading = ColumnSpec(
            type=ColumnType.NUMERIC, decimal=decimal, thousands=thousands, units=units
        )
        plain = reading == ColumnSpec(type=ColumnType.NUMERIC)
        if not plain and len(_invalid(head, reading)) > _HEAD_SLACK * len(head):
            continue  # a column of words fails each other syntax on its first values: cheap
        bad = _not_parsed(profile, reading)
        if profile.non_null and not len(bad):
            return reading, bad  # a syntax reading every value: '238,5' among integers
        if profile.non_null and len(bad) <= tolerance * profile.non_null and tolerated is None:
            tolerated = reading, bad
    return tolerated


def _number_syntax(reading: ColumnSpec) -> str:
    """The reason's words for a number format other than the plain one."""
    number_format = NumberFormat.of(reading)
    example = number_format.example(integer=reading.type == ColumnType.INTEGER)
    return "" if number_format.plain else f" (written like {example})"


def _datetime_reading(profile: _Profile) -> tuple[ColumnSpec, str] | None:
    """The column read as datetimes: ISO 8601, else the first common format every value
    fits; a note when day and month could be swapped in every value."""
    iso = ColumnSpec(type=ColumnType.DATETIME)
    if _parses_as(profile, iso):
        return iso, "datetime (ISO 8601 values)"
    present = profile.present.drop_null()
    digits = pc.sum(pc.cast(pc.match_substring_regex(present, r"\d"), pa.int64())).as_py() or 0
    if digits <= (1 - _MAX_BAD_NUMBER_SHARE) * len(present):
        return None  # a date has digits: skip the formats for a column of words
    head = present[:_FORMAT_SAMPLE]  # most formats fail on the first values: cheaper
    times = pc.all(pc.match_substring_regex(present, _TIME_OF_DAY)).as_py()
    months = _MONTH_FORMATS if _TIME_NAME.search(profile.name) else ()
    fits = [
        fmt
        for fmt in (*_DATETIME_FORMATS, *months)
        if digits == len(present)
        and (times or fmt not in _TIME_OF_DAY_FORMATS)
        and _all_parse(head, _datetime(fmt))
        and _serving_reads(head, fmt)
        and _all_parse(present, _datetime(fmt))
    ]
    if not fits:
        return _mostly_dates(profile, present)
    chosen = fits[0]
    why = f"datetime ({chosen} values)"
    if chosen in _TIME_OF_DAY_FORMATS:
        return _datetime(chosen), f"datetime, times of day ({chosen}; the model uses the hour)"
    swapped = _swap_day_month(chosen)
    if swapped == chosen:  # no day, or no month number: nothing to swap
        return _datetime(chosen), why
    if swapped in fits and _one_day_of_each_month(present, swapped):
        # 01/02/2018, 01/03/2018...: a monthly series dated on the 1st, not January's first
        # twelve days of each year
        chosen, swapped = swapped, chosen
        why = f"datetime ({chosen} values: the same day of each month)"
    if swapped in fits:
        why += f"; day and month could be swapped in every value: set format '{swapped}' if so"
    return _datetime(chosen), why


def _one_day_of_each_month(present: pa.Array, fmt: str) -> bool:
    """Whether ``fmt`` reads ``present`` as one day of several months (and its day-month swap,
    then, as days of one month)."""
    stamps, _ = parse_strings(present, _datetime(fmt))
    days = pc.count_distinct(pc.day(stamps)).as_py()
    return bool(days == 1 and pc.count_distinct(pc.month(stamps)).as_py() > 1)


#: Values a column needs for a few among them that are no date (1%, as for numbers) to leave
#: it a date column, their rows quarantined.
_MIN_MOSTLY_DATES = 100


def _mostly_dates(profile: _Profile, present: pa.Array) -> tuple[ColumnSpec, str] | None:
    """The first common date format that all but at most 1% of ``present`` fit (a shifted
    row's '1.0.19' among 10,000 dates), with the note naming the others."""
    if len(present) < _MIN_MOSTLY_DATES:
        return None
    head = present[:_FORMAT_SAMPLE]
    for fmt in _DATETIME_FORMATS:
        reading = _datetime(fmt)
        if fmt in _TIME_OF_DAY_FORMATS or len(_invalid(head, reading)) > _HEAD_SLACK * len(head):
            continue
        bad = _invalid(present, reading)
        if len(bad) > _MAX_BAD_NUMBER_SHARE * len(present):
            continue
        if _serving_reads(_valid(head, fmt), fmt):
            return reading, f"datetime ({fmt} values){_bad_cells_note(bad, profile, 'a date')}"
    return _two_date_formats(profile, present)


def _two_date_formats(profile: _Profile, present: pa.Array) -> tuple[ColumnSpec, str] | None:
    """Dates written two ways in one column (98.9% '14-Aug-20', the rest 'July 1, 2017'):
    the first common format that reads most values, then the first that reads all but at
    most 1% of the column among the rest. Not the first's day-month swap: it would read the
    same text two ways."""
    head = present[:_FORMAT_SAMPLE]
    formats = [fmt for fmt in _DATETIME_FORMATS if fmt not in _TIME_OF_DAY_FORMATS]
    for first in formats:
        if 2 * len(_invalid(head, _datetime(first))) > len(head):
            continue
        rest = _invalid(present, _datetime(first))
        if 2 * len(rest) > len(present) or not _serving_reads(_valid(head, first), first):
            continue
        for second in formats:
            if second in (first, _swap_day_month(first)):
                continue
            bad = _invalid(rest, _datetime(second))
            read = _valid(rest, second)
            if len(bad) > _MAX_BAD_NUMBER_SHARE * len(present) or not len(read):
                continue
            if _serving_reads(read[:_FORMAT_SAMPLE], second):
                why = f"datetime ({first} values, and {len(read):,} written {second})"
                if len(bad):
                    why += _bad_cells_note(bad, profile, "a date")
                return ColumnSpec(type=ColumnType.DATETIME, format=[first, second]), why
    return None


def _valid(values: pa.Array, fmt: str) -> pa.Array:
    """Those of ``values`` that ``fmt`` reads."""
    _, valid = parse_strings(values, _datetime(fmt))
    return values.filter(pc.fill_null(valid, False))


def _compact_date(profile: _Profile) -> tuple[ColumnSpec, str] | None:
    """Dates written as 8 digits (20181014, 10142018) in a column named like a date; any
    other column of 8 digits is a number (or a code)."""
    present = profile.present.drop_null()
    if (
        not _TIME_NAME.search(profile.name)
        or not present
        or not pc.all(pc.match_substring_regex(present, r"^\d{8}$")).as_py()
    ):
        return None
    fits = [
        fmt
        for fmt in _COMPACT_DATE_FORMATS
        if _all_parse(present, _datetime(fmt)) and _serving_reads(present[:_FORMAT_SAMPLE], fmt)
    ]
    if not fits:
        return None
    why = f"datetime ({fits[0]} values: dates written as 8 digits)"
    if (swapped := _swap_day_month(fits[0])) in fits:
        why += f"; day and month could be swapped in every value: set format '{swapped}' if so"
    return _datetime(fits[0]), why


def _serving_reads(values: pa.Array, fmt: str) -> bool:
    """Whether Python's strptime (serving's parser) reads every one of ``values`` as ``fmt``:
    Arrow's ``%b`` and ``%B`` both take 'Jan' and 'January', Python's take one each."""
    try:
        for value in values.to_pylist():
            datetime.strptime(value, fmt)
    except ValueError:
        return False
    return True


def _datetime(fmt: str) -> ColumnSpec:
    return ColumnSpec(type=ColumnType.DATETIME, format=fmt)


def _swap_day_month(fmt: str) -> str:
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def _infer_type(profile: _Profile) -> tuple[ColumnSpec, str]:
    """How the column reads (its type, and its number or date format) and why."""
    if (compact := _compact_date(profile)) is not None:
        return compact
    if _zero_padded_code(profile):
        codes, why = _text_kind(profile)
        return codes, f"{why} (zero-padded codes such as '{_padded_example(profile)}')"
    if _POSTAL_NAME.search(profile.name) and _number_reading(profile, 0.0) is not None:
        codes, why = _text_kind(profile)
        return codes, f"{why} (postal codes: they name places, not quantities)"
    number = _number_reading(profile, _MAX_BAD_NUMBER_SHARE)
    if number is not None:
        reading, not_numbers = number
        # Integer when every number is one; a few cells that are no number at all ('-',
        # 'inf') do not make a number column a string column: the contract quarantines them.
        as_integer = reading.model_copy(update={"type": ColumnType.INTEGER})
        integral = len(_not_parsed(profile, as_integer)) == len(not_numbers)
        if integral:
            reading = as_integer
        kind = reading.type
        low, high = _number_range(profile, reading)
        zero_one = integral and profile.distinct <= 2 and low >= 0 and high <= 1
        if zero_one and not not_numbers and reading == ColumnSpec(type=kind):
            return ColumnSpec(type=ColumnType.BOOLEAN), "boolean (0/1 values)"
        note = _bad_cells_note(not_numbers, profile) if len(not_numbers) else ""
        shown = f"[{low:.0f}, {high:.0f}]" if integral else f"[{low:g}, {high:g}]"
        return reading, f"{kind.value} in {shown}{_number_syntax(reading)}{note}"
    boolean = ColumnSpec(type=ColumnType.BOOLEAN)
    if profile.distinct <= 2 and _parses_as(profile, boolean):
        return boolean, "boolean (yes/no or true/false values)"
    if (dates := _datetime_reading(profile)) is not None:
        return dates
    return _text_kind(profile)


def _text_kind(profile: _Profile) -> tuple[ColumnSpec, str]:
    """A column of strings: categorical, text, or high-cardinality strings."""
    categorical = ColumnSpec(type=ColumnType.CATEGORICAL)
    mean_length = pc.mean(pc.utf8_length(profile.present)).as_py() or 0
    if _encodable(profile):
        many = "category" if profile.distinct == 1 else "categories"
        return categorical, f"categorical with {profile.distinct} {many}"
    has_spaces = pc.any(pc.match_substring(profile.present, " ")).as_py()
    if mean_length >= _TEXT_MIN_LENGTH and has_spaces:
        return ColumnSpec(type=ColumnType.TEXT), f"text (mean length {mean_length:.0f} characters)"
    return categorical, f"high-cardinality string ({profile.distinct} distinct values)"


def _zero_padded_code(profile: _Profile) -> bool:
    """Whether the column holds codes written with leading zeros ('030001', a provider; '02134',
    a ZIP code): digits only, all of one length, some starting with 0. Read as numbers they
    would lose the zeros (serving would refuse '030001') and order codes as quantities."""
    values = profile.present.drop_null()
    if not values:
        return False
    lengths = pc.utf8_length(values)
    bounds = pc.min_max(lengths)
    return bool(
        bounds["min"].as_py() == bounds["max"].as_py() > 1
        and pc.all(pc.match_substring_regex(values, r"^[0-9]+$")).as_py()
        and pc.any(pc.starts_with(values, "0")).as_py()
    )


def _padded_example(profile: _Profile) -> str:
    values = profile.present.drop_null()
    return str(values.filter(pc.starts_with(values, "0"))[0].as_py())


#: The model's encoder keeps the categories seen at least this often (``min_frequency`` in
#: tabops.model.features); the rarer ones share one "infrequent" input.
_ENCODED_MIN_COUNT = 5
#: Share of the rows holding a value seen once above which a column's values are an open set
#: (Good-Turing: about the share of later rows with a value not seen yet): init lists no
#: categories, so a new suburb or agent is scored (and monitored as unseen), not rejected.
_OPEN_SET_SHARE = 0.001


def _encodable(profile: _Profile) -> bool:
    """Whether a column of strings is categories the model can learn from: few distinct
    values, or few for the rows, or mostly values seen often enough to be encoded (59
    countries in 637 salaries, most rows in a few of them)."""
    if profile.distinct <= _MAX_CATEGORIES or profile.distinct <= _MAX_CATEGORY_RATIO * (
        profile.non_null
    ):
        return True
    counts = profile.counts.field("counts")
    frequent = pc.sum(pc.if_else(pc.greater_equal(counts, _ENCODED_MIN_COUNT), counts, 0))
    return 2 * (frequent.as_py() or 0) >= profile.non_null


def _closed_categories(profile: _Profile) -> tuple[list[str] | None, str]:
    """The categories the contract allows (those seen), or None and a note when the values
    are an open set: more than 0.1% of the rows hold a value seen only once."""
    counts = profile.counts.field("counts")
    once = pc.sum(pc.equal(counts, 1).cast(pa.int64())).as_py() or 0
    if once <= _OPEN_SET_SHARE * profile.non_null:
        return _categories(profile), ""
    return None, (
        f"; open: {once:,} values seen once, so new ones will come: any value is accepted "
        "(monitored as unseen), not only those seen"
    )


def _categories(profile: _Profile) -> list[str]:
    return natural_order([str(v) for v in pc.unique(profile.present.drop_null()).to_pylist()])


def _positive_class(classes: list[str], profile: _Profile) -> tuple[str, str]:
    lowered = {c.lower(): c for c in classes}
    for candidate in _POSITIVE:
        opposite = _PAIRED_POSITIVE.get(candidate)
        if candidate in lowered and (opposite is None or opposite in lowered):
            return lowered[candidate], f"'{lowered[candidate]}' reads as the positive label"
    counts = profile.counts.to_pylist()
    kept = [item for item in counts if str(item["values"]) in classes]
    minority = min(kept, key=lambda item: item["counts"])["values"]
    return str(minority), f"'{minority}' is the minority class"


def infer_spec(
    table: pa.Table,
    source: SourceSpec,
    target: str,
    task: Task | None,
    name: str,
    rejected: int = 0,
) -> Inference:
    """Infer a spec for ``table`` with ``target`` as the label; ``rejected`` records of the
    file were structurally broken (not in ``table``).

    Raises:
        DataError: the target is absent, the data is empty, or the target has a single class.
    """
    if table.num_rows == 0:
        raise DataError("The data has no rows; tabops needs data to infer a spec from.")
    target = _target_column(target, table.column_names)
    null_values = list(source.csv.null_values)
    notes: list[str] = []
    classes = _target_word_classes(table, target, null_values)
    if classes:
        null_values = [v for v in null_values if v not in classes]
        source = source.model_copy(deep=True)
        source.csv.null_values = list(null_values)
        notes.append(_target_word_note(target, classes))
    profiles = {
        c: _profile(c, table.column(c).combine_chunks(), null_values) for c in table.column_names
    }
    notes += _word_null_notes(table, null_values, profiles)
    header_warning = [f"{source.path}: {_NO_HEADER}"] if _header_is_data(table.column_names) else []
    markers, marked, own_nulls = _missing_markers(profiles)
    for column in table.column_names:  # the target's word classes stay missing elsewhere
        missing_here = [w for w in classes if column != target and _count_of(table, column, w)]
        if missing_here:
            own_nulls[column] = sorted([*own_nulls.get(column, []), *missing_here])
    if markers:
        null_values += markers
        source = source.model_copy(deep=True)
        source.csv.null_values = null_values
        profiles = {name: _without(name, p.present, markers) for name, p in profiles.items()}
        notes.append(_markers_note(markers, marked))
    missing_before = {column: p.nulls for column, p in profiles.items()}
    # A column's own missing values: placeholders another column holds as values, then words.
    for column, found in own_nulls.items():
        profiles[column] = _without(column, profiles[column].present, found)
    for column, profile in profiles.items():
        if words := _missing_words(profile):
            own_nulls[column] = sorted([*own_nulls.get(column, []), *words])
            profiles[column] = _without(column, profile.present, words)
    columns: dict[str, ColumnSpec] = {}
    reasons: dict[str, str] = {}
    target_spec, task, positive, reasons[target] = _infer_target(profiles[target], task)
    if unlabelled := profiles[target].nulls:
        # A label not known yet is ordinary (R writes NA): no defect of the source, so the rows
        # load (counting against no quarantine limit), and training leaves them out.
        target_spec = target_spec.model_copy(update={"nullable": True})
        reasons[target] += (
            f"; {unlabelled:,} rows have no label: they load, and training leaves them out"
        )
    timestamp_taken = False
    for column_name, profile in profiles.items():
        if column_name == target:
            columns[column_name] = target_spec
            continue
        spec, reason = _infer_column(profile, timestamp_taken)
        timestamp_taken = timestamp_taken or spec.role == ColumnRole.TIMESTAMP
        columns[column_name], reasons[column_name] = spec, reason
    for column, words in own_nulls.items():
        columns[column] = columns[column].model_copy(update={"null_values": words})
        listed = ", ".join(repr(w) for w in words)
        rows = profiles[column].nulls - missing_before[column]
        held = f"{rows:,} row{'' if rows == 1 else 's'}"
        reasons[column] += f"; {listed} read as missing here ({held}: null_values)"
    warnings = header_warning + _ignore_leaks(profiles, columns, reasons, target, task, positive)
    if not any(col.role == ColumnRole.FEATURE for col in columns.values()):
        why = "; ".join(f"{c}: {reasons[c]}" for c in columns if c != target)
        why = f"({why})" if why else f"(the file has no column but the target '{target}')"
        raise DataError(
            f"No column can be a feature {why}. A model needs at least one input column: "
            "check the delimiter (--delimiter) and that the file has more than ids and text."
        )
    project = ProjectSpec(
        name=name, task=task, target=target, positive_class=positive, source=source, columns=columns
    )
    inference = Inference(spec=project, reasons=reasons, notes=notes, warnings=warnings)
    _fit_quarantine_rate(inference, table, rejected)
    return inference


def _markers_note(markers: list[str], columns: list[str]) -> str:
    one = len(markers) == 1
    where = ", ".join(columns[:5]) + (", ..." if len(columns) > 5 else "")
    return (
        f"{', '.join(repr(m) for m in markers)} {'is' if one else 'are'} read as a missing "
        f"value in every column (source.csv.null_values in tabops.yaml): {where} "
        f"{'holds' if len(columns) == 1 else 'hold'} {'it' if one else 'them'} among numbers. "
        f"Take {'it' if one else 'them'} out of that list to quarantine those rows instead."
    )


def _fit_quarantine_rate(inference: Inference, table: pa.Table, rejected: int) -> None:
    """Check the data against its own contract, so that init can say which rows ingest will
    quarantine; raise ``contract.max_quarantine_rate`` when the default would block the file."""
    project = inference.spec
    inference.quarantined = len(check_contract(table, project).bad_index)
    bad, total = inference.quarantined + rejected, table.num_rows + rejected
    if bad > project.contract.max_quarantine_rate * total:
        rate = min(1.0, math.ceil(100 * bad / total + 1) / 100)  # a point of margin
        project.contract = ContractSpec(max_quarantine_rate=rate)
        inference.notes.append(
            f"contract.max_quarantine_rate is {rate:.2f}, above the default, because {bad:,} of "
            f"{total:,} rows of this file are bad; lower it once the source is cleaner."
        )


def _target_column(target: str, names: list[str]) -> str:
    """The column ``target`` names: itself, or the column it is with the spaces around it
    trimmed (the reader trims header names: 'Life expectancy ' is 'Life expectancy')."""
    if target in names:
        return target
    if target.strip() in names:
        return target.strip()
    close = difflib.get_close_matches(target, names, n=1, cutoff=0.6) or [
        n for n in names if n.lower() == target.strip().lower()
    ]
    hint = f" Did you mean '{close[0]}'?" if close else ""
    if _header_is_data(names):
        hint += f" {_NO_HEADER}"
    if len(names) == 1 and re.search(r"\S\s{2,}\S", names[0]):
        hint += f" {_SPACE_ALIGNED}"
    listed = ", ".join(names)
    raise DataError(f"Target column '{target}' is not in the data.{hint} Columns: {listed}.")


#: What to do about a file without a header line.
_NO_HEADER = (
    "The first line looks like data, not names: every name is a number. tabops reads the first "
    "line as the column names; add a header line naming the columns (the first data row "
    "is lost otherwise)."
)


#: What to do about a file whose columns are aligned with spaces (fixed-width text).
_SPACE_ALIGNED = (
    "The header reads as one column whose name holds runs of spaces: the file's columns "
    "seem aligned with spaces, which tabops does not split. Save it with a delimiter first, "
    "e.g. pandas.read_csv(path, sep=r'\\s+').to_csv('data.csv', index=False)."
)


def _header_is_data(names: list[str]) -> bool:
    """Whether every column name is a number, and they do not count 0, 1, 2... or 1, 2, 3...
    (numbered columns, as pixel files have): the file's first line is a row of data."""
    try:
        numbers = [float(name.strip().strip("'")) for name in names]  # '-1' as Weka writes it
    except ValueError:
        return False
    return numbers not in (list(range(len(names))), list(range(1, len(names) + 1)))


def _ignore_leaks(
    profiles: dict[str, _Profile],
    columns: dict[str, ColumnSpec],
    reasons: dict[str, str],
    target: str,
    task: Task,
    positive: str | None,
) -> list[str]:
    """Mark features that predict the target almost perfectly on their own as ignored; one
    warning per column (see :mod:`tabops.data.leakage`)."""
    labels = _typed(profiles[target], columns[target])
    warnings = []
    typed: dict[str, pd.Series] = {}  # the features that stay, typed once
    for name, col in columns.items():
        if col.role != ColumnRole.FEATURE:
            continue
        typed[name] = _typed(profiles[name], col)
        why = leak_reason(typed[name], col.type, labels, task, positive)
        if why is None:
            continue
        del typed[name]
        columns[name] = ColumnSpec(type=col.type, role=ColumnRole.IGNORED, nullable=col.nullable)
        reasons[name] = f"ignored: possible target leakage ({why})"
        warnings.append(
            f"'{name}' predicts the target '{target}' almost perfectly on its own ({why}), so "
            "it is probably the label or computed from it, and unknown when predicting. It is "
            "ignored; if it really is known at prediction time, set its role to feature."
        )
    if task == Task.CLASSIFICATION:
        warnings += _pair_warnings(profiles, columns, target)
    else:
        warnings += _sum_warnings(typed, columns, target, labels)
    return warnings


def _sum_warnings(
    typed: dict[str, pd.Series], columns: dict[str, ColumnSpec], target: str,
    values: pd.Series,
) -> list[str]:  # fmt: skip
    """A warning naming numeric features (``typed``: the features' values) a linear
    combination of which is the (numeric) target (see :func:`tabops.data.leakage.linear_leak`)."""
    numeric = {
        name: values_of.astype(float)
        for name, values_of in typed.items()
        if columns[name].type in (ColumnType.NUMERIC, ColumnType.INTEGER)
    }
    found, r2 = linear_leak(numeric, values.astype(float))
    if not found:
        return []
    named = ", ".join(f"'{name}'" for name in found)
    return [
        f"A weighted sum of {named} explains the target '{target}' almost exactly (R² "
        f"{r2:.4f}): a total that adds the target up, or a mean of bounds around it. If one of "
        "them is known only after the outcome, set its role to ignored: a model would score "
        "perfectly in testing and fail in production. Honest columns do this too when the "
        "target is computed from them by a formula."
    ]


def _pair_warnings(
    profiles: dict[str, _Profile], columns: dict[str, ColumnSpec], target: str
) -> list[str]:
    """A warning naming the pairs of features that determine the target together (see
    :func:`tabops.data.leakage.pair_leaks`)."""
    few = {
        name: profiles[name].present.to_pandas()
        for name, col in columns.items()
        if col.role == ColumnRole.FEATURE and profiles[name].distinct <= PAIR_VALUES
    }
    pairs = pair_leaks(few, profiles[target].present.to_pandas())
    if not pairs:
        return []
    listed = ", ".join(f"'{a}' with '{b}' ({share:.1%})" for a, b, share in pairs[:5])
    more = f" and {len(pairs) - 5} more" if len(pairs) > 5 else ""
    return [
        f"Pairs of columns determine the target '{target}' together (each combination of "
        f"their values holds almost only one class): {listed}{more}. If a column is recorded "
        "after the outcome or computed from it, set its role to ignored: a model would score "
        "perfectly in testing and fail in production. Honest columns do this too when the "
        "label is made from them by a rule."
    ]


def _typed(profile: _Profile, col: ColumnSpec) -> pd.Series:
    """A column's values as pandas: numbers for numeric types, else the trimmed strings."""
    values = profile.present
    if col.type in (ColumnType.NUMERIC, ColumnType.INTEGER):
        values, _ = parse_strings(values, col)
    series: pd.Series = values.to_pandas()
    return series


def _observed(profile: _Profile, reading: ColumnSpec) -> Observed:
    low = high = None
    if reading.type in (ColumnType.NUMERIC, ColumnType.INTEGER) and profile.non_null:
        low, high = _number_range(profile, reading)
    total = profile.non_null + profile.nulls
    return Observed(
        min=low,
        max=high,
        null_fraction=round(profile.nulls / total, 6) if total else None,
        distinct=profile.distinct,
    )


def _infer_target(profile: _Profile, task: Task | None) -> tuple[ColumnSpec, Task, str | None, str]:
    if profile.distinct < 2:
        what = "a single value" if profile.distinct else "no value at all"
        flag = ""
        if profile.distinct and profile.nulls:  # a flag written as '1' or nothing
            value = pc.drop_null(profile.present)[0].as_py()
            flag = (
                f" It is '{value}' in {profile.non_null:,} rows and missing in "
                f"{profile.nulls:,}: if a missing value means the other class here (a flag "
                "written as 1 or blank), fill those cells in the file (0, no) and run init again."
            )
        raise DataError(
            f"Target column '{profile.name}' has {what}; a model needs at least two "
            f"classes (classification) or varying values (regression).{flag}"
        )
    number = _number_reading(profile, tolerance=0)
    numeric = number is not None
    rare = _rare_classes(profile) if profile.distinct <= _MAX_CLASSES else {}
    counts = ""
    if task is None:
        regression = numeric and profile.distinct > _REGRESSION_MIN_DISTINCT
        counted = numeric and not regression and profile.distinct > 2
        whole = counted and _whole_numbers(profile, number)
        if counted and not whole and profile.distinct > _FRACTION_CLASSES:
            # Many fractions (0.19, 0.26, ...) measure something; classes are not written so.
            regression = True
            counts = " (values with fractions, a quantity; --task classification makes classes)"
        elif whole and rare:
            # Counts (0, 1, 2... visits) whose rarest values no split can hold out as classes.
            regression = True
            counts = (
                f" (whole numbers where {_rare_note(rare)}, too few to learn as a class; "
                "--task classification keeps classes)"
            )
        task = Task.REGRESSION if regression else Task.CLASSIFICATION
    if task == Task.REGRESSION:
        if not numeric:
            raise DataError(
                f"--task regression needs a numeric target, but '{profile.name}' has "
                "non-numeric values. Use --task classification."
            )
        assert number is not None
        reading = number[0]
        as_integer = reading.model_copy(update={"type": ColumnType.INTEGER})
        if _parses_as(profile, as_integer):
            reading = as_integer
        spec = reading.model_copy(update={"role": ColumnRole.TARGET, "nullable": False})
        spec.observed = _observed(profile, reading)
        floor = ""
        if (spec.observed.min or 0) >= 0:  # as for features: a negative price is a defect
            spec.min, floor = 0, "; min 0 enforced (no negative values seen)"
        return (
            spec,
            task,
            None,
            f"target, {reading.type.value}, regression{_number_syntax(reading)}{counts}{floor}",
        )
    if profile.distinct > _MAX_CLASSES:
        advice = (
            "Use --task regression if it is a quantity, or group the rarest values into fewer "
            "classes in the file"
            if numeric
            else "Group the rarest values into fewer classes in the file (an 'other' class), or "
            "predict another column"
        )
        raise DataError(
            f"Target column '{profile.name}' has {profile.distinct:,} distinct values: a "
            f"classifier takes at most {_MAX_CLASSES}. {advice}."
        )
    classes = _categories(profile)
    unsplittable = {value: n for value, n in rare.items() if n < _rows_to_hold_out()}
    learnable = [c for c in classes if c not in unsplittable]
    few = f"; {_rare_note(rare)}, too few to test and train on: ingest more" if rare else ""
    if unsplittable and len(learnable) >= 2 and len(classes) > 2:
        # Training would stop at the split; without the class, ingest quarantines its rows.
        classes = learnable
        one = len(unsplittable) == 1
        few = (
            f"; {_rare_note(unsplittable)}, too few to hold out for testing: left out of the "
            f"classes, so ingest quarantines {'its rows' if one else 'their rows'} (add "
            f"{'it' if one else 'them'} to columns.{profile.name}.categories once there are "
            f"{_rows_to_hold_out()} or more rows of {'it' if one else 'each'})"
        )
    spec = ColumnSpec(
        type=ColumnType.CATEGORICAL, role=ColumnRole.TARGET, nullable=False, categories=classes
    )
    spec.observed = _observed(profile, ColumnSpec(type=ColumnType.CATEGORICAL))
    if len(classes) == 2:
        positive, why = _positive_class(classes, profile)
        return spec, task, positive, f"target, binary classification; positive class: {why}{few}"
    return spec, task, None, f"target, {len(classes)}-class classification{few}"


def _rare_classes(profile: _Profile) -> dict[str, int]:
    """The values with fewer rows than training needs of a class: some held out for testing
    and, of the rest, some in every cross-validation fold (with the spec's defaults)."""
    train = TrainSpec()
    needed = math.ceil(
        round(max(2, 1 / train.test_size, train.cv_folds / (1 - train.test_size)), 9)
    )
    counts = profile.counts.to_pylist()
    rare = sorted((c["counts"], str(c["values"])) for c in counts if c["counts"] < needed)
    return {value: n for n, value in rare}


def _rows_to_hold_out() -> int:
    """The fewest rows of a class the stratified test split can hold one of out (with the
    spec's default test size); see :func:`tabops.model.split.split_rows`."""
    return max(2, math.ceil(round(1 / TrainSpec().test_size, 9)))


def _rare_note(rare: dict[str, int]) -> str:
    """ "'9' has 1 row, '8' 5 rows" (the rarest three)."""
    parts = [f"'{value}' {n} row{'s' if n > 1 else ''}" for value, n in list(rare.items())[:3]]
    first = parts[0].rsplit(" ", 2)
    parts[0] = f"{first[0]} has {first[1]} {first[2]}"
    more = f" and {len(rare) - 3} more" if len(rare) > 3 else ""
    return ", ".join(parts) + more


def _whole_numbers(profile: _Profile, number: tuple[ColumnSpec, pa.Array] | None) -> bool:
    return number is not None and _parses_as(
        profile, number[0].model_copy(update={"type": ColumnType.INTEGER})
    )


def _infer_column(profile: _Profile, timestamp_taken: bool) -> tuple[ColumnSpec, str]:
    nullable = profile.nulls > 0
    null_note = f", {profile.nulls} missing" if nullable else ", never missing"
    if profile.non_null == 0:
        spec = ColumnSpec(type=ColumnType.TEXT, role=ColumnRole.IGNORED, nullable=True)
        return spec, "ignored: every value is missing"
    reading, why = _infer_type(profile)
    kind = reading.type

    def column(role: ColumnRole, **settings: Any) -> ColumnSpec:
        """The column as it reads (type and format) with ``role`` and ``settings``."""
        return reading.model_copy(update={"role": role, "nullable": nullable, **settings})

    if profile.distinct == 1:
        return _one_value(profile, reading, why, null_note)
    if (key := _key_column(profile, column(ColumnRole.ID), null_note)) is not None:
        return key
    if kind == ColumnType.DATETIME:
        role = ColumnRole.FEATURE
        time_of_day = reading.format in _TIME_OF_DAY_FORMATS  # no date: orders no rows
        if not timestamp_taken and not time_of_day and _TIME_NAME.search(profile.name):
            role = ColumnRole.TIMESTAMP
        spec = column(role, observed=_observed(profile, reading))
        if role == ColumnRole.FEATURE:
            return spec, f"{role.value}, {why}{null_note}"
        return spec, (
            f"{role.value}, {why}{null_note}; orders the split (the latest rows test the model) "
            "and the monitoring windows, and is no model input: set role: feature to give the "
            "model its parts (year, month, day of week, hour) instead"
        )
    if kind == ColumnType.CATEGORICAL and not _encodable(profile):
        return column(ColumnRole.IGNORED), f"ignored: {why}, too many to encode"
    true, false = _boolean_tokens(profile, kind)
    observed = _observed(profile, reading)
    spec = column(ColumnRole.FEATURE, true_values=true, false_values=false, observed=observed)
    extra = ""
    if kind == ColumnType.CATEGORICAL:
        spec.categories, open_note = _closed_categories(profile)
        extra += open_note
    if true is not None and false is not None:
        extra = f"; read from {BooleanTokens.of(spec).describe()}, as clients may send it"
    if kind in (ColumnType.NUMERIC, ColumnType.INTEGER) and (observed.min or 0) >= 0:
        spec.min = 0
        extra = "; min 0 enforced (no negative values seen)"
    return spec, f"feature, {why}{null_note}{extra}"


def _key_column(
    profile: _Profile, reading: ColumnSpec, null_note: str
) -> tuple[ColumnSpec, str] | None:
    """The column as an id, or ignored as a key, when its values and name say it names
    records rather than measures them; None for a feature. ``reading`` is the column as it
    reads, with the id role."""
    kind = reading.type
    unique = profile.distinct == profile.non_null and not reading.nullable
    coded = bool(_CODE_NAME.search(profile.name))
    id_named = coded or bool(_ID_NAME.search(profile.name))
    ignored = reading.model_copy(update={"role": ColumnRole.IGNORED})
    if (
        unique
        and kind in (ColumnType.INTEGER, ColumnType.CATEGORICAL)
        and (id_named or kind == ColumnType.CATEGORICAL)
    ):
        label = "string" if kind == ColumnType.CATEGORICAL else "integer"
        return reading.model_copy(update={"unique": True}), f"id, unique {label}"
    if unique and kind == ColumnType.INTEGER and (row := _row_number(profile, reading)) is not None:
        return reading.model_copy(update={"unique": True}), f"id, {row}"
    if unique and kind == ColumnType.NUMERIC and id_named:
        # Ids a spreadsheet or pandas wrote as floats (42932.0, 1.18e+18): kept as the text the
        # file has, which is what a join back to the source matches on.
        key = ColumnSpec(
            type=ColumnType.CATEGORICAL, role=ColumnRole.ID, nullable=False, unique=True
        )
        return key, "id, unique (numbers written as floats)"
    if coded and kind in (ColumnType.INTEGER, ColumnType.NUMERIC):
        # goodbooks' isbn13 (9.78043902348e+12, some missing) was a numeric feature.
        share = f"{profile.distinct:,} distinct in {profile.non_null:,} values{null_note}"
        return ignored, f"ignored: an identifier code by its name ({share})"
    if (
        kind == ColumnType.INTEGER
        and id_named
        and (
            profile.distinct >= _MIN_REPEATED_ID_SHARE * profile.non_null
            or profile.distinct > _MAX_CATEGORIES
        )
    ):
        # A record key with repeats (a patient measured twice), or the key of many groups of
        # rows (a household, a subject), cannot be the id (ids are unique), and as a number it
        # would only let the model memorise records. A few groups (a store) stay a feature.
        share = f"{profile.distinct:,} distinct in {profile.non_null:,} values"
        if profile.distinct == profile.non_null:  # no repeats: a key missing in some rows
            return ignored, (
                f"ignored: named like an id, but missing in {profile.nulls:,} rows (an id is in "
                f"every row; {share})"
            )
        return ignored, f"ignored: named like an id, with repeats ({share})"
    return None


def _one_value(
    profile: _Profile, reading: ColumnSpec, why: str, null_note: str
) -> tuple[ColumnSpec, str]:
    """A column of one value: constant when never missing; else a checkbox (the value or
    blank, as a survey's "which films have you seen"), where whether it is there tells."""
    if not profile.nulls:
        constant = reading.model_copy(update={"role": ColumnRole.IGNORED, "nullable": False})
        return constant, f"ignored: constant ({why})"
    if reading.type == ColumnType.TEXT:  # one long value: a category, not words to weigh
        reading, why = ColumnSpec(type=ColumnType.CATEGORICAL), "categorical with 1 category"
    spec = reading.model_copy(
        update={"role": ColumnRole.FEATURE, "nullable": True,
                "observed": _observed(profile, reading)}
    )  # fmt: skip
    if spec.type == ColumnType.CATEGORICAL:
        spec.categories, _ = _closed_categories(profile)
    return spec, f"feature, {why}{null_note}: the value or blank, the model learns which"


def _row_number(profile: _Profile, reading: ColumnSpec) -> str | None:
    """Why the column numbers the rows, if it does: its name is one R or pandas writes for
    the row names, or it counts 0, 1, 2... or 1, 2, 3... down a long file. As a feature it
    would only tell the model where a row sits in the file, which in a sorted file leaks the
    target and at prediction time means nothing."""
    if _ROW_NAME.match(profile.name):
        return "unique integer named like row numbers"
    n = profile.non_null
    if n < _ROW_NUMBER_MIN_ROWS:
        return None
    values, _ = parse_strings(profile.present, reading)
    first = values[0].as_py()
    if first not in (0, 1):
        return None
    counting = pc.equal(values, pa.array(range(first, first + n), values.type))
    if not pc.all(pc.fill_null(counting, False)).as_py():
        return None
    return f"row number ({first} to {first + n - 1} down the file)"


def _boolean_tokens(profile: _Profile, kind: ColumnType) -> tuple[list[str] | None, ...]:
    """The strings a boolean column was read from (true, false), recorded so that ingest and
    serving accept those, in any letter case (a client posts ``"Yes"`` as the file has it)."""
    if kind != ColumnType.BOOLEAN:
        return None, None
    tokens = BooleanTokens.of(ColumnSpec(type=kind))
    seen = [str(v) for v in pc.unique(profile.present.drop_null()).to_pylist()]
    true = sorted(t for t in seen if tokens.read(t))
    false = sorted(t for t in seen if tokens.read(t) is False)
    if not true or not false:  # one side never seen: keep the defaults, which accept both
        return None, None
    return true, false


def suggest_name(stem: str) -> str:
    """A valid project name from a file name."""
    cleaned = re.sub(r"[^A-Za-z0-9_\-]+", "-", stem).strip("-_") or "project"
    if not cleaned[0].isalpha():
        cleaned = "p-" + cleaned
    return cleaned[:63]

"""Numbers and dates as files write them: decimal commas, digit groups, units, day-first dates.

The contract reads a whole column in Arrow and serving reads one value in Python; both must
agree with each other and with the number that was written.
"""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tabops.data.contract import check_contract, parse_strings
from tabops.data.infer import _COMPACT_DATE_FORMATS, _DATETIME_FORMATS, infer_spec
from tabops.serve.schema import Column, _datetime
from tabops.spec import ColumnRole, ColumnSpec, ColumnType, SourceSpec, Task
from tabops.values import NumberFormat, read_number

FORMATS = [
    NumberFormat(),
    NumberFormat(thousands=","),
    NumberFormat(decimal=",", thousands="."),
    NumberFormat(decimal=",", thousands=" "),
    NumberFormat(thousands="'", units=("CHF",)),
    NumberFormat(thousands=",", units=("$",)),
    NumberFormat(units=("%",)),
    NumberFormat(decimal=",", units=("€",)),
]


def _column(number_format: NumberFormat, kind: ColumnType = ColumnType.NUMERIC) -> ColumnSpec:
    return ColumnSpec(
        type=kind,
        decimal=number_format.decimal,  # type: ignore[arg-type]
        thousands=number_format.thousands,  # type: ignore[arg-type]
        units=list(number_format.units) or None,
    )


def _write(value: float, number_format: NumberFormat, grouped: bool, spaced: bool) -> str:
    """``value`` as a file in ``number_format`` writes it (two decimals)."""
    sign = "-" if value < 0 else ""
    whole, fraction = f"{abs(value):.2f}".split(".")
    if grouped and number_format.thousands is not None:
        whole = f"{int(whole):,}".replace(",", number_format.thousands)
    digits = f"{whole}{number_format.decimal}{fraction}"
    if not number_format.units:
        return sign + digits
    unit, space = number_format.units[0], " " if spaced else ""
    return f"{sign}{digits}{space}{unit}" if unit == "%" else f"{sign}{unit}{space}{digits}"


Read = list[float | None]


def _read_both(texts: list[str], column: ColumnSpec) -> tuple[Read, Read]:
    """The values as the contract reads the column and as serving reads each one."""
    arrow, _ = parse_strings(pa.array(texts, pa.string()), column)
    number_format = NumberFormat.of(column)
    integer = column.type == ColumnType.INTEGER
    one_by_one = [read_number(number_format.to_plain(t), integer) for t in texts]
    return arrow.to_pylist(), one_by_one


@given(
    values=st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=1, max_size=20),
    which=st.integers(0, len(FORMATS) - 1),
    grouped=st.booleans(),
    spaced=st.booleans(),
)
@settings(max_examples=200, deadline=None)
def test_a_written_number_reads_back_the_same_in_files_and_in_serving(
    values: list[float], which: int, grouped: bool, spaced: bool
) -> None:
    number_format = FORMATS[which]
    texts = [_write(v, number_format, grouped, spaced) for v in values]
    arrow, one_by_one = _read_both(texts, _column(number_format))
    expected = [float(f"{v:.2f}") for v in values]
    assert arrow == expected, texts
    assert one_by_one == expected, texts


@pytest.mark.parametrize(
    ("number_format", "text"),
    [
        (NumberFormat(thousands=","), "1,23"),  # groups are threes
        (NumberFormat(thousands=","), "12,345,67"),
        (NumberFormat(decimal=",", thousands="."), "1.5"),  # a '.' is no decimal mark here
        (NumberFormat(decimal=",", thousands="."), "1.23,4"),
        (NumberFormat(decimal=","), "1,2,3"),
        (NumberFormat(units=("%",)), "%"),
        (NumberFormat(units=("%",)), "12 percent"),
        (NumberFormat(units=("$",)), "$$12"),
        (NumberFormat(), "1,234"),  # the plain syntax has no groups
    ],
)
def test_a_number_misusing_its_format_is_no_number_either_way(
    number_format: NumberFormat, text: str
) -> None:
    arrow, one_by_one = _read_both([text], _column(number_format))
    assert arrow == one_by_one == [None]


def test_no_break_spaces_group_digits_where_the_separator_is_a_space() -> None:
    column = _column(NumberFormat(decimal=",", thousands=" "))
    arrow, one_by_one = _read_both(["1\u00a0234,5", "1\u202f234\u202f567", "1 234,5"], column)
    assert arrow == one_by_one == [1234.5, 1234567.0, 1234.5]


def test_integers_read_with_digit_groups_and_units() -> None:
    column = _column(NumberFormat(thousands=".", decimal=",", units=("€",)), ColumnType.INTEGER)
    arrow, one_by_one = _read_both(["€1.234", "-€ 5", "12,0", "1.234,5"], column)
    assert arrow == one_by_one == [1234, -5, 12, None]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"type": "categorical", "decimal": ","}, "apply to numeric and integer columns"),
        ({"type": "numeric", "decimal": ",", "thousands": ","}, "need different marks"),
        ({"type": "numeric", "units": ["1x"]}, "must be a symbol or word"),
        ({"type": "numeric", "units": [" "]}, "must be a symbol or word"),
        ({"type": "numeric", "decimal": ";"}, "decimal"),
    ],
)
def test_a_misconfigured_number_format_is_refused(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        ColumnSpec.model_validate(settings)


def _messy_table(rows: int, day_first: bool) -> pa.Table:
    rng = random.Random(7)
    day = [rng.randint(1, 28) for _ in range(rows)]
    month = [rng.randint(1, 12) for _ in range(rows)]
    first, second = (day, month) if day_first else (month, day)
    return pa.table(
        {
            "income": [f"{rng.uniform(1e3, 9e4):.2f}".replace(".", ",") for _ in range(rows)],
            "balance": [f"${rng.uniform(0, 5e3):,.2f}" for _ in range(rows)],
            "rate": [f"{rng.uniform(0, 30):.1f}%" for _ in range(rows)],
            "signup": [f"{a:02d}/{b:02d}/2023" for a, b in zip(first, second, strict=True)],
            "y": [rng.choice(["Yes", "No"]) for _ in range(rows)],
        }
    )


def test_init_reads_decimal_commas_digit_groups_units_and_day_first_dates() -> None:
    table = _messy_table(500, day_first=True)
    inference = infer_spec(table, SourceSpec(path="d.csv"), target="y", task=None, name="n")
    columns, reasons = inference.spec.columns, inference.reasons
    assert columns["income"].type is ColumnType.NUMERIC and columns["income"].decimal == ","
    assert columns["balance"].thousands == "," and columns["balance"].units == ["$"]
    assert columns["rate"].units == ["%"] and columns["rate"].role is ColumnRole.FEATURE
    assert columns["signup"].type is ColumnType.DATETIME
    assert columns["signup"].format == "%d/%m/%Y"
    assert "written like $1,234.5" in reasons["balance"]
    assert inference.quarantined == 0  # the inferred contract takes the file whole
    assert check_contract(table, inference.spec).bad_index.size == 0
    observed = columns["rate"].observed
    assert observed is not None and observed.max is not None and 25 < observed.max <= 30


def test_init_says_when_day_and_month_could_be_swapped() -> None:
    rows = 300
    table = _messy_table(rows, day_first=False).set_column(
        3, "signup", pa.array([f"{1 + i % 12:02d}/{1 + i % 12:02d}/2024" for i in range(rows)])
    )
    inference = infer_spec(table, SourceSpec(path="d.csv"), target="y", task=None, name="n")
    assert inference.spec.columns["signup"].format == "%m/%d/%Y"
    assert "set format '%d/%m/%Y' if so" in inference.reasons["signup"]


def test_a_price_target_with_a_currency_is_a_regression_target() -> None:
    rng = random.Random(3)
    prices = [f"${rng.randint(50_000, 900_000):,}" for _ in range(200)]
    table = pa.table({"rooms": [str(rng.randint(1, 6)) for _ in range(200)], "price": prices})
    inference = infer_spec(table, SourceSpec(path="d.csv"), target="price", task=None, name="n")
    target = inference.spec.columns["price"]
    assert inference.spec.task is Task.REGRESSION
    assert (target.type, target.thousands, target.units) == (ColumnType.INTEGER, ",", ["$"])
    assert check_contract(table, inference.spec).bad_index.size == 0


@given(
    stamp=st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2099, 12, 31)),
    fmt=st.sampled_from(_DATETIME_FORMATS + _COMPACT_DATE_FORMATS),
)
@settings(max_examples=300, deadline=None)
def test_every_date_format_init_may_record_reads_the_same_in_files_and_in_serving(
    stamp: dt.datetime, fmt: str
) -> None:
    text = stamp.strftime(fmt)
    column = ColumnSpec(type=ColumnType.DATETIME, format=fmt)
    arrow, _ = parse_strings(pa.array([text]), column)
    read = arrow.to_pylist()[0]
    served = _datetime(Column("t", ColumnType.DATETIME, True, formats=(fmt,)), text)
    assert read is not None, text
    assert read.replace(tzinfo=None) == served == dt.datetime.strptime(text, fmt), text


@pytest.mark.parametrize(
    ("values", "fmt"),
    [
        (["2024-01-01 10:00:00 UTC", "2024-03-05 23:59:59 UTC"], "%Y-%m-%d %H:%M:%S UTC"),
        (["1/2/2024 10:00 PM", "12/31/2023 9:15 AM"], "%m/%d/%Y %I:%M %p"),
        (["31.12.2023", "01.02.2024"], "%d.%m.%Y"),
        (["4-Aug-2022", "15-Jan-2023"], "%d-%b-%Y"),
        (["2024/01/31", "2023/12/01"], "%Y/%m/%d"),
        (["Jan 1 2000", "Feb 11 2001"], "%b %d %Y"),  # as vega's stocks.csv writes them
        (["January 1, 2000", "May 30, 2001"], "%B %d, %Y"),
        (["1 January 2000", "30 May 2001"], "%d %B %Y"),
        (["10:30", "7:05"], "%H:%M"),  # times of day, as supermarket_sales.csv writes them
        (["10:30:15", "23:59:59"], "%H:%M:%S"),
        (["9:15 AM", "12:30 PM"], "%I:%M %p"),
    ],
)
def test_init_records_the_date_format_every_value_fits(values: list[str], fmt: str) -> None:
    rows = 40
    table = pa.table(
        {"when": [values[i % len(values)] for i in range(rows)], "y": ["a", "b"] * (rows // 2)}
    )
    inference = infer_spec(table, SourceSpec(path="d.csv"), target="y", task=None, name="n")
    column = inference.spec.columns["when"]
    assert (column.type, column.format) == (ColumnType.DATETIME, fmt)


def test_a_time_of_day_is_a_feature_never_the_timestamp_and_a_score_is_no_time() -> None:
    rows = 60
    table = pa.table(
        {
            "Time": [f"{i % 24}:{i % 60:02d}" for i in range(rows)],
            "result": [f"{i % 4}:{i % 3}" for i in range(rows)],  # football scores
            "y": ["a", "b"] * (rows // 2),
        }
    )
    inference = infer_spec(table, SourceSpec(path="d.csv"), target="y", task=None, name="n")
    time, result = inference.spec.columns["Time"], inference.spec.columns["result"]
    assert (time.type, time.format, time.role) == (ColumnType.DATETIME, "%H:%M", ColumnRole.FEATURE)
    assert "the model uses the hour" in inference.reasons["Time"]
    assert result.type is ColumnType.CATEGORICAL
    assert check_contract(table, inference.spec).bad_index.size == 0


@pytest.mark.parametrize(
    ("values", "fmt"),
    [(["10142018", "10062018"], "%m%d%Y"), (["20181014", "20180106"], "%Y%m%d"),
     (["14102018", "25122018"], "%d%m%Y")],
)  # fmt: skip
def test_dates_written_as_8_digits_are_dates_in_a_column_named_like_one(
    values: list[str], fmt: str
) -> None:
    rng = random.Random(2)
    column = [rng.choice(values) for _ in range(60)]
    table = pa.table({"Date": column, "code": column,
                      "y": [rng.choice("ab") for _ in range(60)]})  # fmt: skip
    inference = infer_spec(table, SourceSpec(path="d.csv"), target="y", task=None, name="n")
    date, code = inference.spec.columns["Date"], inference.spec.columns["code"]
    assert (date.type, date.format, date.role) == (ColumnType.DATETIME, fmt, ColumnRole.TIMESTAMP)
    assert code.type is ColumnType.INTEGER  # not named like a date: a number
    assert check_contract(table, inference.spec).bad_index.size == 0

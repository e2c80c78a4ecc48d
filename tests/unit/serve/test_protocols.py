"""OIP v2 tensors: each value fits its declared datatype, each datatype fits its column, and a
column is sent once (issue 11, item 8)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tabops.serve.http import ApiError
from tabops.serve.protocols import csv_records, oip_records

INT_RANGES = {
    **{f"INT{n}": (-(2 ** (n - 1)), 2 ** (n - 1) - 1) for n in (8, 16, 32, 64)},
    **{f"UINT{n}": (0, 2**n - 1) for n in (8, 16, 32, 64)},
}
FLOAT_MAX = {"FP16": 65504.0, "FP32": 3.4028234663852886e38, "FP64": 1.7976931348623157e308}
#: One column of each JSON type the request schema gives (nullable, as ``anyOf``, for one).
SCHEMA = {
    "properties": {
        "number": {"type": "number"},
        "integer": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "boolean": {"type": "boolean"},
        "string": {"type": "string"},
    }
}
#: The datatypes each column takes.
FITTING = {
    "number": [*INT_RANGES, *FLOAT_MAX],
    "integer": list(INT_RANGES),
    "boolean": ["BOOL", "BYTES"],  # BYTES: the tokens the data was read from (schema checks)
    "string": ["BYTES"],
}
ALL_TYPES = [*INT_RANGES, *FLOAT_MAX, "BOOL", "BYTES"]


def tensor(name: str, datatype: str, data: list[Any]) -> dict[str, Any]:
    return {"name": name, "shape": [len(data)], "datatype": datatype, "data": data}


def refusal(*tensors: dict[str, Any]) -> str:
    with pytest.raises(ApiError) as caught:
        oip_records({"inputs": list(tensors)}, 1000, SCHEMA)
    assert caught.value.status == 422
    return caught.value.message


def records(*tensors: dict[str, Any]) -> list[dict[str, Any]]:
    return oip_records({"inputs": list(tensors)}, 1000, SCHEMA)[0]


def in_range(datatype: str) -> st.SearchStrategy[Any]:
    if datatype in INT_RANGES:  # an integral float is that integer
        ints = st.integers(*INT_RANGES[datatype])
        return ints | ints.filter(lambda n: abs(n) <= 2**53).map(float)
    if datatype in FLOAT_MAX:
        limit = FLOAT_MAX[datatype]
        whole = int(min(limit, 2**53))
        return st.floats(-limit, limit) | st.integers(-whole, whole)
    return st.booleans() if datatype == "BOOL" else st.text(max_size=20)


def out_of_range(datatype: str) -> st.SearchStrategy[Any]:
    """Values a datatype cannot hold: past its range, or of another JSON type."""
    if datatype in INT_RANGES:
        low, high = INT_RANGES[datatype]
        wrong: st.SearchStrategy[Any] = (
            st.integers(max_value=low - 1)
            | st.integers(min_value=high + 1)
            | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != int(f))
            | st.floats(min_value=math.nextafter(high, math.inf), allow_infinity=False)
            | st.floats(max_value=math.nextafter(low, -math.inf), allow_infinity=False)
        )
    elif datatype in FLOAT_MAX:
        limit = FLOAT_MAX[datatype]
        past = st.integers(min_value=int(limit) + 1)
        wrong = past | past.map(lambda n: -n)
        if datatype != "FP64":
            wrong |= st.floats(min_value=limit, exclude_min=True, allow_infinity=False)
        wrong |= st.booleans() | st.text(max_size=5)
    elif datatype == "BOOL":
        wrong = st.integers(0, 1) | st.just("true")
    else:
        wrong = st.integers() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False)
    return wrong | st.lists(st.integers(), max_size=2).map(lambda v: {"v": v})


@given(st.data())
def test_values_that_fit_the_datatype_and_column_are_read_as_sent(data: st.DataObject) -> None:
    column = data.draw(st.sampled_from(list(FITTING)))
    datatype = data.draw(st.sampled_from(FITTING[column]))
    values = data.draw(st.lists(in_range(datatype) | st.none(), min_size=1, max_size=5))
    got = records(tensor(column, datatype, values))
    assert [r[column] for r in got] == values


@given(st.data())
def test_a_value_the_datatype_cannot_hold_is_422_naming_the_tensor(data: st.DataObject) -> None:
    column = data.draw(st.sampled_from(list(FITTING)))
    datatype = data.draw(st.sampled_from(FITTING[column]))
    good = data.draw(st.lists(in_range(datatype), max_size=3))
    bad = data.draw(out_of_range(datatype))
    message = refusal(tensor(column, datatype, [*good, bad]))
    assert f"inputs[0] ({column})" in message and f"data[{len(good)}]" in message
    assert datatype in message


@given(st.data())
def test_a_datatype_that_does_not_fit_the_column_is_422(data: st.DataObject) -> None:
    column = data.draw(st.sampled_from(list(FITTING)))
    datatype = data.draw(st.sampled_from([t for t in ALL_TYPES if t not in FITTING[column]]))
    message = refusal(tensor(column, datatype, data.draw(st.lists(in_range(datatype)))))
    assert f"inputs[0] ({column}): datatype {datatype} does not fit" in message
    assert all(t in message for t in FITTING[column])


def test_the_kserve_spec_example_8_bit_integer_with_a_fraction_is_refused() -> None:
    message = refusal(tensor("number", "INT8", [800.7]))
    assert message == "inputs[0] (number): data[0] 800.7 is not a valid INT8 value."


@given(
    st.sampled_from(list(FITTING)),
    st.lists(st.sampled_from(list(FITTING)), max_size=3),
    st.integers(0, 3),
)
def test_a_tensor_name_given_twice_is_422_naming_both(
    twice: str, others: list[str], at: int
) -> None:
    """Whatever the order and however the copies differ, a name sent twice is refused."""
    names = [n for n in dict.fromkeys(others) if n != twice]
    at = min(at, len(names))
    order = [*names[:at], twice, *names[at:], twice]
    inputs = [tensor(n, FITTING[n][0], [None]) for n in order]
    message = refusal(*inputs)
    assert message.startswith(f"inputs[{len(order) - 1}] ({twice}): the name is also inputs[{at}]")


def test_names_that_are_not_inputs_are_left_to_the_schema() -> None:
    """Only the datatype's own values are checked; the schema names the unknown column."""
    assert records(tensor("input0", "UINT32", [1, 2])) == [{"input0": 1}, {"input0": 2}]


@pytest.mark.parametrize(
    "body",
    [b"id;when;amount\n7;23.05.2026;2.850,33\n",  # rows copied from the spec's ';' file
     b"id,when,amount\n7,23.05.2026,\"2.850,33\"\n"],  # MLflow's comma-separated CSV
)  # fmt: skip
def test_a_csv_body_is_split_by_the_files_delimiter_or_by_commas(body: bytes) -> None:
    assert csv_records(body, 10, delimiter=";") == [
        {"id": "7", "when": "23.05.2026", "amount": "2.850,33"}
    ]


def test_a_malformed_first_line_is_a_clear_400_not_a_crash() -> None:
    with pytest.raises(ApiError, match="cannot be parsed"):
        csv_records(b"\r0", 10, delimiter=";")  # found by the OpenAPI fuzzer


def test_a_csv_body_reads_its_header_as_ingest_reads_a_files() -> None:
    # Rows copied from a spreadsheet's export: trailing empty columns, a joined file's mark.
    body = "id, \ufeffamount ,,\n7,2.5,,\n".encode()
    assert csv_records(body, 10) == [{"id": "7", "amount": "2.5"}]
    # A pandas index or R's row names: the blank first name is 'rownames', as in the file.
    assert csv_records(b",amount\n0,2.5\n", 10) == [{"rownames": "0", "amount": "2.5"}]
    with pytest.raises(ApiError, match="CSV line 3 has a value after the header's last name"):
        csv_records(body + b"8,1.0,,x\n", 10)


def test_a_csv_body_reads_quotes_as_text_when_the_file_does() -> None:
    body = b'label\ttext\nham\tsay "hi\n'
    assert csv_records(body, 10, delimiter="\t", quoting=False) == [
        {"label": "ham", "text": 'say "hi'}
    ]


def test_a_csv_body_without_its_header_is_told_to_send_one() -> None:
    with pytest.raises(ApiError, match=r"names '1' twice\. Its first line must be the header"):
        csv_records(b"7,1,1,0.5\n8,1,2,0.7\n", 10)


def test_a_header_naming_a_column_twice_reads_as_the_files_does() -> None:
    # A survey's header repeats a question; the file's reader (and the spec) call the second
    # copy 'q.1', so rows copied from the file, header included, score as they are.
    body = b"id,q,q\n1,yes,no\n"
    assert csv_records(body, 10, known={"id", "q", "q.1"}) == [{"id": "1", "q": "yes", "q.1": "no"}]
    with pytest.raises(ApiError, match=r"names 'q' twice"):  # no 'q.1' in this model
        csv_records(body, 10, known={"id", "q"})


def test_a_csv_body_is_read_in_its_charset_or_the_data_files_encoding() -> None:
    # Rows copied from a French Excel export (cp1252), as the spec reads that file.
    body = "Gare de départ;Durée\nLYON PART DIEU;117\n".encode("cp1252")
    expected = [{"Gare de départ": "LYON PART DIEU", "Durée": "117"}]
    assert csv_records(body, 10, delimiter=";", encoding="cp1252") == expected
    named = "text/csv; charset=windows-1252"
    assert csv_records(body, 10, delimiter=";", content_type=named) == expected
    with pytest.raises(ApiError, match="not UTF-8 text: name its encoding in the Content-Type"):
        csv_records(body, 10, delimiter=";")
    with pytest.raises(ApiError, match="not utf-8, as its Content-Type says"):
        csv_records(body, 10, delimiter=";", content_type="text/csv; charset=utf-8")
    with pytest.raises(ApiError, match="'klingon' is no known encoding"):
        csv_records(body, 10, delimiter=";", content_type="text/csv; charset=klingon")

"""A JSON number past float64's range is valid JSON: 422 naming the field, not "not valid JSON"
(issue 11, item 10)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tabops.serve.http import ApiError
from tabops.serve.json_body import parse_json

#: Numbers float64 cannot hold: integers of 310+ digits, exponents past 308, either sign.
HUGE = st.builds(
    lambda sign, digits, exponent: f"{sign}{digits}{exponent}",
    st.sampled_from(["", "-"]),
    st.one_of(
        st.integers(10**309, 10**420).map(str),
        st.integers(1, 10**6).map(lambda n: f"{n}.5"),
    ),
    st.sampled_from(["", "e400", "E+309", "e99999"]),
).filter(lambda text: abs(float(text)) == float("inf"))
NAMES = st.text(min_size=1, max_size=80).filter(lambda s: s.isprintable())


def refusal(body: str) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse_json("application/json", body.encode())
    assert caught.value.status == 422 and caught.value.code == "number_out_of_range"
    return caught.value


@given(
    HUGE,
    NAMES,
    st.dictionaries(NAMES, st.integers() | st.text() | st.lists(st.text())),
    st.booleans(),
)
def test_a_member_past_float64_is_422_naming_it(
    number: str, name: str, before: dict[str, Any], ascii_only: bool
) -> None:
    """Whatever precedes it and however the name is escaped, the member is named."""
    members = [json.dumps(k) + ": " + json.dumps(v) for k, v in before.items() if k != name]
    key = json.dumps(name, ensure_ascii=ascii_only)
    body = "{" + ", ".join([*members, f"{key} :  {number}"]) + ', "after": 1}'
    message = refusal(body).message
    assert message.startswith(f"'{name[:64]}': the number is out of range")


@given(HUGE, st.integers(0, 3))
def test_a_number_in_an_array_is_422_naming_its_place(number: str, before: int) -> None:
    body = "[" + "1, " * before + number + "]"
    message = refusal(body).message
    assert message.startswith(f"the number at character {1 + 3 * before}:")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e", "01", "--1"])
def test_invalid_number_literals_stay_invalid_json(literal: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_json(None, f'{{"x": {literal}}}'.encode())
    assert caught.value.status == 400 and caught.value.code == "invalid_json"


def test_the_largest_float64_and_beyond_64_bit_integers_still_parse() -> None:
    assert parse_json(None, b'{"x": 1.7976931348623157e308}') == {"x": 1.7976931348623157e308}
    assert parse_json(None, b'{"x": -1e308}') == {"x": -1e308}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"x": NaN, "n": 1}', "NaN at character 6 (field 'x') is no JSON value. Send null"),
        ('[{"a": 1}, {"a": -Infinity}]', "-Infinity at character 17 (field 'a') is no JSON"),
        ('{"x": 1,', "The body is not valid JSON (it ends early)."),
        ('{"x" 1}', "The body is not valid JSON at character 5."),
        (" ", "The body is empty: send a JSON record or array."),
    ],
)
def test_invalid_json_says_where_and_what_to_send_for_a_nan(body: str, message: str) -> None:
    # What Python's json.dumps and pandas' to_dict write for a missing float (NaN) is not JSON.
    with pytest.raises(ApiError) as caught:
        parse_json("application/json", body.encode())
    assert caught.value.status == 400 and caught.value.code == "invalid_json"
    assert message in caught.value.message


def test_a_body_starting_with_a_byte_order_mark_is_read() -> None:
    assert parse_json("application/json", b'\xef\xbb\xbf{"x": 1}') == {"x": 1}

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from tabops.data.contract import ContractChecker, check_contract
from tabops.spec import parse_spec
from tests.conftest import small_spec_dict

SPEC = parse_spec(small_spec_dict())


def _strings(rows: list[list[str]]) -> pa.Table:
    names = ["id", "amount", "count", "color", "flag", "label"]
    return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})


def _reasons(rows: list[list[str]]) -> dict[int, list[tuple[str, str]]]:
    result = check_contract(_strings(rows), SPEC)
    return {p: [(r.column, r.check) for r in rs] for p, rs in result.reasons.items()}


def test_clean_rows_are_typed() -> None:
    result = check_contract(_strings([["1", "2.5", "3", "red", "yes", "no"]]), SPEC)
    assert result.bad_index.tolist() == [] and result.drift == []
    assert result.good.to_pylist() == [
        {"id": 1, "amount": 2.5, "count": 3, "color": "red", "flag": True, "label": "no"}
    ]
    assert result.good.schema.field("amount").type == pa.float64()


def test_every_failed_check_is_reported_per_row() -> None:
    rows = [
        ["1", "10", "", "red", "true", "yes"],  # good: count is nullable
        ["2", "-1", "1", "red", "true", "yes"],  # below min
        ["3", "1001", "1", "red", "true", "yes"],  # above max
        ["4", "abc", "1", "green", "true", "yes"],  # not numeric + unknown category
        ["5", "NA", "1.5", "red", "maybe", "yes"],  # missing, lossy integer, bad boolean
        ["1", "5", "1", "blue", "0", "no"],  # duplicate id
        ["7", "inf", "1", "red", "1", "no"],  # non-finite
    ]
    assert _reasons(rows) == {
        1: [("amount", "min")],
        2: [("amount", "max")],
        3: [("amount", "type"), ("color", "category")],
        4: [("amount", "missing"), ("count", "type"), ("flag", "type")],
        5: [("id", "unique")],
        6: [("amount", "type")],
    }


def test_messages_quote_the_value() -> None:
    result = check_contract(_strings([["1", "-3", "1", "green", "1", "no"]]), SPEC)
    messages = [r.message for r in result.reasons[0]]
    assert "-3.0 is below min 0" in messages
    assert "unknown category 'green'; allowed: 'red', 'blue'" in messages


def test_whitespace_and_null_markers_are_handled() -> None:
    result = check_contract(_strings([[" 1 ", " 2 ", "NA", " red", "Yes", "no"]]), SPEC)
    assert result.bad_index.tolist() == []
    assert result.good.to_pylist()[0] | {} == {
        "id": 1, "amount": 2.0, "count": None, "color": "red", "flag": True, "label": "no",
    }  # fmt: skip


def test_integers_accept_whole_floats_but_not_fractions() -> None:
    result = check_contract(_strings([["1", "1", "3.0", "red", "1", "no"]]), SPEC)
    assert result.good.column("count").to_pylist() == [3]


def test_missing_and_new_columns_are_drift() -> None:
    table = _strings([["1", "2", "3", "red", "1", "no"]]).drop_columns(["flag"])
    table = table.append_column("extra", pa.array(["x"]))
    result = check_contract(table, SPEC)
    assert any("'flag' is missing" in d for d in result.drift)
    assert any("'extra' is new" in d for d in result.drift)
    assert result.good.num_rows == 0


def test_mostly_wrong_type_means_retyped() -> None:
    rows = [[str(i), "x" if i < 8 else "1", "1", "red", "1", "no"] for i in range(10)]
    result = check_contract(_strings(rows), SPEC)
    assert not result.drift
    assert "column 'amount' looks retyped: 8 of 10 values" in result.retyped[0]


def test_a_few_bad_values_in_a_mostly_empty_column_are_bad_rows_not_a_retyped_column() -> None:
    # 'count' blank in 39 rows and '34,5' in one: 1 of 1 values failed, one bad row.
    rows = [[str(i), "1", "34,5" if i == 0 else "", "red", "1", "no"] for i in range(40)]
    result = check_contract(_strings(rows), SPEC)
    assert result.retyped == []
    assert result.bad_index.tolist() == [0] and result.reasons[0][0].column == "count"


def test_unique_values_are_tracked_across_batches() -> None:
    checker = ContractChecker(SPEC, _strings([]).schema)
    first = checker.check(_strings([["1", "1", "1", "red", "1", "no"]]), 0)
    second = checker.check(
        _strings([["2", "1", "1", "red", "1", "no"], ["1", "1", "1", "red", "1", "no"]]), 1
    )
    assert first.bad_positions.tolist() == []
    assert second.bad_positions.tolist() == [2]  # stream position of the repeated id
    assert checker.failure_counts() == {"id": {"unique": 1}}


def test_typed_sources_are_checked_natively() -> None:
    spec = parse_spec(
        small_spec_dict(
            columns={
                "id": {"type": "integer", "role": "id", "nullable": False},
                "amount": {"type": "numeric", "nullable": False, "min": 0},
                "when": {"type": "datetime", "nullable": True},
                "label": {"type": "categorical", "role": "target", "nullable": False},
            }
        )
    )
    table = pa.table(
        {
            "id": pa.array([1.0, 2.5, 3.0]),  # 2.5 is not an integer
            "amount": pa.array([1.0, float("nan"), -2.0]),  # NaN is missing; -2 below min
            "when": pa.array([dt.datetime(2026, 1, 1), None, dt.datetime(2026, 1, 2)]),
            "label": pa.array([1, 0, 1]),  # numbers become category strings
        }
    )
    result = check_contract(table, spec)
    reasons = {p: [(r.column, r.check) for r in rs] for p, rs in result.reasons.items()}
    assert reasons == {1: [("id", "type"), ("amount", "missing")], 2: [("amount", "min")]}
    assert result.good.column("label").to_pylist() == ["1"]
    assert str(result.good.schema.field("when").type) == "timestamp[us, tz=UTC]"


def test_recorded_boolean_tokens_are_the_only_ones_accepted_in_any_letter_case() -> None:
    raw = small_spec_dict()
    raw["columns"]["flag"] |= {"true_values": ["Yes"], "false_values": ["No"]}
    spec = parse_spec(raw)
    flags = ("Yes", " No ", "yes", "NO", "1", "TRUE", "Y")
    rows = [["1", "1", "1", "red", flag, "no"] for flag in flags]
    result = check_contract(_strings([[str(n), *r[1:]] for n, r in enumerate(rows)]), spec)
    assert result.good.column("flag").to_pylist() == [True, False, True, False]
    assert result.bad_index.tolist() == [4, 5, 6]
    assert result.reasons[4][0].message == (
        "'1' is not a valid boolean (expected 'Yes' (true) or 'No' (false), in any letter case)"
    )


def test_digit_tokens_are_not_said_to_have_a_letter_case() -> None:
    raw = small_spec_dict()
    raw["columns"]["flag"] |= {"true_values": ["1"], "false_values": ["0"]}
    rows = [["1", "1", "1", "red", flag, "no"] for flag in ("1", "yes")]
    result = check_contract(
        _strings([[str(n), *r[1:]] for n, r in enumerate(rows)]), parse_spec(raw)
    )
    assert result.bad_index.tolist() == [1]
    assert result.reasons[1][0].message == (
        "'yes' is not a valid boolean (expected '1' (true) or '0' (false))"
    )


def test_without_recorded_tokens_the_defaults_are_read_in_any_case() -> None:
    flags = ["TRUE", "t", "Yes", "Y", "1", "False", "F", "NO", "n", "0"]
    rows = [[str(n), "1", "1", "red", flag, "no"] for n, flag in enumerate(flags)]
    result = check_contract(_strings(rows), SPEC)
    assert result.good.column("flag").to_pylist() == [True] * 5 + [False] * 5


def test_two_categories_written_as_a_boolean_read_any_letter_case_as_declared() -> None:
    # A churn target written TRUE/FALSE in one file and True/False in the next.
    raw = small_spec_dict()
    raw["columns"]["label"]["categories"] = ["FALSE", "TRUE"]
    raw["positive_class"] = "TRUE"
    labels = ["TRUE", "True", "false", "FALSE", "yes"]
    rows = [[str(n), "1", "1", "red", "yes", label] for n, label in enumerate(labels)]
    result = check_contract(_strings(rows), parse_spec(raw))
    assert result.good.column("label").to_pylist() == ["TRUE", "TRUE", "FALSE", "FALSE"]
    assert result.bad_index.tolist() == [4]  # another word is no category
    # Other categories keep their letter case: 'Red' is not 'red'.
    colors = check_contract(_strings([["1", "1", "1", "Red", "yes", "no"]]), SPEC)
    assert colors.bad_index.tolist() == [0]


def test_a_placeholder_among_numbers_is_refused_with_the_way_to_read_it_as_missing() -> None:
    rows = [
        ["1", "-", "3", "red", "yes", "no"],
        ["2", "abc", "3", "red", "yes", "no"],
        ["3", "1.2.3", "3", "red", "yes", "no"],
    ]
    result = check_contract(_strings(rows), SPEC)
    assert [r.message for r in result.reasons[0]] == [
        "'-' is not a valid numeric (if '-' marks a missing value, add it to "
        "source.csv.null_values)"
    ]
    assert [r.message for r in result.reasons[1]] == [
        "'abc' is not a valid numeric (if 'abc' marks a missing value here, add it to the "
        "column's null_values in tabops.yaml)"
    ]
    assert [r.message for r in result.reasons[2]] == ["'1.2.3' is not a valid numeric"]


def test_a_columns_own_null_values_are_missing_there_alone() -> None:
    spec = small_spec_dict()
    spec["columns"]["amount"] |= {"null_values": ["Unknown"], "nullable": True}
    spec["columns"]["color"]["categories"] = ["red", "Unknown"]
    rows = [["1", " Unknown ", "3", "Unknown", "yes", "no"], ["2", "2.5", "3", "red", "yes", "no"]]
    result = check_contract(_strings(rows), parse_spec(spec))
    assert result.reasons == {}
    assert result.good.column("amount").to_pylist() == [None, 2.5]
    assert result.good.column("color").to_pylist() == ["Unknown", "red"]

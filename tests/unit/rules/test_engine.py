"""Rule sets: loading and checking files, decisions, and row-vs-frame agreement."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from tabops.errors import DataError, RulesError
from tabops.rules.engine import (
    Action,
    RuleSet,
    check_rules,
    check_rules_text,
    load_rules,
    parse_rules,
    rules_path,
)
from tabops.rules.expr import parse
from tabops.rules.rowwise import OTHER, compile_row, normalise
from tabops.rules.vectorised import Columns, compile_frame
from tabops.spec import ProjectSpec, load_spec

from .conftest import MONITOR_RULES
from .strategies import FIELDS, conditions, random_frame

# ---------------------------------------------------------------------------------------------
# The original monitor's rules, as written in examples/fraud/rules.yaml

MONITOR_CASES = [
    # amount, account_blacklisted, transaction_type -> decision, rules fired
    (150.0, False, "real-time", "reject", ["Rule 1", "Rule 3"]),
    (100.0, False, "real-time", "approve", ["Rule 3"]),  # "more than $100": 100 is fine
    (100.01, False, "real-time", "reject", ["Rule 1", "Rule 3"]),
    (50.0, True, "real-time", "reject", ["Rule 2", "Rule 3"]),
    (5000.0, True, "real-time", "reject", ["Rule 2", "Rule 3"]),  # not rule 1: account_blacklisted
    (20.0, False, "real-time", "approve", ["Rule 3"]),
    (0.0, False, "real-time", "approve", ["Rule 3"]),
    (500.0, False, "settlement", None, []),
    (500.0, True, "dispute", None, []),
]


@pytest.fixture
def monitor(fraud_spec: ProjectSpec) -> RuleSet:
    return load_rules(MONITOR_RULES, fraud_spec)


def test_example_rules_fit_the_example_spec() -> None:
    example = MONITOR_RULES.parent / "tabops.yaml"
    if not example.is_file():
        pytest.skip("examples/fraud/tabops.yaml is not there")
    rules = load_rules(spec=load_spec(example))
    assert rules.fields == ("amount", "account_blacklisted", "transaction_type")


def test_monitor_rules_load_against_the_fraud_columns(monitor: RuleSet) -> None:
    assert monitor.version == "1"
    assert [(r.id, r.action) for r in monitor.rules] == [
        ("Rule 1", Action.REJECT),
        ("Rule 2", Action.REJECT),
        ("Rule 3", Action.APPROVE),
    ]
    assert monitor.rules[0].explanation == "User is trying to make a transaction of more than $100"
    assert monitor.rules[1].explanation == "Blacklisted card"
    assert monitor.fields == ("amount", "account_blacklisted", "transaction_type")
    assert len(monitor.digest) == 64


@pytest.mark.parametrize(
    ("amount", "account_blacklisted", "kind", "decision", "fired"), MONITOR_CASES
)
def test_monitor_decisions_row_by_row(
    monitor: RuleSet, amount: float, account_blacklisted: bool, kind: str, decision: str | None,
    fired: list[str],
) -> None:  # fmt: skip
    row = {
        "amount": amount,
        "account_blacklisted": account_blacklisted,
        "transaction_type": kind,
        "extra": 1,
    }
    result = monitor.evaluate_row(row)
    assert result.decision == decision
    assert [f.id for f in result.fired] == fired
    assert result.version == "1"
    document = result.to_dict()
    assert document["decision"] == decision
    if "Rule 2" in fired:
        assert {"id": "Rule 2", "action": "reject", "explanation": "Blacklisted card"} in (
            document["fired"]
        )


def test_monitor_decisions_vectorised(monitor: RuleSet) -> None:
    frame = pd.DataFrame(
        [
            {"amount": a, "account_blacklisted": b, "transaction_type": t}
            for a, b, t, *_ in MONITOR_CASES
        ],
        index=[f"tx{i}" for i in range(len(MONITOR_CASES))],
    )
    result = monitor.evaluate_frame(frame)
    assert result.decision.tolist() == [case[3] for case in MONITOR_CASES]
    assert list(result.fired.columns) == ["Rule 1", "Rule 2", "Rule 3"]
    assert list(result.fired.index) == list(frame.index)
    assert [result.row(i) for i in range(len(frame))] == [case[4] for case in MONITOR_CASES]
    assert result.any_fired(Action.REJECT).tolist() == [c[3] == "reject" for c in MONITOR_CASES]
    assert not result.any_fired(Action.REVIEW).any()


def test_decision_precedence_and_every_fired_rule_reported() -> None:
    rules = parse_rules(
        """
version: "2024-06"
rules:
  - {id: ok, condition: "true", action: approve, explanation: always}
  - {id: look, condition: "x > 1", action: review, explanation: big}
  - {id: stop, condition: "x > 2", action: reject, explanation: huge}
  - {id: also-ok, condition: "x > 3", action: approve, explanation: very big}
"""
    )
    assert rules.version == "2024-06"
    decisions = {x: rules.evaluate_row({"x": x}) for x in (0, 1.5, 2.5, 3.5)}
    assert decisions[0].decision == Action.APPROVE
    assert decisions[1.5].decision == Action.REVIEW
    assert decisions[2.5].decision == Action.REJECT
    assert [f.id for f in decisions[3.5].fired] == ["ok", "look", "stop", "also-ok"]
    assert decisions[3.5].decision == Action.REJECT
    frame = rules.evaluate_frame(pd.DataFrame({"x": [0, 1.5, 2.5, 3.5]}))
    assert frame.decision.tolist() == ["approve", "review", "reject", "reject"]
    empty = parse_rules('version: "0"\nrules: []\n')
    assert empty.evaluate_row({"x": 1}).decision is None
    assert empty.evaluate_frame(pd.DataFrame({"x": [1]})).decision.tolist() == [None]


# ---------------------------------------------------------------------------------------------
# Semantics: nulls, kinds, division by zero; each case checked on both evaluators


def _both(condition: str, rows: list[dict[str, Any]]) -> list[bool]:
    """The condition on each row, asserting that the two evaluators agree."""
    node = parse(condition)
    row_test = compile_row(node)
    by_row = [row_test({k: normalise(v) for k, v in row.items()}) for row in rows]
    frame = pd.DataFrame(rows)
    by_frame = compile_frame(node)(Columns(frame)).tolist()
    assert by_row == by_frame, condition
    return by_row


NULLS: list[dict[str, Any]] = [{"x": None}, {"x": float("nan")}, {"x": pd.NA}]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("x > 100", False),
        ("x < 100", False),
        ("x == 1", False),
        ("x != 1", False),  # comparisons with null are false, != too
        ("not (x > 100)", True),  # two-valued logic: not false is true
        ("x in [1, 2]", False),
        ("x not in [1, 2]", False),
        ("x is null", True),
        ("x is not null", False),
        ("x", False),
        ("not x", True),
        ("x + 1 is null", True),
        ("-x is null", True),
    ],
)
def test_null_semantics(condition: str, expected: bool) -> None:
    assert _both(condition, NULLS) == [expected] * len(NULLS)


@pytest.mark.parametrize(
    ("condition", "values", "expected"),
    [
        ("x / 0 > 1", [5.0, -5.0, 0.0], [False, False, False]),
        ("x / 0 is null", [5.0, -5.0, 0.0], [True, True, True]),
        ("x % 0 is null", [5.0, 0.0, -1.0], [True, True, True]),
        ("x / (x - x) is null", [1.0, 2.0, 3.0], [True, True, True]),
        ("x * 1e308 * 10 > 1", [1.0, -1.0, 0.0], [True, False, False]),  # overflow: inf
        ("x - x is null", [math.inf, 1.0, -math.inf], [True, False, True]),  # inf - inf: null
        ("x % 3 == 1", [4.0, -2.0, 7.5], [True, True, False]),  # Python's modulo sign
        ("-x == 0", [0.0, -0.0, 1.0], [True, True, False]),
    ],
)
def test_arithmetic_edges(condition: str, values: list[float], expected: list[bool]) -> None:
    assert _both(condition, [{"x": v} for v in values]) == expected


@pytest.mark.parametrize(
    ("condition", "values", "expected"),
    [
        ("x == true", [True, False, 1, 0, 1.0, "true", None], [1, 0, 1, 0, 1, 0, 0]),
        ("x", [True, False, 2, 0, -0.5, "yes", "", None], [1, 0, 1, 0, 1, 0, 0, 0]),
        ("x == '1'", [1, "1", 1.0, None], [0, 1, 0, 0]),  # kinds never equal each other
        ("x != '1'", [1, "1", None, "2"], [1, 0, 0, 1]),
        ("x < 'b'", ["a", "c", 1, None], [1, 0, 0, 0]),  # strings order; numbers do not
        ("x > 0", ["a", 5, -5, dt.date(2024, 1, 1)], [0, 1, 0, 0]),
        ("x is null", [dt.date(2024, 1, 1), pd.NaT, np.datetime64("NaT"), None], [0, 1, 1, 1]),
        ("x != 0", [dt.date(2024, 1, 1), None], [1, 0]),  # a present value of another kind
        ("x in ['a', 'b']", ["a", "c", None, 1], [1, 0, 0, 0]),
        ("x not in ['a', 'b']", ["a", "c", None, 1], [0, 1, 0, 1]),
        ("x in [1, 2]", [1, 2.0, True, "1", None], [1, 1, 1, 0, 0]),
        ("x > 5", [np.int64(7), np.float32(6.5), Decimal("5.5"), 10**400, -(10**400)],
         [1, 1, 1, 1, 0]),
    ],
)  # fmt: skip
def test_kinds(condition: str, values: list[Any], expected: list[int]) -> None:
    rows = [{"x": v} for v in values]
    frame = pd.DataFrame({"x": pd.Series(values, dtype=object)})
    node = parse(condition)
    by_row = [compile_row(node)({"x": normalise(v)}) for v in values]
    assert by_row == [bool(e) for e in expected]
    assert compile_frame(node)(Columns(frame)).tolist() == by_row
    assert _both(condition, rows) == by_row  # pandas' own dtype inference for the column


def test_normalise() -> None:
    assert normalise(True) == 1.0 and normalise(np.bool_(False)) == 0.0
    assert normalise(3) == 3.0 and isinstance(normalise(np.int8(3)), float)
    assert normalise(float("nan")) is None and normalise(pd.NA) is None
    assert normalise(pd.NaT) is None and normalise(np.float64("nan")) is None
    assert normalise(np.str_("a")).__class__ is str
    assert normalise(10**400) == math.inf
    assert normalise(dt.datetime(2024, 1, 1)) is OTHER and normalise([1]) is OTHER
    assert normalise(1 + 2j) is OTHER


def test_empty_frames(monitor: RuleSet) -> None:
    for frame in (
        pd.DataFrame({"amount": [], "account_blacklisted": [], "transaction_type": []}),
        pd.DataFrame(
            {
                "amount": pd.Series([], dtype=float),
                "account_blacklisted": pd.Series([], dtype=bool),
                "transaction_type": pd.Series([], dtype="category"),
            }
        ),
    ):
        result = monitor.evaluate_frame(frame)
        assert result.fired.shape == (0, 3) and result.decision.tolist() == []


def test_missing_fields() -> None:
    rules = parse_rules(
        'version: "1"\nrules:\n  - {id: r, condition: "a is null", action: review, '
        "explanation: no a}\n"
    )
    assert rules.evaluate_row({}).decision == Action.REVIEW  # missing key: null
    with pytest.raises(DataError, match="no column 'a', read by rule\\(s\\) 'r'"):
        rules.evaluate_frame(pd.DataFrame({"b": [1]}))


# ---------------------------------------------------------------------------------------------
# Row-by-row and vectorised evaluation agree

AGREEMENT_CONDITIONS = [
    'amount > 100 and not account_blacklisted and transaction_type == "real-time"',
    'account_blacklisted and transaction_type == "real-time"',
    'transaction_type == "real-time"',
    "amount >= 101 or amount < 0",
    "amount / count > 10",
    "amount % count == 1",
    "amount * 2 - count <= 50",
    "-amount > -50",
    "amount - amount is null",
    "count in [0, 1, 2]",
    "count not in [0, -1]",
    "count != 3",
    "account_blacklisted == true",
    "account_blacklisted != false",
    "not account_blacklisted",
    "card_present and not account_blacklisted",
    "card_present == account_blacklisted",
    "merchant_category in ['grocery', '']",
    "merchant_category not in ['travel']",
    "merchant_category < 'h'",
    "merchant_category == card_type",
    "merchant_category != transaction_type",
    "card_type == 'Visa'",
    "card_type >= 'N'",
    "card_type is null or transaction_type is null",
    "mixed == 1",
    "mixed != 'real-time'",
    "mixed > 0.5",
    "mixed < 'z'",
    "mixed in [1, 2]",
    "mixed in ['1', '']",
    "mixed",
    "not mixed",
    "mixed + 1 > 1",
    "mixed is null",
    "mixed == transaction_type",
    "mixed >= amount",
    "ts is null",
    "ts is not null and amount > 10",
    "ts == ts",
    "ts != 1",
    "empty is null",
    "empty == empty",
    "(amount > 100) == card_present",
    "(amount > 100) != (count > 1)",
    "true",
    "false or amount > 1000",
]


ACTIONS = ("reject", "review", "approve")


def test_row_and_vectorised_agree_on_10000_random_rows() -> None:
    frame = random_frame(10_000, seed=7)
    records = cast(list[dict[str, Any]], frame.to_dict("records"))
    yaml_rules = "\n".join(
        f"  - {{id: r{i}, condition: {condition!r}, action: {ACTIONS[i % 3]}, explanation: e{i}}}"
        for i, condition in enumerate(AGREEMENT_CONDITIONS)
    )
    rules = parse_rules(f'version: "1"\nrules:\n{yaml_rules}\n')
    by_frame = rules.evaluate_frame(frame)
    fired = by_frame.fired.to_numpy()
    for position, record in enumerate(records):
        result = rules.evaluate_row(record)
        expected = [rule.id for rule, hit in zip(rules.rules, fired[position], strict=True) if hit]
        assert [f.id for f in result.fired] == expected, (position, record)
        assert by_frame.decision.iloc[position] == result.decision, (position, record)
    # The data is not degenerate: every rule but the constant ones fires on some rows only.
    constant = {"true", "ts == ts", "empty is null", "empty == empty"}
    for rule, column in zip(rules.rules, fired.T, strict=True):
        if rule.condition not in constant:
            assert 0 < column.sum() < len(frame), rule.condition


_FRAME = random_frame(400, seed=11)
_RECORDS = [{str(k): normalise(v) for k, v in r.items()} for r in _FRAME.to_dict("records")]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conditions)
def test_random_conditions_agree(condition: str) -> None:
    node = parse(condition)
    row_test = compile_row(node)
    by_row = [row_test(record) for record in _RECORDS]
    by_frame = compile_frame(node)(Columns(_FRAME)).tolist()
    assert by_row == by_frame


def test_frame_dtypes_agree_with_rows() -> None:
    """The same values stored as different dtypes give the same masks."""
    values = [1.0, 0.0, None, 5.0, 101.0]
    variants = {
        "float": pd.Series(values, dtype="float64"),
        "Float64": pd.Series(values, dtype="Float64"),
        "Int64": pd.Series([1, 0, None, 5, 101], dtype="Int64"),
        "object": pd.Series(values, dtype=object),
        "category": pd.Series(values, dtype="category"),
        "arrow": pd.Series(values, dtype="float64[pyarrow]"),
    }
    for name, series in variants.items():
        frame = pd.DataFrame({"x": series})
        for condition in ("x != 0", "x"):
            mask = compile_frame(parse(condition))(Columns(frame))
            assert mask.tolist() == [True, False, False, True, True], (name, condition)
    strings = ["a", None, "b"]
    for series in (
        pd.Series(strings, dtype=object),
        pd.Series(strings, dtype="string"),
        pd.Series(strings, dtype="category"),
        pd.Series(strings, dtype="string[pyarrow]"),
    ):
        frame = pd.DataFrame({"x": series})
        before = frame["x"].tolist()
        mask = compile_frame(parse("x != 'a'"))(Columns(frame))
        assert mask.tolist() == [False, False, True], series.dtype
        assert all(a is b for a, b in zip(frame["x"], before, strict=True))  # left as it was
    flags = [True, None, False]
    for series in (pd.Series(flags, dtype=object), pd.Series(flags, dtype="boolean")):
        mask = compile_frame(parse("not x"))(Columns(pd.DataFrame({"x": series})))
        assert mask.tolist() == [False, True, True], series.dtype


# ---------------------------------------------------------------------------------------------
# Files: every problem found, each naming the file, the rule, the line and the position


def _write(folder: Path, text: str) -> Path:
    path = folder / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_malformed_condition_names_file_rule_line_and_column(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """version: "3"
rules:
  - id: ok
    condition: amount > 1
    action: review
    explanation: fine
  - id: Rule 9
    action: reject
    explanation: bad
    condition: amount > 100 and __import__('os')
""",
    )
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    message = str(caught.value)
    assert str(path) in message
    assert "rule 'Rule 9' (line 7)" in message
    assert "condition line 10, column 18" in message
    assert "names starting with '__' are not allowed" in message
    assert "amount > 100 and __import__('os')\n" in message
    assert message.split("\n")[3].index("^") == message.split("\n")[2].index("_")
    assert "tabops rules check" in message
    assert caught.value.code == "invalid_rules" and caught.value.exit_code == 2


def test_every_problem_is_listed(tmp_path: Path, fraud_spec: ProjectSpec) -> None:
    path = _write(
        tmp_path,
        """version: 1.5
colour: red
rules:
  - id: a
    condition: amout > 1
    action: reject
    explanation: typo
  - id: a
    condition: amount > 1
    action: block
    explanation: ""
  - id: "bad id!"
    condition: 5
    action: review
    explanation: x
    severity: high
  - just a string
  - id: missing-bits
""",
    )
    result = check_rules(path, fraud_spec)
    assert not result.ok
    messages = result.messages()
    expected = [
        "'version' must be a string",
        "unknown key(s) colour",
        "rule 'a' (line 4): condition line 5, column 1: unknown field 'amout' (did you mean",
        "rule 'a' (line 8): action 'block' is not one of reject, review, approve",
        "rule 'a' (line 8): explanation must be a non-empty string",
        "rule 'a' (line 8): duplicate id: rule #1 has it too",
        "rule #3 (line 12): unknown key(s) severity",
        "rule #3 (line 12): id 'bad id!' is not valid",
        "rule #3 (line 12): condition must be a string",
        "rule #4 (line 17): a rule must be a mapping",
        "rule 'missing-bits' (line 18): missing condition, action, explanation",
    ]
    for fragment in expected:
        assert any(fragment in m for m in messages), (fragment, messages)
    first = result.rules[0]
    assert (first.position, first.field, first.parsed) == (1, "amout", None)
    document = result.to_dict()
    assert document["valid"] is False and document["rules"][0]["errors"]
    with pytest.raises(RulesError, match="11 problem"):
        load_rules(path, fraud_spec)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("version: '1'\nrules: [\n", "not valid YAML"),
        ("- a\n- b\n", "must be a mapping with 'version' and 'rules'"),
        ("rules: []\n", "'version' is missing"),
        ("version: '1'\n", "'rules' is missing or not a list"),
        ("version: '1'\nrules: {a: 1}\n", "'rules' is missing or not a list"),
        ("version: ''\nrules: []\n", "non-empty string"),
        ("a: &a [x, x]\nb: &b [*a, *a]\nversion: '1'\nrules: [*b]\n", "line 2, column 8"),
        ("version: '1'\nrules: [&r {id: r}, *r]\n", "aliases (*name) are not allowed"),
    ],
)
def test_file_level_problems(text: str, fragment: str) -> None:
    result = check_rules_text(text, "rules.yaml")
    assert not result.ok
    assert any(fragment in p for p in result.problems), result.problems


def test_integer_version_and_id_are_read_as_strings() -> None:
    rules = parse_rules(
        "version: 7\nrules:\n  - {id: 1, condition: 'a', action: approve, explanation: x}\n"
    )
    assert rules.version == "7" and rules.rules[0].id == "1"


def test_unreadable_or_huge_files(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="No rules file at"):
        load_rules(tmp_path / "nope.yaml")
    huge = _write(tmp_path, "version: '1'\nrules: []\n" + "#" * 1_000_001)
    with pytest.raises(RulesError, match="at most 1,000,000 bytes"):
        load_rules(huge)
    (tmp_path / "latin.yaml").write_bytes(b"version: '\xe9'\n")
    with pytest.raises(RulesError, match="Cannot read"):
        load_rules(tmp_path / "latin.yaml")


def test_default_path_is_beside_the_spec(fraud_spec: ProjectSpec, tmp_path: Path) -> None:
    assert rules_path(fraud_spec) == fraud_spec.root / "rules.yaml"
    fraud_spec._root = tmp_path
    (tmp_path / "rules.yaml").write_text(MONITOR_RULES.read_text())
    assert load_rules(spec=fraud_spec).version == "1"


def test_rule_set_describes_itself(monitor: RuleSet) -> None:
    document = monitor.to_dict()
    assert document["version"] == "1"
    assert document["rules"][1] == {
        "id": "Rule 2",
        "condition": 'account_blacklisted and transaction_type == "real-time"',
        "parsed": '(account_blacklisted and (transaction_type == "real-time"))',
        "action": "reject",
        "explanation": "Blacklisted card",
    }
    assert "rules=3" in repr(monitor)


def test_fields_used_by_generated_frames_are_known() -> None:
    assert set(FIELDS) <= set(random_frame(5, seed=1).columns)

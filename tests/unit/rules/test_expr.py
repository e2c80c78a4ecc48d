"""The condition language: parsing, canonical rendering, refusals and their positions."""

from __future__ import annotations

import ast
import builtins
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tabops.rules
from tabops.rules.engine import parse_condition
from tabops.rules.expr import (
    MAX_CONDITION_CHARS,
    MAX_DEPTH,
    ConditionError,
    caret,
    fields,
    parse,
    render,
)
from tabops.rules.rowwise import compile_row
from tabops.spec import ProjectSpec

from .strategies import conditions


@pytest.mark.parametrize(
    ("condition", "canonical"),
    [
        (
            'amount > 100 and not account_blacklisted and transaction_type == "real-time"',
            '((amount > 100) and (not account_blacklisted) and (transaction_type == "real-time"))',
        ),
        ("a or b and c", "(a or (b and c))"),
        ("(a or b) and c", "((a or b) and c)"),
        ("not a == b", "(not (a == b))"),
        ("not not a", "(not (not a))"),
        ("1 + 2 * 3 - 4 % 5 / 6", "((1 + (2 * 3)) - ((4 % 5) / 6))"),
        ("a - b - c", "((a - b) - c)"),
        ("-x * 2 < -3", "(((-x) * 2) < -3)"),
        ("- -3 == 3", "(3 == 3)"),
        ("x in [1, 2.5, -3]", "(x in [1, 2.5, -3])"),
        ("x not in ['a', \"b\"]", '(x not in ["a", "b"])'),
        ("x is null or y is not null", "((x is null) or (y is not null))"),
        ("x == 'it''s'", None),  # two strings side by side: refused below, not here
        ("`weird name` >= 1e3", "(`weird name` >= 1000)"),
        ("`and` == true", "(`and` == true)"),
        ("x == 'a\\'b\\n'", '(x == "a\'b\\n")'),
        ("amount > 0.1", "(amount > 0.1)"),
        ("amount > 1e20", "(amount > 1e+20)"),
        ("true", "true"),
        ("a\n  and b", "(a and b)"),
    ],
)
def test_parse_renders_fully_parenthesised(condition: str, canonical: str | None) -> None:
    if canonical is None:
        with pytest.raises(ConditionError):
            parse(condition)
        return
    rendered = render(parse(condition))
    assert rendered == canonical
    assert render(parse(rendered)) == rendered


def test_fields_in_order_of_first_use() -> None:
    node = parse("b > 1 and a in [1] or b is null or `c d` == x")
    assert fields(node) == ["b", "a", "c d", "x"]


# Malicious or Python-flavoured input: every one is refused with a message and a position.
REFUSED = [
    ("amount.__class__", "attribute access", 7),
    ("amount.__class__.__bases__[0].__subclasses__()", "attribute access", 7),
    ("__import__('os').system('ls')", "'__'", 1),
    ("open('/etc/passwd')", "function calls are not supported", 5),
    ("exec('1')", "function calls are not supported", 5),
    ("eval('1') > 0", "function calls are not supported", 5),
    ("import os", "'import' is not part of the rule language", 1),
    ("amount > 1 and import", "'import'", 16),
    ("9**9**9", "power operator '**' is not supported", 2),
    ("amount ** 2 > 1", "power operator", 8),
    ("2 ^ 8", "no power operator", 3),
    ("lambda: 1", "'lambda' is not part of the rule language", 1),
    ("(lambda x: x)(1)", "'lambda'", 2),
    ("amount[0] > 1", "indexing is not supported", 7),
    ("(amount)[0]", "indexing is not supported", 9),
    ("x if y else z", "'if'", 3),
    ("[c for c in x]", "a list only follows 'in'", 1),
    ("{'a': 1}", "'{'", 1),
    ("amount > 1; x", "';'", 11),
    ("a = 1", "write '==' to compare", 3),
    ("a && b", "write 'and'", 3),
    ("a || b", "write 'or'", 3),
    ("!a", "write 'not'", 1),
    ("a < b < c", "comparisons do not chain", 7),
    ("amount > 100 AND x", "lowercase: 'and'", 14),
    ("x == True", "write true in lowercase", 6),
    ("x is None", "write null in lowercase", 6),
    ("x == null", "write 'x is null'", 6),
    ("x in [1, null]", "null never matches", 10),
    ("x in []", "empty list", 6),
    ("x in [1, 'a']", "mixes numbers, strings", 6),
    ("x in [y]", "lists hold literal values", 7),
    ("x in (1, 2)", "list in brackets", 6),
    ("x is 5", "after 'is' write 'null'", 6),
    ("'abc", "unterminated string", 1),
    ("x == 'a\\qb'", "unknown escape", 8),
    ("x == 'a\nb'", "cannot span lines", 8),
    ("0x1F > 1", "malformed number", 2),
    ("1.5.3 > 1", "malformed number", 4),
    (".5 > x", "leading digit", 1),
    ("1e > 2", "digits expected after the exponent", 3),
    ("x > 1e999", "too large", 5),
    ("(a and b", "unclosed '('", 1),
    ("x in [1, 2", "unclosed '['", 6),
    ("a and", "ends where a value was expected", 6),
    ("", "empty", 1),
    ("   ", "empty", 1),
    ("a b", "unexpected name 'b'", 3),
    ("a # comment", "comments are not allowed", 3),
    ("x == `unclosed", "unterminated `quoted field name`", 6),
    ("x € 1", "unexpected character '€'", 3),
    ("+1 > 0", "unary '+' is not supported", 1),
]


@pytest.mark.parametrize(("condition", "fragment", "column"), REFUSED)
def test_refused_with_reason_and_position(condition: str, fragment: str, column: int) -> None:
    with pytest.raises(ConditionError) as caught:
        parse(condition)
    error = caught.value
    assert fragment in error.reason
    assert error.position == column, (error.position, str(error))
    assert f"column {column}" in str(error) or "line" in str(error)
    assert "Traceback" not in str(error)


def test_error_on_second_line_names_line_and_column() -> None:
    with pytest.raises(ConditionError) as caught:
        parse("amount > 1\n  and b ** 2")
    assert str(caret("x", 1)).endswith("^")
    assert caught.value.where == "line 2, column 9"
    assert caught.value.position == 20


def test_caret_points_at_the_character() -> None:
    with pytest.raises(ConditionError) as caught:
        parse("amount > 100 and open('x')")
    lines = str(caught.value).split("\n")
    shown, pointer = lines[1], lines[2]
    assert shown.strip() == "amount > 100 and open('x')"
    assert shown[pointer.index("^")] == "("


def test_caret_window_on_long_conditions() -> None:
    condition = "a == 1 and " * 100 + "b.c"
    with pytest.raises(ConditionError) as caught:
        parse(condition)
    shown, pointer = str(caught.value).split("\n")[1:3]
    assert len(shown) < 90
    assert shown[pointer.index("^")] == "."


def test_limits_length_and_depth_quickly() -> None:
    started = time.perf_counter()
    with pytest.raises(ConditionError, match="limit is 2000"):
        parse("a" * (MAX_CONDITION_CHARS + 1))
    parse("x == 1 or " * 180 + "x == 2")  # long but flat is fine
    for deep in (
        "(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1),
        "not " * (MAX_DEPTH + 1) + "x",
        "-" * (MAX_DEPTH + 1) + "x",
        "1" + "+1" * (MAX_DEPTH + 1),
        "(" * 900 + ")" * 900,
    ):
        with pytest.raises(ConditionError, match="nests deeper"):
            parse(deep)
    parse("(" * (MAX_DEPTH - 2) + "x" + ")" * (MAX_DEPTH - 2))
    assert time.perf_counter() - started < 2


def test_no_python_evaluation_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsing and evaluating never reach eval, exec, compile or the ast module."""

    def forbidden(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("Python code evaluation was used")

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, forbidden)
    monkeypatch.setattr(ast, "parse", forbidden)
    test = compile_row(parse("amount * 2 > 100 and kind in ['a', 'b']"))
    assert test({"amount": 60.0, "kind": "a"}) is True
    assert test({"amount": 40.0, "kind": "a"}) is False


def test_sources_do_not_call_eval_exec_or_compile() -> None:
    package = Path(tabops.rules.__file__).parent
    for source in package.glob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in {"eval", "exec", "compile", "__import__"}, source
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [alias.name for alias in node.names]
                assert "ast" not in names and getattr(node, "module", None) != "ast", source


@settings(max_examples=300, deadline=None)
@given(conditions)
def test_canonical_form_is_stable(condition: str) -> None:
    rendered = render(parse(condition))
    assert render(parse(rendered)) == rendered


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_parses_or_raises_condition_error(text: str) -> None:
    try:
        parse(text)
    except ConditionError as exc:
        assert 1 <= exc.position <= len(text) + 1


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from([*"ab1 ()[]-+*/%=<>!\"'.,`_", " and ", " or ", " not ", " in ", " is "]),
        max_size=30,
    ).map("".join)
)
def test_operator_soup_parses_or_raises_condition_error(text: str) -> None:
    try:
        parse(text)
    except ConditionError as exc:
        assert 1 <= exc.position <= len(text) + 1


# Type checks against the spec's columns.
TYPE_ERRORS = [
    ("amout > 5", "unknown field 'amout' (did you mean 'amount'?)", 1, "amout"),
    ("amount > 5 and velocity > 2", "unknown field 'velocity'", 16, "velocity"),
    ("is_fraud", "is the target", 1, "is_fraud"),
    (
        'customer_name == "x"',
        "has the role ignored, so requests do not carry it",
        1,
        "customer_name",
    ),
    ("transaction_type == 5", "compares a string with a number", 18, None),
    ('transaction_type == "realtime"', 'did you mean "real-time"', 21, "transaction_type"),
    ('card_type in ["Visa", "Amex"]', '"Amex" is not a category', 23, "card_type"),
    ('"Amex" == card_type', '"Amex" is not a category', 1, "card_type"),
    ("account_blacklisted == 1", "compare a boolean with true or false", 21, None),
    (
        "account_blacklisted + 1 > 2",
        "'+' needs numbers, but 'account_blacklisted' is a boolean",
        1,
        None,
    ),
    ("-transaction_type < 0", "'-' needs numbers", 2, None),
    ("amount", "'amount' is a number, not a condition", 1, None),
    ("not amount", "not a condition", 5, None),
    ("amount > 1 and card_type", "'card_type' is a string, not a condition", 16, None),
    ("ts > 5", "datetimes can only be tested with 'is null'", 1, None),
    ("ts in [1]", "datetimes", 1, None),
    ("account_blacklisted < true", "'<' orders numbers or strings", 21, None),
    ('amount in ["a"]', "the list holds strings", 8, None),
    ('amount * 2 > "x"', "compares a number with a string", 12, None),
    ('"a" + 1 > 0', "'+' needs numbers, but \"a\" is a string", 1, None),
]


@pytest.mark.parametrize(("condition", "fragment", "column", "field"), TYPE_ERRORS)
def test_type_errors_against_the_spec(
    fraud_spec: ProjectSpec, condition: str, fragment: str, column: int, field: str | None
) -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition(condition, fraud_spec)
    assert fragment in caught.value.reason
    assert caught.value.position == column
    assert caught.value.field == field


@pytest.mark.parametrize(
    "condition",
    [
        'amount > 100 and not account_blacklisted and transaction_type == "real-time"',
        "account_blacklisted and transaction_type == 'real-time'",
        "account_blacklisted == true or card_present != false",
        "merchant_category == 'anything goes'",  # no declared categories
        "ts is null or transaction_id % 2 == 0",
        "card_type < 'W'",
        "(amount > 1) == account_blacklisted",
        "amount / 3 + 1 >= 2 and transaction_type in ['dispute', 'settlement']",
        "true",
    ],
)
def test_well_typed_conditions_pass(fraud_spec: ProjectSpec, condition: str) -> None:
    parse_condition(condition, fraud_spec)


def test_without_a_spec_only_literals_are_checked() -> None:
    parse_condition("anything > 1 and whatever == 'x'")
    with pytest.raises(ConditionError, match="compares a number with a string"):
        parse_condition("1 == 'x'")
    with pytest.raises(ConditionError, match="not a condition"):
        parse_condition("x and 5")

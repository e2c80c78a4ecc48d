"""The rule condition language: a hand-written tokenizer and recursive-descent parser.

A condition is parsed into a small immutable AST (:data:`Node`); nothing in a condition is
ever handed to Python's ``eval``, ``exec``, ``compile`` or ``ast``. The language has literals
(numbers, strings, ``true``, ``false``), field names, arithmetic (``+ - * / %`` and unary
minus), comparisons (``== != < <= > >=``), membership in a list of literals (``in``,
``not in``), null tests (``is null``, ``is not null``), ``and``, ``or``, ``not`` and
parentheses. There is no attribute access, indexing, function call or power operator, and
conditions are bounded in length and nesting, so parsing and evaluation take time linear in
the condition's size.

Precedence, loosest first: ``or``, ``and``, ``not``, comparisons / ``in`` / ``is``,
``+ -``, ``* / %``, unary ``-``. Comparisons do not chain (``a < b < c`` is an error).

Every syntax error is a :class:`ConditionError` carrying the 1-based position of the
offending character and a caret line under it.
"""

from __future__ import annotations

import keyword
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal as Lit
from typing import TypeVar

from tabops.errors import RulesError

#: Longest condition accepted, in characters.
MAX_CONDITION_CHARS = 2000
#: Deepest nesting accepted: parentheses, ``not``, unary minus and operator chains all count.
MAX_DEPTH = 50
#: Most literals in one ``in [...]`` list.
MAX_LIST_ITEMS = 1000

#: The words of the language; a field with one of these names is written in backticks.
KEYWORDS = frozenset({"and", "or", "not", "in", "is", "true", "false", "null"})
_PYTHON_WORDS = frozenset(keyword.kwlist) - {"and", "or", "not", "in", "is"}
_PYTHON_CONSTANTS = {"True": "true", "False": "false", "None": "null"}

ArithOp = Lit["+", "-", "*", "/", "%"]
CompareOp = Lit["==", "!=", "<", "<=", ">", ">="]
_ARITH: dict[str, ArithOp] = {"+": "+", "-": "-", "*": "*", "/": "/", "%": "%"}
_COMPARE: dict[str, CompareOp] = {
    "==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=",
}  # fmt: skip


class ConditionError(RulesError):
    """A condition that does not parse or does not fit the data; points at a character.

    Attributes:
        reason: What is wrong, without the position.
        text: The whole condition.
        position: 1-based index of the offending character in ``text``.
        field: The unknown or mistyped field, when the problem is one.
    """

    def __init__(self, reason: str, text: str, position: int, field: str | None = None) -> None:
        self.reason = reason
        self.text = text
        self.position = max(1, min(position, len(text) + 1))
        self.field = field
        super().__init__(f"{self.where}: {reason}\n{caret(text, self.position)}")

    @property
    def where(self) -> str:
        """``column C`` (or ``line L, column C`` for a multi-line condition)."""
        line, column = line_column(self.text, self.position)
        return f"line {line}, column {column}" if "\n" in self.text else f"column {column}"


def line_column(text: str, position: int) -> tuple[int, int]:
    """1-based line and column of the 1-based ``position`` in ``text``."""
    before = text[: position - 1]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1)


def caret(text: str, position: int, width: int = 76) -> str:
    """The line of ``text`` holding ``position`` and a ``^`` under that character, indented.

    Long lines are cut to a window of about ``width`` characters around the position.
    """
    line_no, column = line_column(text, position)
    line = text.split("\n")[line_no - 1].replace("\t", " ").replace("\r", " ")
    start = max(0, min(column - 1 - width // 2, len(line) - width))
    shown = line[start : start + width]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + width < len(line) else ""
    return f"    {prefix}{shown}{suffix}\n    {' ' * (len(prefix) + column - 1 - start)}^"


# --------------------------------------------------------------------------------------------
# The AST. Every node records ``pos``: the 1-based position it is reported at.


@dataclass(frozen=True)
class Literal:
    """A number (always a float), a string or a boolean."""

    value: float | str | bool
    pos: int


@dataclass(frozen=True)
class Field:
    """A field of the row (a column of the frame)."""

    name: str
    pos: int


@dataclass(frozen=True)
class Negate:
    """Unary minus."""

    operand: Node
    pos: int


@dataclass(frozen=True)
class Arith:
    """``left op right`` for ``+ - * / %``; ``pos`` is the operator's."""

    op: ArithOp
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True)
class Compare:
    """``left op right`` for ``== != < <= > >=``; ``pos`` is the operator's."""

    op: CompareOp
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True)
class Membership:
    """``operand in [values]`` (or ``not in``); ``pos`` is the ``in``'s (or ``not``'s)."""

    operand: Node
    values: tuple[Literal, ...]
    negated: bool
    pos: int


@dataclass(frozen=True)
class IsNull:
    """``operand is null`` (or ``is not null``); ``pos`` is the ``is``'s."""

    operand: Node
    negated: bool
    pos: int


@dataclass(frozen=True)
class Not:
    """``not operand``."""

    operand: Node
    pos: int


@dataclass(frozen=True)
class Logical:
    """``a and b and ...`` or ``a or b or ...`` (flattened); ``pos`` is the first operator's."""

    op: Lit["and", "or"]
    operands: tuple[Node, ...]
    pos: int


Node = Literal | Field | Negate | Arith | Compare | Membership | IsNull | Not | Logical
_N = TypeVar("_N", bound=Node)


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-expressions of ``node``."""
    match node:
        case Negate(operand=operand) | Not(operand=operand) | IsNull(operand=operand):
            return (operand,)
        case Membership(operand=operand, values=values):
            return (operand, *values)
        case Arith(left=left, right=right) | Compare(left=left, right=right):
            return (left, right)
        case Logical(operands=operands):
            return operands
    return ()


def fields(node: Node) -> list[str]:
    """Field names used by ``node``, in order of first use."""
    found: dict[str, None] = {}
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Field):
            found.setdefault(current.name, None)
        stack.extend(reversed(children(current)))
    return list(found)


# --------------------------------------------------------------------------------------------
# Tokens


TokenKind = Lit["number", "string", "name", "keyword", "op", "end"]


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str  # the operator, keyword or name; the decoded value of a string
    pos: int  # 1-based
    number: float = 0.0


_SIMPLE_OPS = {"+", "-", "*", "/", "%", "(", ")", "[", "]", ","}
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r"}
_HINTS = {
    "**": "the power operator '**' is not supported",
    "^": "'^' is not an operator here (there is no power operator; multiply with '*')",
    "&&": "write 'and' instead of '&&'",
    "||": "write 'or' instead of '||'",
    "&": "write 'and' instead of '&'",
    "|": "write 'or' instead of '|'",
    "!": "write 'not' instead of '!'",
    "=": "write '==' to compare ('=' is not an operator)",
    ".": "attribute access ('.') is not supported",
    ":": "':' is not part of the rule language (no lambdas, slices or dictionaries)",
    ";": "';' is not part of the rule language (a condition is one expression)",
    "{": "'{' is not part of the rule language (lists are written [a, b])",
    "}": "'}' is not part of the rule language",
    "@": "'@' is not an operator here",
    "~": "write 'not' instead of '~'",
    "//": "'//' is not supported (use '/' and compare)",
    "<<": "shift operators are not supported",
    ">>": "shift operators are not supported",
    "#": "comments are not allowed inside a condition",
    "$": "'$' is not part of the rule language",
}


def _is_name_start(char: str) -> bool:
    return char == "_" or ("a" <= char <= "z") or ("A" <= char <= "Z")


def _is_name_char(char: str) -> bool:
    return _is_name_start(char) or ("0" <= char <= "9")


def tokenize(text: str) -> list[Token]:
    """Split a condition into tokens, ending with an ``end`` token.

    Raises:
        ConditionError: at the first character that cannot start or continue a token.
    """
    _check_length(text)
    return list(_scan(text))


def _check_length(text: str) -> None:
    if len(text) > MAX_CONDITION_CHARS:
        raise ConditionError(
            f"the condition is {len(text)} characters long; the limit is {MAX_CONDITION_CHARS}",
            text,
            MAX_CONDITION_CHARS + 1,
        )


def _scan(text: str) -> Iterator[Token]:
    """Tokens one at a time, so that a parse error left of a bad character is reported first."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        yield from tokens
        tokens.clear()
        char = text[i]
        if char in " \t\n\r":
            i += 1
        elif "0" <= char <= "9":
            i = _number(text, i, tokens)
        elif char in "\"'":
            i = _string(text, i, tokens)
        elif char == "`":
            end = text.find("`", i + 1)
            newline = text.find("\n", i + 1)
            if end < 0 or 0 <= newline < end:
                raise ConditionError("unterminated `quoted field name`", text, i + 1)
            if end == i + 1:
                raise ConditionError("empty `quoted field name`", text, i + 1)
            tokens.append(Token("name", text[i + 1 : end], i + 1))
            i = end + 1
        elif _is_name_start(char):
            j = i + 1
            while j < n and _is_name_char(text[j]):
                j += 1
            tokens.append(_word(text, i, text[i:j]))
            i = j
        else:
            two = text[i : i + 2]
            if two in ("==", "!=", "<=", ">="):
                tokens.append(Token("op", two, i + 1))
                i += 2
            elif two in _HINTS:
                raise ConditionError(_HINTS[two], text, i + 1)
            elif char in "<>" or char in _SIMPLE_OPS:
                tokens.append(Token("op", char, i + 1))
                i += 1
            elif char == "." and i + 1 < n and "0" <= text[i + 1] <= "9":
                raise ConditionError(
                    "write numbers with a leading digit (0.5, not .5)", text, i + 1
                )
            elif char in _HINTS:
                raise ConditionError(_HINTS[char], text, i + 1)
            else:
                raise ConditionError(f"unexpected character {char!r}", text, i + 1)
    yield from tokens
    yield Token("end", "", n + 1)


class _Tokens:
    """The tokens of a condition, scanned as the parser reaches them."""

    def __init__(self, text: str) -> None:
        self._stream = _scan(text)
        self._seen: list[Token] = []

    def __getitem__(self, index: int) -> Token:
        while len(self._seen) <= index and (not self._seen or self._seen[-1].kind != "end"):
            self._seen.append(next(self._stream))
        return self._seen[min(index, len(self._seen) - 1)]


def _word(text: str, start: int, word: str) -> Token:
    if word in KEYWORDS:
        return Token("keyword", word, start + 1)
    if word in _PYTHON_CONSTANTS:
        raise ConditionError(
            f"write {_PYTHON_CONSTANTS[word]} in lowercase ('{word}' is Python, not a rule)",
            text,
            start + 1,
        )
    if word.lower() in KEYWORDS:
        raise ConditionError(f"write keywords in lowercase: '{word.lower()}'", text, start + 1)
    if word in _PYTHON_WORDS:
        raise ConditionError(
            f"'{word}' is not part of the rule language (a field with this name is written "
            f"`{word}`)",
            text,
            start + 1,
        )
    if word.startswith("__"):
        raise ConditionError(
            f"names starting with '__' are not allowed ('{word}')", text, start + 1, field=word
        )
    return Token("name", word, start + 1)


def _number(text: str, start: int, tokens: list[Token]) -> int:
    n = len(text)
    j = start
    while j < n and "0" <= text[j] <= "9":
        j += 1
    if j < n - 1 and text[j] == "." and "0" <= text[j + 1] <= "9":
        j += 1
        while j < n and "0" <= text[j] <= "9":
            j += 1
    if j < n and text[j] in "eE":
        k = j + 1
        if k < n and text[k] in "+-":
            k += 1
        if not (k < n and "0" <= text[k] <= "9"):
            raise ConditionError(
                "malformed number: digits expected after the exponent", text, k + 1
            )
        while k < n and "0" <= text[k] <= "9":
            k += 1
        j = k
    if j < n and (_is_name_char(text[j]) or text[j] == "."):
        raise ConditionError(
            f"malformed number {text[start : j + 1]!r} (only decimal numbers like 12, 0.5, "
            "1e6 are allowed)",
            text,
            j + 1,
        )
    value = float(text[start:j])
    if math.isinf(value):
        raise ConditionError(f"number {text[start:j]!r} is too large", text, start + 1)
    tokens.append(Token("number", text[start:j], start + 1, value))
    return j


def _string(text: str, start: int, tokens: list[Token]) -> int:
    quote = text[start]
    parts: list[str] = []
    j = start + 1
    n = len(text)
    while True:
        if j >= n:
            raise ConditionError("unterminated string", text, start + 1)
        char = text[j]
        if char == quote:
            break
        if char == "\n":
            raise ConditionError("a string cannot span lines (write \\n)", text, j + 1)
        if char == "\\":
            escaped = text[j + 1] if j + 1 < n else ""
            if escaped not in _ESCAPES:
                raise ConditionError(
                    "unknown escape in a string (use \\\\, \\\", \\', \\n, \\t or \\r)", text, j + 1
                )
            parts.append(_ESCAPES[escaped])
            j += 2
            continue
        parts.append(char)
        j += 1
    tokens.append(Token("string", "".join(parts), start + 1))
    return j + 1


# --------------------------------------------------------------------------------------------
# Parser


def parse(text: str) -> Node:
    """Parse a condition into its AST.

    Args:
        text: The condition, e.g. ``amount > 100 and not blacklisted``.

    Raises:
        ConditionError: naming the 1-based position of the problem.
    """
    _check_length(text)
    if not text.strip():
        raise ConditionError("the condition is empty", text, 1)
    return _Parser(text, _Tokens(text)).parse()


class _Parser:
    def __init__(self, text: str, tokens: _Tokens) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0
        self.nesting = 0
        self.depths: dict[int, int] = {}
        self.keep: list[Node] = []  # every node stays alive, so ids in ``depths`` stay unique

    # -- helpers

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[self.index + ahead]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at(self, kind: TokenKind, *texts: str) -> bool:
        token = self.token
        return token.kind == kind and (not texts or token.text in texts)

    def error(self, reason: str, token: Token | None = None) -> ConditionError:
        return ConditionError(reason, self.text, (token or self.token).pos)

    def describe(self, token: Token) -> str:
        if token.kind == "end":
            return "the end of the condition"
        if token.kind == "string":
            return "a string"
        if token.kind == "number":
            return f"number {token.text}"
        if token.kind == "name":
            return f"name '{token.text}'"
        return f"'{token.text}'"

    def enter(self, token: Token) -> None:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise self.error(f"the condition nests deeper than {MAX_DEPTH} levels", token)

    def leave(self) -> None:
        self.nesting -= 1

    def node(self, node: _N) -> _N:
        """Record ``node``'s depth; refuse it when the tree gets too deep."""
        depth = 1 + max((self.depths[id(child)] for child in children(node)), default=0)
        if depth > MAX_DEPTH:
            raise ConditionError(
                f"the condition nests deeper than {MAX_DEPTH} levels", self.text, node.pos
            )
        self.depths[id(node)] = depth
        self.keep.append(node)
        return node

    # -- grammar

    def parse(self) -> Node:
        node = self.parse_or()
        if not self.at("end"):
            raise self.unexpected()
        return node

    def unexpected(self) -> ConditionError:
        token = self.token
        if token.kind == "op" and token.text == "(":
            return self.error("function calls are not supported")
        if token.kind == "op" and token.text == "[":
            return self.error("indexing is not supported ('[' only starts a list after 'in')")
        if token.kind == "op" and token.text in _COMPARE:
            return self.error(
                "comparisons do not chain: write 'a < b and b < c' instead of 'a < b < c'"
            )
        if token.kind == "keyword" and token.text == "not":
            return self.error("unexpected 'not' (did you mean 'not in'?)")
        return self.error(
            f"unexpected {self.describe(token)}: an operator ('and', 'or', '==', '+', ...) or "
            "the end of the condition was expected"
        )

    def parse_logical(self, op: Lit["and", "or"]) -> Node:
        parse_operand = self.parse_and if op == "or" else self.parse_not
        first = parse_operand()
        if not self.at("keyword", op):
            return first
        pos = self.token.pos
        operands = [first]
        while self.at("keyword", op):
            self.advance()
            operands.append(parse_operand())
        return self.node(Logical(op, tuple(operands), pos))

    def parse_or(self) -> Node:
        return self.parse_logical("or")

    def parse_and(self) -> Node:
        return self.parse_logical("and")

    def parse_not(self) -> Node:
        if self.at("keyword", "not"):
            token = self.advance()
            self.enter(token)
            operand = self.parse_not()
            self.leave()
            return self.node(Not(operand, token.pos))
        return self.parse_comparison()

    def parse_comparison(self) -> Node:
        left = self.parse_additive()
        token = self.token
        if token.kind == "op" and token.text in _COMPARE:
            self.advance()
            if self.at("keyword", "null"):
                raise self.error(
                    "comparisons with null are always false: write 'x is null' or 'x is not null'"
                )
            right = self.parse_additive()
            node: Node = Compare(_COMPARE[token.text], left, right, token.pos)
        elif token.kind == "keyword" and token.text == "in":
            self.advance()
            node = Membership(left, self.parse_list(), False, token.pos)
        elif (
            token.kind == "keyword"
            and token.text == "not"
            and self.peek().text == "in"
            and (self.peek().kind == "keyword")
        ):
            self.advance()
            self.advance()
            node = Membership(left, self.parse_list(), True, token.pos)
        elif token.kind == "keyword" and token.text == "is":
            self.advance()
            negated = self.at("keyword", "not")
            if negated:
                self.advance()
            if not self.at("keyword", "null"):
                raise self.error("after 'is' write 'null' or 'not null' (compare values with ==)")
            self.advance()
            node = IsNull(left, negated, token.pos)
        else:
            return left
        return self.node(node)

    def parse_list(self) -> tuple[Literal, ...]:
        if not self.at("op", "["):
            raise self.error('\'in\' takes a list in brackets, e.g. x in ["a", "b"]')
        opening = self.advance()
        values: list[Literal] = []
        while not self.at("op", "]"):
            values.append(self.parse_list_item())
            if len(values) > MAX_LIST_ITEMS:
                raise self.error(f"a list holds at most {MAX_LIST_ITEMS} values")
            if self.at("op", ","):
                self.advance()
            elif not self.at("op", "]"):
                if self.at("end"):
                    raise self.error("unclosed '[': expected ']'", opening)
                raise self.error(
                    f"expected ',' or ']' in the list, not {self.describe(self.token)}"
                )
        self.advance()
        if not values:
            raise self.error("an empty list never matches; list at least one value", opening)
        kinds = {type(v.value) for v in values}
        if len(kinds) > 1:
            raise self.error(
                "a list mixes numbers, strings and booleans; use one kind of value", opening
            )
        return tuple(values)

    def parse_list_item(self) -> Literal:
        token = self.token
        sign = 1.0
        if token.kind == "op" and token.text == "-" and self.peek().kind == "number":
            self.advance()
            sign = -1.0
        item = self.token
        if item.kind == "number":
            self.advance()
            return self.node(Literal(sign * item.number + 0.0, token.pos))
        if item.kind == "string":
            self.advance()
            return self.node(Literal(item.text, item.pos))
        if item.kind == "keyword" and item.text in ("true", "false"):
            self.advance()
            return self.node(Literal(item.text == "true", item.pos))
        if item.kind == "keyword" and item.text == "null":
            raise self.error("null never matches in a list: add 'or x is null'", item)
        if item.kind == "end":
            raise self.error("unclosed '[': expected ']'", item)
        raise self.error(
            f"lists hold literal values (numbers, strings, true, false), not {self.describe(item)}",
            item,
        )

    def parse_additive(self) -> Node:
        left = self.parse_multiplicative()
        while self.at("op", "+", "-"):
            token = self.advance()
            right = self.parse_multiplicative()
            left = self.node(Arith(_ARITH[token.text], left, right, token.pos))
        return left

    def parse_multiplicative(self) -> Node:
        left = self.parse_unary()
        while self.at("op", "*", "/", "%"):
            token = self.advance()
            right = self.parse_unary()
            left = self.node(Arith(_ARITH[token.text], left, right, token.pos))
        return left

    def parse_unary(self) -> Node:
        if self.at("op", "-"):
            token = self.advance()
            self.enter(token)
            operand = self.parse_unary()
            self.leave()
            if isinstance(operand, Literal) and isinstance(operand.value, float):
                return self.node(Literal(-operand.value + 0.0, token.pos))
            return self.node(Negate(operand, token.pos))
        if self.at("op", "+"):
            raise self.error("unary '+' is not supported; write the number alone")
        return self.parse_primary()

    def parse_primary(self) -> Node:
        token = self.token
        if token.kind == "number":
            self.advance()
            node: Node = Literal(token.number, token.pos)
        elif token.kind == "string":
            self.advance()
            node = Literal(token.text, token.pos)
        elif token.kind == "keyword" and token.text in ("true", "false"):
            self.advance()
            node = Literal(token.text == "true", token.pos)
        elif token.kind == "keyword" and token.text == "null":
            raise self.error("null is only used in 'x is null' and 'x is not null'")
        elif token.kind == "name":
            self.advance()
            node = Field(token.text, token.pos)
        elif token.kind == "op" and token.text == "(":
            self.advance()
            self.enter(token)
            node = self.parse_or()
            self.leave()
            if not self.at("op", ")"):
                if self.at("end"):
                    raise self.error("unclosed '(': expected ')'", token)
                raise self.unexpected()
            self.advance()
            return self.postfix(node)
        elif token.kind == "op" and token.text == "[":
            raise self.error("a list only follows 'in' or 'not in'")
        elif token.kind == "end":
            raise self.error("the condition ends where a value was expected")
        else:
            raise self.error(f"unexpected {self.describe(token)}: a value was expected")
        return self.postfix(self.node(node))

    def postfix(self, node: Node) -> Node:
        """Refuse calls and indexing right after a value, with a message that says so."""
        if self.at("op", "("):
            raise self.error("function calls are not supported")
        if self.at("op", "["):
            raise self.error("indexing is not supported ('[' only starts a list after 'in')")
        return node


# --------------------------------------------------------------------------------------------
# Canonical rendering


def render(node: Node) -> str:
    """The condition with every operation in parentheses; parsing it gives the same AST."""
    match node:
        case Literal(value=value):
            return render_literal(value)
        case Field(name=name):
            return render_name(name)
        case Negate(operand=operand):
            return f"(-{render(operand)})"
        case Not(operand=operand):
            return f"(not {render(operand)})"
        case Arith(op=op, left=left, right=right) | Compare(op=op, left=left, right=right):
            return f"({render(left)} {op} {render(right)})"
        case Logical(op=op, operands=operands):
            return "(" + f" {op} ".join(render(o) for o in operands) + ")"
        case Membership(operand=operand, values=values, negated=negated):
            items = ", ".join(render_literal(v.value) for v in values)
            return f"({render(operand)} {'not in' if negated else 'in'} [{items}])"
        case IsNull(operand=operand, negated=negated):
            return f"({render(operand)} is {'not null' if negated else 'null'})"
    raise AssertionError(f"unknown node {node!r}")


def render_literal(value: float | str | bool) -> str:
    """A literal as the language writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        escaped = (
            value.replace("\\", "\\\\")
            .replace('"', '\\"')
            .replace("\n", "\\n")
            .replace("\t", "\\t")
            .replace("\r", "\\r")
        )
        return f'"{escaped}"'
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def render_name(name: str) -> str:
    """A field name, in backticks unless it is a plain identifier."""
    plain = (
        _is_name_start(name[0])
        and all(_is_name_char(c) for c in name)
        and name not in KEYWORDS
        and name.lower() not in KEYWORDS
        and name not in _PYTHON_WORDS
        and name not in _PYTHON_CONSTANTS
        and not name.startswith("__")
    )
    return name if plain else f"`{name}`"

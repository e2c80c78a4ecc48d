"""Load-time checks of a parsed condition: known fields and values of the right kind.

With the project's columns, every field must be a column (not the target) and every
operation must fit the column types: arithmetic and ordering on numbers (ordering also on
strings), equality between values of one kind, categories that the column declares, and
conditions (not numbers or strings) under ``and``, ``or`` and ``not``. Without columns, fields
may hold anything and only the literals are checked (``"a" + 1`` is still refused).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from enum import StrEnum

from tabops.rules.expr import (
    Arith,
    Compare,
    ConditionError,
    Field,
    IsNull,
    Literal,
    Logical,
    Membership,
    Negate,
    Node,
    Not,
    render,
    render_literal,
)
from tabops.spec import ColumnRole, ColumnSpec, ColumnType


class Kind(StrEnum):
    """The kind of value an expression yields."""

    NUMBER = "number"
    STRING = "string"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    ANY = "any"  # a field whose type is unknown (no spec)


_COLUMN_KINDS = {
    ColumnType.NUMERIC: Kind.NUMBER,
    ColumnType.INTEGER: Kind.NUMBER,
    ColumnType.BOOLEAN: Kind.BOOLEAN,
    ColumnType.CATEGORICAL: Kind.STRING,
    ColumnType.TEXT: Kind.STRING,
    ColumnType.DATETIME: Kind.DATETIME,
}
_ARTICLE = {
    Kind.NUMBER: "a number",
    Kind.STRING: "a string",
    Kind.BOOLEAN: "a boolean",
    Kind.DATETIME: "a datetime",
    Kind.ANY: "a value",
}


def check(
    node: Node, text: str, columns: Mapping[str, ColumnSpec] | None, target: str | None = None
) -> None:
    """Check a condition's fields and types.

    Args:
        node: The parsed condition.
        text: The condition's source, for error positions.
        columns: The spec's columns, or None to allow any field.
        target: The spec's target column, which no rule may read.

    Raises:
        ConditionError: at the first field or operation that does not fit.
    """
    checker = _Checker(text, columns, target)
    kind = checker.kind(node)
    checker.condition(node, kind)


class _Checker:
    def __init__(
        self, text: str, columns: Mapping[str, ColumnSpec] | None, target: str | None
    ) -> None:
        self.text = text
        self.columns = columns
        self.target = target

    def fail(self, reason: str, node: Node, field: str | None = None) -> ConditionError:
        return ConditionError(reason, self.text, node.pos, field=field)

    def describe(self, node: Node, kind: Kind) -> str:
        if isinstance(node, Field):
            return f"'{node.name}' is {_ARTICLE[kind]}"
        if isinstance(node, Literal):
            return f"{render_literal(node.value)} is {_ARTICLE[kind]}"
        shown = render(node)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        return f"{shown} is {_ARTICLE[kind]}"

    def condition(self, node: Node, kind: Kind) -> None:
        """Require ``node`` (of ``kind``) to be usable as true/false."""
        if kind in (Kind.BOOLEAN, Kind.ANY):
            return
        hint = {
            Kind.NUMBER: "compare it, e.g. amount > 0",
            Kind.STRING: 'compare it, e.g. card_type == "visa"',
            Kind.DATETIME: "test it with 'is null' or 'is not null'",
        }[kind]
        raise self.fail(f"{self.describe(node, kind)}, not a condition: {hint}", node)

    def kind(self, node: Node) -> Kind:
        match node:
            case Literal(value=value):
                if isinstance(value, bool):
                    return Kind.BOOLEAN
                return Kind.STRING if isinstance(value, str) else Kind.NUMBER
            case Field():
                return self.field(node)
            case Negate(operand=operand):
                self.number(operand, "'-'")
                return Kind.NUMBER
            case Arith(op=op, left=left, right=right):
                self.number(left, f"'{op}'")
                self.number(right, f"'{op}'")
                return Kind.NUMBER
            case Not(operand=operand):
                self.condition(operand, self.kind(operand))
                return Kind.BOOLEAN
            case Logical(operands=operands):
                for operand in operands:
                    self.condition(operand, self.kind(operand))
                return Kind.BOOLEAN
            case IsNull(operand=operand):
                self.kind(operand)
                return Kind.BOOLEAN
            case Compare():
                self.compare(node)
                return Kind.BOOLEAN
            case Membership(operand=operand, values=values):
                self.membership(node, operand, values)
                return Kind.BOOLEAN
        raise AssertionError(f"unknown node {node!r}")

    def field(self, node: Field) -> Kind:
        if self.columns is None:
            return Kind.ANY
        name = node.name
        if name not in self.columns:
            close = difflib.get_close_matches(name, list(self.columns), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            known = ", ".join(c for c in self.columns if c != self.target)
            raise self.fail(
                f"unknown field '{name}'{hint}; the spec's columns are: {known}", node, field=name
            )
        role = self.columns[name].role
        if name == self.target or role == ColumnRole.TARGET:
            raise self.fail(
                f"'{name}' is the target: rules decide before the label is known", node, field=name
            )
        if role not in (ColumnRole.FEATURE, ColumnRole.ID):
            # The server refuses these fields in requests: a rule would never see a value there,
            # and would decide differently in serving than in a backtest.
            raise self.fail(
                f"'{name}' has the role {role}, so requests do not carry it; rules read "
                "features and ids (make it a feature to use it)",
                node,
                field=name,
            )
        return _COLUMN_KINDS[self.columns[name].type]

    def number(self, node: Node, operator: str) -> None:
        kind = self.kind(node)
        if kind not in (Kind.NUMBER, Kind.ANY):
            raise self.fail(f"{operator} needs numbers, but {self.describe(node, kind)}", node)

    def compare(self, node: Compare) -> None:
        left, right = self.kind(node.left), self.kind(node.right)
        for side, kind in ((node.left, left), (node.right, right)):
            if kind == Kind.DATETIME:
                raise self.fail(
                    f"{self.describe(side, kind)}: datetimes can only be tested with 'is null' "
                    "or 'is not null'",
                    side,
                )
        if node.op not in ("==", "!=") and Kind.BOOLEAN in (left, right):
            side = node.left if left == Kind.BOOLEAN else node.right
            raise self.fail(
                f"'{node.op}' orders numbers or strings, but {self.describe(side, Kind.BOOLEAN)}",
                node,
            )
        if Kind.ANY not in (left, right) and left != right:
            hint = (
                "compare a boolean with true or false"
                if Kind.BOOLEAN in (left, right)
                else "values of different kinds are never equal or ordered"
            )
            raise self.fail(
                f"'{node.op}' compares {_ARTICLE[left]} with {_ARTICLE[right]} "
                f"({self.describe(node.left, left)}, {self.describe(node.right, right)}): {hint}",
                node,
            )
        if node.op in ("==", "!="):
            self.categories(node.left, node.right)
            self.categories(node.right, node.left)

    def membership(self, node: Membership, operand: Node, values: tuple[Literal, ...]) -> None:
        kind = self.kind(operand)
        if kind == Kind.DATETIME:
            raise self.fail(
                f"{self.describe(operand, kind)}: datetimes can only be tested with 'is null' or "
                "'is not null'",
                operand,
            )
        listed = self.kind(values[0])
        if kind != Kind.ANY and kind != listed:
            raise self.fail(
                f"{self.describe(operand, kind)}, but the list holds {listed.value}s", node
            )
        for value in values:
            self.categories(operand, value)

    def categories(self, side: Node, other: Node) -> None:
        """A string literal compared with a categorical column must be one of its categories."""
        if self.columns is None or not isinstance(side, Field):
            return
        if not (isinstance(other, Literal) and isinstance(other.value, str)):
            return
        column = self.columns.get(side.name)
        if column is None or column.type != ColumnType.CATEGORICAL or column.categories is None:
            return
        if other.value not in column.categories:
            allowed = ", ".join(render_literal(c) for c in column.categories)
            close = difflib.get_close_matches(other.value, column.categories, n=1)
            hint = f" (did you mean {render_literal(close[0])}?)" if close else ""
            raise self.fail(
                f"{render_literal(other.value)} is not a category of '{side.name}'{hint}; "
                f"allowed: {allowed}",
                other,
                field=side.name,
            )

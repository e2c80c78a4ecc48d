"""Rule sets: versioned YAML files of rules, checked at load time and evaluated per row or frame.

A rules file (default ``rules.yaml`` beside ``tabops.yaml``) looks like::

    version: "1"
    rules:
      - id: Rule 1
        condition: amount > 100 and not account_blacklisted and transaction_type == "real-time"
        action: reject
        explanation: User is trying to make a transaction of more than $100

Every rule is evaluated, in file order, and every rule whose condition is true *fires*; all
fired rules are reported. The decision of the rules alone is ``reject`` if any reject rule
fired, else ``review`` if any review rule fired, else ``approve`` if any approve rule fired,
else no decision (None).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from tabops.errors import DataError, RulesError
from tabops.rules import expr, rowwise, typecheck, vectorised
from tabops.rules.expr import ConditionError, Node
from tabops.safe_yaml import StrictLoader, load_yaml
from tabops.spec import ProjectSpec

#: The rules file's name beside ``tabops.yaml``.
RULES_FILENAME = "rules.yaml"
#: Most rules in one file.
MAX_RULES = 1000
#: Largest rules file read, in bytes.
MAX_FILE_BYTES = 1_000_000

_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.:\-]{0,63}$")
_TOP_KEYS = ("version", "rules")
_RULE_KEYS = ("id", "condition", "action", "explanation")


class Action(StrEnum):
    """What a rule asks for when it fires."""

    REJECT = "reject"
    REVIEW = "review"
    APPROVE = "approve"


#: Decision precedence: the first action any fired rule has.
PRECEDENCE = (Action.REJECT, Action.REVIEW, Action.APPROVE)
_DECISIONS: tuple[Action | None, ...] = (*PRECEDENCE, None)


@dataclass(frozen=True, slots=True)
class FiredRule:
    """A rule that fired: its id, action and explanation."""

    id: str
    action: Action
    explanation: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "action": self.action.value, "explanation": self.explanation}


@dataclass(frozen=True, slots=True)
class RulesResult:
    """The rules' verdict on one row.

    Attributes:
        version: The rule set's version.
        fired: Every rule that fired, in file order.
        decision: reject, review or approve by precedence; None when no rule fired.
    """

    version: str
    fired: tuple[FiredRule, ...]
    decision: Action | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "fired": [f.to_dict() for f in self.fired],
            "decision": None if self.decision is None else self.decision.value,
        }


@dataclass(frozen=True)
class FrameResult:
    """The rules' verdict on every row of a frame.

    Attributes:
        version: The rule set's version.
        fired: One boolean column per rule (named by rule id, in file order), the frame's index.
        decision: "reject", "review", "approve" or None per row (object dtype).
        actions: Each rule's action, by rule id.
    """

    version: str
    fired: pd.DataFrame
    decision: pd.Series
    actions: Mapping[str, Action]

    def any_fired(self, action: Action) -> np.ndarray:
        """Rows where at least one rule with ``action`` fired."""
        ids = [rule_id for rule_id, a in self.actions.items() if a == action]
        if not ids:
            return np.zeros(len(self.fired), dtype=bool)
        return np.asarray(self.fired[ids].to_numpy().any(axis=1), dtype=bool)

    def row(self, position: int) -> list[str]:
        """Ids of the rules that fired on the row at ``position``."""
        flags = self.fired.iloc[position]
        return [str(rule_id) for rule_id, fired in flags.items() if fired]


@dataclass(frozen=True)
class Rule:
    """One checked, compiled rule.

    Attributes:
        id: Unique within its file.
        condition: The condition as written.
        action: What the rule asks for when it fires.
        explanation: Shown with the decision.
        expr: The parsed condition.
        line: Where the rule starts in its file, when read from one.
    """

    id: str
    condition: str
    action: Action
    explanation: str
    expr: Node
    line: int | None = None
    fired: FiredRule = field(init=False, repr=False, compare=False)
    test_row: rowwise.CondFn = field(init=False, repr=False, compare=False)
    test_frame: vectorised.CondFn = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fired", FiredRule(self.id, self.action, self.explanation))
        object.__setattr__(self, "test_row", rowwise.compile_row(self.expr))
        object.__setattr__(self, "test_frame", vectorised.compile_frame(self.expr))

    @property
    def parsed(self) -> str:
        """The canonical, fully parenthesised form of the condition."""
        return expr.render(self.expr)

    @property
    def fields(self) -> list[str]:
        """Fields the condition reads."""
        return expr.fields(self.expr)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "condition": self.condition,
            "parsed": self.parsed,
            "action": self.action.value,
            "explanation": self.explanation,
        }


class RuleSet:
    """A versioned list of rules, evaluated per row (serving) or per frame (batch, backtest).

    Both evaluations give identical results on the same data.

    Attributes:
        version: The file's ``version``.
        rules: The rules, in file order.
        source: The file (or a label for text parsed directly).
        digest: SHA-256 of the file's bytes; with ``version``, identifies the rules exactly.
    """

    def __init__(self, version: str, rules: Sequence[Rule], source: str, digest: str) -> None:
        self.version = version
        self.rules = tuple(rules)
        self.source = source
        self.digest = digest
        used: dict[str, None] = {}
        for rule in self.rules:
            used.update(dict.fromkeys(rule.fields))
        self.fields: tuple[str, ...] = tuple(used)
        ranks = {action: rank for rank, action in enumerate(PRECEDENCE)}
        self._tests = tuple((rule.fired, ranks[rule.action], rule.test_row) for rule in self.rules)

    def __repr__(self) -> str:
        return f"RuleSet(version={self.version!r}, rules={len(self.rules)}, source={self.source!r})"

    def evaluate_row(self, row: Mapping[str, Any]) -> RulesResult:
        """The rules' verdict on one row (a mapping of field to value; missing fields are null)."""
        normalise = rowwise.normalise
        values: dict[str, rowwise.Value] = {}
        for name in self.fields:
            value = row.get(name)
            cls = value.__class__
            # Inline fast path of normalise() for strings and (non-NaN) floats.
            values[name] = (
                value if cls is str or (cls is float and value == value) else normalise(value)
            )
        fired = []
        best = len(PRECEDENCE)
        for rule, rank, test in self._tests:
            if test(values):
                fired.append(rule)
                if rank < best:
                    best = rank
        return RulesResult(self.version, tuple(fired), _DECISIONS[best])

    def evaluate_frame(self, frame: pd.DataFrame) -> FrameResult:
        """The rules' verdict on every row of ``frame``.

        Raises:
            DataError: a column the rules read is not in the frame.
        """
        missing = [name for name in self.fields if name not in frame.columns]
        if missing:
            users = [r.id for r in self.rules if set(r.fields) & set(missing)]
            raise DataError(
                f"The data has no column {', '.join(repr(m) for m in missing)}, read by rule(s) "
                f"{', '.join(repr(u) for u in users)} of {self.source}."
            )
        columns = vectorised.Columns(frame)
        masks = {rule.id: rule.test_frame(columns) for rule in self.rules}
        fired = pd.DataFrame(masks, index=frame.index, columns=[r.id for r in self.rules])
        fired = fired.astype(bool)
        actions = {rule.id: rule.action for rule in self.rules}
        decision = np.full(len(frame), None, dtype=object)
        for action in reversed(PRECEDENCE):  # the strongest action is written last
            for rule in self.rules:
                if rule.action == action:
                    decision[masks[rule.id]] = action.value
        return FrameResult(
            self.version, fired, pd.Series(decision, index=frame.index, dtype=object), actions
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "digest": self.digest,
            "source": self.source,
            "rules": [rule.to_dict() for rule in self.rules],
        }


def decide(actions: Iterable[Action]) -> Action | None:
    """The decision for the actions of the fired rules: reject > review > approve > None."""
    seen = set(actions)
    for action in PRECEDENCE:
        if action in seen:
            return action
    return None


# --------------------------------------------------------------------------------------------
# Checking and loading


@dataclass
class RuleCheck:
    """What checking found for one rule: its parsed form, or its problems.

    Attributes:
        index: 0-based position in the file's list.
        id: The rule's id, when it has a valid one.
        line: Where the rule starts in the file.
        action: The action as written.
        condition: The condition as written.
        parsed: The canonical form of a valid condition.
        errors: Problems, each a complete sentence (condition errors end with a caret line).
        position: 1-based position of the condition error, if any.
        field: The unknown or mistyped field of the condition error, if any.
    """

    index: int
    id: str | None = None
    line: int | None = None
    action: str | None = None
    explanation: str | None = None
    condition: str | None = None
    parsed: str | None = None
    errors: list[str] = field(default_factory=list)
    expr: Node | None = field(default=None, repr=False)
    position: int | None = None
    field: str | None = None

    @property
    def label(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        name = f"'{self.id}'" if self.id is not None else f"#{self.index + 1}"
        return f"rule {name}{where}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "line": self.line,
            "action": self.action,
            "explanation": self.explanation,
            "condition": self.condition,
            "parsed": self.parsed,
            "valid": not self.errors,
            "errors": self.errors,
            "position": self.position,
            "field": self.field,
        }


@dataclass
class RulesCheck:
    """The result of checking a rules file: file-level problems and one entry per rule."""

    source: str
    digest: str
    version: str | None = None
    problems: list[str] = field(default_factory=list)
    rules: list[RuleCheck] = field(default_factory=list)
    spec: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and not any(rule.errors for rule in self.rules)

    def messages(self) -> list[str]:
        """Every problem, file-level first, each naming its rule."""
        found = list(self.problems)
        for rule in self.rules:
            found.extend(f"{rule.label}: {error}" for error in rule.errors)
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.source,
            "digest": self.digest,
            "version": self.version,
            "spec": self.spec,
            "valid": self.ok,
            "problems": self.problems,
            "rules": [rule.to_dict() for rule in self.rules],
        }

    def raise_for_problems(self) -> None:
        """Raise one :class:`RulesError` listing every problem, if there are any."""
        if self.ok:
            return
        found = self.messages()
        lines = [f"{self.source} is invalid ({len(found)} problem(s)):"]
        for message in found:
            first, *rest = message.split("\n")
            lines.append(f"  - {first}")
            lines.extend(f"  {line}" for line in rest)
        lines.append(f"Fix the rules file and check it with: tabops rules check {self.source}")
        raise RulesError("\n".join(lines))

    def rule_set(self) -> RuleSet:
        """The compiled rules; raises :class:`RulesError` if the file has problems."""
        self.raise_for_problems()
        assert self.version is not None
        rules = [
            Rule(
                id=check.id or "",
                condition=check.condition or "",
                action=Action(check.action or ""),
                explanation=check.explanation or "",
                expr=check.expr,
                line=check.line,
            )
            for check in self.rules
            if check.expr is not None
        ]
        return RuleSet(self.version, rules, self.source, self.digest)


def rules_path(spec: ProjectSpec | None = None) -> Path:
    """The default rules file: ``rules.yaml`` beside the spec, else in the current folder."""
    return (spec.root if spec is not None else Path.cwd()) / RULES_FILENAME


def read_rules_text(path: Path) -> str:
    """The text of a rules file, size-limited.

    Raises:
        RulesError: the file is missing, unreadable, too large or not UTF-8.
    """
    if not path.is_file():
        raise RulesError(
            f"No rules file at {path}. Create one (version and rules; see docs/rules.md) or "
            "pass its path."
        )
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise RulesError(
                f"{path} is {size:,} bytes; a rules file may be at most {MAX_FILE_BYTES:,} bytes."
            )
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"Cannot read rules file {path}: {exc}") from exc


def check_rules(path: Path, spec: ProjectSpec | None = None) -> RulesCheck:
    """Check a rules file (against the spec's columns, when given) without raising on problems.

    Raises:
        RulesError: only when the file cannot be read at all.
    """
    return check_rules_text(read_rules_text(path), str(path), spec)


def load_rules(path: Path | None = None, spec: ProjectSpec | None = None) -> RuleSet:
    """Read, check and compile a rules file.

    Args:
        path: The rules file; default ``rules.yaml`` beside the spec (or in the current folder).
        spec: The project; when given, fields must be its columns and types must fit.

    Raises:
        RulesError: listing every problem with its rule, line and condition position.
    """
    return check_rules(path or rules_path(spec), spec).rule_set()


def parse_rules(
    text: str, source: str = RULES_FILENAME, spec: ProjectSpec | None = None
) -> RuleSet:
    """Check and compile rules from YAML text (as :func:`load_rules`, without a file)."""
    return check_rules_text(text, source, spec).rule_set()


def parse_condition(text: str, spec: ProjectSpec | None = None) -> Node:
    """Parse and check one condition.

    Raises:
        ConditionError: naming the position of the problem.
    """
    node = expr.parse(text)
    typecheck.check(node, text, spec.columns if spec else None, spec.target if spec else None)
    return node


def check_rules_text(text: str, source: str, spec: ProjectSpec | None = None) -> RulesCheck:
    """Check rules given as YAML text; every problem is collected, none raised."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    result = RulesCheck(source=source, digest=digest, spec=str(spec.root) if spec else None)
    try:
        raw = load_yaml(text)
        root = yaml.compose(text, Loader=StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        result.problems.append(f"{where}not valid YAML: {exc}")
        return result
    if not isinstance(raw, dict):
        result.problems.append(
            "the file must be a mapping with 'version' and 'rules' (see docs/rules.md)"
        )
        return result
    unknown = [str(key) for key in raw if key not in _TOP_KEYS]
    if unknown:
        result.problems.append(
            f"unknown key(s) {', '.join(unknown)}; allowed at the top: {', '.join(_TOP_KEYS)}"
        )
    result.version = _version(raw.get("version"), result.problems)
    rules = raw.get("rules")
    if not isinstance(rules, list):
        result.problems.append(
            "'rules' is missing or not a list: give a list of rules, each with "
            + ", ".join(_RULE_KEYS)
        )
        return result
    if len(rules) > MAX_RULES:
        result.problems.append(f"{len(rules)} rules; a file may hold at most {MAX_RULES}")
        return result
    lines = _rule_lines(root)
    seen: dict[str, int] = {}
    for index, item in enumerate(rules):
        check = RuleCheck(index=index, line=lines.get(index, (None, None))[0])
        result.rules.append(check)
        _check_rule(item, check, lines.get(index, (None, None))[1], spec)
        if check.id is not None:
            if check.id in seen:
                check.errors.append(f"duplicate id: rule #{seen[check.id] + 1} has it too")
            seen.setdefault(check.id, index)
    return result


def _version(value: Any, problems: list[str]) -> str | None:
    if value is None:
        problems.append("'version' is missing: add e.g. version: \"1\" (a string)")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        problems.append(
            f"'version' must be a string; write it in quotes, e.g. version: \"{value}\""
        )
        return None
    text = str(value).strip()
    if not text or len(text) > 64 or "\n" in text:
        problems.append("'version' must be a non-empty string of at most 64 characters")
        return None
    return text


def _rule_lines(root: Any) -> dict[int, tuple[int, int | None]]:
    """Line of each rule, and of its condition, by index (1-based lines)."""
    found: dict[int, tuple[int, int | None]] = {}
    if not isinstance(root, yaml.MappingNode):
        return found
    for key, value in root.value:
        if getattr(key, "value", None) == "rules" and isinstance(value, yaml.SequenceNode):
            for index, item in enumerate(value.value):
                condition_line = None
                if isinstance(item, yaml.MappingNode):
                    for item_key, item_value in item.value:
                        if getattr(item_key, "value", None) == "condition":
                            condition_line = item_value.start_mark.line + 1
                found[index] = (item.start_mark.line + 1, condition_line)
    return found


def _check_rule(
    item: Any, check: RuleCheck, condition_line: int | None, spec: ProjectSpec | None
) -> None:
    if not isinstance(item, dict):
        check.errors.append("a rule must be a mapping with " + ", ".join(_RULE_KEYS))
        return
    unknown = [str(key) for key in item if key not in _RULE_KEYS]
    if unknown:
        check.errors.append(
            f"unknown key(s) {', '.join(unknown)}; a rule has {', '.join(_RULE_KEYS)}"
        )
    missing = [key for key in _RULE_KEYS if key not in item]
    if missing:
        check.errors.append(f"missing {', '.join(missing)}")
    rule_id = item.get("id")
    if rule_id is not None:
        text = (
            str(rule_id) if isinstance(rule_id, str | int) and not isinstance(rule_id, bool) else ""
        )
        if _ID_PATTERN.match(text):
            check.id = text
        else:
            check.errors.append(
                f"id {rule_id!r} is not valid: use 1 to 64 letters, digits, spaces or _ . : - "
                "(starting with a letter or digit)"
            )
    action = item.get("action")
    if action is not None:
        check.action = str(action)
        if action not in {a.value for a in Action}:
            check.errors.append(f"action {action!r} is not one of reject, review, approve")
    explanation = item.get("explanation")
    if explanation is not None:
        if isinstance(explanation, str) and explanation.strip():
            check.explanation = explanation.strip()
        else:
            check.errors.append("explanation must be a non-empty string")
    condition = item.get("condition")
    if condition is None:
        return
    if not isinstance(condition, str):
        check.errors.append(
            f'condition must be a string; got {condition!r} (quote it: condition: "...")'
        )
        return
    check.condition = condition
    try:
        node = parse_condition(condition, spec)
    except ConditionError as exc:
        where = (
            f"line {condition_line}, " if condition_line and condition_line != check.line else ""
        )
        check.errors.append(f"condition {where}{exc}")
        check.position, check.field = exc.position, exc.field
        return
    check.expr = node
    check.parsed = expr.render(node)

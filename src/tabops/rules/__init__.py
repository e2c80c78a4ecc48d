"""The rules engine: versioned YAML rules with safe conditions, evaluated per row or per frame.

See ``docs/rules.md`` for the condition language and the decision semantics.
"""

from tabops.rules.engine import (
    PRECEDENCE,
    RULES_FILENAME,
    Action,
    FiredRule,
    FrameResult,
    Rule,
    RuleCheck,
    RulesCheck,
    RuleSet,
    RulesResult,
    check_rules,
    check_rules_text,
    decide,
    load_rules,
    parse_condition,
    parse_rules,
    rules_path,
)
from tabops.rules.expr import ConditionError

__all__ = [
    "PRECEDENCE",
    "RULES_FILENAME",
    "Action",
    "ConditionError",
    "FiredRule",
    "FrameResult",
    "Rule",
    "RuleCheck",
    "RuleSet",
    "RulesCheck",
    "RulesResult",
    "check_rules",
    "check_rules_text",
    "decide",
    "load_rules",
    "parse_condition",
    "parse_rules",
    "rules_path",
]

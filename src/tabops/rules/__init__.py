"""The rules engine: versioned YAML rules with safe conditions, evaluated per row or per frame.

See ``docs/rules.md`` for the condition language and the decision semantics. The modules:
``expr`` (the condition language), ``typecheck``, ``rowwise`` and ``vectorised`` (the two
evaluators), ``engine`` (rule files and rule sets), ``policy`` (rules and score combined),
``backtest``. Nothing is imported here, so that ``policy`` stays light for serving.
"""

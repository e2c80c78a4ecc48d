"""``tabops rules check`` and ``tabops rules backtest`` run as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.rules.conftest import MONITOR_RULES, fraud_spec_dict

TABOPS = str(Path(sys.executable).with_name("tabops"))


def tabops(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TABOPS_")}
    environment["COLUMNS"] = "200"
    return subprocess.run(
        [TABOPS, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120
    )


def as_json(result: subprocess.CompletedProcess[str], code: int = 0) -> Any:
    assert result.returncode == code, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def assert_user_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    message = result.stderr
    assert "Error:" in message, message
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fraud project: tabops.yaml and the monitor's rules.yaml."""
    (tmp_path / "tabops.yaml").write_text(yaml.safe_dump(fraud_spec_dict()))
    shutil.copy(MONITOR_RULES, tmp_path / "rules.yaml")
    return tmp_path


BAD_RULES = """version: "2"
rules:
  - id: Rule 1
    condition: amount > 100 and not account_blacklisted
    action: reject
    explanation: fine
  - id: Rule 9
    condition: amount.__class__ == 1
    action: reject
    explanation: attribute access
  - id: typo
    condition: amount > 1 and transaction_type == "realtime"
    action: review
    explanation: not a category
  - id: unknown
    condition: velocity > 3
    action: review
    explanation: no such column
"""


def test_check_prints_the_parsed_rules(project: Path) -> None:
    result = tabops("rules", "check", cwd=project)
    assert result.returncode == 0, result.stderr
    for fragment in (
        '((amount > 100) and (not account_blacklisted) and (transaction_type == "real-time"))',
        '(account_blacklisted and (transaction_type == "real-time"))',
        "Rule 3",
        "3 rule(s) valid, checked against the columns of",
    ):
        assert fragment in result.stdout
    document = as_json(tabops("rules", "check", "rules.yaml", "--json", cwd=project))
    assert document["valid"] is True
    assert document["version"] == "1"
    assert document["spec"] == str(project.resolve())
    assert [r["id"] for r in document["rules"]] == ["Rule 1", "Rule 2", "Rule 3"]
    assert document["rules"][2]["parsed"] == '(transaction_type == "real-time")'


def test_check_the_example_file_against_a_spec_elsewhere(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = tabops("rules", "check", str(MONITOR_RULES), "--spec", str(project), cwd=elsewhere)
    assert result.returncode == 0, result.stderr


def test_check_reports_every_bad_rule_with_its_position(project: Path) -> None:
    (project / "rules.yaml").write_text(BAD_RULES)
    result = tabops("rules", "check", cwd=project)
    message = assert_user_error(
        result,
        "rules.yaml: 3 problem(s)",
        "rule 'Rule 9' (line 7): condition line 8, column 7: attribute access ('.') is not "
        "supported",
        "rule 'typo' (line 11): condition line 12, column 36: \"realtime\" is not a category of "
        "'transaction_type' (did you mean \"real-time\"?)",
        "rule 'unknown' (line 15): condition line 16, column 1: unknown field 'velocity'",
    )
    lines = message.split("\n")
    shown = next(i for i, line in enumerate(lines) if line.strip() == "amount.__class__ == 1")
    assert lines[shown + 1].index("^") == lines[shown].index(".")
    assert "✓" in result.stdout and "✗" in result.stdout  # the table still shows every rule

    document = as_json(tabops("rules", "check", "--json", cwd=project), code=2)
    assert document["valid"] is False
    by_id = {rule["id"]: rule for rule in document["rules"]}
    assert by_id["Rule 1"]["valid"] is True
    assert (by_id["Rule 9"]["position"], by_id["Rule 9"]["field"]) == (7, None)
    assert (by_id["unknown"]["position"], by_id["unknown"]["field"]) == (1, "velocity")


def test_check_without_spec_allows_any_field(project: Path) -> None:
    (project / "rules.yaml").write_text(BAD_RULES.split("  - id: Rule 9")[0])
    (project / "more.yaml").write_text(
        'version: "1"\nrules:\n  - {id: a, condition: "velocity > 3", action: review, '
        "explanation: x}\n"
    )
    assert tabops("rules", "check", "more.yaml", "--no-spec", cwd=project).returncode == 0
    assert_user_error(tabops("rules", "check", "more.yaml", cwd=project), "unknown field")
    assert_user_error(tabops("rules", "check", "--no-spec", "--spec", ".", cwd=project), "not both")
    alone = project / "alone"
    alone.mkdir()
    shutil.copy(project / "more.yaml", alone / "rules.yaml")
    assert tabops("rules", "check", cwd=alone).returncode == 0
    assert_user_error(tabops("rules", "check", "--set", "name=x", cwd=alone), "--set needs")


def test_check_refuses_malicious_conditions(project: Path) -> None:
    rules = [
        ("__import__('os').system('touch pwned')", "names starting with '__'"),
        ("open('tabops.yaml')", "function calls are not supported"),
        ("9**9**9 > 1", "power operator"),
        ("(lambda: 1)", "'lambda'"),
        ("amount[0] > 1", "indexing is not supported"),
        ("(" * 100 + "amount > 1" + ")" * 100, "nests deeper"),
        ("amount > 1 or " * 200 + "amount > 2", "limit is 2000"),
    ]
    text = 'version: "1"\nrules:\n' + "".join(
        f"  - id: r{i}\n    condition: {json.dumps(c)}\n    action: reject\n    explanation: x\n"
        for i, (c, _) in enumerate(rules)
    )
    (project / "rules.yaml").write_text(text)
    result = tabops("rules", "check", cwd=project)
    assert_user_error(result, *(f"rule 'r{i}'" for i in range(len(rules))))
    for _, fragment in rules:
        assert fragment in result.stderr
    assert not (project / "pwned").exists()


def test_missing_or_unreadable_rules(project: Path) -> None:
    assert_user_error(tabops("rules", "check", "nope.yaml", cwd=project), "No rules file at")
    (project / "rules.yaml").write_text("version: '1'\nrules: [\n")
    assert_user_error(tabops("rules", "check", cwd=project), "not valid YAML")
    (project / "tabops.yaml").write_text("name: x\n")
    assert_user_error(tabops("rules", "check", cwd=project), "tabops.yaml")


def _write_transactions(folder: Path) -> None:
    header = "transaction_id,amount,account_blacklisted,transaction_type,is_fraud,score"
    rows = [
        "1,150,false,real-time,true,0.9",  # rules reject, model reject
        "2,150,false,real-time,false,0.1",  # rules reject (false alarm)
        "3,50,true,real-time,true,0.2",  # rules reject (account_blacklisted)
        "4,50,false,real-time,true,0.8",  # model reject only
        "5,50,false,settlement,false,0.6",  # model reject (false alarm)
        "6,20,false,real-time,false,0.1",
        "7,20,false,dispute,,0.9",  # unlabelled
        "8,500,true,settlement,true,0.3",  # missed by both
    ]
    (folder / "transactions.csv").write_text("\n".join([header, *rows]) + "\n")


def test_backtest_rules_model_and_combined(project: Path) -> None:
    _write_transactions(project)
    spec = fraud_spec_dict()
    spec["evaluate"] = {"costs": {"false_positive": 1, "false_negative": 20}}
    (project / "tabops.yaml").write_text(yaml.safe_dump(spec))
    document = as_json(
        tabops("rules", "backtest", "--data", "transactions.csv", "--score", "score",
               "--threshold", "0.5", "--json", cwd=project)
    )  # fmt: skip
    assert (document["rows"], document["unlabelled"], document["positives"]) == (7, 1, 4)
    assert document["rules_version"] == "1"
    assert document["costs"] == {"false_positive": 1.0, "false_negative": 20.0}
    policies = document["policies"]
    picked = {
        name: (p["alerts"], p["true_positives"], p["false_positives"], p["cost"])
        for name, p in policies.items()
    }
    assert picked == {
        "rules": (3, 2, 1, 1 + 2 * 20),
        "model": (3, 2, 1, 1 + 2 * 20),
        "combined": (5, 3, 2, 2 + 1 * 20),
    }
    assert policies["combined"]["recall"] == 0.75
    assert policies["combined"]["alert_rate"] == pytest.approx(5 / 7)

    costs = ("--cost-fp", "2", "--cost-fn", "5")
    table = tabops("rules", "backtest", "-d", "transactions.csv", "--score", "score",
                   "--threshold", "0.5", *costs, cwd=project)  # fmt: skip
    assert table.returncode == 0, table.stderr
    for fragment in ("combined", "Rule 1", "false positive 2, false negative 5", "71.4%"):
        assert fragment in table.stdout, table.stdout


def test_backtest_mistakes(project: Path) -> None:
    _write_transactions(project)
    assert_user_error(
        tabops("rules", "backtest", "--data", "transactions.csv", "--label", "fraud", cwd=project),
        "no label column 'fraud'",
    )
    assert_user_error(
        tabops("rules", "backtest", "--data", "transactions.csv", "--score", "score",
               cwd=project),
        "--threshold",
    )  # fmt: skip
    assert_user_error(
        tabops("rules", "backtest", "--data", "transactions.csv", "--cost-fp", "1", cwd=project),
        "--cost-fn",
    )
    assert_user_error(
        tabops("rules", "backtest", "--data", "missing.csv", cwd=project), "missing.csv"
    )


def test_help_describes_every_option(project: Path) -> None:
    for command in ("check", "backtest"):
        result = tabops("rules", command, "--help", cwd=project)
        assert result.returncode == 0
        assert "Example: tabops rules" in result.stdout
        assert "--no-spec" in result.stdout and "--json" in result.stdout


def test_backtest_reads_a_columns_own_null_values_as_missing(project: Path) -> None:
    _write_transactions(project)
    path = project / "transactions.csv"
    path.write_text(path.read_text().replace("6,20,", "6,Unknown,"))
    assert_user_error(
        tabops("rules", "backtest", "--data", "transactions.csv", cwd=project), "'amount'"
    )
    spec = fraud_spec_dict()
    spec["columns"]["amount"]["null_values"] = ["Unknown"]
    (project / "tabops.yaml").write_text(yaml.safe_dump(spec))
    document = as_json(tabops("rules", "backtest", "--data", "transactions.csv", "--json",
                              cwd=project))  # fmt: skip
    assert (document["rows"], document["policies"]["rules"]["alerts"]) == (7, 3)


def test_backtest_skips_the_lines_before_the_header_as_the_spec_says(project: Path) -> None:
    _write_transactions(project)
    path = project / "transactions.csv"
    path.write_text("Exported 2026-12-01\n" + path.read_text())
    spec = fraud_spec_dict()
    spec["source"]["csv"] = {"skip_rows": 1}
    (project / "tabops.yaml").write_text(yaml.safe_dump(spec))
    document = as_json(tabops("rules", "backtest", "--data", "transactions.csv", "--json",
                              cwd=project))  # fmt: skip
    assert (document["rows"], document["policies"]["rules"]["alerts"]) == (7, 3)

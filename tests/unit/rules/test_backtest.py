"""Backtests of rules, model and combined policy, against numbers worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tabops.errors import DataError, TabopsError
from tabops.rules.backtest import REJECT, REVIEW, backtest, model_outcomes
from tabops.rules.engine import RuleSet, parse_rules
from tabops.spec import CostSpec

RULES = """
version: "bt-1"
rules:
  - {id: big, condition: amount > 100, action: reject, explanation: big amount}
  - {id: remote, condition: not card_present, action: review, explanation: card not present}
  - {id: fine, condition: "true", action: approve, explanation: default}
"""

# Worked out by hand in the comments: outcome of rules / model (reject 0.5, review 0.3) /
# combined, and the label.
ROWS = [
    # amount, card_present, score, label
    (150, True, 0.90, 1),  # reject / reject / reject   TP everywhere
    (150, True, 0.10, 0),  # reject / pass   / reject   FP for rules and combined
    (50, False, 0.40, 1),  # review / review / review   TP everywhere
    (50, True, 0.60, 1),  # pass   / reject / reject   FN for rules
    (50, True, 0.20, 0),  # pass   / pass   / pass
    (50, False, 0.05, 0),  # review / pass   / review   FP for rules and combined
    (20, True, 0.35, 0),  # pass   / review / review   FP for model and combined
    (20, True, 0.70, None),  # unlabelled: left out
    (20, True, None, 1),  # pass   / pass (no score) / pass   FN everywhere
]


@pytest.fixture
def rules() -> RuleSet:
    return parse_rules(RULES)


@pytest.fixture
def data() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=["amount", "card_present", "score", "label"])


def test_rules_model_and_combined_against_hand_computed_numbers(
    rules: RuleSet, data: pd.DataFrame
) -> None:
    result = backtest(
        data, rules, "label", score="score", threshold=0.5, review_threshold=0.3,
        costs=CostSpec(false_positive=1, false_negative=10),
    )  # fmt: skip
    assert (result.rows, result.unlabelled, result.positives) == (8, 1, 4)
    assert result.rules_version == "bt-1"
    expected = {
        # rejected, reviewed, alerts, tp, fp, fn, precision, recall, alert rate, cost
        "rules": (2, 2, 4, 2, 2, 2, 0.5, 0.5, 0.5, 22.0),
        "model": (2, 2, 4, 3, 1, 1, 0.75, 0.75, 0.5, 11.0),
        "combined": (3, 3, 6, 3, 3, 1, 0.5, 0.75, 0.75, 13.0),
    }
    assert list(result.policies) == ["rules", "model", "combined"]
    for name, numbers in expected.items():
        m = result.policies[name]
        got = (m.rejected, m.reviewed, m.alerts, m.true_positives, m.false_positives,
               m.false_negatives, m.precision, m.recall, m.alert_rate, m.cost)  # fmt: skip
        assert got == pytest.approx(numbers), name
    stats = {s.id: (s.fired, s.fired_positive, s.precision, s.fire_rate) for s in result.rules}
    assert stats == {
        "big": (2, 1, 0.5, 0.25),
        "remote": (2, 1, 0.5, 0.25),
        "fine": (8, 4, 0.5, 1.0),
    }
    json.dumps(result.to_dict(), allow_nan=False)


def test_rules_alone_without_scores_or_costs(rules: RuleSet, data: pd.DataFrame) -> None:
    result = backtest(data, rules, "label")
    assert list(result.policies) == ["rules"]
    assert result.policies["rules"].cost is None
    assert result.policies["rules"].recall == 0.5


def test_no_review_band_means_reject_or_pass(rules: RuleSet, data: pd.DataFrame) -> None:
    result = backtest(data, rules, "label", score="score", threshold=0.5)
    model = result.policies["model"]
    assert (model.rejected, model.reviewed, model.true_positives) == (2, 0, 2)


def test_model_outcomes_thresholds() -> None:
    frame = pd.DataFrame({"s": [0.1, 0.3, 0.5, 0.9, None]})
    outcome = model_outcomes(frame, "s", threshold=0.5, review_threshold=0.3)
    assert outcome.tolist() == [0, REVIEW, REJECT, REJECT, 0]


def test_combined_never_alerts_less_than_either(rules: RuleSet) -> None:
    rng = np.random.default_rng(3)
    n = 2000
    frame = pd.DataFrame(
        {
            "amount": rng.exponential(80, n),
            "card_present": rng.random(n) < 0.7,
            "score": rng.random(n),
            "label": rng.random(n) < 0.1,
        }
    )
    result = backtest(frame, rules, "label", score="score", threshold=0.8, review_threshold=0.6)
    combined = result.policies["combined"]
    for single in (result.policies["rules"], result.policies["model"]):
        assert combined.alerts >= single.alerts
        assert combined.true_positives >= single.true_positives
        assert combined.rejected >= single.rejected


def test_an_approve_rule_does_not_override_the_model(data: pd.DataFrame) -> None:
    approve_all = parse_rules(
        'version: "1"\nrules:\n  - {id: ok, condition: "true", action: approve, explanation: x}\n'
    )
    result = backtest(data, approve_all, "label", score="score", threshold=0.5)
    assert result.policies["combined"] == result.policies["model"].__class__(
        **(result.policies["model"].to_dict() | {"policy": "combined"})
    )
    assert result.policies["rules"].alerts == 0


@pytest.mark.parametrize(
    ("labels", "positive", "positives"),
    [
        ([True, False, True, None], None, 2),
        ([1, 0, 1, 0], None, 2),
        ([1.0, 0.0, 0.0, None], None, 1),
        (["fraud", "ok", "fraud", None], "fraud", 2),
        ([True, False, False, True], "true", 2),
        ([True, False, False, True], "False", 2),
        ([1, 0, 0, 2], "2", 1),
    ],
)
def test_positive_labels(labels: list[object], positive: str | None, positives: int) -> None:
    rules = parse_rules(RULES)
    frame = pd.DataFrame(
        {"amount": [1, 2, 3, 4], "card_present": True, "label": pd.Series(labels, dtype=object)}
    )
    assert backtest(frame, rules, "label", positive=positive).positives == positives


def test_mistakes_are_clear_errors(rules: RuleSet, data: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="no label column 'fraud'"):
        backtest(data, rules, "fraud")
    labels: list[str | None] = ["yes", "no"] * 4 + [None]
    strings = data.assign(label=pd.Series(labels, dtype=object))
    with pytest.raises(DataError, match=r"Which value of 'label' is positive\? .*--positive"):
        backtest(strings, rules, "label")
    with pytest.raises(TabopsError, match="needs a score column"):
        backtest(data, rules, "label", threshold=0.5)
    with pytest.raises(TabopsError, match="needs a decision threshold"):
        backtest(data, rules, "label", score="score")
    with pytest.raises(TabopsError, match="must be below the reject threshold"):
        backtest(data, rules, "label", score="score", threshold=0.5, review_threshold=0.5)
    with pytest.raises(DataError, match="no score column 'p'"):
        backtest(data, rules, "label", score="p", threshold=0.5)
    with pytest.raises(DataError, match="not numeric"):
        backtest(data.assign(score="high"), rules, "label", score="score", threshold=0.5)
    with pytest.raises(DataError, match="No row has a label"):
        backtest(data.assign(label=None), rules, "label")
    with pytest.raises(TabopsError, match="exactly false_positive and false_negative"):
        backtest(data, rules, "label", costs={"false_positive": 1})
    with pytest.raises(DataError, match="no column 'amount'"):
        backtest(data.drop(columns="amount"), rules, "label")


def test_costs_as_a_mapping(rules: RuleSet, data: pd.DataFrame) -> None:
    result = backtest(data, rules, "label", costs={"false_positive": 2, "false_negative": 5})
    assert result.policies["rules"].cost == 2 * 2 + 2 * 5
    assert result.costs == {"false_positive": 2.0, "false_negative": 5.0}

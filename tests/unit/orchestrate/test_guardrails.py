from datetime import date, timedelta

import pytest

from tabops.orchestrate.guardrails import Facts, judge
from tabops.spec import RetrainSpec

DAY = date(2026, 4, 20)
GUARDS = RetrainSpec(min_new_labels=100, cooldown_days=7, max_retrains=2, period_days=30)


def _facts(triggers: tuple[str, ...] = ("alert:recall_drop",), new_labels: int = 500,
           retrains: tuple[int, ...] = ()) -> Facts:  # fmt: skip
    return Facts(DAY, triggers, new_labels, tuple(DAY - timedelta(days=n) for n in retrains))


def test_no_trigger_no_retrain_and_no_guardrail() -> None:
    verdict = judge(GUARDS, _facts(triggers=()))
    assert not verdict.retrain and verdict.guardrail is None and verdict.trigger is None


def test_a_trigger_within_every_guardrail_retrains() -> None:
    verdict = judge(GUARDS, _facts(retrains=(20,)))
    assert verdict.retrain and verdict.guardrail is None
    assert verdict.trigger == "alert:recall_drop" and "500 new labelled rows" in verdict.reason


@pytest.mark.parametrize(
    ("facts", "settings", "guardrail"),
    [
        (_facts(retrains=(3,)), GUARDS, "cooldown"),
        (_facts(retrains=(0,)), GUARDS, "cooldown"),  # the same day, e.g. manual after daily
        (_facts(retrains=(10, 25)), GUARDS, "max_retrains"),
        (_facts(new_labels=99), GUARDS, "min_new_labels"),
        (_facts(), RetrainSpec(max_retrains=0), "max_retrains"),
    ],
)
def test_each_guardrail_stops_a_retrain_and_names_itself(
    facts: Facts, settings: RetrainSpec, guardrail: str
) -> None:
    verdict = judge(settings, facts)
    assert not verdict.retrain
    assert verdict.guardrail == guardrail
    assert verdict.trigger == "alert:recall_drop"
    assert guardrail in verdict.reason or "disabled" in verdict.reason


def test_retrains_after_the_logical_date_do_not_count() -> None:
    # A backfill of an earlier date sees the guardrails as they stood on that date.
    later = Facts(DAY, ("manual: x",), 500, (DAY + timedelta(days=2),))
    assert judge(GUARDS, later).retrain


def test_retrains_before_the_period_do_not_count() -> None:
    assert judge(GUARDS, _facts(retrains=(31, 40))).retrain

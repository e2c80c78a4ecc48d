"""Done when (issue 15): the fraud example's daily flow through a simulated month. The drift
calendar's concept drift (card testing, from the month's 9th day) fires the amount drift
alert; the guardrails let exactly one retrain start (earlier triggers stopped by
min_new_labels, later ones by the cooldown, each audited); the retrain trains on the snapshot
plus the labelled production rows, and the gate promotes it only if it is better on its
frozen rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from tabops.orchestrate.runner import run_flow
from tabops.pipeline import run_lifecycle
from tabops.store.audit import decisions
from tabops.store.batch import run_summaries
from tests.integration.orchestrate.fraud_month import DRIFT_DAY, MONTH_DAYS, make_month

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("fraud-month")]


def test_a_month_of_the_fraud_example_retrains_once_and_the_gate_decides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    month = make_month(tmp_path / "fraud", monitor_days=4, retrain={
        "triggers": {"alerts": ["amount_drift"]}, "min_new_labels": 19_500,
        "cooldown_days": 14, "max_retrains": 1, "period_days": 30,
    })  # fmt: skip
    monkeypatch.chdir(month.folder)
    spec, ctx = month.spec, month.ctx
    first = run_lifecycle(spec, ctx)
    assert first.exit_code == 0, first.to_dict()
    champion = first.register.version.version if first.register else None
    for n in range(MONTH_DAYS):
        day = month.day(n)
        month.release_labels(day)
        run = run_flow(spec, ctx, "daily", [day])[0]
        assert not run.failed, run.to_dict()
        firing = run.tasks[2].summary["firing"]
        assert ("amount_drift" in firing) <= (n >= DRIFT_DAY), (day, firing)  # only with drift
    audited = sorted(decisions(ctx.store, "fraud", 200), key=lambda e: e["id"])
    retrain = [e for e in audited if e["action"] == "retrain"]
    report = [(e["metrics"]["logical_date"], e["decision"], e["metrics"].get("guardrail"),
               e["metrics"].get("new_labels")) for e in retrain]  # fmt: skip
    triggered = [e for e in retrain if e["decision"] == "triggered"]
    assert len(triggered) == 1, report
    started = triggered[0]["metrics"]["logical_date"]
    assert triggered[0]["metrics"]["trigger"] == "alert:amount_drift"
    skips = [(e["metrics"]["logical_date"], e["metrics"]["guardrail"])
             for e in retrain if e["decision"] == "skipped"]  # fmt: skip
    assert {g for d, g in skips if d < started} == {"min_new_labels"}, report
    assert {g for d, g in skips if d > started} <= {"cooldown"}, report
    assert skips[0][0] >= month.day(DRIFT_DAY).isoformat(), report  # the alert asked first
    result = next(e for e in retrain if e["decision"] in ("promoted", "refused"))
    gate = [e for e in audited if e["action"] == "gate"][-1]  # the retrain's gate
    assert gate["from_version"] == champion and gate["to_version"] == result["to_version"]
    metric = spec.metric
    better = gate["metrics"]["candidate"][metric] >= gate["metrics"]["champion"][metric]
    assert (result["decision"] == "promoted") == better == (gate["decision"] == "promoted")
    scored_by = {
        d.isoformat(): r.model_version for d, r in run_summaries(ctx.store, "fraud").items()
    }
    after = [v for d, v in scored_by.items() if d > started]
    assert set(after) == {result["to_version"] if better else champion}, scored_by
    print(report, gate["metrics"])

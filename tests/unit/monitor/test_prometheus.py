"""The generated Prometheus rules file: one rule per spec alert plus the service rules."""

from __future__ import annotations

from tabops.monitor.prometheus import alerting_rules
from tabops.spec import ProjectSpec, parse_spec
from tests.conftest import small_spec_dict

ALERTS = [
    {"name": "amount-drift", "metric": "psi", "column": "amount", "above": 0.2, "windows": 2},
    {"name": "auc_drop", "metric": "estimated_roc_auc", "below": 0.7, "severity": "critical"},
]


def spec_with_alerts() -> ProjectSpec:
    return parse_spec(small_spec_dict() | {"monitor": {"alerts": ALERTS}})


def test_every_spec_alert_forwards_its_state_with_labels_and_a_summary() -> None:
    model, service = alerting_rules(spec_with_alerts())["groups"]
    assert [r["alert"] for r in model["rules"]] == ["TabopsAmountDrift", "TabopsAucDrop"]
    drift, auc = model["rules"]
    assert drift["expr"] == (
        'max(tabops_monitor_alert_firing{project="small", alert="amount-drift"}) > 0'
    )
    assert drift["labels"] == {
        "severity": "warning",
        "project": "small",
        "tabops_alert": "amount-drift",
    }
    assert drift["annotations"]["summary"] == "[small] psi of amount above 0.2"
    assert "2 window(s) in a row" in drift["annotations"]["description"]
    assert auc["labels"]["severity"] == "critical"
    assert {r["alert"] for r in service["rules"]} >= {
        "TabopsServerErrors",
        "TabopsPredictionLogStoreDown",
    }

"""The monitor's judgments on /metrics: alert states and latest values, read from a real store
at most every REFRESH_SECONDS of a simulated clock, and kept while the store is unreadable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tabops.monitor.alerts import Observation, transitions
from tabops.monitor.notify import notify
from tabops.serve.monitor_gauges import REFRESH_SECONDS, MonitorGauges
from tabops.spec import parse_spec
from tabops.store.db import open_store
from tabops.store.monitoring import replace_window_metrics
from tests.conftest import small_spec_dict

DAY = datetime(2026, 11, 2, tzinfo=UTC)


def test_alert_states_and_values_follow_the_store_on_the_refresh_clock(tmp_path: Path) -> None:
    alert = {"name": "amount-drift", "metric": "psi", "column": "amount", "above": 0.2}
    spec = parse_spec(small_spec_dict() | {"monitor": {"alerts": [alert]}})
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    now = [0.0]
    gauges = MonitorGauges(spec, clock=lambda: now[0])
    firing = 'tabops_monitor_alert_firing{project="small",alert="amount-drift",severity="warning"}'
    assert f"{firing} 0.0" in gauges.exposition(store).decode()

    window = (DAY, DAY + timedelta(days=1))
    replace_window_metrics(store, "small", "small", "1", window,
                           [{"metric": "psi", "column_name": "amount", "value": 0.5}])  # fmt: skip
    series = [Observation(window[1], 0.5, 500)]
    notify(store, "small", "small", transitions(spec.monitor.alerts[0], series), None)
    assert f"{firing} 0.0" in gauges.exposition(store).decode()  # cached until the refresh
    now[0] += REFRESH_SECONDS
    text = gauges.exposition(store).decode()
    assert f"{firing} 1.0" in text
    assert 'tabops_monitor_value{project="small",metric="psi",column="amount"} 0.5' in text

    store.engine.dispose()
    (tmp_path / "s.db").unlink()  # unreadable now: the last values stay
    (tmp_path / "s.db").mkdir()
    now[0] += REFRESH_SECONDS
    assert gauges.exposition(store).decode() == text


def test_no_alerts_no_gauges(tmp_path: Path) -> None:
    spec = parse_spec(small_spec_dict())
    assert MonitorGauges(spec).exposition(open_store(f"sqlite:///{tmp_path / 's.db'}")) == b""

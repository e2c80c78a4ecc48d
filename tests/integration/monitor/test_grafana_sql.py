"""Every SQL panel of the generated dashboards, run on a real PostgreSQL filled by the
simulated stream (``simulate_table``, as ``tabops simulate --table`` runs it) and by monitor
rows written through the store, returns rows of the shape its panel draws."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from tabops.monitor.grafana import dashboard_json, dashboards
from tabops.rules.engine import load_rules
from tabops.spec import ProjectSpec, load_spec
from tabops.store import schema
from tabops.store.alerts import record_transitions
from tabops.store.db import Store, open_store
from tabops.store.predictions import PredictionWriter
from tabops.store.rejections import RejectedBucket
from tabops.synth.config import parse_fraud_config
from tabops.synth.fraud import generate_fraud
from tabops.synth.simulate import Pace, simulate_table
from tests.integration.monitor.grafana_macros import expand_sql

pytestmark = pytest.mark.postgres

FRAUD = Path(__file__).parents[3] / "examples" / "fraud"
START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 4, tzinfo=UTC)
FEATURES = ("amount", "transaction_type")


@pytest.fixture(scope="module")
def spec() -> ProjectSpec:
    return load_spec(FRAUD)


@pytest.fixture
def store(pg_url: str, spec: ProjectSpec) -> Store:
    store = open_store(pg_url)
    dataset = generate_fraud(parse_fraud_config({"n_customers": 150, "days": 3, "seed": 5}))
    rules = load_rules(FRAUD / "rules.yaml", spec)
    stats = simulate_table(dataset, store, "banking_data", spec.name, Pace(rate=1e6, count=400),
                           rules=rules)  # fmt: skip
    assert stats.sent == 400
    _monitor_rows(store, spec)
    return store


def _monitor_rows(store: Store, spec: ProjectSpec) -> None:
    """Three daily windows of what ``tabops monitor`` stores, and an alert that fired on the
    second and resolved on the third."""
    rows: list[dict[str, Any]] = []
    for day in range(3):
        start = START + timedelta(days=day)
        window = {"project": spec.name, "model_name": spec.name, "model_version": "1",
                  "window_start": start, "window_end": start + timedelta(days=1),
                  "computed_at": datetime.now(UTC), "details": "{}"}  # fmt: skip
        rows += [{**window, "metric": m, "column_name": c, "value": 0.1 * (day + 1)}
                 for m in ("drift_score", "psi") for c in FEATURES]  # fmt: skip
        rows += [{**window, "metric": m, "column_name": None, "value": v} for m, v in (
            (spec.metric, 0.9 - day / 10), (f"estimated_{spec.metric}", 0.88),
            ("label_coverage", 0.5), ("rejected_rate", 0.01 * day),
            ("drift_share", day / 2))]  # fmt: skip
    with store.connect() as conn:
        conn.execute(sa.insert(schema.monitor_metrics), rows)
    event = {"alert": "auc-drop", "severity": "critical", "metric": "roc_auc",
             "column_name": None, "threshold": 0.8}  # fmt: skip
    # Refusals as servers store them: two processes' buckets of one minute, and a later hour.
    buckets = [
        RejectedBucket("a-0", spec.name, "1", _epoch(START, minutes=5), 2, 3,
                       {("amount", "max"): 2, ("(other)", "malformed"): 1}),
        RejectedBucket("b-0", spec.name, "1", _epoch(START, minutes=5), 1, 1,
                       {("amount", "max"): 1}),
        RejectedBucket("a-1", spec.name, "1", _epoch(START, minutes=65), 1, 1,
                       {("transaction_type", "category"): 1}),
    ]  # fmt: skip
    PredictionWriter(store).write(spec.name, [orjson.loads(b.encode()) for b in buckets])
    record_transitions(store, spec.name, spec.name, [
        {**event, "window_end": START + timedelta(days=2), "state": "firing", "value": 0.8},
        {**event, "window_end": START + timedelta(days=3), "state": "resolved", "value": 0.9},
    ])  # fmt: skip


def _epoch(moment: datetime, minutes: int) -> int:
    return int((moment + timedelta(minutes=minutes)).timestamp())


def _sql_targets(spec: ProjectSpec) -> dict[str, str]:
    """Each SQL panel's query, by title, read back from the dashboards' JSON files' text."""
    found: dict[str, str] = {}
    for board in dashboards(spec, "banking_data").values():
        for panel in json.loads(dashboard_json(board))["panels"]:
            for target in panel["targets"]:
                if "rawSql" in target:
                    found[panel["title"]] = target["rawSql"]
    return found


def _run(
    store: Store, sql: str, start: datetime = START, end: datetime = END
) -> tuple[list[str], list[sa.Row[Any]]]:
    """The query's column names and rows, its macros expanded for the range start..end."""
    with store.connect() as conn:
        result = conn.execute(sa.text(expand_sql(sql, start, end)))
        return list(result.keys()), list(result.all())


def test_every_sql_panel_returns_the_shape_its_panel_draws(store: Store, spec: ProjectSpec) -> None:
    queries = _sql_targets(spec)
    assert len(queries) == 15
    results = {title: _run(store, sql) for title, sql in queries.items()}
    columns = {title: names for title, (names, _) in results.items()}
    rows = {title: found for title, (_, found) in results.items()}
    with store.connect() as conn:
        total, rejected = conn.execute(sa.text(
            "SELECT count(*), count(*) FILTER (WHERE decision = 'reject') FROM banking_data"
        )).one()  # fmt: skip
    assert 0 < rejected < total == 400

    # Decisions: stats are one count each; the pie and bars split the same rows.
    assert rows["Rejected"] == [(rejected,)] and rows["Approved"] == [(total - rejected,)]
    assert columns["Authorization decisions"] == ["decision", "transactions"]
    assert dict(rows["Authorization decisions"]) == {"approve": total - rejected,
                                                     "reject": rejected}  # fmt: skip
    bars = rows["Decisions by blacklisted card"]
    assert columns["Decisions by blacklisted card"] == ["decision", "blacklisted",
                                                        "not blacklisted"]  # fmt: skip
    assert sum(b + n for _, b, n in bars) == total
    assert columns["Decisions per hour"] == ["time", "metric", "transactions"]
    hourly = rows["Decisions per hour"]
    assert all(isinstance(t, Decimal) and t % 3600 == 0 for t, _, _ in hourly)
    assert sum(n for _, _, n in hourly) == total
    rejections = rows["Latest rejections"]
    assert len(rejections) == min(rejected, 100)
    assert all(r.fired_rules and r.explanation and r.rules_version == "1" for r in rejections)

    # Model health: long time series (time, metric, value), one series per name.
    primary = spec.metric
    for title, names in [("Drift score per feature", set(FEATURES)),
                         ("PSI per feature", set(FEATURES)),
                         (f"Realized vs estimated {primary}", {f"{primary} 1",
                                                               f"estimated_{primary} 1"}),
                         ("Label coverage", {"1"}), ("Share of drifted features", {"drift_share"}),
                         ("Refused share of records", {"1"}),
                         ("Alert states", {"auc-drop"})]:  # fmt: skip
        assert columns[title] == ["time", "metric", "value"], title
        assert {metric for _, metric, _ in rows[title]} == names, title
        assert all(isinstance(t, datetime) and isinstance(v, float | int)
                   for t, _, v in rows[title]), title  # fmt: skip
        times = [t for t, _, _ in rows[title]]
        assert times == sorted(times), f"{title}: Grafana needs rows in time order"
    assert [v for _, _, v in rows["Alert states"]] == [1, 0]
    refused = "Refused records by field (per hour)"
    assert columns[refused] == ["time", "metric", "value"]
    hour = Decimal(int(START.timestamp()))
    assert rows[refused] == [(hour, "(other) malformed", 1), (hour, "amount max", 3),
                             (hour + 3600, "transaction_type category", 1)]  # fmt: skip
    now = rows["Alerts now (latest transition of each)"]
    assert [(r.alert, r.state) for r in now] == [("auc-drop", "resolved")]


def test_the_time_filter_keeps_rows_out_of_the_dashboards_range(
    store: Store, spec: ProjectSpec
) -> None:
    queries = _sql_targets(spec)
    later = (END + timedelta(days=30), END + timedelta(days=31))
    assert _run(store, queries["Rejected"], *later)[1] == [(0,)]
    assert _run(store, queries["Drift score per feature"], *later)[1] == []

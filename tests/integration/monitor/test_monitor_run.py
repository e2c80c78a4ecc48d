"""``run_monitor`` end to end: predictions served by the real app and logged by its journal,
late labels, a day with a drifted feature; windows measured against the version's reference,
alerts judged and delivered once, and a second run that changes nothing."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tabops.monitor.performance import Calibrator, estimated_binary
from tabops.monitor.reference import reference_for
from tabops.monitor.run import run_monitor
from tabops.monitor.window import measure_window
from tabops.serve.app import create_app
from tabops.spec import ProjectSpec, ReferencePeriodSpec, parse_spec
from tabops.store import schema
from tabops.store.alerts import events
from tabops.store.monitoring import prediction_window, window_metrics
from tests.integration.serve.conftest import TABOPS, ServedProject, make_project
from tests.unit.model.conftest import synthetic_table

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("monitor-run")]

DAY0 = datetime(2026, 11, 2, tzinfo=UTC)
ALERTS = [
    {"name": "x-drift", "metric": "psi", "column": "x", "above": 0.2},
    {"name": "data-drift", "metric": "drift_share", "above": 0.3, "windows": 1},
    {"name": "auc-drop", "metric": "roc_auc", "below": 0.5, "min_rows": 50},
    # 300-row windows: x is tested by a p-value (monitor.drift_min_rows), which only 'below' reads.
    {"name": "x-distance", "metric": "drift_score", "column": "x", "above": 0.05},
    {"name": "x-p-value", "metric": "drift_score", "column": "x", "below": 0.01},
]


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> ServedProject:
    """A registered champion that served three days: two like its training data, one with
    ``x`` shifted; labels came for the first day only."""
    project = make_project(tmp_path_factory.mktemp("monitored"), rows=800)
    records = synthetic_table(900, seed=7).to_pylist()
    days = {"day0": records[:300], "day1": records[300:600],
            "day2": [{**r, "x": r["x"] + 3.0} for r in records[600:]]}  # fmt: skip
    with TestClient(create_app(project.spec, project.settings)) as client:
        for day, rows in days.items():
            body = [{k: _plain(v) for k, v in r.items() if k not in ("label", "id")} for r in rows]
            answer = client.post("/predict", json=body, headers={"x-request-id": day})
            assert answer.status_code == 200, answer.text
    store = project.ctx.store
    p = schema.predictions
    with store.connect() as conn:
        for offset, day in enumerate(days):
            conn.execute(
                sa.update(p).where(p.c.request_id.like(f"{day}-%"))
                .values(created_at=DAY0 + timedelta(days=offset, hours=6))
            )  # fmt: skip
        conn.execute(schema.labels.insert(), [
            {"project": "synthetic", "request_id": f"day0-{i}", "entity_id": None,
             "event_time": None, "label": r["label"], "source": "test",
             "received_at": DAY0 + timedelta(days=5)}
            for i, r in enumerate(days["day0"])
        ])  # fmt: skip
    raw = project.spec.model_dump(mode="json", exclude_none=True)
    (project.folder / "tabops.yaml").write_text(
        __import__("yaml").safe_dump(raw | {"monitor": {"alerts": ALERTS}})
    )
    return project


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def _values(frame, metric: str, column: str | None = None) -> list[float]:  # type: ignore[no-untyped-def]
    rows = frame[(frame["metric"] == metric)]
    if column is not None:
        rows = rows[rows["column_name"] == column]
    return [round(v, 6) for v in rows["value"]]


def test_windows_drift_performance_and_alerts(monitored: ServedProject) -> None:
    spec, ctx = monitored.spec, monitored.ctx
    assert len(spec.monitor.alerts) == 5
    result = run_monitor(spec, ctx)
    assert [(w.start, w.rows) for w in result.windows] == [
        (DAY0 + timedelta(days=d), 300) for d in range(3)
    ]
    assert result.skipped == {}
    stored = window_metrics(ctx.store, "synthetic", "synthetic")
    assert _values(stored, "rows") == [300, 300, 300]
    psi = _values(stored, "psi", "x")
    assert psi[0] < 0.2 and psi[1] < 0.2 and psi[2] > 1.0  # only the shifted day drifts
    assert _values(stored, "drifted", "x") == [0, 0, 1]
    assert _values(stored, "label_coverage") == [1, 0, 0]
    realized = _values(stored, "roc_auc")
    estimated = _values(stored, "estimated_roc_auc")
    assert len(realized) == 1 and realized[0] > 0.8  # labels only for the first day
    assert len(estimated) == 3 and abs(estimated[0] - realized[0]) < 0.08

    fired = {(t.alert, t.state, t.window_end) for t in result.transitions}
    assert ("x-drift", "firing", DAY0 + timedelta(days=3)) in fired
    assert ("x-p-value", "firing", DAY0 + timedelta(days=3)) in fired
    assert not any(t.alert in ("auc-drop", "x-distance") for t in result.transitions)
    assert result.delivery is not None and result.delivery.delivered == len(result.transitions)

    with TestClient(create_app(spec, monitored.settings)) as client:  # what Prometheus scrapes
        scraped = client.get("/metrics").text
    gauge = 'tabops_monitor_alert_firing{project="synthetic",alert="%s",severity="warning"}'
    assert f"{gauge % 'x-drift'} 1.0" in scraped and f"{gauge % 'auc-drop'} 0.0" in scraped
    assert 'tabops_monitor_value{project="synthetic",metric="psi",column="x"}' in scraped

    again = run_monitor(spec, ctx)  # the same windows again: replaced, nothing new
    assert len(window_metrics(ctx.store, "synthetic", "synthetic")) == len(stored)
    assert again.delivery is not None
    assert (again.delivery.recorded, again.delivery.delivered) == (0, 0)
    assert len(events(ctx.store, "synthetic")) == len(result.transitions)


def test_a_window_range_measures_only_its_windows(monitored: ServedProject) -> None:
    spec, ctx = monitored.spec, monitored.ctx
    result = run_monitor(spec, ctx, DAY0 + timedelta(days=1), DAY0 + timedelta(days=2))
    assert [w.start for w in result.windows] == [DAY0 + timedelta(days=1)]
    assert np.isfinite(parse_spec(spec.model_dump(mode="json")).monitor.drift_share)


def test_the_cli_runs_the_monitor_and_explains_bad_dates(monitored: ServedProject) -> None:
    def tabops(*args: str) -> subprocess.CompletedProcess[str]:
        command = [TABOPS, "monitor", "run", *args]
        return subprocess.run(command, cwd=monitored.folder, env=monitored.env(),
                              capture_output=True, text=True, timeout=600)  # fmt: skip

    result = tabops("--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [w["rows"] for w in document["windows"]] == [300, 300, 300]
    assert "x-drift" in {a["alert"] for a in document["alerts"]}
    printed = tabops("--since", "2026-11-03", "--until", "2026-11-04")
    assert printed.returncode == 0, printed.stderr
    assert "windows measured" in printed.stdout and "alert 'x-drift' FIRING" in printed.stdout
    typo = monitored.folder / "no" / "such" / "tabops.db"
    mistyped = subprocess.run(
        [TABOPS, "monitor", "run"], cwd=monitored.folder, capture_output=True, text=True,
        env=monitored.env(TABOPS_DATABASE_URL=f"sqlite:///{typo}", COLUMNS="1000"), timeout=600,
    )  # fmt: skip
    assert mistyped.returncode == 2, mistyped.stdout
    assert f"The tabops store {typo} does not exist" in mistyped.stderr
    assert not typo.parent.exists()  # no empty store made, to watch nothing from then on
    beside = monitored.folder / "tabops-typo.db"  # a folder where SQLite would make one
    report = subprocess.run(
        [TABOPS, "monitor", "report", "--out", "r.html"], cwd=monitored.folder,
        capture_output=True, text=True, timeout=600,
        env=monitored.env(TABOPS_DATABASE_URL=f"sqlite:///{beside}", COLUMNS="1000"),
    )  # fmt: skip
    assert report.returncode == 2, report.stdout
    assert f"The tabops store {beside} does not exist" in report.stderr
    assert not beside.exists() and not (monitored.folder / "r.html").exists()
    bad = tabops("--since", "yesterday")
    assert bad.returncode == 2 and "--since 'yesterday' is not an ISO 8601" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_labelled_reference_period_calibrates_the_estimates(monitored: ServedProject) -> None:
    spec, ctx = monitored.spec, monitored.ctx
    day0 = prediction_window(ctx.store, "synthetic", "synthetic", DAY0, DAY0 + timedelta(days=1))
    version = str(day0.served["model_version"].iloc[0])
    default = reference_for(spec, ctx, version)
    assert default.calibrated_on == "frozen test rows"

    labelled = _with_reference(spec, DAY0, DAY0 + timedelta(days=1))  # day 0: all labelled
    reference = reference_for(labelled, ctx, version)
    assert reference.calibrated_on.endswith(": 300 labelled rows")
    score = day0.served["score"].astype(float).to_numpy()
    truth = (day0.served["label"] == reference.positive).to_numpy(dtype=float)
    assert reference.calibration == Calibrator(truth, score).points() != default.calibration
    rows = measure_window(labelled, reference, day0)
    (estimate,) = [r for r in rows if r["metric"] == "estimated_roc_auc"]
    assert estimate["details"]["calibration"] == reference.calibrated_on
    assert reference.threshold is not None
    expected = estimated_binary(score, "roc_auc", reference.threshold, Calibrator(truth, score))
    assert estimate["value"] == pytest.approx(expected.value)

    unlabelled = _with_reference(spec, DAY0 + timedelta(days=1), DAY0 + timedelta(days=3))
    fallback = reference_for(unlabelled, ctx, version)
    assert fallback.calibration == default.calibration  # nothing to fit on: the test rows
    assert fallback.calibrated_on.startswith("frozen test rows (monitor.reference ")


def _with_reference(spec: ProjectSpec, start: datetime, end: datetime) -> ProjectSpec:
    period = ReferencePeriodSpec(start=start, end=end)
    return spec.model_copy(
        update={"monitor": spec.monitor.model_copy(update={"reference": period})}
    )


def test_a_firing_alert_resolves_when_its_windows_are_measured_again_on_corrected_data(
    monitored: ServedProject,
) -> None:
    """Last in this module: it rewrites the shifted day. An upstream bug shifted x on day 2;
    its predictions are logged again from the fixed feed, and the alert that fired on them
    is resolved (and delivered), not left firing forever; the bug back, it fires again."""
    from tabops.store.alerts import firing

    spec, ctx = monitored.spec, monitored.ctx
    run_monitor(spec, ctx)
    assert "x-drift" in firing(ctx.store, "synthetic", "synthetic")
    for shift in (-3.0, 3.0, -3.0):  # fixed, the bad feed back, fixed again
        _shift_day2(ctx, shift)
        result = run_monitor(spec, ctx)
        state = "resolved" if shift < 0 else "firing"
        assert ("x-drift", state) in {(t.alert, t.state) for t in result.transitions}
        assert ("x-drift" in firing(ctx.store, "synthetic", "synthetic")) == (shift > 0)
        assert result.delivery is not None and result.delivery.delivered >= 1
        again = run_monitor(spec, ctx)  # the same state: nothing new to record or deliver
        assert again.delivery is not None and again.delivery.recorded == 0


def _shift_day2(ctx: Any, shift: float) -> None:
    """Log day 2's predictions again with x moved by ``shift`` (a feed fixed, or broken)."""
    p = schema.predictions
    with ctx.store.connect() as conn:
        logged = conn.execute(
            sa.select(p.c.request_id, p.c.features).where(p.c.request_id.like("day2-%"))
        ).all()
        for request_id, features in logged:
            moved = json.loads(features) | {"x": json.loads(features)["x"] + shift}
            conn.execute(
                sa.update(p).where(p.c.request_id == request_id).values(features=json.dumps(moved))
            )

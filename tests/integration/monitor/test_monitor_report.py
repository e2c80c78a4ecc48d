"""``tabops monitor report`` end to end: a served, labelled and partly drifted prediction log
measured by ``run_monitor`` into a real store, then the page written from what was stored."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from fastapi.testclient import TestClient

from tabops.context import Context
from tabops.model.columns import feature_names
from tabops.monitor.report import gather_report
from tabops.monitor.report_html import SECTIONS, write_report
from tabops.monitor.run import run_monitor
from tabops.serve.app import create_app
from tabops.settings import Settings
from tabops.store import schema
from tabops.store.alerts import events
from tests.integration.serve.conftest import (
    TABOPS,
    ServedProject,
    make_project,
    served_spec_dict,
)
from tests.unit.model.conftest import synthetic_table

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("monitor-report")]

DAY0 = datetime(2026, 11, 2, tzinfo=UTC)
ALERTS = [
    {"name": "x-drift", "metric": "psi", "column": "x", "above": 0.2},
    {"name": "auc-drop", "metric": "roc_auc", "below": 0.5, "min_rows": 50},
]


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> ServedProject:
    """A champion that served three days (``x`` shifted on the last), labels for the first
    two, measured by the monitor."""
    project = make_project(tmp_path_factory.mktemp("report"), rows=800)
    records = synthetic_table(900, seed=11).to_pylist()
    days = {"day0": records[:300], "day1": records[300:600],
            "day2": [{**r, "x": r["x"] + 3.0} for r in records[600:]]}  # fmt: skip
    with TestClient(create_app(project.spec, project.settings)) as client:
        for day, rows in days.items():
            body = [{k: _plain(v) for k, v in r.items() if k not in ("label", "id")} for r in rows]
            answer = client.post("/predict", json=body, headers={"x-request-id": day})
            assert answer.status_code == 200, answer.text
    p = schema.predictions
    with project.ctx.store.connect() as conn:
        for offset, day in enumerate(days):
            conn.execute(
                sa.update(p).where(p.c.request_id.like(f"{day}-%"))
                .values(created_at=DAY0 + timedelta(days=offset, hours=6))
            )  # fmt: skip
        conn.execute(schema.labels.insert(), [
            {"project": "synthetic", "request_id": f"{day}-{i}", "entity_id": None,
             "event_time": None, "label": r["label"], "source": "test",
             "received_at": DAY0 + timedelta(days=5)}
            for day in ("day0", "day1") for i, r in enumerate(days[day])
        ])  # fmt: skip
    raw = yaml.safe_load((project.folder / "tabops.yaml").read_text())
    (project.folder / "tabops.yaml").write_text(
        yaml.safe_dump(raw | {"monitor": {"alerts": ALERTS}})
    )
    run_monitor(project.spec, project.ctx)
    return project


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def _write(project: ServedProject, path: Path, **span: datetime) -> str:
    report = gather_report(project.spec, project.ctx, **span)
    return write_report(report, path).read_text(encoding="utf-8")


def _section(page: str, key: str) -> str:
    """The HTML of one section: from its heading to the next one."""
    start = page.index(f'<h2 id="{key}">')
    following = page.find("<h2 ", start + 1)
    return page[start : following if following >= 0 else len(page)]


def test_the_page_shows_every_feature_section_and_alert(
    monitored: ServedProject, tmp_path: Path
) -> None:
    page = _write(monitored, tmp_path / "report.html")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") >= 6
    # Self-contained: nothing is loaded from elsewhere (SVG namespaces are names, not loads).
    assert not re.search(r'(?:src|href)\s*=\s*["\']?\s*(?:https?:)?//', page, re.IGNORECASE)
    assert "<script" not in page and "<link" not in page
    for key in SECTIONS:
        assert f'<h2 id="{key}">' in page
    features = _section(page, "features")
    for name in feature_names(monitored.spec):
        assert f'id="feature-{name}"' in features, name
    # The shifted feature is drifted in the latest window, and listed first.
    assert features.index('id="feature-x"') < min(
        features.index(f'id="feature-{n}"') for n in ("n", "color", "flag")
    )
    assert 'class="card drifted" id="feature-x"' in features
    # The others are folded away below the drifted one.
    assert features.index("<details>") < features.index('id="feature-color"')
    stored = events(monitored.ctx.store, "synthetic")
    assert any(e["alert"] == "x-drift" and e["state"] == "firing" for e in stored)
    alerts = _section(page, "alerts")
    for event in stored:
        assert f"<td>{event['alert']}</td><td>{event['state']}</td>" in alerts
    assert "x-drift" in _section(page, "summary")  # firing now


def test_performance_is_drawn_with_labels_and_explained_without(
    monitored: ServedProject, tmp_path: Path
) -> None:
    labelled = _section(_write(monitored, tmp_path / "all.html"), "performance")
    assert 'id="plot-performance"' in labelled
    assert ">realized 95% CI<" in labelled and ">estimated (CBPE)<" in labelled
    assert 'id="no-labels"' not in labelled
    # The last window alone has no labels: estimates only, and the page says why.
    late = _section(_write(monitored, tmp_path / "late.html", since=DAY0 + timedelta(days=2)),
                    "performance")  # fmt: skip
    assert 'id="no-labels"' in late and ">realized<" not in late
    assert ">estimated (CBPE)<" in late


@pytest.mark.postgres
def test_the_report_reads_a_postgresql_store(
    monitored: ServedProject, pg_url: str, tmp_path: Path
) -> None:
    """The same log, labels and reference copied into PostgreSQL and measured there."""
    postgres = Context(settings=Settings(home=monitored.home, database_url=pg_url))
    for table in (schema.predictions, schema.labels, schema.reference_profiles):
        with monitored.ctx.store.connect() as source:
            rows = [_aware(dict(r._mapping)) for r in source.execute(sa.select(table))]
        with postgres.store.connect() as target:
            target.execute(sa.insert(table), rows)
    run_monitor(monitored.spec, postgres)
    report = gather_report(monitored.spec, postgres)
    assert report.versions == {"1": 900} and len(report.windows) == 3
    page = write_report(report, tmp_path / "pg.html").read_text(encoding="utf-8")
    assert 'class="card drifted" id="feature-x"' in page
    assert ">realized 95% CI<" in _section(page, "performance")
    assert "<td>x-drift</td><td>firing</td>" in _section(page, "alerts")


def _aware(row: dict[str, object]) -> dict[str, object]:
    """SQLite gives back naive UTC datetimes: make them say so for PostgreSQL."""
    return {k: v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None else v
            for k, v in row.items()}  # fmt: skip


def _tabops(project: ServedProject, *args: str) -> subprocess.CompletedProcess[str]:
    command = [TABOPS, "monitor", "report", *args]
    return subprocess.run(command, cwd=project.folder, env=project.env(),
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def test_the_cli_writes_the_page_and_summarises_it(monitored: ServedProject) -> None:
    result = _tabops(monitored, "--out", "monitoring.html")
    assert result.returncode == 0, result.stderr
    written = monitored.folder / "monitoring.html"
    printed = " ".join(result.stdout.split())  # as one line, however the terminal wraps it
    assert printed.startswith(str(written.resolve())) and written.stat().st_size > 10_000
    assert "3 daily windows, 900 predictions, versions 1" in printed
    assert "1 of 4 features drifted (1 not compared); alerts firing: x-drift" in printed


def test_the_cli_asks_for_a_monitor_run_first(tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("unmeasured")
    fresh = ServedProject(folder, folder / ".tabops")
    (fresh.folder / "tabops.yaml").write_text(yaml.safe_dump(served_spec_dict()))
    result = _tabops(fresh)
    assert result.returncode == 2
    said = " ".join(result.stderr.split())
    assert "tabops.db does not exist: nothing was served, scored or ingested there" in said
    Context(settings=Settings(home=fresh.home)).store.ensure_migrated()  # a store, unmeasured
    result = _tabops(fresh)
    assert result.returncode == 2
    said = " ".join(result.stderr.split())
    assert "Nothing measured yet for project 'synthetic' on the prediction log" in said
    assert "Run 'tabops monitor run' first" in said
    assert "Traceback" not in result.stderr
    assert not (fresh.folder / "monitor-report.html").exists()

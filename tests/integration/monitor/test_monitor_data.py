"""``tabops monitor run --data``: files and tables measured like the prediction log, on real
SQLite and PostgreSQL stores: drift flagged, realized performance from a target column,
windows by the spec's timestamp, contract-refused values counted, chunking that changes
nothing, reruns that replace, series and alerts kept apart from the log's, clear errors."""

from __future__ import annotations

import gzip
import json
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
import yaml
from fastapi.testclient import TestClient

from tabops.errors import DataError, NotFoundError, TabopsError
from tabops.monitor.batch import DataSource, run_data_monitor
from tabops.monitor.report import gather_report
from tabops.monitor.report_html import write_report
from tabops.monitor.run import run_monitor
from tabops.serve.app import create_app
from tabops.settings import Settings
from tabops.store.alerts import events, firing
from tabops.store.monitoring import window_metrics
from tests.integration.serve.conftest import TABOPS, ServedProject, make_project, served_spec_dict
from tests.unit.model.conftest import add_snapshot, synthetic_table

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("monitor-data")]

DAY0 = datetime(2026, 11, 2, tzinfo=UTC)
ALERTS = [{"name": "x-drift", "metric": "psi", "column": "x", "above": 0.2}]
#: The spec's timestamp column (not a feature: the trained model does not take it).
STAMP = {"at": {"type": "datetime", "role": "timestamp", "nullable": True}}


def _monitored_spec(project: ServedProject) -> None:
    raw = yaml.safe_load((project.folder / "tabops.yaml").read_text())
    raw["columns"] |= STAMP
    raw["columns"]["label"]["categories"] = ["no", "yes"]  # a label outside them is refused
    raw["monitor"] = {"alerts": ALERTS}
    (project.folder / "tabops.yaml").write_text(yaml.safe_dump(raw))


def _rows(count: int, seed: int, shift: float = 0.0, start: datetime | None = None) -> pa.Table:
    """Rows like the training data (``x`` moved by ``shift``), with ``at`` times 5 minutes
    apart from ``start`` when given."""
    table = synthetic_table(count, seed=seed)
    table = table.set_column(1, "x", pa.compute.add(table.column("x"), shift))
    if start is not None:
        stamps = [start + timedelta(minutes=5 * i) for i in range(count)]
        table = table.append_column("at", pa.array(stamps, pa.timestamp("us", tz="UTC")))
    return table


def _values(frame: pd.DataFrame, metric: str, column: str | None = None) -> list[float]:
    rows = frame[frame["metric"] == metric]
    if column is not None:
        rows = rows[rows["column_name"] == column]
    return [round(v, 6) for v in rows["value"]]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> ServedProject:
    """A registered champion whose log holds one day of 300 predictions like its training
    data; the spec has a timestamp column and an alert on ``x``'s PSI."""
    project = make_project(tmp_path_factory.mktemp("data-monitor"), rows=800)
    records = synthetic_table(300, seed=7).to_pylist()
    body = [{k: _plain(v) for k, v in r.items() if k not in ("label", "id")} for r in records]
    with TestClient(create_app(project.spec, project.settings)) as client:
        answer = client.post("/predict", json=body)
        assert answer.status_code == 200, answer.text
    _monitored_spec(project)
    return project


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def test_a_drifted_file_is_flagged_apart_from_the_log(
    project: ServedProject, tmp_path: Path
) -> None:
    spec, ctx = project.spec, project.ctx
    logged = run_monitor(spec, ctx)
    assert [w.rows for w in logged.windows] == [300] and logged.transitions == []
    log_before = window_metrics(ctx.store, "synthetic", "synthetic")
    events_before = events(ctx.store, "synthetic")

    drifted = tmp_path / "shifted.parquet"
    pq.write_table(_rows(400, seed=3, shift=3.0).drop(["label"]), drifted)
    result = run_data_monitor(spec, ctx, DataSource(str(drifted)))
    assert result.source == "shifted" and result.data is not None
    assert (result.data.read, result.data.measured, result.data.refused) == (400, 400, 0)
    [window] = result.windows
    assert window.rows == 400 and window.end - window.start == timedelta(days=1)
    assert window.start <= datetime.now(UTC) < window.end  # no timestamp: the run's window
    stored = window_metrics(ctx.store, "synthetic", "synthetic", source="shifted")
    assert _values(stored, "psi", "x")[0] > 1.0 and _values(stored, "drifted", "x") == [1]
    assert _values(stored, "psi", "color")[0] < 0.2
    assert _values(stored, "label_coverage") == [0] and _values(stored, "roc_auc") == []
    assert _values(stored, "refused_rows") == [0]
    assert [t.alert for t in result.transitions] == ["x-drift"]
    assert result.transitions[0].state == "firing"

    # The log's series, alerts and what /metrics reports from them are untouched.
    log_after = window_metrics(ctx.store, "synthetic", "synthetic")
    unchanged = ["window_end", "metric", "column_name", "value"]
    pd.testing.assert_frame_equal(log_after[unchanged], log_before[unchanged])
    assert events(ctx.store, "synthetic", source="predictions") == events_before
    assert firing(ctx.store, "synthetic", "synthetic") == {}
    again = run_monitor(spec, ctx)  # judging the log again: the batch does not speak for it
    assert again.transitions == [] and again.delivery is not None
    assert (again.delivery.recorded, again.delivery.delivered) == (0, 0)
    [event] = events(ctx.store, "synthetic", source="shifted")
    assert (event["alert"], event["state"], event["notified_at"] is not None) == (
        "x-drift", "firing", True,
    )  # fmt: skip

    # The report of the file's series: its verdicts and alerts, not the log's.
    report = gather_report(spec, ctx, source="shifted")
    assert report.rows == 400 and report.firing == ["x-drift"]
    assert [v.name for v in report.features if v.drifted] == ["x"]
    page = tmp_path / "shifted.html"
    write_report(report, page)
    html = page.read_text()  # the file's rows are not kept, nor labelled through /feedback
    assert "this series keeps its measurements (scores, rates), not its rows" in html
    assert "POST /feedback" not in html
    assert gather_report(spec, ctx).firing == []  # the log's
    with pytest.raises(TabopsError, match=r"on the source 'nope'\. Measured sources: .*shifted"):
        gather_report(spec, ctx, source="nope")


def _csv(table: pa.Table, path: Path, bad: dict[int, dict[str, str]]) -> None:
    """``table`` as CSV text (gzipped when the name says so), with some values replaced."""
    frame = table.to_pandas()
    frame["at"] = frame["at"].map(lambda t: t.isoformat())
    frame = frame.astype(object)
    for row, values in bad.items():
        for column, value in values.items():
            frame.at[row, column] = value
    text = frame.to_csv(index=False)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)


def test_a_file_with_the_target_gets_realized_performance_per_timestamp_window(
    project: ServedProject, tmp_path: Path
) -> None:
    spec, ctx = project.spec, project.ctx
    labelled = tmp_path / "labelled.csv.gz"
    rows = _rows(500, seed=5, start=DAY0 + timedelta(hours=10))  # 168, 288 and 44 per day
    _csv(rows, labelled, {3: {"x": "abc"}, 4: {"color": "purple"}, 5: {"label": "maybe"},
                          6: {"at": "not a time"}})  # fmt: skip
    result = run_data_monitor(spec, ctx, DataSource(str(labelled)), name="labelled", chunk_rows=64)
    counts = result.data
    assert counts is not None and counts.read == 500 and counts.rejected == 0
    # x and color refused: counted, not measured; a row without a valid time: in no window.
    assert (counts.refused, counts.unplaced, counts.measured) == (2, 1, 497)
    assert [(w.start, w.rows) for w in result.windows] == [
        (DAY0, 168 - 3), (DAY0 + timedelta(days=1), 288), (DAY0 + timedelta(days=2), 44),
    ]  # fmt: skip
    stored = window_metrics(ctx.store, "synthetic", "synthetic", source="labelled")
    assert _values(stored, "refused_rows") == [2, 0, 0]
    refused = stored[stored["metric"] == "refused_values"]
    assert {(r.column_name, r.value, r.details) for r in refused.itertuples()} == {
        ("x", 1.0, json.dumps({"type": 1})),
        ("color", 1.0, json.dumps({"category": 1})),
        ("label", 1.0, json.dumps({"category": 1})),
    }
    coverage = _values(stored, "label_coverage")
    assert coverage == [round(164 / 165, 6), 1.0, 1.0]  # 'maybe': refused, unlabelled
    realized = _values(stored, "roc_auc")
    estimated = _values(stored, "estimated_roc_auc")
    assert len(realized) == 3 and min(realized[:2]) > 0.8
    assert all(abs(r - e) < 0.1 for r, e in zip(realized[:2], estimated, strict=False))
    assert max(_values(stored, "psi", "x")[:2]) < 0.2  # 44 rows: too few to say

    # The same file in one chunk: the same measurements. Run twice: replaced, not added.
    for _ in range(2):
        run_data_monitor(spec, ctx, DataSource(str(labelled)), name="whole", chunk_rows=10**6)
    whole = window_metrics(ctx.store, "synthetic", "synthetic", source="whole")
    compared = ["window_end", "metric", "column_name", "value", "details"]
    pd.testing.assert_frame_equal(whole[compared], stored[compared])


def test_since_and_until_select_rows_by_timestamp(project: ServedProject, tmp_path: Path) -> None:
    path = tmp_path / "days.parquet"
    pq.write_table(_rows(600, seed=9, start=DAY0), path)  # 50 hours from DAY0
    result = run_data_monitor(
        project.spec, project.ctx, DataSource(str(path)), name="days",
        start=DAY0 + timedelta(days=1), end=DAY0 + timedelta(days=2),
    )  # fmt: skip
    assert [(w.start, w.rows) for w in result.windows] == [(DAY0 + timedelta(days=1), 288)]
    assert result.data is not None and result.data.outside == 600 - 288


def test_errors_name_the_file_column_or_version(project: ServedProject, tmp_path: Path) -> None:
    spec, ctx = project.spec, project.ctx
    with pytest.raises(DataError, match=r"missing\.parquet does not exist"):
        run_data_monitor(spec, ctx, DataSource(str(tmp_path / "missing.parquet")))
    partial = tmp_path / "partial.parquet"
    pq.write_table(_rows(20, seed=1).drop(["x", "color"]), partial)
    with pytest.raises(DataError, match=r"partial\.parquet lacks .*\['color', 'x'\]"):
        run_data_monitor(spec, ctx, DataSource(str(partial)))
    whole = tmp_path / "whole.parquet"
    pq.write_table(_rows(20, seed=1), whole)
    with pytest.raises(NotFoundError, match="has no version 99"):
        run_data_monitor(spec, ctx, DataSource(str(whole)), version="99")
    with pytest.raises(TabopsError, match="prediction log's series"):
        run_data_monitor(spec, ctx, DataSource(str(whole)), name="predictions")
    with pytest.raises(TabopsError, match="has no timestamp column"):
        run_data_monitor(spec, ctx, DataSource(str(whole)), start=DAY0)


def _cli(project: ServedProject, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    command = [TABOPS, "monitor", "run", *args]
    return subprocess.run(command, cwd=project.folder, env=project.env(COLUMNS="400", **env),
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def test_the_cli_measures_a_file_and_explains_bad_options(
    project: ServedProject, tmp_path: Path
) -> None:
    path = tmp_path / "batch-2026.parquet"
    pq.write_table(_rows(200, seed=2), path)
    done = _cli(project, "--data", str(path), "--version", "1", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["source"] == "batch-2026" and document["data"]["measured"] == 200
    assert [w["rows"] for w in document["windows"]] == [200]
    printed = _cli(project, "--data", str(path), "--name", "nightly")
    assert printed.returncode == 0, printed.stderr
    assert "Monitoring nightly" in printed.stdout and "rows read" in printed.stdout
    for args, message in [
        (["--data", "postgresql://host/db"], "name the table to read with --table"),
        (["--data", str(path), "--table", "t"], "--table goes with a database URL"),
        (["--name", "x"], "--name goes with --data"),
        (["--data", str(path), "--name", "a b"], "not a valid source name"),
        (["--data", str(tmp_path / "nope.csv")], "nope.csv does not exist"),
    ]:
        bad = _cli(project, *args)
        assert bad.returncode != 0 and message in bad.stderr, bad.stderr
        assert "Traceback" not in bad.stderr


@dataclass
class PgProject(ServedProject):
    """A served project whose store is a PostgreSQL database."""

    database_url: str = ""

    @property
    def settings(self) -> Settings:
        return Settings(home=self.home, database_url=self.database_url)

    def env(self, **extra: str) -> dict[str, str]:
        return super().env(TABOPS_DATABASE_URL=self.database_url, **extra)


@pytest.mark.postgres
def test_a_postgresql_table_on_a_postgresql_store(tmp_path: Path, pg_url: str) -> None:
    folder = tmp_path / "pg"
    folder.mkdir()
    (folder / "tabops.yaml").write_text(yaml.safe_dump(served_spec_dict()))
    project = PgProject(folder, folder / ".tabops", database_url=pg_url)
    add_snapshot(project.ctx, project.spec, synthetic_table(800))
    assert project.train_and_register() == "1"
    _monitored_spec(project)
    rows = pa.concat_tables([
        _rows(288, seed=4, start=DAY0),  # day 0: like training
        _rows(288, seed=6, shift=3.0, start=DAY0 + timedelta(days=1)),  # day 1: drifted
    ]).to_pandas()  # fmt: skip
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    rows.to_sql("scored", engine, index=False)
    engine.dispose()
    done = _cli(project, "--data", pg_url, "--table", "scored", "--chunk-rows", "50", "--json")
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    assert document["source"] == "scored" and document["data"]["read"] == 576
    assert [(w["start"][:10], w["rows"]) for w in document["windows"]] == [
        ("2026-11-02", 288), ("2026-11-03", 288),
    ]  # fmt: skip
    assert [(a["alert"], a["state"]) for a in document["alerts"]] == [("x-drift", "firing")]
    stored = window_metrics(project.ctx.store, "synthetic", "synthetic", source="scored")
    psi = _values(stored, "psi", "x")
    assert psi[0] < 0.2 and psi[1] > 1.0
    realized = _values(stored, "roc_auc")  # x moved, labels not: the model fails on day 1
    assert realized[0] > 0.8 and realized[1] < 0.7
    assert window_metrics(project.ctx.store, "synthetic", "synthetic").empty  # the log: none

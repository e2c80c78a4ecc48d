"""Refused requests end to end: the real app refuses bad requests on every prediction route,
counts them on /metrics by field and reason, stores them per minute when it stops (through
the prediction log's writer), and ``run_monitor`` turns them into per-window metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tabops.monitor.run import run_monitor
from tabops.serve.app import create_app
from tabops.store import schema
from tabops.store.monitoring import window_metrics
from tabops.store.predictions import PredictionWriter
from tabops.store.rejections import RejectedBucket, refused_counts
from tests.integration.serve.conftest import ServedProject, make_project, valid_record

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("monitor-rejections")]

DAY0 = datetime(2026, 11, 2, tzinfo=UTC)
EVER = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
#: (field, reason) -> records refused, for the requests :func:`_serve` sends.
REFUSED = {
    ("color", "missing"): 1, ("color", "category"): 1, ("flag", "missing"): 1,
    ("x", "type"): 1, ("x", "max"): 1, ("x", "min"): 1,
    ("(other)", "unknown_field"): 1, ("(other)", "malformed"): 2,
}  # fmt: skip
REQUESTS, RECORDS, SERVED = 9, 11, 7


def _serve(client: TestClient) -> dict[tuple[str, str], float]:
    """Good and bad requests on every prediction route; what /metrics counted then."""
    no_color = {k: v for k, v in valid_record().items() if k != "color"}
    no_flag = {k: v for k, v in valid_record().items() if k != "flag"}
    refused: list[Any] = [
        ("/predict", no_color), ("/predict", valid_record(x="bad")),
        ("/predict", valid_record(x=500)), ("/predict", valid_record(zzz=1)),
        ("/predict", valid_record(color="mauve")),
        ("/predict", [valid_record(), no_flag, valid_record()]),  # the batch's 3 records
        ("/invocations", {"dataframe_records": [valid_record(x=-500)]}),
        ("/v2/models/synthetic/infer", {"inputs": []}),  # a payload of the wrong shape
    ]  # fmt: skip
    for path, body in refused:
        answer = client.post(path, json=body)
        assert answer.status_code == 422, (path, answer.text)
    malformed = client.post(
        "/predict", content=b'{"x": ', headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400  # the body is not JSON
    # Not refusals of the content: another media type, another model's name.
    assert (
        client.post("/predict", content=b"x", headers={"content-type": "text/plain"}).status_code
        == 415
    )
    assert client.post("/v2/models/other/infer", json={"inputs": []}).status_code == 404
    for n in range(5):
        assert client.post("/predict", json=valid_record(x=n)).status_code == 200
    records = {"dataframe_records": [valid_record(), valid_record(x=2)]}
    assert client.post("/invocations", json=records).status_code == 200

    counted: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "tabops_rejected_fields_total":
                counted[(sample.labels["field"], sample.labels["reason"])] = sample.value
            elif sample.name == "tabops_rejected_requests_total":
                counted[("(requests)", "")] = sample.value
    return counted


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServedProject, Any]]:
    project = make_project(tmp_path_factory.mktemp("refused"))
    with TestClient(create_app(project.spec, project.settings)) as client:
        counted = _serve(client)
    # Leaving the client stopped the server: its current minute was journaled and stored.
    yield project, counted


def test_metrics_count_refusals_by_field_and_reason(served: tuple[ServedProject, Any]) -> None:
    _, counted = served
    assert counted == {**REFUSED, ("(requests)", ""): REQUESTS}


def test_the_store_holds_the_counts_once_the_server_stopped(
    served: tuple[ServedProject, Any],
) -> None:
    project, _ = served
    store = project.ctx.store
    counts = refused_counts(store, "synthetic", "synthetic", *EVER)
    assert counts.requests == {"1": (REQUESTS, RECORDS)}
    stored = {(name, reason): n for name, reasons in counts.fields["1"].items()
              for reason, n in reasons.items()}  # fmt: skip
    assert stored == REFUSED
    with store.connect() as conn:  # per minute: every row's minute starts a minute
        minutes = conn.execute(sa.select(schema.rejected_fields.c.minute)).scalars().all()
    assert minutes and all(m.second == 0 and m.microsecond == 0 for m in minutes)


def test_the_monitor_measures_refusals_per_window(
    served: tuple[ServedProject, Any], tmp_path: Path
) -> None:
    from tabops.monitor.report import gather_report
    from tabops.monitor.report_html import write_report

    project, _ = served
    spec, ctx, store = project.spec, project.ctx, project.ctx.store
    when = DAY0 + timedelta(hours=6)
    with store.connect() as conn:  # into a known day, predictions and refusals alike
        for table in (schema.rejected_requests, schema.rejected_fields):
            conn.execute(sa.update(table).values(minute=when))
        conn.execute(sa.update(schema.predictions).values(created_at=when))
    # Two days later the server only refused (stored as the prediction log stores it).
    only = RejectedBucket("late-0", "synthetic", "1", int((DAY0 + timedelta(days=2)).timestamp()),
                          requests=4, records=4, fields={("x", "type"): 4})  # fmt: skip
    PredictionWriter(store).write("synthetic", [orjson.loads(only.encode())])

    result = run_monitor(spec, ctx)
    assert [(w.start, w.rows) for w in result.windows] == [
        (DAY0, SERVED),
        (DAY0 + timedelta(days=2), 0),
    ]
    stored = window_metrics(store, "synthetic", "synthetic")
    first = stored[stored["window_start"].map(_utc) == DAY0]
    values = {(r.metric, r.column_name): r.value for r in first.itertuples()}
    assert values[("rejected_requests", None)] == REQUESTS
    assert values[("rejected_rate", None)] == pytest.approx(RECORDS / (RECORDS + SERVED))
    fields = first[first["metric"] == "rejected_field"]
    assert {r.column_name: r.value for r in fields.itertuples()} == {
        "color": 2,
        "flag": 1,
        "x": 3,
        "(other)": 3,
    }
    details = {r.column_name: json.loads(r.details) for r in fields.itertuples()}
    assert details["x"] == {"reasons": {"max": 1, "min": 1, "type": 1}, "rows": RECORDS + SERVED}
    assert details["(other)"]["reasons"] == {"malformed": 2, "unknown_field": 1}

    last = stored[stored["window_start"].map(_utc) == DAY0 + timedelta(days=2)]
    values = {(r.metric, r.column_name): r.value for r in last.itertuples()}
    assert values == {("rows", None): 0, ("rejected_requests", None): 4,
                      ("rejected_rate", None): 1.0, ("rejected_field", "x"): 4}  # fmt: skip
    page = tmp_path / "report.html"
    write_report(gather_report(spec, ctx, None, None, None), str(page))
    shown = page.read_text(encoding="utf-8")
    assert "requests serving refused" in shown and "rows the data contract refused" not in shown


def _utc(moment: Any) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

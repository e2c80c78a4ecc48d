"""POST /feedback: ground-truth labels by request_id (re-sent: replaced, one row) or by entity
id and event time, stored in the workspace store's labels table; labels that are not a class
of the model are refused and nothing is stored; labels naming no logged prediction are listed as
unknown and kept only when the spec accepts them; ``stored`` counts what is kept."""

from __future__ import annotations

import math
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from tabops.serve.app import create_app
from tabops.serve.http import ApiError
from tabops.serve.model import ServedModel
from tabops.serve.routes.feedback import Label, _label_row
from tabops.serve.state import ServeState
from tests.integration.serve.checks import check_response, shared_project
from tests.integration.serve.conftest import ServedProject, valid_record

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve")]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> ServedProject:
    return shared_project(tmp_path_factory)


def labels(project: ServedProject, **where: Any) -> list[dict[str, Any]]:
    clause = " AND ".join(f"{k} = ?" for k in where)
    with sqlite3.connect(project.home / "tabops.db") as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            f"SELECT * FROM labels WHERE {clause}", tuple(where.values())
        ).fetchall()
    return [dict(r) for r in rows]


def send(client: TestClient, *items: dict[str, Any], **extra: Any) -> Any:
    response = client.post("/feedback", json={"labels": list(items), **extra})
    assert not check_response(response.status_code, response.content, response.headers)
    return response


def predicted(client: TestClient, **record: Any) -> str:
    response = client.post("/predict", json=valid_record(**record))
    assert response.status_code == 200, response.text
    return str(response.json()["request_id"])


def test_a_label_by_request_id_is_stored_and_a_resent_one_replaces_it(
    client: TestClient, project: ServedProject
) -> None:
    request_id = predicted(client)
    response = send(client, {"request_id": request_id, "label": "yes"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "stored": 1,
        "status": "stored",
        "unknown_request_ids": [],
        "duplicate_request_ids": [],
    }
    [row] = labels(project, request_id=request_id)
    assert row["label"] == "yes" and row["project"] == "synthetic" and row["source"] == "api"
    assert (
        send(client, {"request_id": request_id, "label": "no"}, source="review").status_code == 200
    )
    [row] = labels(project, request_id=request_id)
    assert row["label"] == "no" and row["source"] == "review"


def test_labels_for_the_records_of_a_batch_use_their_request_ids(
    client: TestClient, project: ServedProject
) -> None:
    response = client.post("/predict", json=[valid_record(x=0.1), valid_record(x=-0.1)])
    ids = [p["request_id"] for p in response.json()["predictions"]]
    assert send(client, *({"request_id": i, "label": "no"} for i in ids)).json()["stored"] == 2
    assert [labels(project, request_id=i)[0]["label"] for i in ids] == ["no", "no"]


def test_a_label_by_entity_id_and_event_time(client: TestClient, project: ServedProject) -> None:
    entity = f"cust-{uuid.uuid4().hex[:8]}"
    predicted(client, id=entity)
    response = send(
        client, {"entity_id": entity, "event_time": "2026-03-01T10:00:00+02:00", "label": "yes"}
    )
    assert response.status_code == 200, response.text
    [row] = labels(project, entity_id=entity)
    assert row["label"] == "yes" and row["request_id"] is None
    stored = datetime.fromisoformat(row["event_time"])
    stored = stored if stored.tzinfo else stored.replace(tzinfo=UTC)
    assert stored == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_an_entity_label_labels_the_predictions_made_until_its_event_time(
    client: TestClient, project: ServedProject
) -> None:
    """Without an event_time, every prediction of the entity (a transaction's fraud, by its
    id); with one, those made at or before it (a customer's churn), so a transaction's own
    time, earlier than its prediction, labels none."""
    from tabops.store.monitoring import prediction_window

    before = datetime.now(UTC)
    untimed, timed, own = (f"tx-{uuid.uuid4().hex[:8]}" for _ in range(3))
    for entity in (untimed, timed, own):
        predicted(client, id=entity)
    response = send(
        client,
        {"entity_id": untimed, "label": "yes"},
        {"entity_id": timed, "event_time": "2999-01-01T00:00:00Z", "label": "yes"},
        {"entity_id": own, "event_time": before.isoformat(), "label": "yes"},
    )
    assert response.json()["stored"] == 3
    deadline = time.monotonic() + 60
    while True:  # the journal copies predictions to the store in the background
        window = prediction_window(
            project.ctx.store, "synthetic", "synthetic", before, datetime(2999, 1, 1, tzinfo=UTC)
        ).served
        found = dict(zip(window["entity_id"], window["label"], strict=True))
        if {untimed, timed, own} <= set(found) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert (found[untimed], found[timed], found.get(own)) == ("yes", "yes", None)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"request_id": "r-unknown-class", "label": "maybe"}, "not one of the classes"),
        ({"request_id": "r-bool", "label": True}, "not one of the classes"),
        ({"request_id": "r-number", "label": 1.0}, "not one of the classes"),
        ({"label": "yes"}, "give a request_id, or an entity_id (with the outcome's"),
        ({"event_time": "2026-03-01T10:00:00Z", "label": "yes"}, "give a request_id"),
        ({"request_id": "r-1"}, "label"),
        ({"request_id": "r-1", "label": "yes", "extra": 1}, "extra"),
        ({"request_id": "r" * 65, "label": "yes"}, "request_id"),
        ({"request_id": "r-\x00", "label": "yes"}, "request_id"),
        (
            {"entity_id": "c\x00", "event_time": "2026-03-01T10:00:00Z", "label": "yes"},
            "entity_id",
        ),
        ({"entity_id": "c", "event_time": "yesterday", "label": "yes"}, "event_time"),
        (
            {"entity_id": "c", "event_time": "0001-01-01T00:00:00+01:00", "label": "yes"},
            "event_time is outside",
        ),
    ],
)
def test_invalid_labels_are_refused_422_and_nothing_is_stored(
    client: TestClient, project: ServedProject, item: dict[str, Any], message: str
) -> None:
    good = {"request_id": f"r-good-{uuid.uuid4().hex[:8]}", "label": "yes"}
    response = send(client, good, item)  # the good label is not stored either
    assert response.status_code == 422, response.text
    assert message in response.json()["error"]["message"]
    assert labels(project, request_id=good["request_id"]) == []


def test_request_ids_always_fit_the_store_columns(
    client: TestClient, project: ServedProject
) -> None:
    """A client's X-Request-ID is kept up to 56 characters, so that a batch row's "-<n>" still
    fits the 64 characters of the predictions' and labels' request_id columns."""
    from tabops.store import schema

    columns = (schema.predictions.c.request_id, schema.labels.c.request_id)
    width = min(cast(sa.String, column.type).length or 0 for column in columns)
    limit = project.spec.serve.max_batch_rows
    for sent in ("a" * 56, "b" * 57, "c" * 64, "d" * 200):
        response = client.post(
            "/predict", json=[valid_record()] * limit, headers={"x-request-id": sent}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["request_id"] == (sent if len(sent) <= 56 else body["request_id"])
        assert body["request_id"] != sent or len(sent) <= 56
        assert max(len(p["request_id"]) for p in body["predictions"]) <= width
    last = body["predictions"][-1]["request_id"]
    assert send(client, {"request_id": last, "label": "yes"}).status_code == 200


@pytest.mark.parametrize(
    "body", [{"labels": []}, {}, {"labels": "yes"}, {"labels": [{}] * 10_001}, []]
)
def test_malformed_feedback_bodies_are_refused(client: TestClient, body: Any) -> None:
    response = client.post("/feedback", json=body)
    assert response.status_code == 422, response.text
    assert not check_response(response.status_code, response.content, response.headers)


@pytest.mark.parametrize("label", [math.nan, math.inf, -math.inf])
def test_a_regression_label_must_be_finite(label: float) -> None:
    """The label value is checked against the served model: a regression model's is a finite
    number (JSON's NaN/Infinity literals parse to these)."""
    state = cast(ServeState, SimpleNamespace(spec=SimpleNamespace(name="p")))
    regression = cast(ServedModel, SimpleNamespace(classes=None))
    with pytest.raises(ApiError, match=r"labels\[3\]\.label must be finite"):
        _label_row(state, regression, 3, Label(request_id="r-1", label=label), "api")
    finite = _label_row(state, regression, 3, Label(request_id="r-1", label=2.5), "api")
    assert finite["label"] == "2.5"


# -- which labels are kept (issue 11, item 11) ----------------------------------------------------

#: A label to send: a logged prediction's request_id (by position) or an id no prediction has.
SENT = st.tuples(
    st.integers(0, 4) | st.uuids().map(lambda u: f"unknown-{u.hex[:12]}"),
    st.sampled_from(["yes", "no"]),
)


def stored_labels(project: ServedProject, ids: list[str]) -> dict[str, str]:
    return {i: row["label"] for i in ids for row in labels(project, request_id=i)}


@pytest.fixture(scope="module")
def logged_ids(project: ServedProject) -> list[str]:
    """Five request ids whose predictions are in the store."""
    with TestClient(create_app(project.spec, project.settings)) as client:
        response = client.post("/predict", json=[valid_record()] * 5)
        return [p["request_id"] for p in response.json()["predictions"]]


def accepting(project: ServedProject, accept: bool) -> TestClient:
    spec = project.spec
    feedback = spec.serve.feedback.model_copy(update={"accept_unknown_ids": accept})
    serve = spec.serve.model_copy(update={"feedback": feedback})
    return TestClient(create_app(spec.model_copy(update={"serve": serve}), project.settings))


@pytest.mark.parametrize("accept", [False, True], ids=["default", "accept_unknown_ids"])
def test_stored_counts_the_labels_kept_naming_unknown_and_duplicate_ids(
    project: ServedProject, logged_ids: list[str], accept: bool
) -> None:
    """Any mix of logged and unknown ids, some sent twice: one row per id (its last label),
    unknown ids listed and kept only when the spec accepts them, and ``stored`` is exactly the
    number of rows kept: sent = stored + duplicates' extra copies + unknown not kept."""
    with accepting(project, accept) as client:

        @settings(max_examples=25)
        @given(st.lists(SENT, min_size=1, max_size=8))
        def check(sent: list[tuple[int | str, str]]) -> None:
            items = [
                {"request_id": logged_ids[i] if isinstance(i, int) else i, "label": label}
                for i, label in sent
            ]
            ids = [item["request_id"] for item in items]
            last = {item["request_id"]: item["label"] for item in items}
            unknown = [i for i in dict.fromkeys(ids) if i not in logged_ids]
            twice = [i for i in dict.fromkeys(ids) if ids.count(i) > 1]
            response = send(client, *items)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["unknown_request_ids"] == unknown
            assert body["duplicate_request_ids"] == twice
            kept = {i: v for i, v in last.items() if accept or i not in unknown}
            assert body["stored"] == len(kept)
            extra_copies = sum(ids.count(i) - 1 for i in body["duplicate_request_ids"])
            not_kept = 0 if accept else len(body["unknown_request_ids"])
            assert len(items) == body["stored"] + extra_copies + not_kept
            assert stored_labels(project, list(last)) == kept

        check()


def test_the_issue_example_two_labels_one_id_is_stored_1(
    client: TestClient, project: ServedProject
) -> None:
    request_id = predicted(client)
    response = send(client, {"request_id": request_id, "label": "yes"},
                    {"request_id": request_id, "label": "no"})  # fmt: skip
    assert response.json()["stored"] == 1
    assert response.json()["duplicate_request_ids"] == [request_id]
    assert [row["label"] for row in labels(project, request_id=request_id)] == ["no"]


def test_labels_are_refused_not_dropped_while_the_store_cannot_take_predictions(
    client: TestClient, project: ServedProject
) -> None:
    """A batch run holds the embedded store's write lock: this server's predictions wait in
    its journal, so their labels cannot be told from unknown ones. They are refused with 503
    and Retry-After, and kept once the store takes the predictions."""
    locker = sqlite3.connect(project.home / "tabops.db", timeout=1)
    locker.execute("BEGIN IMMEDIATE")  # what a batch run's transaction holds
    try:
        request_id = predicted(client)
        refused = client.post("/feedback", json={"labels": [{"request_id": request_id,
                                                              "label": "yes"}]})  # fmt: skip
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "store_unavailable"
        assert "retry-after" in refused.headers
    finally:
        locker.rollback()
        locker.close()
    deadline = time.monotonic() + 60
    while True:  # the journal writes the prediction once it can; the client retries
        answer = send(client, {"request_id": request_id, "label": "yes"})
        if answer.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert answer.json()["stored"] == 1
    assert [row["label"] for row in labels(project, request_id=request_id)] == ["yes"]

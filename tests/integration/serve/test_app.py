"""The service in-process: predictions, the error shape, logging, model info, metrics."""

from __future__ import annotations

import sqlite3
import time

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tabops.serve.app import create_app
from tabops.serve.http import Guard
from tabops.serve.routes.predict import FastPredict
from tests.integration.serve.conftest import ServedProject, valid_record

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve")]


def _logged(project: ServedProject, request_id: str, timeout: float = 60) -> tuple:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(project.home / "tabops.db") as conn:
            row = conn.execute(
                "SELECT model_version, score, decision, features FROM predictions "
                "WHERE request_id = ?", (request_id,),
            ).fetchone()  # fmt: skip
        if row:
            return row
        time.sleep(0.05)
    raise AssertionError(f"{request_id} was not logged")


def test_predict_one_record_answers_label_score_threshold_and_logs_it(
    client: TestClient, project: ServedProject
) -> None:
    record = valid_record(value=4.5)  # 'value': an ignored column, sent as a file's row has it
    response = client.post("/predict", json=record, headers={"x-request-id": "req-1"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "synthetic" and body["request_id"] == "req-1"
    assert response.headers["x-request-id"] == "req-1"
    assert body["label"] in ("yes", "no") and 0 <= body["score"] <= 1
    assert body["label"] == ("yes" if body["score"] >= body["threshold"] else "no")
    version, score, decision, features = _logged(project, "req-1")
    assert version == body["version"] and decision == body["label"]
    assert score == pytest.approx(body["score"])
    assert '"color":"red"' in features
    assert '"value"' not in features  # accepted, never logged


def test_post_predict_is_answered_before_routing_and_documented_by_its_route(
    client: TestClient, project: ServedProject
) -> None:
    """One implementation of /predict: FastPredict answers every POST /predict (one record or a
    batch, as the OpenAPI document says); the FastAPI route only documents it and never runs."""
    documented = client.get("/openapi.json").json()["paths"]["/predict"]
    assert set(documented) == {"post"}
    body = documented["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["anyOf"][0] == {"$ref": "#/components/schemas/Record"}
    assert body["anyOf"][1]["items"] == {"$ref": "#/components/schemas/Record"}
    assert client.post("/predict", json=valid_record()).status_code == 200
    assert client.post("/predict", json=[valid_record()]).status_code == 200
    routed_only = create_app(project.spec, project.settings)
    routed_only.user_middleware = [
        m for m in routed_only.user_middleware if m.cls is not FastPredict
    ]
    without_fast_path = TestClient(routed_only, raise_server_exceptions=False)  # no lifespan
    assert without_fast_path.post("/predict", json=valid_record()).status_code == 500


def test_health_is_an_open_documented_alias_of_livez(
    client: TestClient, project: ServedProject
) -> None:
    """The original churn and fraud APIs' load balancers call /health: the liveness answer,
    with no key, documented in the OpenAPI document, and not a middleware (no per-request
    cost on /predict): a route, like /livez."""
    assert client.get("/health").json() == client.get("/livez").json() == {"status": "alive"}
    unkeyed = TestClient(create_app(project.spec, project.settings.model_copy(
        update={"api_keys": [SecretStr("pk-health-0123456789abcdef")]})))  # fmt: skip
    assert unkeyed.get("/health").status_code == 200  # open, as /livez (no lifespan needed)
    documented = client.get("/openapi.json").json()["paths"]["/health"]
    assert set(documented) == {"get"} and "/livez" in documented["get"]["summary"]
    app = create_app(project.spec, project.settings)
    assert [m.cls for m in app.user_middleware] == [Guard, FastPredict]


def test_a_reused_request_id_keeps_the_first_row_and_is_counted(
    client: TestClient, project: ServedProject
) -> None:
    first = client.post("/predict", json=valid_record(x=1.0), headers={"x-request-id": "dup-1"})
    again = client.post("/predict", json=valid_record(x=2.0), headers={"x-request-id": "dup-1"})
    assert first.status_code == again.status_code == 200
    assert '"x":1.0' in _logged(project, "dup-1")[3]  # the first request's row
    deadline = time.monotonic() + 60
    while client.get("/readyz").json()["prediction_log"]["duplicate_rows"] < 1:
        assert time.monotonic() < deadline, "the reused id was not counted"
        time.sleep(0.05)
    assert "tabops_prediction_log_duplicate_rows 1.0" in client.get("/metrics").text


def test_a_client_cannot_take_the_form_of_server_request_ids(client: TestClient) -> None:
    made = client.post("/predict", json=valid_record()).json()["request_id"]
    assert made.startswith("tabops-")
    claimed = client.post("/predict", json=valid_record(), headers={"x-request-id": made + "0"})
    assert claimed.json()["request_id"] != made + "0"
    assert claimed.json()["request_id"].startswith("tabops-")


def test_compiled_scores_match_the_sklearn_pipeline(
    client: TestClient, project: ServedProject
) -> None:
    import pandas as pd

    from tabops.registry.models import CHAMPION, registry_for

    records = [valid_record(x=x / 10, color=c, n=None) for x in range(-20, 20, 3)
               for c in ("red", "blue")]  # fmt: skip
    response = client.post("/predict", json=records)
    assert response.status_code == 200, response.text
    assert client.get("/model").json()["predictor"] == "onnx"
    registry = registry_for(project.spec, project.ctx)
    version = registry.by_alias(CHAMPION)
    assert version is not None
    pipeline = registry.load_pipeline(version)
    frame = pd.DataFrame(
        [{"x": r["x"], "n": float("nan"), "color": r["color"], "flag": 1.0,
          "when": pd.Timestamp(r["when"]).tz_convert(None)} for r in records]
    )  # fmt: skip
    expected = pipeline.predict_proba(frame)[:, list(pipeline.classes_).index("yes")]
    served = [p["score"] for p in response.json()["predictions"]]
    assert served == pytest.approx(list(expected), abs=1e-5)


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({k: v for k, v in valid_record().items() if k != "x"}, "x"),
        (valid_record(extra=1), "extra"),
        (valid_record(x="1,5"), "x"),
        (valid_record(n=1.5), "n"),
        (valid_record(n=2**63 - 1), "n"),
        (valid_record(flag=1), "flag"),
        (valid_record(x=None), "x"),
        (valid_record(x=1000), "x"),
        (valid_record(color="purple"), "color"),
        (valid_record(when="yesterday"), "when"),
    ],
)
def test_invalid_records_get_422_naming_the_field(
    client: TestClient, record: dict, field: str
) -> None:
    response = client.post("/predict", json=record)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_records" and error["request_id"]
    assert [d["field"] for d in error["details"]] == [field]
    assert field in error["message"]


def test_model_info_and_metrics(client: TestClient) -> None:
    info = client.get("/model").json()
    assert info["name"] == "synthetic" and info["alias"] == "champion"
    assert info["input_schema"]["when"] == "datetime" and info["data_snapshot"]
    assert "test_roc_auc" in info["metrics"]
    client.post("/predict", json=valid_record())
    text = client.get("/metrics").text
    assert 'tabops_request_duration_seconds_count{route="/predict",status="200"}' in text
    assert (
        f'tabops_model_info{{model="synthetic",predictor="onnx",version="{info["version"]}"}} 1.0'
        in text
    )

"""MLflow's scoring protocol (/invocations) and the Open Inference Protocol v2, with payloads
shaped as those projects document them, answered in their formats and agreeing with /predict.

MLflow (docs "Deploy MLflow Model as a Local Inference Server", Accepted Input Formats):
``{"dataframe_split": pandas_df.to_dict(orient="split")}``, ``{"dataframe_records": ...}``,
``{"instances": [{"a": "s1", "b": 1}, ...]}``, ``{"inputs": {"a": ["s1", "s2"], ...}}``, an
optional ``"params"`` object, and CSV (``Content-Type: text/csv``); the answer is
``{"predictions": [...]}``, what the pyfunc's predict() returns (the most probable class).

OIP v2 (KServe's "Open Inference Protocol (V2)" spec): health ``GET v2/health/live`` and
``v2/health/ready``, ``GET v2/models/<name>`` metadata, ``GET v2/models/<name>/ready``, and
``POST v2/models/<name>/infer`` with ``{"id": "42", "inputs": [{"name", "shape", "datatype",
"data"}], "outputs": [{"name": ...}]}`` answered ``{"model_name", "model_version", "id",
"outputs": [{"name", "shape", "datatype", "data"}]}``."""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.integration.serve.checks import check_response, shared_project
from tests.integration.serve.conftest import ServedProject, valid_record

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve")]

RECORDS = [
    valid_record(x=x / 4, n=n, color=color, flag=n % 2 == 0, when=f"2026-03-0{1 + n}T1{n}:00:00Z")
    for n, (x, color) in enumerate(zip(range(-8, 9, 2), ["red", "blue", "green"] * 3, strict=True))
]
FRAME = pd.DataFrame(RECORDS)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> ServedProject:
    return shared_project(tmp_path_factory)


@pytest.fixture
def scores(client: TestClient) -> list[float]:
    """P(yes) of each record from /predict, the reference for the other protocols."""
    response = client.post("/predict", json=RECORDS)
    assert response.status_code == 200, response.text
    return [p["score"] for p in response.json()["predictions"]]


def most_probable(scores: list[float]) -> list[str]:
    """The pipeline's predict(): the argmax of (P(no), P(yes)); a tie is the first class."""
    return ["yes" if s > 0.5 else "no" for s in scores]


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    assert not check_response(response.status_code, response.content, response.headers)
    return response.json()


MLFLOW_JSON = {
    "dataframe_split (pandas to_json orient=split, with index)": lambda: {
        "dataframe_split": json.loads(FRAME.to_json(orient="split"))
    },
    "dataframe_split (columns and data only)": lambda: {
        "dataframe_split": {"columns": list(FRAME.columns), "data": FRAME.values.tolist()}
    },
    "dataframe_records": lambda: {"dataframe_records": json.loads(FRAME.to_json(orient="records"))},
    "instances (list of records)": lambda: {"instances": RECORDS},
    "inputs (list of records)": lambda: {"inputs": RECORDS},
    "inputs (dict of columns)": lambda: {
        "inputs": {column: [r[column] for r in RECORDS] for column in RECORDS[0]}
    },
    "instances (dict of columns)": lambda: {
        "instances": {column: [r[column] for r in RECORDS] for column in RECORDS[0]}
    },
    "dataframe_split with params": lambda: {
        "dataframe_split": json.loads(FRAME.to_json(orient="split")),
        "params": {"max_answer_len": 10},
    },
}


@pytest.mark.parametrize("payload", MLFLOW_JSON.values(), ids=list(MLFLOW_JSON))
@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; format=pandas-split"]
)
def test_mlflow_json_payloads_answer_the_most_probable_class(
    client: TestClient, scores: list[float], payload: Any, content_type: str
) -> None:
    response = client.post(
        "/invocations", content=json.dumps(payload()), headers={"content-type": content_type}
    )
    assert ok(response) == {"predictions": most_probable(scores)}


@pytest.mark.parametrize(
    "body",
    [FRAME.to_csv(index=False), FRAME.to_csv(index=False, lineterminator="\r\n")],
    ids=["lf", "crlf"],
)
def test_mlflow_csv_answers_the_most_probable_class(
    client: TestClient, scores: list[float], body: str
) -> None:
    response = client.post("/invocations", content=body, headers={"content-type": "text/csv"})
    assert ok(response) == {"predictions": most_probable(scores)}


def test_mlflow_csv_empty_fields_are_nulls(client: TestClient) -> None:
    frame = FRAME.copy()
    frame["n"] = frame["n"].astype("Int64")
    frame.loc[0, "n"] = None
    frame.loc[1, "when"] = None
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    response = client.post(
        "/invocations", content=buffer.getvalue(), headers={"content-type": "text/csv"}
    )
    assert len(ok(response)["predictions"]) == len(RECORDS)


CSV_HEADER = "x,n,color,flag,when\n"


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("1_0,3,red,true,", "x"),  # Python's float() would take these
        ("0x1F,3,red,true,", "x"),
        ("nan,3,red,true,", "x"),
        ("0.5,1_000,red,true,", "n"),
        ("0.5,18446744073709551616,red,true,", "n"),  # past 64 bits
    ],
)
def test_mlflow_csv_numbers_are_plain_digits(client: TestClient, line: str, field: str) -> None:
    body = CSV_HEADER + line + "\n"
    response = client.post("/invocations", content=body, headers={"content-type": "text/csv"})
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]
    assert not check_response(response.status_code, response.content, response.headers)


def test_mlflow_csv_numbers_in_every_plain_form_are_read(client: TestClient) -> None:
    lines = [
        "0.5,3,red,true,",
        "-1.5e1,-3,red,false,",
        ".5,0,blue,TRUE,",
        "5.,7,green,False,",
        " 0.5 ,+3,red, yes ,NA",
        "1,3.0,blue,n,",
    ]  # as a file is read: trimmed, tokens, nulls
    body = CSV_HEADER + "\n".join(lines) + "\n"
    response = client.post("/invocations", content=body, headers={"content-type": "text/csv"})
    assert len(ok(response)["predictions"]) == len(lines)


def test_mlflow_csv_with_a_column_twice_is_refused(client: TestClient) -> None:
    body = "x,n,color,flag,when,x\n0.5,3,red,true,,0.7\n"
    response = client.post("/invocations", content=body, headers={"content-type": "text/csv"})
    assert response.status_code == 422, response.text
    assert "twice" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ([{"x": 1}], 422),  # a top-level list: MLflow refuses it too
        ({"dataframe_split": {}, "inputs": []}, 422),  # two format keys
        ({"columns": ["x"], "data": [[1]]}, 422),  # MLflow 1.x's unwrapped split
        ({"dataframe_split": {"columns": ["x", "x"], "data": [[1, 2]]}}, 422),
        ({"dataframe_split": {"columns": ["x"], "data": [[1, 2]]}}, 422),
        ({"inputs": {"x": [1, 2], "n": [1]}}, 422),  # columns of different lengths
        ({"instances": [1.0, 2.0, 5.0]}, 422),  # a bare tensor has no column names
        ({"dataframe_records": [valid_record(x="one")]}, 422),
    ],
)
def test_mlflow_payloads_that_cannot_be_records_are_refused(
    client: TestClient, payload: Any, status: int
) -> None:
    response = client.post("/invocations", json=payload)
    assert response.status_code == status, response.text
    assert not check_response(response.status_code, response.content, response.headers)


@pytest.mark.parametrize("key", ["instances", "dataframe_records", "inputs"])
def test_an_mlflow_request_sent_to_predict_is_told_where_to_go(
    client: TestClient, key: str
) -> None:
    response = client.post("/predict", json={key: RECORDS[:2]})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_payload"
    assert f"an MLflow scoring request ('{key}'): POST it to /invocations" in error["message"]
    assert not check_response(response.status_code, response.content, response.headers)
    # A record that has a column named like an MLflow key stays a record: refused by field.
    named = client.post("/predict", json={**RECORDS[0], "instances": 1})
    assert named.json()["error"]["code"] == "invalid_records"


def test_a_csv_body_at_predict_is_told_where_csv_is_read(client: TestClient) -> None:
    csv = FRAME.head(2).to_csv(index=False)
    response = client.post("/predict", content=csv, headers={"content-type": "text/csv"})
    assert response.status_code == 415, response.text
    assert "/invocations also takes text/csv" in response.json()["error"]["message"]
    assert client.post("/invocations", content=csv,
                       headers={"content-type": "text/csv"}).status_code == 200  # fmt: skip


# -- OIP v2 ------------------------------------------------------------------------------------

DATATYPES = {"x": "FP64", "n": "INT64", "color": "BYTES", "flag": "BOOL", "when": "BYTES"}


def tensors(records: list[dict[str, Any]], column_shape: bool = False) -> list[dict[str, Any]]:
    """One input tensor per column: shape [n], or [n, 1] with nested data as Triton sends."""
    out: list[dict[str, Any]] = []
    for name, datatype in DATATYPES.items():
        values = [r[name] for r in records]
        if column_shape:
            out.append({"name": name, "shape": [len(values), 1], "datatype": datatype,
                        "data": [[v] for v in values]})  # fmt: skip
        else:
            out.append({"name": name, "shape": [len(values)], "datatype": datatype,
                        "data": values, "parameters": {}})  # fmt: skip
    return out


def test_oip_health_and_model_metadata(client: TestClient) -> None:
    assert ok(client.get("/v2/health/live")) == {"live": True}
    assert ok(client.get("/v2/health/ready")) == {"ready": True}
    assert ok(client.get("/v2/models/synthetic/ready")) == {"name": "synthetic", "ready": True}
    server = ok(client.get("/v2"))
    assert server["name"] == "tabops" and server["extensions"] == []
    metadata = ok(client.get("/v2/models/synthetic"))
    assert metadata["name"] == "synthetic" and metadata["versions"] == ["1"]
    inputs = {t["name"]: t["datatype"] for t in metadata["inputs"]}
    assert {k: inputs[k] for k in DATATYPES} == DATATYPES
    assert inputs["id"] == "BYTES"
    assert all(t["shape"] == [-1] for t in metadata["inputs"])
    assert [o["name"] for o in metadata["outputs"]] == ["label", "score"]


@pytest.mark.parametrize("column_shape", [False, True], ids=["shape [n]", "shape [n, 1]"])
def test_oip_infer_answers_label_and_score_as_predict_does(
    client: TestClient, column_shape: bool
) -> None:
    predict = client.post("/predict", json=RECORDS).json()["predictions"]
    request = {
        "id": "42",
        "parameters": {},
        "inputs": tensors(RECORDS, column_shape),
        "outputs": [{"name": "label"}, {"name": "score"}],
    }
    body = ok(client.post("/v2/models/synthetic/infer", json=request))
    assert body["model_name"] == "synthetic" and body["model_version"] == "1"
    assert body["id"] == "42"
    label, score = body["outputs"]
    n = len(RECORDS)
    assert label == {"name": "label", "shape": [n], "datatype": "BYTES",
                     "data": [p["label"] for p in predict]}  # fmt: skip
    assert score["name"] == "score" and score["shape"] == [n] and score["datatype"] == "FP64"
    assert score["data"] == pytest.approx([p["score"] for p in predict])


def test_oip_infer_without_an_id_answers_the_request_id(client: TestClient) -> None:
    request = {"inputs": tensors(RECORDS[:1])}
    response = client.post(
        "/v2/models/synthetic/infer", json=request, headers={"x-request-id": "oip-1"}
    )
    assert ok(response)["id"] == "oip-1"


def test_oip_infer_answers_only_the_requested_outputs_in_their_order(client: TestClient) -> None:
    predict = client.post("/predict", json=RECORDS).json()["predictions"]
    request = {"inputs": tensors(RECORDS), "outputs": [{"name": "score"}]}
    (score,) = ok(client.post("/v2/models/synthetic/infer", json=request))["outputs"]
    assert score["name"] == "score"
    assert score["data"] == pytest.approx([p["score"] for p in predict])
    request["outputs"] = [{"name": "score"}, {"name": "label"}]
    both = ok(client.post("/v2/models/synthetic/infer", json=request))["outputs"]
    assert [t["name"] for t in both] == ["score", "label"]


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ([{"name": "probability"}], "'probability'"),
        ([{"name": "score"}, {"name": "prediction"}], "'prediction'"),
        ({"name": "score"}, "list of objects"),
        (["score"], "list of objects"),
    ],
)
def test_oip_unknown_or_malformed_outputs_are_refused(
    client: TestClient, outputs: Any, message: str
) -> None:
    request = {"inputs": tensors(RECORDS[:1]), "outputs": outputs}
    response = client.post("/v2/models/synthetic/infer", json=request)
    assert response.status_code == 422, response.text
    error = response.json()["error"]["message"]
    assert message in error and "outputs" in error
    assert not check_response(response.status_code, response.content, response.headers)


def test_oip_infer_of_the_kserve_spec_example_names_what_is_wrong(client: TestClient) -> None:
    """The spec's own example (inputs input0/input1) is not this model's: 422 naming fields."""
    example = {
        "id": "42",
        "inputs": [
            {"name": "input0", "shape": [2, 2], "datatype": "UINT32", "data": [1, 2, 3, 4]},
            {"name": "input1", "shape": [3], "datatype": "BOOL", "data": [True]},
        ],
        "outputs": [{"name": "output0"}],
    }
    response = client.post("/v2/models/synthetic/infer", json=example)
    assert response.status_code == 422, response.text
    assert "input0" in response.json()["error"]["message"]
    assert not check_response(response.status_code, response.content, response.headers)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/models/mymodel/infer"),
        ("GET", "/v2/models/mymodel"),
        ("GET", "/v2/models/mymodel/ready"),
        ("POST", "/v2/models/SYNTHETIC/infer"),
    ],
)
def test_oip_wrong_model_name_is_404_in_the_error_shape(
    client: TestClient, method: str, path: str
) -> None:
    response = client.request(method, path, json={"inputs": tensors(RECORDS[:1])})
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["code"] == "not_found" and "synthetic" in error["message"]
    assert not check_response(response.status_code, response.content, response.headers)


@pytest.mark.parametrize(
    ("tensor", "message"),
    [
        ({"name": "x", "shape": [2], "datatype": "FP64", "data": [0.5]}, "does not match"),
        ({"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [[0.5, 1]]}, "one column"),
        ({"name": "x", "shape": [1], "datatype": "FP128", "data": [0.5]}, "datatype"),
        ({"name": "x", "shape": [1], "datatype": ["FP64"], "data": [0.5]}, "datatype"),
        ({"name": "x", "shape": [1] * 100_000, "datatype": "FP64", "data": [0.5]}, "one column"),
        ({"name": "x", "shape": "1", "datatype": "FP64", "data": [0.5]}, "lists"),
        ({"shape": [1], "datatype": "FP64", "data": [0.5]}, "name"),
    ],
)
def test_oip_malformed_tensors_are_refused(
    client: TestClient, tensor: dict[str, Any], message: str
) -> None:
    response = client.post("/v2/models/synthetic/infer", json={"inputs": [tensor]})
    assert response.status_code == 422, response.text
    assert message in response.json()["error"]["message"]
    assert not check_response(response.status_code, response.content, response.headers)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "x", "datatype": "INT8", "data": [800.7]}, "inputs[0] (x): data[0] 800.7 is not"),
        ({"name": "n", "datatype": "INT8", "data": [300]}, "inputs[1] (n): data[0] 300 is not"),
        ({"name": "color", "datatype": "FP64", "data": [1.0]}, "inputs[2] (color): datatype FP64"),
        ({"name": "x", "datatype": "FP64", "data": [0.5]}, "inputs[1] (x): the name is also"),
    ],
    ids=["fraction in INT8", "past INT8", "FP64 for a category", "a name twice"],
)
def test_oip_tensors_that_do_not_fit_their_datatype_or_column_are_422(
    client: TestClient, change: dict[str, Any], message: str
) -> None:
    """The tensor that does not fit is named; nothing reaches the model (issue 11, item 8)."""
    inputs = tensors(RECORDS[:1])
    position = 1 if "also" in message else None  # a second tensor of that name
    edited = {"shape": [1], **change}
    if position is None:
        inputs = [{**t, **edited} if t["name"] == change["name"] else t for t in inputs]
    else:
        inputs.insert(position, edited)
    response = client.post("/v2/models/synthetic/infer", json={"inputs": inputs})
    assert response.status_code == 422, response.text
    assert message in response.json()["error"]["message"]
    assert not check_response(response.status_code, response.content, response.headers)

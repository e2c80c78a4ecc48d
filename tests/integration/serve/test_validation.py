"""S1 over HTTP: Hypothesis mutations of valid records, one class at a time, sent to /predict
(single and batch), /invocations and OIP v2: every one is refused 422 naming the field (413
for a batch over the limit, 400 for JSON that is not JSON, such as NaN literals), the model is
never called with it, and records generated from the schema are never refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabops.serve.schema import RequestSchema
from tabops.spec import parse_spec
from tests.integration.serve.checks import (
    CountingPredictor,
    check_response,
    sent_text,
    shared_project,
)
from tests.integration.serve.conftest import ServedProject, served_spec_dict, valid_record
from tests.integration.serve.strategies import mutations, valid_records

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve")]

SCHEMA = RequestSchema(parse_spec(served_spec_dict()))
MUTATIONS = mutations(SCHEMA)
HTTP = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
JSON_HEADERS = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> ServedProject:
    return shared_project(tmp_path_factory)


@pytest.fixture
def model(client: TestClient) -> Iterator[CountingPredictor]:
    """The served predictor, counted."""
    served = client.app.state.tabops.served  # type: ignore[attr-defined]
    counting = CountingPredictor(served.predictor)
    served.predictor = counting
    yield counting
    served.predictor = counting.inner


def is_json(payload: Any) -> bool:
    try:
        json.dumps(payload, allow_nan=False)
    except ValueError:
        return False
    return True


def tensor_values(record: dict[str, Any]) -> bool:
    """Whether each value can be one element of an OIP tensor (JSON scalars)."""
    return is_json(record) and not any(isinstance(v, list | dict) for v in record.values())


def encode(payload: Any) -> bytes:
    """JSON as Python writes it: arbitrary-size integers, and NaN/Infinity literals when asked."""
    return json.dumps(payload, allow_nan=True).encode()


def post(client: TestClient, path: str, payload: Any) -> Any:
    body = encode(payload)
    response = client.post(path, content=body, headers=JSON_HEADERS)
    problems = check_response(
        response.status_code, response.content, response.headers, sent_text(body)
    )
    assert not problems, problems
    return response


def assert_refused(response: Any, field: str, record: int | None = None) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_records"
    where = {} if record is None else {"record": record}
    assert [{k: d[k] for k in ("field", "record") if k in d} for d in error["details"]] == [
        {"field": field, **where}
    ]
    assert field in error["message"]


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
@HTTP
@given(data=st.data())
def test_mutations_are_refused_naming_the_field_and_never_reach_the_model(
    client: TestClient, model: CountingPredictor, kind: str, data: st.DataObject
) -> None:
    record, field = data.draw(MUTATIONS[kind])
    before = model.calls
    response = post(client, "/predict", record)
    if not is_json(record):
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_json"
    else:
        assert_refused(response, field)
    assert model.calls == before


@pytest.mark.parametrize("kind", sorted(set(MUTATIONS) - {"non_finite"}))
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_mutation_in_a_batch_refuses_the_batch_naming_record_and_field(
    client: TestClient, model: CountingPredictor, kind: str, data: st.DataObject
) -> None:
    batch = data.draw(st.lists(valid_records(SCHEMA), min_size=1, max_size=4))
    position = data.draw(st.integers(0, len(batch)))
    record, field = data.draw(MUTATIONS[kind].filter(lambda case: is_json(case[0])))
    batch.insert(position, record)
    before = model.calls
    assert_refused(post(client, "/predict", batch), field, position)
    # The same batch through MLflow's protocol.
    assert_refused(post(client, "/invocations", {"dataframe_records": batch}), field, position)
    assert model.calls == before


@HTTP
@given(data=st.data())
def test_mutations_through_oip_v2_are_refused_naming_the_field(
    client: TestClient, model: CountingPredictor, data: st.DataObject
) -> None:
    kind = data.draw(st.sampled_from(sorted(set(MUTATIONS) - {"non_finite", "drop_column"})))
    record, field = data.draw(MUTATIONS[kind].filter(lambda case: tensor_values(case[0])))
    inputs = [
        {"name": name, "shape": [1], "datatype": oip_datatype(name, value), "data": [value]}
        for name, value in record.items()
    ]
    before = model.calls
    response = post(client, "/v2/models/synthetic/infer", {"inputs": inputs})
    if response.json()["error"]["code"] == "invalid_payload":  # refused by its tensor's datatype
        assert response.status_code == 422 and f"({field})" in response.json()["error"]["message"]
    else:
        assert_refused(response, field, 0)
    assert model.calls == before


#: The datatypes of the served model's feature tensors (as its OIP metadata gives them).
OIP_TYPES = {"x": "FP64", "n": "INT64", "color": "BYTES", "flag": "BOOL", "when": "BYTES"}


@pytest.mark.parametrize("identifier", [2**63, 2**64 - 1, -(2**63)])
def test_an_oip_v2_id_anywhere_in_64_bits_is_accepted(
    client: TestClient, model: CountingPredictor, identifier: int
) -> None:
    # The mutation tests send every other field with oip_datatype: it must fit the column.
    record = valid_record(id=identifier)
    inputs = [
        {"name": name, "shape": [1], "datatype": oip_datatype(name, value), "data": [value]}
        for name, value in record.items()
    ]
    response = post(client, "/v2/models/synthetic/infer", {"inputs": inputs})
    assert response.status_code == 200, response.text


def oip_datatype(name: str, value: Any) -> str:
    """A feature's datatype; for another name, one that holds the value."""
    if name in OIP_TYPES:
        return OIP_TYPES[name]
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int | float):  # an integral float is an integer (an id may be 3.0)
        whole = isinstance(value, int) or value.is_integer()
        if whole and -(2**63) <= value < 2**63:
            return "INT64"
        return "UINT64" if whole and 0 <= value < 2**64 else "FP64"  # an id may be 2**63
    return "BYTES"  # a string, or null


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(records=st.lists(valid_records(SCHEMA), min_size=1, max_size=5), single=st.booleans())
def test_records_generated_from_the_schema_are_never_refused(
    client: TestClient, model: CountingPredictor, records: list[dict[str, Any]], single: bool
) -> None:
    before = model.rows
    response = post(client, "/predict", records[0] if single else records)
    assert response.status_code == 200, response.text
    body = response.json()
    answers = [body] if single else body["predictions"]
    assert [a["label"] for a in answers] == [
        "yes" if a["score"] >= a["threshold"] else "no" for a in answers
    ]
    assert model.rows == before + (1 if single else len(records))


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/predict", []),
        ("/invocations", {"dataframe_records": []}),
        ("/invocations", {"dataframe_split": {"columns": ["x"], "data": []}}),
        ("/invocations", {"inputs": []}),
        ("/v2/models/synthetic/infer", {"inputs": [{"name": "x", "shape": [0],
                                                    "datatype": "FP64", "data": []}]}),
    ],
)  # fmt: skip
def test_an_empty_batch_is_refused(client: TestClient, path: str, payload: Any) -> None:
    response = post(client, path, payload)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_records"


@pytest.mark.parametrize("protocol", ["predict", "records", "split", "columns", "csv", "oip"])
def test_a_batch_over_the_limit_is_refused_413_before_validation(
    client: TestClient, model: CountingPredictor, project: ServedProject, protocol: str
) -> None:
    limit = project.spec.serve.max_batch_rows
    records = [valid_record(x="not validated")] * (limit + 1)
    payload: Any = {
        "predict": records,
        "records": {"dataframe_records": records},
        # A malformed last row: the count is refused before any row is read.
        "split": {"dataframe_split": {"columns": ["x"], "data": [[0.5]] * limit + [[1, 2]]}},
        "columns": {"inputs": {"x": [0.5] * (limit + 1)}},
        "oip": {"inputs": [{"name": "x", "shape": [limit + 1], "datatype": "FP64",
                            "data": [0.5] * (limit + 1)}]},
    }.get(protocol)  # fmt: skip
    path = {"predict": "/predict", "oip": "/v2/models/synthetic/infer"}.get(
        protocol, "/invocations"
    )
    if protocol == "csv":  # the line past the limit is malformed: it is never read
        body = "x\n" + "0.5\n" * (limit + 1) + "0.5,extra\n"
        response = client.post(path, content=body, headers={"content-type": "text/csv"})
    else:
        response = post(client, path, payload)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "batch_too_large"
    assert str(limit) in response.json()["error"]["message"]
    ok = post(client, "/predict", [valid_record()] * limit)
    assert ok.status_code == 200 and len(ok.json()["predictions"]) == limit
    assert model.rows == limit


NON_FINITE = ["NaN", "-NaN", "Infinity", "-Infinity"]
#: Valid JSON numbers past float64's range.
OUT_OF_RANGE = ["1e999", "-1e400", "1" + "0" * 400, "-" + "9" * 500 + ".5"]


def literal_body(path: str, literal: str) -> bytes:
    record = '{"x": LIT, "n": 3, "color": "red", "flag": true, "when": null}'
    template = {
        "/predict": record,
        "/invocations": '{"dataframe_records": [' + record + "]}",
        "/v2/models/synthetic/infer": '{"inputs": [{"name": "x", "shape": [1], '
        '"datatype": "FP64", "data": [LIT]}]}',
    }[path]
    return template.replace("LIT", literal).encode()


@pytest.mark.parametrize("literal", NON_FINITE)
@pytest.mark.parametrize("path", ["/predict", "/invocations", "/v2/models/synthetic/infer"])
def test_non_finite_number_literals_are_refused_as_invalid_json(
    client: TestClient, model: CountingPredictor, literal: str, path: str
) -> None:
    response = client.post(path, content=literal_body(path, literal), headers=JSON_HEADERS)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_json"
    assert not check_response(response.status_code, response.content, response.headers)
    assert model.calls == 0


@pytest.mark.parametrize("literal", OUT_OF_RANGE)
@pytest.mark.parametrize("path", ["/predict", "/invocations", "/v2/models/synthetic/infer"])
def test_numbers_past_float64_are_422_out_of_range_naming_the_field(
    client: TestClient, model: CountingPredictor, literal: str, path: str
) -> None:
    """Valid JSON, so not "invalid JSON": the field (or, in an array, the place) is named."""
    body = literal_body(path, literal)
    response = client.post(path, content=body, headers=JSON_HEADERS)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "number_out_of_range"
    where = f"the number at character {body.index(literal.encode())}" if "v2" in path else "'x'"
    assert error["message"].startswith(f"{where}: the number is out of range")
    assert not check_response(response.status_code, response.content, response.headers)
    assert model.calls == 0


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_labels_are_refused_by_feedback(client: TestClient, literal: str) -> None:
    body = '{"labels": [{"request_id": "r-nan", "label": LIT}]}'.replace("LIT", literal).encode()
    response = client.post("/feedback", content=body, headers=JSON_HEADERS)
    assert response.status_code in (400, 422), response.text
    assert not check_response(response.status_code, response.content, response.headers)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"labels": [', "application/json", 400, "invalid_json"),
        (b"", "application/json", 400, "invalid_json"),
        (b'{"labels": []}', "text/plain", 415, "unsupported_media_type"),
        (b'{"labels": [{"request_id": "r", "label": "yes"}]}', None, 415, "unsupported_media_type"),
        (b"[1]", "application/json", 422, "invalid_request"),
    ],
)
def test_feedback_answers_a_body_that_is_no_json_object_as_the_other_routes(
    client: TestClient, body: bytes, content_type: str | None, status: int, code: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/feedback", content=body, headers=headers)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert "valid dictionary" not in response.text  # pydantic's words for a missing object
    assert not check_response(response.status_code, response.content, response.headers)

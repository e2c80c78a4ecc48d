"""The routes. Prediction handlers read the raw body and answer with orjson bytes: FastAPI's
body parsing and response validation would cost more than the model itself (~20 µs a row)."""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from tabops.errors import StoreError, TabopsError
from tabops.serve.http import ApiError, arrived_at, json_response, request_id_of
from tabops.serve.model import ServedModel
from tabops.serve.protocols import (
    check_batch_size,
    csv_records,
    mlflow_records,
    oip_input_metadata,
    oip_records,
    oip_requested_outputs,
    oip_tensor,
)
from tabops.serve.schema import InvalidRecordsError
from tabops.serve.state import ServeState

router = APIRouter()

_RECORD = {"$ref": "#/components/schemas/Record"}
_JSON_ERRORS = {
    "401": {"description": "Missing or wrong API key."},
    "413": {"description": "Body or batch larger than the limits."},
    "422": {"description": "Records that do not fit the model's input schema; every field named."},
    "503": {"description": "Overloaded, past the deadline, or not ready (see Retry-After)."},
}


def _mlflow_format(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    """One of MLflow's JSON request formats: ``key`` (with optional ``params``) and nothing else."""
    return {
        "type": "object",
        "title": key,
        "required": [key],
        "properties": {key: schema, "params": {"type": "object"}},
        "additionalProperties": False,
    }


_DATAFRAME_SPLIT = {
    "type": "object",
    "required": ["columns", "data"],
    "properties": {
        "columns": {"type": "array", "items": {"type": "string"}},
        "data": {"type": "array", "items": {"type": "array"}},
        "index": {"type": "array"},
    },
}
# MLflow's tensor formats: a list of records, or one list of values per column.
_RECORDS_OR_COLUMNS = {
    "oneOf": [
        {"type": "array", "items": _RECORD},
        {"type": "object", "additionalProperties": {"type": "array"}},
    ]
}
_MLFLOW_REQUEST = {
    "oneOf": [
        _mlflow_format("dataframe_split", _DATAFRAME_SPLIT),
        _mlflow_format("dataframe_records", {"type": "array", "items": _RECORD}),
        _mlflow_format("inputs", _RECORDS_OR_COLUMNS),
        _mlflow_format("instances", _RECORDS_OR_COLUMNS),
    ]
}


def _state(request: Request) -> ServeState:
    state: ServeState = request.app.state.tabops
    return state


def _served(state: ServeState) -> ServedModel:
    if state.served is None or not state.ready:
        raise ApiError(
            503, "not_ready", "The model is not loaded yet.", headers={"retry-after": "1"}
        )
    return state.served


def parse_json(content_type: str | None, body: bytes) -> Any:
    """The parsed body; 415 for another media type, 400 for invalid JSON, 422 for a number
    past float64's range (valid JSON, which orjson refuses)."""
    if content_type is not None and "json" not in content_type:
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("number is infinity"):
            raise _out_of_range(exc.doc, exc.pos) from None
        raise ApiError(400, "invalid_json", "The body is not valid JSON.") from None


# The member name just before a number: `"name": ` (in the last 1000 characters).
_MEMBER = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*$')


def _out_of_range(text: str, position: int) -> ApiError:
    """422 for the number at ``position``, naming its field when it is an object member."""
    where = f"the number at character {position}"
    member = _MEMBER.search(text[max(0, position - 1000) : position])
    if member:
        with contextlib.suppress(orjson.JSONDecodeError):  # a name cut by the window
            name = orjson.loads(b'"' + member.group(1).encode() + b'"')  # unescaped, as meant
            where = f"'{name[:64]}'"
    return ApiError(
        422,
        "number_out_of_range",
        f"{where}: the number is out of range (beyond ±1.8e308, float64's largest); "
        "send a value within it.",
    )


async def _json(request: Request) -> Any:
    return parse_json(request.headers.get("content-type"), await request.body())


async def score(
    state: ServeState,
    records: list[Any],
    batch: bool,
    request_id: str,
    arrived: float,
    text: bool = False,
) -> tuple[ServedModel, list[dict[str, Any]], Any]:
    """Validate, predict and journal ``records``; the shared core of every prediction route."""
    served = _served(state)
    if not records:
        raise ApiError(422, "invalid_records", "The request has no records.")
    check_batch_size(len(records), state.limits.max_batch_rows)
    if (time.perf_counter() - arrived) * 1000 > state.limits.deadline_ms:
        state.metrics.overload.labels("deadline").inc()
        raise ApiError(
            503,
            "deadline_exceeded",
            "The request waited past its deadline; retry.",
            headers={"retry-after": "1"},
        )
    try:
        if served.predictor.kind == "onnx":  # microseconds: cheaper inline than in a thread
            outputs, scores = served.predict(records, batch, text)
        else:
            outputs, scores = await run_in_threadpool(served.predict, records, batch, text)
    except InvalidRecordsError as exc:
        details = [p.to_dict() for p in exc.problems[:100]]
        raise ApiError(422, "invalid_records", str(exc), details=details) from None
    state.log_predictions(served, request_id, records, outputs, scores, batch, arrived)
    return served, outputs, scores


async def _score(
    request: Request, state: ServeState, records: list[Any], batch: bool, text: bool = False
) -> tuple[ServedModel, list[dict[str, Any]], Any]:
    return await score(state, records, batch, request_id_of(request), arrived_at(request), text)


def _shadow(
    request: Request, state: ServeState, records: list[Any], batch: bool = True
) -> BackgroundTask | None:
    """The challenger's scoring of ``records``, run after the response has been sent."""
    if state.challenger is None:
        return None
    return BackgroundTask(state.shadow, request_id_of(request), records, batch)


async def predict_payload(
    state: ServeState, payload: Any, request_id: str, arrived: float
) -> tuple[dict[str, Any], list[Any], bool]:
    """The /predict answer for a parsed body, with the records and whether it was a batch."""
    batch = isinstance(payload, list)
    records = payload if batch else [payload]
    served, outputs, _ = await score(state, records, batch, request_id, arrived)
    body: dict[str, Any] = {
        "model": served.name,
        "version": served.version.version,
        "request_id": request_id,
    }
    if batch:
        body["predictions"] = [
            {**output, "request_id": f"{request_id}-{i}"} for i, output in enumerate(outputs)
        ]
    else:
        body.update(outputs[0])
    return body, records, batch


@router.post(
    "/predict",
    summary="Predict one record or a batch",
    description="Send one record (an object) or a list of records. Every feature is required, "
    "typed strictly and checked against the spec's contract. Each answer carries the label, the "
    "score and the threshold used (binary classification), probabilities (multiclass) or the "
    "prediction (regression), plus the model name and version and the request id (also the "
    "X-Request-ID header, which a client may set); with a decision policy, also the rules that "
    "fired and the decision. Every prediction is logged.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [_RECORD, {"type": "array", "items": _RECORD, "minItems": 1}]
                    }
                }
            },
        },
        "responses": _JSON_ERRORS,
    },
    response_class=Response,
)
async def predict(request: Request) -> Response:
    # Normally answered by tabops.serve.fast before routing; this is the same logic for
    # anything that reaches the router (and it documents the route in OpenAPI).
    state = _state(request)
    state.auth.require(request)
    payload = await _json(request)
    body, records, batch = await predict_payload(
        state, payload, request_id_of(request), arrived_at(request)
    )
    return json_response(body, background=_shadow(request, state, records, batch))


@router.post(
    "/invocations",
    summary="Predict with MLflow's scoring protocol",
    description="The request and response formats of `mlflow models serve`: a JSON object with "
    "one of dataframe_split, dataframe_records, inputs or instances, or text/csv with a header. "
    'Answers {"predictions": [...]} with what the MLflow model\'s predict() returns (the most '
    "probable label, or the regression value); /predict gives scores and the tuned threshold.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _MLFLOW_REQUEST},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        "responses": _JSON_ERRORS,
    },
    response_class=Response,
)
async def invocations(request: Request) -> Response:
    state = _state(request)
    state.auth.require(request)
    text = request.headers.get("content-type", "").startswith("text/csv")
    if text:
        records: list[Any] = csv_records(await request.body(), state.limits.max_batch_rows)
    else:
        records = mlflow_records(await _json(request), state.limits.max_batch_rows)
    served, _, scores = await _score(request, state, records, batch=True, text=text)
    predictions = served.mlflow_predictions(scores)
    return json_response({"predictions": predictions}, background=_shadow(request, state, records))


@router.post(
    "/v2/models/{model_name}/infer",
    summary="Predict with the Open Inference Protocol v2",
    description="KServe/Triton's inference protocol: one input tensor per feature column "
    "(shape [n] or [n, 1]); the outputs are 'label' and 'score' (classification) or "
    "'prediction' (regression), or those the request's 'outputs' list names.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["inputs"],
                        "properties": {
                            "id": {"type": "string"},
                            "parameters": {"type": "object"},
                            "inputs": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["name", "shape", "datatype", "data"],
                                },
                            },
                            "outputs": {
                                "type": "array",
                                "description": "The output tensors to answer, in this order "
                                "(default: all).",
                                "items": {
                                    "type": "object",
                                    "required": ["name"],
                                    "properties": {"name": {"type": "string"}},
                                },
                            },
                        },
                    }
                }
            },
        },
        "responses": {**_JSON_ERRORS, "404": {"description": "No such model."}},
    },
    response_class=Response,
)
async def oip_infer(model_name: str, request: Request) -> Response:
    state = _state(request)
    state.auth.require(request)
    model = _oip_model(state, model_name)
    available = list(_oip_outputs(model))
    payload = await _json(request)
    records, request_id = oip_records(
        payload, state.limits.max_batch_rows, model.schema.json_schema()
    )
    wanted = oip_requested_outputs(payload, available)
    served, outputs, scores = await _score(request, state, records, batch=True)
    tensors = [
        oip_tensor(name, [float(s) for s in served.score_of(scores)])
        if name == "score"
        else oip_tensor(name, [o[name] for o in outputs])
        for name in wanted
    ]
    body = {
        "model_name": served.name,
        "model_version": served.version.version,
        "id": str(request_id) if request_id is not None else request_id_of(request),
        "outputs": tensors,
    }
    return json_response(body, background=_shadow(request, state, records))


def _oip_outputs(served: ServedModel) -> dict[str, str]:
    """The model's OIP v2 output tensors and their datatypes."""
    if served.classes is None:
        return {"prediction": "FP64"}
    return {"label": "BYTES", "score": "FP64"}


def _oip_model(state: ServeState, model_name: str) -> ServedModel:
    served = _served(state)
    if model_name != served.name:
        raise ApiError(404, "not_found", f"This server serves the model '{served.name}' only.")
    return served


@router.get("/v2", summary="OIP v2 server metadata")
async def oip_server() -> Response:
    from tabops import __version__

    return json_response({"name": "tabops", "version": __version__, "extensions": []})


@router.get("/v2/health/live", summary="OIP v2 liveness")
async def oip_live() -> Response:
    return json_response({"live": True})


@router.get("/v2/health/ready", summary="OIP v2 readiness")
async def oip_ready(request: Request) -> Response:
    _readiness(_state(request))  # 503 unless ready
    return json_response({"ready": True})  # the protocol's body; KServe's client reads "ready"


@router.get("/v2/models/{model_name}/ready", summary="OIP v2 model readiness")
async def oip_model_ready(model_name: str, request: Request) -> Response:
    state = _state(request)
    _oip_model(state, model_name)
    return json_response({"name": model_name, "ready": True})


@router.get("/v2/models/{model_name}", summary="OIP v2 model metadata")
async def oip_model(model_name: str, request: Request) -> Response:
    state = _state(request)
    state.auth.require(request)
    served = _oip_model(state, model_name)
    outputs = [
        {"name": name, "datatype": datatype, "shape": [-1]}
        for name, datatype in _oip_outputs(served).items()
    ]
    return json_response(
        {
            "name": served.name,
            "versions": [served.version.version],
            "platform": "tabops",
            "inputs": oip_input_metadata(served.schema.json_schema()),
            "outputs": outputs,
        }
    )


@router.get("/livez", summary="Liveness: the process answers (touches nothing else)")
async def livez() -> Response:
    return json_response({"status": "alive"})


@router.get(
    "/readyz",
    summary="Readiness: model loaded and warmed, prediction log healthy",
    description="503 while loading, while shutting down, or when the prediction log cannot "
    "keep rows (its journal is at the disk cap). A store outage alone keeps the server ready: "
    "predictions are journaled and copied later.",
)
async def readyz(request: Request) -> Response:
    return _readiness(_state(request))


def _readiness(state: ServeState) -> Response:
    served, journal = state.served, state.journal
    problem = None
    if state.draining:
        problem = "shutting down"
    elif served is None or not state.ready:
        problem = "the model is not loaded yet"
    elif journal is None or not journal.healthy:
        problem = "the prediction log cannot keep rows (journal at its disk cap)"
    if problem is not None or served is None or journal is None:
        raise ApiError(503, "not_ready", f"Not ready: {problem}.", headers={"retry-after": "1"})
    return json_response(
        {
            "status": "ready",
            "model": served.name,
            "version": served.version.version,
            "predictor": served.predictor.kind,
            "prediction_log": {
                "store_up": journal.stats.store_up,
                "queue_rows": journal.backlog_rows,
                "spilled_rows": journal.stats.spilled,
                "dropped_rows": journal.stats.dropped,
                "duplicate_rows": journal.stats.duplicates,
            },
        }
    )


@router.get(
    "/model",
    summary="The served model",
    description="Name, version, alias, training date, test metrics, data snapshot and spec "
    "hashes, input schema and which predictor serves (onnx or sklearn).",
)
async def model_info(request: Request) -> Response:
    state = _state(request)
    state.auth.require(request)
    return json_response(_served(state).info)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    from tabops.serve.metrics import CONTENT_TYPE_LATEST

    state = _state(request)
    state.metrics.refresh(state.served, state.journal)
    return Response(state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


def _require_key(request: Request) -> None:
    _state(request).auth.require(request)


_NO_NUL = r"^[^\x00]*$"  # the store's text columns (PostgreSQL) cannot hold NUL


class Label(BaseModel):
    """One ground-truth label: by request_id, or by entity id and event time."""

    model_config = ConfigDict(extra="forbid")

    request_id: str | None = Field(default=None, max_length=64, pattern=_NO_NUL)
    entity_id: str | None = Field(default=None, max_length=128, pattern=_NO_NUL)
    event_time: datetime | None = None
    label: str | float | bool = Field(description="The true class, or the true value.")


class Feedback(BaseModel):
    """Labels for earlier predictions (late ground truth)."""

    model_config = ConfigDict(extra="forbid")

    labels: list[Label] = Field(min_length=1, max_length=10_000)
    source: str = Field(default="api", max_length=64, pattern=_NO_NUL)


class FeedbackResult(BaseModel):
    stored: int = Field(description="Labels kept (a request_id sent twice is kept once).")
    status: Literal["stored"] = "stored"
    unknown_request_ids: list[str] = Field(
        default_factory=list,
        description="request_ids that name no logged prediction: not kept, unless "
        "serve.feedback.accept_unknown_ids is set in tabops.yaml.",
    )
    duplicate_request_ids: list[str] = Field(
        default_factory=list,
        description="request_ids sent more than once in this request: the last label is kept.",
    )


@router.post(
    "/feedback",
    summary="Record ground-truth labels",
    description="Late labels for monitoring, by request_id (as answered by /predict) or by "
    "entity id and event time. Sending a request_id's label again replaces it; within one "
    "request the last label of a request_id counts (the others are listed as duplicates). "
    "A request_id that names no logged prediction is listed as unknown and not kept, unless "
    "the spec sets serve.feedback.accept_unknown_ids. 'stored' counts the labels kept.",
    responses={**_JSON_ERRORS},  # type: ignore[dict-item]
    dependencies=[Depends(_require_key)],  # before the body is validated: 401 beats 422
)
async def feedback(body: Feedback, request: Request) -> FeedbackResult:
    state = _state(request)
    served = _served(state)
    rows = []
    for position, item in enumerate(body.labels):
        if item.request_id is None and (item.entity_id is None or item.event_time is None):
            raise ApiError(
                422,
                "invalid_labels",
                f"labels[{position}]: give a request_id, or an entity_id with its event_time.",
            )
        rows.append(_label_row(state, served, position, item, body.source))
    rows, duplicates = _last_per_request_id(rows)
    try:
        kept, unknown = await run_in_threadpool(_keep_labels, state, rows)
    except TabopsError as exc:
        raise ApiError(
            503,
            "store_unavailable",
            "The store is unavailable; retry the labels.",
            headers={"retry-after": "5"},
        ) from exc
    return FeedbackResult(
        stored=kept, unknown_request_ids=unknown, duplicate_request_ids=duplicates
    )


def _last_per_request_id(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per request_id (the last sent, as a resent label replaces the stored one), and
    the request_ids sent more than once."""
    last = {r["request_id"]: r for r in rows if r["request_id"] is not None}
    sent = Counter(r["request_id"] for r in rows if r["request_id"] is not None)
    kept = [r for r in rows if r["request_id"] is None or last[r["request_id"]] is r]
    return kept, [request_id for request_id, times in sent.items() if times > 1]


def _label_row(
    state: ServeState, served: ServedModel, position: int, item: Label, source: str
) -> dict[str, Any]:
    label = item.label
    if served.classes is not None:
        text = str(label).lower() if isinstance(label, bool) else str(label)
        if isinstance(label, float) and label.is_integer():
            text = str(int(label))
        if text not in served.classes:
            raise ApiError(
                422,
                "invalid_labels",
                f"labels[{position}].label: '{text[:64]}' is "
                f"not one of the classes {served.classes}.",
            )
        value = text
    elif isinstance(label, bool | str):
        raise ApiError(422, "invalid_labels", f"labels[{position}].label must be a number.")
    elif not math.isfinite(label):
        raise ApiError(422, "invalid_labels", f"labels[{position}].label must be finite.")
    else:
        value = repr(float(label))
    stamp = item.event_time
    try:  # in UTC: SQLite keeps the wall time and drops the offset
        if stamp is not None:
            stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
    except OverflowError:
        raise ApiError(
            422, "invalid_labels", f"labels[{position}].event_time is outside years 1-9999 in UTC."
        ) from None
    return {
        "project": state.spec.name,
        "request_id": item.request_id,
        "entity_id": item.entity_id,
        "event_time": stamp,
        "label": value,
        "source": source,
        "received_at": datetime.now(UTC),
    }


def _keep_labels(state: ServeState, rows: list[dict[str, Any]]) -> tuple[int, list[str]]:
    """Store the labels the spec lets us keep; how many, and the unknown request_ids."""
    from tabops.store.labels import upsert_labels

    try:
        unknown = _unknown_request_ids(state, rows)
        if unknown and not state.limits.feedback.accept_unknown_ids:
            skip = set(unknown)
            rows = [r for r in rows if r["request_id"] not in skip]
        assert state.store is not None  # opened at startup
        upsert_labels(state.store, rows)
    except TabopsError:
        raise
    except Exception as exc:
        raise StoreError("The labels could not be stored.") from exc
    return len(rows), unknown


def _unknown_request_ids(state: ServeState, rows: list[dict[str, Any]]) -> list[str]:
    """The rows' request_ids with no prediction in the store, in their order. This server's
    own recent predictions may still be in its journal: while the store is up, they are given
    up to 10 s to be copied (a busy machine may take a while)."""
    from tabops.store.labels import logged_request_ids

    def unlogged(ids: list[str]) -> list[str]:
        assert state.store is not None  # opened at startup
        found = logged_request_ids(state.store, state.spec.name, ids) if ids else set()
        return [i for i in ids if i not in found]

    unknown = unlogged([r["request_id"] for r in rows if r["request_id"] is not None])
    journal = state.journal
    if unknown and journal is not None:
        target, give_up = journal.stats.appended, time.monotonic() + 10.0
        while journal.stats.written < target and journal.stats.store_up:
            if time.monotonic() > give_up:
                break
            time.sleep(0.02)
        unknown = unlogged(unknown)
    return unknown


@router.post(
    "/admin/reload",
    summary="Reload the model now (admin key)",
    description="Check the alias at once instead of at the next interval. A new version is "
    "loaded beside the serving one, checked (schema, artifact hashes, smoke prediction, finite "
    "outputs) and swapped in; a refused one leaves the serving version in place.",
)
async def admin_reload(request: Request) -> Response:
    state = _state(request)
    state.auth.require(request, admin=True)
    _served(state)
    return json_response(await state.reload(force=True))

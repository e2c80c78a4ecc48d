"""``POST /predict``: one record or a batch, answered in plain ASGI before FastAPI's routing.

FastAPI costs ~150 µs of CPU per request, several times the compiled model (~20 µs): the hot
route skips it. :class:`FastPredict` (a middleware, installed by ``create_app``) answers every
POST /predict: the key, the body, :func:`predict_payload` and the shadow scoring all happen
here. The FastAPI route below only describes /predict in the OpenAPI document; it never runs.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from tabops.serve.deps import serving
from tabops.serve.http import ApiError, ASGIApp, Receive, Scope, Send, error_body
from tabops.serve.json_body import parse_json
from tabops.serve.openapi import ERRORS, PREDICT_BODY
from tabops.serve.protocols import mlflow_key
from tabops.serve.scoring import score
from tabops.serve.state import ServeState

#: What the metrics see as the route (the Guard reads ``scope["route"].path``).
_ROUTE = SimpleNamespace(path="/predict")
_JSON = [(b"content-type", b"application/json")]


class FastPredict:
    """Answers POST /predict itself; passes everything else to the app."""

    def __init__(self, app: ASGIApp, state: ServeState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/predict" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = _ROUTE
        state = scope["state"]
        headers = _headers(scope)
        shadow = None
        try:
            self.state.auth.check(headers.get(b"authorization"), headers.get(b"x-api-key"))
            body = await _body(receive)
            if body is None:
                return  # the client went away
            payload = parse_json(headers.get(b"content-type"), body)
            answer, records, batch = await predict_payload(
                self.state, payload, state["request_id"], state["arrived"]
            )
            status, content, extra = 200, orjson.dumps(answer), []
            if self.state.challenger is not None:
                shadow = (state["request_id"], records, batch)
        except ApiError as error:
            self.state.rejections.count(error, self.state.served)
            status = error.status
            content = error_body(error.code, error.message, state["request_id"], error.details)
            extra = [(k.encode(), v.encode()) for k, v in error.headers.items()]
        length = [(b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": status,
                    "headers": _JSON + length + extra})  # fmt: skip
        await send({"type": "http.response.body", "body": content})
        if shadow is not None:  # after the response, and off the event loop (as the other
            await run_in_threadpool(self.state.shadow, *shadow)  # routes' background tasks)


async def predict_payload(
    state: ServeState, payload: Any, request_id: str, arrived: float
) -> tuple[dict[str, Any], list[Any], bool]:
    """The /predict answer for a parsed body, with the records and whether it was a batch."""
    served = serving(state)
    if (key := mlflow_key(payload, served.schema.known)) is not None:
        raise ApiError(
            422,
            "invalid_payload",
            f"The body is an MLflow scoring request ('{key}'): POST it to /invocations. "
            "/predict takes one record (an object of the model's columns) or a list of them.",
        )
    batch = isinstance(payload, list)
    records = payload if batch else [payload]
    outputs, _ = await score(state, served, records, batch, request_id, arrived)
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


def _headers(scope: Scope) -> dict[bytes, Any]:
    """The headers this route reads, decoded (latin-1, as HTTP headers are)."""
    wanted = {b"authorization", b"x-api-key", b"content-type"}
    return {name: value.decode("latin-1") for name, value in scope["headers"] if name in wanted}


async def _body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


router = APIRouter()


@router.post(
    "/predict",
    summary="Predict one record or a batch",
    description="Send one record (an object) or a list of records. Every feature is required, "
    "typed strictly and checked against the spec's contract. Each answer carries the label, the "
    "score and the threshold used (binary classification), probabilities (multiclass) or the "
    "prediction (regression), plus the model name and version and the request id (also the "
    "X-Request-ID header, which a client may set); with a decision policy, also the rules that "
    "fired and the decision. Every prediction is logged.",
    openapi_extra={"requestBody": PREDICT_BODY, "responses": ERRORS},
    response_class=Response,
)
async def predict() -> Response:
    """The OpenAPI entry of POST /predict, which :class:`FastPredict` answers before routing."""
    raise RuntimeError("POST /predict reached the router: create_app installs FastPredict")

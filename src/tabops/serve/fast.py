"""``POST /predict`` answered in plain ASGI, before FastAPI's routing and request objects.

FastAPI costs ~150 µs of CPU per request, several times the compiled model (~20 µs): the hot
route skips it. The logic is the route's own (:func:`tabops.serve.routes.predict_payload`);
the FastAPI route stays for the OpenAPI document and answers the same way.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool

from tabops.serve.http import ApiError, ASGIApp, Receive, Scope, Send, error_body
from tabops.serve.routes import parse_json, predict_payload
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
            status = error.status
            content = error_body(error.code, error.message, state["request_id"], error.details)
            extra = [(k.encode(), v.encode()) for k, v in error.headers.items()]
        length = [(b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": status,
                    "headers": _JSON + length + extra})  # fmt: skip
        await send({"type": "http.response.body", "body": content})
        if shadow is not None:  # after the response, and off the event loop (as the other
            await run_in_threadpool(self.state.shadow, *shadow)  # routes' background tasks)


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

"""HTTP plumbing shared by every route: the one error shape, request ids, the body-size and
concurrency guard (an ASGI middleware, cheaper than Starlette's BaseHTTPMiddleware), and auth.

Every error body is ``{"error": {"code", "message", "request_id"}}`` (plus ``details`` for
invalid records); nothing else, so no traceback, path, DSN or key can leak.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import orjson
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from tabops.serve.schema import InvalidRecordsError

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: A client's X-Request-ID; 56 characters leave room for a batch row's "-<n>" suffix in the
#: store's 64-character request_id columns.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,56}$")
# Server-made request ids: "tabops-", a random per-process prefix and a counter (unique, and
# cheaper per request than uuid4). A client's X-Request-ID may not start with "tabops-", so no
# client can take the id of another's request (the prediction log keeps an id's first row).
_SERVER_IDS = "tabops-"
_ID_PREFIX = f"{_SERVER_IDS}{secrets.token_hex(8)}"
_ID_COUNTER = itertools.count(1)
#: Routes that must answer even under overload (probes and scrapes).
_UNGUARDED = frozenset(
    {"/livez", "/health", "/readyz", "/metrics", "/v2/health/live", "/v2/health/ready"}
)


class ApiError(Exception):
    """An error answer: status, stable code, and a message safe to show a client."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        invalid: InvalidRecordsError | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details, self.headers = details, headers or {}
        self.invalid = invalid  # the records' every problem, for the refusal counts (not sent)


def error_body(code: str, message: str, request_id: str, details: Any = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message, "request_id": request_id}
    if details is not None:
        error["details"] = details
    return orjson.dumps({"error": error})


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None,
    background: BackgroundTask | None = None,
) -> Response:  # fmt: skip
    return Response(orjson.dumps(content), status, headers, "application/json", background)


def error_response(request: Request, error: ApiError) -> Response:
    body = error_body(error.code, error.message, request_id_of(request), error.details)
    return Response(body, error.status, error.headers, media_type="application/json")


def request_id_of(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def arrived_at(request: Request) -> float:
    return float(request.scope.get("state", {}).get("arrived", time.perf_counter()))


class Guard:
    """Outermost middleware: request id, body limit (413 before parsing), body deadline (408),
    in-flight limit (fast 503), latency metrics, and a last-resort 500 that leaks nothing."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int,
        max_in_flight: int,
        body_timeout: float,
        observe: Callable[[str, int, float], None],
        overloaded: Callable[[str], None],
        body_timed_out: Callable[[], None],
    ) -> None:
        self.app, self.max_body, self.max_in_flight = app, max_body, max_in_flight
        self.body_timeout = body_timeout
        self.observe, self.overloaded, self.body_timed_out = observe, overloaded, body_timed_out
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        state = scope.setdefault("state", {})
        state["request_id"], state["arrived"] = request_id, started
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        async def refuse(error: ApiError) -> None:
            body = error_body(error.code, error.message, request_id)
            raw = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            raw += [(k.encode(), v.encode()) for k, v in error.headers.items()]
            await send_with_id(
                {"type": "http.response.start", "status": error.status, "headers": raw}
            )
            await send({"type": "http.response.body", "body": body})

        path = scope["path"]
        guarded = path not in _UNGUARDED
        try:
            if guarded and self.in_flight >= self.max_in_flight:
                self.overloaded("in_flight")
                await refuse(
                    ApiError(
                        503,
                        "overloaded",
                        "The server is at capacity; retry shortly.",
                        headers={"retry-after": "1"},
                    )
                )
                return
            declared = _content_length(scope)
            if declared is not None and declared > self.max_body:
                await refuse(body_too_large(self.max_body))
                return
            self.in_flight += guarded
            try:
                await self.app(scope, self._limited(receive), send_with_id)
            finally:
                self.in_flight -= guarded
        except BodyTooLargeError:
            if not response_started:
                await refuse(body_too_large(self.max_body))
        except BodyTimeoutError:
            if not response_started:
                await refuse(body_timeout(self.body_timeout))
        except Exception:
            log.exception("Unhandled error answering %s %s", scope.get("method"), path)
            if not response_started:
                await refuse(ApiError(500, "internal_error", "Internal error; it has been logged."))
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "(unmatched)"
            self.observe(template, status, time.perf_counter() - started)

    def _limited(self, receive: Receive) -> Receive:
        """``receive`` with the body limits: its size, and a deadline for the whole body (a
        client sending slowly would hold its in-flight slot for as long as it likes)."""
        received, complete = 0, False
        deadline = asyncio.get_running_loop().time() + self.body_timeout

        async def limited() -> Message:
            nonlocal received, complete
            if complete:  # after the body: waiting for a disconnect is not a slow body
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                self.body_timed_out()
                raise BodyTimeoutError() from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLargeError()
                complete = not message.get("more_body", False)
            return message

        return limited


class BodyTooLargeError(Exception):
    """A chunked body grew past the limit."""


class BodyTimeoutError(Exception):
    """The body did not arrive within the body deadline."""


def body_too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"The request body is larger than {limit} bytes.")


def body_timeout(seconds: float) -> ApiError:
    """408, closing the connection (the rest of the body may still be on its way)."""
    return ApiError(
        408,
        "body_timeout",
        f"The request body did not arrive within {seconds:g} seconds (serve.body_timeout).",
        headers={"connection": "close"},
    )


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = str(value.decode("latin-1"))
            if _REQUEST_ID.match(text) and not text.startswith(_SERVER_IDS):
                return text
            break
    return f"{_ID_PREFIX}{next(_ID_COUNTER):08x}"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class Auth:
    """API keys: prediction keys and one admin key, compared in constant time."""

    def __init__(self, api_keys: list[str], admin_key: str | None) -> None:
        self.api_keys = [k.encode() for k in api_keys]
        self.admin_key = admin_key.encode() if admin_key else None

    @property
    def enabled(self) -> bool:
        return bool(self.api_keys or self.admin_key)

    def require(self, request: Request, admin: bool = False) -> None:
        """Raise 401/403 unless the request carries an accepted key for the route."""
        if self.enabled:
            headers = request.headers
            self.check(headers.get("authorization"), headers.get("x-api-key"), admin)

    def check(self, authorization: str | None, api_key: str | None, admin: bool = False) -> None:
        """:meth:`require` on the two headers a key may come in."""
        if not self.enabled:
            return
        presented = api_key
        if authorization and authorization[:7].lower() == "bearer ":
            presented = authorization[7:].strip()
        if presented is None:
            raise ApiError(
                401,
                "unauthorized",
                "This route needs an API key: send "
                "'Authorization: Bearer <key>' or 'X-API-Key: <key>'.",
                headers={"www-authenticate": "Bearer"},
            )
        candidate = presented.encode()
        is_admin = self.admin_key is not None and hmac.compare_digest(candidate, self.admin_key)
        is_user = False
        for key in self.api_keys:  # every key compared: timing says nothing about which
            is_user |= hmac.compare_digest(candidate, key)
        if admin and not is_admin:
            raise ApiError(
                403 if is_user else 401,
                "forbidden" if is_user else "unauthorized",
                "This route needs the admin key.",
            )
        if not admin and not is_user:
            raise ApiError(
                401,
                "unauthorized",
                "The API key is not valid for this route.",
                headers={"www-authenticate": "Bearer"},
            )

"""The FastAPI app: built from a spec and settings, the model loaded in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from tabops import credentials, redaction
from tabops.errors import TabopsError
from tabops.registry.models import CHAMPION
from tabops.serve.http import (
    ApiError,
    Auth,
    BodyTimeoutError,
    BodyTooLargeError,
    Guard,
    body_timeout,
    body_too_large,
    error_response,
)
from tabops.serve.json_body import parse_json
from tabops.serve.openapi import document
from tabops.serve.rejections import PREDICTION_ROUTES
from tabops.serve.routes import ROUTERS
from tabops.serve.routes.predict import FastPredict
from tabops.serve.state import ServeState
from tabops.settings import Settings, load_settings
from tabops.spec import ProjectSpec, load_spec

log = logging.getLogger(__name__)

#: How ``tabops serve --workers N`` tells each worker process what to serve.
OPTIONS_ENV = "TABOPS_SERVE_OPTIONS"


def auth_for(settings: Settings) -> Auth:
    """The server's keys; production refuses to run without them (X3)."""
    keys = [k.get_secret_value() for k in settings.api_keys]
    admin = settings.admin_key.get_secret_value() if settings.admin_key else None
    if settings.env == "production" and (not keys or not admin):
        raise TabopsError(
            "TABOPS_ENV=production needs API keys: set TABOPS_API_KEYS (comma-separated "
            "prediction keys) and TABOPS_ADMIN_KEY (the admin key, different from them)."
        )
    if settings.env == "production":
        weak = [credentials.key_problem("TABOPS_API_KEYS", key) for key in keys]
        weak.append(credentials.key_problem("TABOPS_ADMIN_KEY", admin or ""))
        if any(weak):
            raise TabopsError(
                "TABOPS_ENV=production refuses these keys: "
                + "; ".join(sorted({p for p in weak if p}))
                + "."
            )
    if admin is not None and admin in keys:
        raise TabopsError("TABOPS_ADMIN_KEY must differ from every key in TABOPS_API_KEYS.")
    return Auth(keys, admin)


def create_app(spec: ProjectSpec, settings: Settings, alias: str = CHAMPION) -> FastAPI:
    """The prediction service for ``spec``'s model at ``alias``."""
    state = ServeState(spec, settings, alias, auth=auth_for(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(state.start)
        watcher = asyncio.create_task(state.watch())
        state.ready = True
        served = state.served
        assert served is not None
        log.warning(
            "Serving %s version %s (%s predictor)%s",
            served.name,
            served.version.version,
            served.predictor.kind,
            "" if state.auth.enabled else "; auth is OFF (embedded mode, no API keys)",
        )
        try:
            yield
        finally:
            state.ready, state.draining = False, True
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await asyncio.to_thread(state.stop)

    app = FastAPI(
        title=f"tabops: {spec.name}",
        summary=f"Predictions from the '{alias}' version of the {spec.name} model.",
        version="1",
        lifespan=lifespan,
        # FastAPI's native OpenTelemetry looks up three global providers on every request
        # when the opentelemetry package is installed (MLflow brings it): off, as tabops
        # exports its own Prometheus metrics.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.tabops = state
    for router in ROUTERS:
        app.include_router(router)
    _handle_errors(app)
    app.openapi = lambda: document(app, state)  # type: ignore[method-assign]
    limits = spec.serve
    app.add_middleware(FastPredict, state=state)  # inside the Guard: ids, limits, metrics
    app.add_middleware(
        Guard,
        max_body=limits.max_body_bytes,
        max_in_flight=limits.max_in_flight,
        body_timeout=limits.body_timeout,
        observe=state.metrics.observe_request,
        overloaded=lambda reason: state.metrics.overload.labels(reason).inc(),
        body_timed_out=state.metrics.body_timeouts.inc,
    )
    return app


def _handle_errors(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        if getattr(request.scope.get("route"), "path", None) in PREDICTION_ROUTES:
            state = request.app.state.tabops
            state.rejections.count(exc, state.served)
        return error_response(request, exc)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        limits = request.app.state.tabops.limits
        if isinstance(exc.__cause__, BodyTooLargeError):  # FastAPI's body parsing wrapped it
            return error_response(request, body_too_large(limits.max_body_bytes))
        if isinstance(exc.__cause__, BodyTimeoutError):  # the same
            return error_response(request, body_timeout(limits.body_timeout))
        codes = {404: "not_found", 405: "method_not_allowed"}
        message = {404: "No such route.", 405: "This route does not take that method."}
        return error_response(
            request,
            ApiError(
                exc.status_code,
                codes.get(exc.status_code, "http_error"),
                message.get(exc.status_code, "The request was refused."),
                headers=dict(exc.headers or {}),
            ),
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> Response:
        if any(e["type"] == "json_invalid" or tuple(e["loc"]) == ("body",) for e in exc.errors()):
            # The body is no JSON object at all: answered as the other routes answer it (400
            # naming where the JSON breaks, 415 for another media type), not as a bad field.
            # A body without a media type was not read as JSON either: 415, as another type.
            kind = request.headers.get("content-type") or "none"
            try:
                parse_json(kind, await request.body())
            except ApiError as error:
                return error_response(request, error)
            return error_response(request, ApiError(
                422, "invalid_request",
                "The body must be a JSON object, as the route's schema in /docs shows.",
            ))  # fmt: skip
        details = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]}
            for e in exc.errors()[:100]
        ]
        shown = "; ".join(f"{d['field'] or '(body)'}: {d['message']}" for d in details[:10])
        return error_response(request, ApiError(422, "invalid_request", shown, details=details))


def app_from_env() -> FastAPI:
    """The app for ``uvicorn --factory`` (one per worker): options from :data:`OPTIONS_ENV`."""
    redaction.log_to_stderr(logging.getLogger("tabops"))  # as the parent `tabops serve` does
    options = json.loads(os.environ[OPTIONS_ENV])
    spec = load_spec(Path(options["spec"]), options.get("overrides") or None)
    return create_app(spec, load_settings(), options.get("alias", CHAMPION))

"""The server's own routes: liveness and readiness probes and Prometheus metrics (public, and
answered even under overload), and the served model's description (keyed)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from tabops.serve.deps import KEYED, Served, State
from tabops.serve.http import ApiError, json_response
from tabops.serve.state import ServeState

router = APIRouter()


@router.get("/livez", summary="Liveness: the process answers (touches nothing else)")
@router.get(
    "/health",
    summary="Liveness, under the name load balancers call (alias of /livez)",
    description="The same answer as /livez: the process answers, nothing else is checked. "
    "Kept for the clients and load balancers of the original churn and fraud APIs; a "
    "container's readiness check belongs on /readyz.",
)
async def livez() -> Response:
    return json_response({"status": "alive"})


@router.get(
    "/readyz",
    summary="Readiness: model loaded and warmed, prediction log healthy",
    description="503 while loading, while shutting down, or when the prediction log cannot "
    "keep rows (its journal is at the disk cap). A store outage alone keeps the server ready: "
    "predictions are journaled and copied later.",
)
async def readyz(state: State) -> Response:
    return readiness(state)


def readiness(state: ServeState) -> Response:
    """The /readyz answer; 503 naming why the server is not ready."""
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
    dependencies=KEYED,
)
async def model_info(served: Served) -> Response:
    return json_response(served.info)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(state: State) -> Response:
    from tabops.serve.metrics import CONTENT_TYPE_LATEST

    state.metrics.refresh(state.served, state.journal)
    judged = await run_in_threadpool(state.monitor_gauges.exposition, state.store)
    return Response(state.metrics.exposition() + judged, media_type=CONTENT_TYPE_LATEST)

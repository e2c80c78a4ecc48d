"""The core every prediction route shares: validate, predict and journal records, and score
them with the challenger in shadow after the answer has been sent."""

from __future__ import annotations

import time
from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from tabops.serve.http import ApiError, arrived_at, request_id_of
from tabops.serve.model import ServedModel
from tabops.serve.protocols import check_batch_size
from tabops.serve.schema import InvalidRecordsError
from tabops.serve.state import ServeState


async def score(
    state: ServeState,
    served: ServedModel,
    records: list[Any],
    batch: bool,
    request_id: str,
    arrived: float,
    text: bool = False,
) -> tuple[list[dict[str, Any]], Any]:
    """``served``'s outputs and scores for ``records``, validated and journaled."""
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
        raise ApiError(422, "invalid_records", str(exc), details=details, invalid=exc) from None
    state.log_predictions(served, request_id, records, outputs, scores, batch, arrived)
    return outputs, scores


async def score_request(
    request: Request,
    state: ServeState,
    served: ServedModel,
    records: list[Any],
    text: bool = False,
) -> tuple[list[dict[str, Any]], Any]:
    """:func:`score` of a routed request's records, always a batch."""
    request_id, arrived = request_id_of(request), arrived_at(request)
    return await score(state, served, records, True, request_id, arrived, text)


def shadow_task(request: Request, state: ServeState, records: list[Any]) -> BackgroundTask | None:
    """The challenger's scoring of ``records``, run after the response has been sent."""
    if state.challenger is None:
        return None
    return BackgroundTask(state.shadow, request_id_of(request), records, True)

"""``POST /feedback``: late ground-truth labels, checked against the served model's classes
and kept in the tabops store for monitoring."""

from __future__ import annotations

import math
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from tabops.errors import StoreError, TabopsError
from tabops.serve.deps import KEYED, Served, State
from tabops.serve.http import ApiError
from tabops.serve.model import ServedModel
from tabops.serve.openapi import ERRORS
from tabops.serve.state import ServeState
from tabops.values import boolean_spellings

router = APIRouter(dependencies=KEYED)  # solved before the body is validated: 401 beats 422

_NO_NUL = r"^[^\x00]*$"  # the store's text columns (PostgreSQL) cannot hold NUL


class Label(BaseModel):
    """One ground-truth label: by request_id, or by entity id (and the outcome's time)."""

    model_config = ConfigDict(extra="forbid")

    request_id: str | None = Field(
        default=None, max_length=64, pattern=_NO_NUL,
        description="The prediction's request_id, as /predict answered it.",
    )  # fmt: skip
    entity_id: str | None = Field(
        default=None, max_length=128, pattern=_NO_NUL,
        description="The entity's id (the spec's id column): labels its logged predictions.",
    )  # fmt: skip
    event_time: datetime | None = Field(
        default=None,
        description="With entity_id: when the outcome happened (a customer left on 1 March). "
        "It labels the entity's predictions made at or before it, not later ones. Leave it "
        "out to label every prediction of the entity (a transaction's fraud, by its id): a "
        "transaction's own time is earlier than its prediction, so it labels none.",
    )
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
    "entity id: with an event_time, the entity's predictions made at or before it; without, "
    "all of them. Sending a request_id's label again replaces it; within one "
    "request the last label of a request_id counts (the others are listed as duplicates). "
    "A request_id that names no logged prediction is listed as unknown and not kept, unless "
    "the spec sets serve.feedback.accept_unknown_ids. 'stored' counts the labels kept.",
    responses={**ERRORS},  # type: ignore[dict-item]
)
async def feedback(body: Feedback, state: State, served: Served) -> FeedbackResult:
    rows = []
    for position, item in enumerate(body.labels):
        if item.request_id is None and item.entity_id is None:
            raise ApiError(
                422,
                "invalid_labels",
                f"labels[{position}]: give a request_id, or an entity_id (with the outcome's "
                "event_time, or none to label every prediction of the entity).",
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
        spelled = boolean_spellings(served.classes)  # true or True for a class 'TRUE'
        text = spelled.get(text.lower(), text) if spelled else text
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
        dropping = not state.limits.feedback.accept_unknown_ids
        unknown = _unknown_request_ids(state, rows, dropping)
        if unknown and dropping:
            skip = set(unknown)
            rows = [r for r in rows if r["request_id"] not in skip]
        assert state.store is not None  # opened at startup
        upsert_labels(state.store, rows)
    except TabopsError:
        raise
    except Exception as exc:
        raise StoreError("The labels could not be stored.") from exc
    return len(rows), unknown


def _unknown_request_ids(
    state: ServeState, rows: list[dict[str, Any]], dropping: bool
) -> list[str]:
    """The rows' request_ids with no prediction in the store, in their order. This server's
    own recent predictions may still be in its journal: while the store is up, they are given
    up to 10 s to be copied (a busy machine may take a while); if they are not by then and
    unknown labels are ``dropping``, the labels are refused (503: the client retries) rather
    than lost."""
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
        if dropping and journal.stats.written < target:
            # The ids may name predictions still in the journal (the store down, or locked
            # by a batch run on SQLite): unknown cannot be told, and a dropped label is lost.
            raise StoreError("This server's latest predictions have not reached the store.")
        unknown = unlogged(unknown)
    return unknown

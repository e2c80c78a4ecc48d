"""What monitoring reads and writes: a window of logged predictions with the labels that
arrived for them, and the per-window results (replaced as a whole when a window is recomputed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import pandas as pd
import sqlalchemy as sa

from tabops.store import schema
from tabops.store.db import Store

_p, _l, _m = schema.predictions, schema.labels, schema.monitor_metrics

#: The source of the prediction log's windows; ``monitor run --data`` stores under others.
LOG_SOURCE = "predictions"


@dataclass(frozen=True)
class PredictionWindow:
    """A window's logged predictions: what was served, and the rows it was served for.

    Attributes:
        served: request_id, model_version, created_at, entity_id, score, decision,
            ``answer`` (the class the model answered; None for regression) and ``label``: the
            label joined by request_id, else the latest label for the entity whose event time
            is not before the prediction (None while none has come).
        features: The logged feature values, one column per feature, aligned with ``served``.
    """

    served: pd.DataFrame
    features: pd.DataFrame


def prediction_window(
    store: Store, project: str, model_name: str, start: datetime, end: datetime
) -> PredictionWindow:
    """The predictions of ``model_name`` logged in ``[start, end)``, oldest first."""
    by_request = sa.select(_l.c.label).where(
        _l.c.project == project, _l.c.request_id == _p.c.request_id
    )
    query = (
        sa.select(
            _p.c.request_id, _p.c.model_version, _p.c.created_at, _p.c.entity_id,
            _p.c.score, _p.c.decision, _p.c.features, _p.c.outputs,
            by_request.scalar_subquery().label("label"),
        )
        .where(
            _p.c.project == project, _p.c.model_name == model_name,
            _p.c.created_at >= start, _p.c.created_at < end,
        )
        .order_by(_p.c.created_at, _p.c.request_id)
    )  # fmt: skip
    with store.connect() as conn:
        rows = conn.execute(query).all()
        frame = pd.DataFrame(rows, columns=list(query.selected_columns.keys()))
        missing = frame["label"].isna() & frame["entity_id"].notna()
        if missing.any():
            frame.loc[missing, "label"] = _entity_labels(conn, project, frame[missing])
    features = pd.DataFrame([orjson.loads(f) for f in frame.pop("features")], index=frame.index)
    frame["answer"] = [orjson.loads(o).get("label") for o in frame.pop("outputs")]
    return PredictionWindow(frame, features)


def logged_span(store: Store, project: str, model_name: str) -> tuple[datetime, datetime] | None:
    """When ``model_name``'s first and last logged predictions were made (None if none were)."""
    query = sa.select(sa.func.min(_p.c.created_at), sa.func.max(_p.c.created_at)).where(
        _p.c.project == project, _p.c.model_name == model_name
    )
    with store.connect() as conn:
        first, last = conn.execute(query).one()
    return None if first is None else (_aware(first), _aware(last))


def _entity_labels(conn: sa.Connection, project: str, rows: pd.DataFrame) -> list[Any]:
    """Per row, the latest entity label whose event time is unset or at/after the prediction."""
    entities = sorted(set(rows["entity_id"]))
    found: dict[str, list[tuple[datetime | None, str]]] = {}
    for start in range(0, len(entities), 500):  # within SQLite's bound-parameter limit
        query = (
            sa.select(_l.c.entity_id, _l.c.event_time, _l.c.label)
            .where(
                _l.c.project == project,
                _l.c.request_id.is_(None),
                _l.c.entity_id.in_(entities[start : start + 500]),
            )
            .order_by(_l.c.received_at, _l.c.id)
        )
        for entity, event_time, label in conn.execute(query):
            found.setdefault(entity, []).append((event_time, label))
    labels: list[Any] = []
    for entity, created in zip(rows["entity_id"], rows["created_at"], strict=True):
        fitting = [
            label for event_time, label in found.get(entity, [])
            if event_time is None or _aware(event_time) >= _aware(created)
        ]  # fmt: skip
        labels.append(fitting[-1] if fitting else None)
    return labels


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes (stored as UTC): compare them as UTC."""
    return moment if moment.tzinfo is not None else pd.Timestamp(moment, tz="UTC").to_pydatetime()


def replace_window_metrics(
    store: Store,
    project: str,
    model_name: str,
    model_version: str,
    window: tuple[datetime, datetime],
    rows: Sequence[dict[str, Any]],
    source: str = LOG_SOURCE,
) -> None:
    """Store a window's results (each row: metric, column_name, value, details), replacing
    whatever an earlier computation of the same window, model version and source stored."""
    start, end = window
    scope = sa.and_(
        _m.c.project == project, _m.c.model_name == model_name, _m.c.source == source,
        _m.c.model_version == model_version, _m.c.window_start == start, _m.c.window_end == end,
    )  # fmt: skip
    now = datetime.now(start.tzinfo)
    values = [
        {"project": project, "model_name": model_name, "model_version": model_version,
         "window_start": start, "window_end": end, "computed_at": now, "column_name": None,
         "details": None, "source": source, **row}
        for row in rows
    ]  # fmt: skip
    with store.connect() as conn:  # one transaction: readers see the old window or the new
        conn.execute(sa.delete(_m).where(scope))
        if values:
            conn.execute(sa.insert(_m), values)


def window_metrics(
    store: Store,
    project: str,
    model_name: str | None = None,
    metric: str | None = None,
    source: str | None = LOG_SOURCE,
) -> pd.DataFrame:
    """Stored results of one source (None: every source), oldest window first (optionally
    one model's, one metric's)."""
    query = sa.select(_m).where(_m.c.project == project)
    if source is not None:
        query = query.where(_m.c.source == source)
    if model_name is not None:
        query = query.where(_m.c.model_name == model_name)
    if metric is not None:
        query = query.where(_m.c.metric == metric)
    query = query.order_by(_m.c.window_end, _m.c.metric, _m.c.column_name)
    with store.connect() as conn:
        rows = conn.execute(query).all()
    return pd.DataFrame(rows, columns=[c.name for c in _m.columns])


def measured_sources(store: Store, project: str) -> list[str]:
    """The sources with stored results: the prediction log's, ``batch``, ``--data`` names."""
    query = sa.select(_m.c.source).where(_m.c.project == project).distinct()
    with store.connect() as conn:
        return sorted(str(s) for s in conn.execute(query).scalars())


def latest_values(
    store: Store, project: str, model_name: str, wanted: Sequence[tuple[str, str | None]]
) -> dict[tuple[str, str | None], float]:
    """The most recent window's value of each (metric, column) in ``wanted`` that has one,
    in the prediction log's series."""
    found: dict[tuple[str, str | None], float] = {}
    with store.connect() as conn:
        for metric, column in wanted:
            query = (
                sa.select(_m.c.value)
                .where(
                    _m.c.project == project, _m.c.model_name == model_name,
                    _m.c.source == LOG_SOURCE, _m.c.metric == metric,
                    _m.c.column_name.is_(None) if column is None else _m.c.column_name == column,
                )
                .order_by(_m.c.window_end.desc(), _m.c.id.desc())
                .limit(1)
            )  # fmt: skip
            value = conn.execute(query).scalar_one_or_none()
            if value is not None:
                found[(metric, column)] = float(value)
    return found

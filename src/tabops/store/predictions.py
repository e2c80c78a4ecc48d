"""The prediction log's rows (served and shadow predictions) and their idempotent bulk insert.

The row format is defined once, here: a row is journaled as the JSON array of its table's
columns but ``project`` (the log's own), in the order of :data:`PREDICTION_FIELDS` or
:data:`SHADOW_FIELDS`, and those arrays come back to :class:`PredictionWriter` to be stored.
Importing this module loads no SQLAlchemy or pyarrow (serving's import stays light); writing does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from tabops.store.db import Store

#: A served prediction as journaled: its table's columns but ``project``, in table order.
PREDICTION_FIELDS = ("request_id", "model_name", "model_version", "created_at", "entity_id",
                     "features", "outputs", "score", "decision", "rules", "latency_ms")  # fmt: skip
#: A shadow prediction as journaled (journals written by earlier versions use this order).
SHADOW_FIELDS = ("request_id", "model_name", "model_version", "created_at", "outputs", "score",
                 "decision", "latency_ms")  # fmt: skip


@dataclass
class Prediction:
    """One served prediction."""

    request_id: str
    model_name: str
    model_version: str
    created_at: float  # seconds since the epoch
    entity_id: str | None
    features: dict[str, Any]
    outputs: dict[str, Any]
    score: float | None
    decision: str | None
    latency_ms: float
    rules: dict[str, Any] | None = None

    def encode(self) -> bytes:
        """The journal line (without its newline)."""
        return orjson.dumps([getattr(self, name) for name in PREDICTION_FIELDS])


@dataclass
class ShadowPrediction:
    """The challenger's answer to a request the champion served (scored in shadow)."""

    request_id: str
    model_name: str
    model_version: str
    created_at: float  # seconds since the epoch
    outputs: dict[str, Any]
    score: float | None
    decision: str | None
    latency_ms: float

    def encode(self) -> bytes:
        """The journal line (without its newline): tagged, to tell it from a served one."""
        return orjson.dumps({"shadow": [getattr(self, name) for name in SHADOW_FIELDS]})


def is_data_error(exc: BaseException) -> bool:
    """Whether the store refused rows as data (it never will take them), as opposed to being
    unreachable: a malformed row, a value a column cannot hold, a constraint."""
    if isinstance(exc, ValueError | TypeError | OverflowError | LookupError):
        return True  # a row of the wrong shape, or values Arrow cannot type
    import sqlalchemy as sa  # SQLAlchemy is loaded once the log writes: serving imports stay light

    if isinstance(exc, sa.exc.IntegrityError | sa.exc.DataError):
        return True
    from adbc_driver_manager import DataError, IntegrityError

    return isinstance(exc, DataError | IntegrityError)


class PredictionWriter:
    """Stores journaled rows, once each: a row whose request_id is stored already is skipped,
    so a replay after a crash never duplicates one."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def prepare(self) -> None:
        """Load what writing needs (Arrow, the database driver) before rows arrive, so that the
        first write does not hold up requests while modules load."""
        import pyarrow  # noqa: F401

        from tabops.store import bulk  # noqa: F401

        if self._store.is_postgres:
            import adbc_driver_postgresql.dbapi  # noqa: F401

    def write(self, project: str, rows: list[Any]) -> int:
        """Insert what is new of ``rows`` (decoded journal lines of ``project``); the number of
        rows inserted. Rows the store refuses raise an error :func:`is_data_error` knows."""
        from tabops.store import schema
        from tabops.store.rejections import TAG, insert_buckets

        self._store.ensure_migrated()  # the store may have been down or empty at startup
        served = [row for row in rows if isinstance(row, list)]
        shadow = [row["shadow"] for row in rows if isinstance(row, dict) and "shadow" in row]
        refused = [row[TAG] for row in rows if isinstance(row, dict) and TAG in row]
        if len(served) + len(shadow) + len(refused) != len(rows):
            raise ValueError("a journal line that is no prediction-log row")
        inserted = 0
        with self._store.bulk(durable=False) as transaction:  # the journal holds every row
            for table, fields, values in (
                (schema.predictions, PREDICTION_FIELDS, served),
                (schema.shadow_predictions, SHADOW_FIELDS, shadow),
            ):
                if values:
                    inserted += transaction.insert_new(
                        table.name, _columns(project, fields, values)
                    )
            if refused:  # the refusal counts journaled beside the predictions
                inserted += insert_buckets(transaction, project, refused)
        return inserted


def shadow_pairs(store: Store, project: str) -> list[dict[str, Any]]:
    """Each request both the champion and a challenger answered: the champion's and the
    challenger's version, score and decision, the label if one came, the time."""
    import sqlalchemy as sa

    from tabops.store import schema

    p, s, lab = schema.predictions, schema.shadow_predictions, schema.labels
    query = (
        sa.select(
            p.c.request_id,
            p.c.model_version.label("champion"),
            p.c.score.label("champion_score"),
            p.c.decision.label("champion_decision"),
            s.c.model_version.label("challenger"),
            s.c.score.label("challenger_score"),
            s.c.decision.label("challenger_decision"),
            lab.c.label,
            p.c.created_at,
        )
        .join(s, sa.and_(s.c.request_id == p.c.request_id, s.c.project == p.c.project))
        .outerjoin(lab, sa.and_(lab.c.request_id == p.c.request_id, lab.c.project == p.c.project))
        .where(p.c.project == project)
    )
    with store.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def _columns(project: str, fields: tuple[str, ...], rows: list[Any]) -> dict[str, list[Any]]:
    """Journaled rows as column values typed as the table's."""
    columns = list(zip(*rows, strict=True))
    if len(columns) != len(fields):
        raise ValueError(f"a row of {len(columns)} values, not {len(fields)}")
    values: dict[str, list[Any]] = {"project": [project] * len(rows)}
    for name, column in zip(fields, columns, strict=True):
        if name == "created_at":
            values[name] = [datetime.fromtimestamp(stamp, UTC) for stamp in column]
        elif name == "rules":  # optional, unlike features and outputs
            values[name] = [None if v is None else orjson.dumps(v).decode() for v in column]
        elif name in ("features", "outputs"):
            values[name] = [orjson.dumps(v).decode() for v in column]
        else:
            values[name] = list(column)
    return values

"""Reference profiles by model version: written at registration, read by the monitor."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from tabops.store import schema
from tabops.store.db import Store

_table = schema.reference_profiles


def save_reference(store: Store, project: str, model_name: str, version: str, doc: str) -> None:
    """Store (or replace) the reference document of one model version."""
    row = {"project": project, "model_name": model_name, "model_version": version,
           "reference": doc, "created_at": datetime.now(UTC)}  # fmt: skip
    insert = (postgresql if store.is_postgres else sqlite).insert(_table).values(row)
    upsert = insert.on_conflict_do_update(
        index_elements=["project", "model_name", "model_version"],
        set_={"reference": insert.excluded.reference, "created_at": insert.excluded.created_at},
    )
    with store.connect() as conn:
        conn.execute(upsert)


def load_reference(store: Store, project: str, model_name: str, version: str) -> str | None:
    """The reference document of one model version, or None if none was stored."""
    query = sa.select(_table.c.reference).where(
        _table.c.project == project,
        _table.c.model_name == model_name,
        _table.c.model_version == version,
    )
    with store.connect() as conn:
        found: str | None = conn.execute(query).scalar_one_or_none()
        return found

"""Migration 0009 keeps a store's batch history: each run date's rows under one run row, in
both directions, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from tabops.store.batch import batch_history, run_summaries
from tabops.store.db import open_store, sqlalchemy_url

D1, D2 = date(2026, 1, 1), date(2026, 1, 2)
CREATED = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)


def _old_rows() -> list[dict[str, object]]:
    rows = []
    for day, batch, version, entities in ((D1, "b1", "1", ["c2", "c1"]), (D2, "b2", "2", ["c3"])):
        for number, entity in enumerate(entities):
            rows.append(
                {
                    "project": "churn",
                    "run_date": day,
                    "batch_id": batch,
                    "model_name": "churn",
                    "model_version": version,
                    "entity_id": entity,
                    "score": 0.1 * (number + 1),
                    "label": "no",
                    "decision": None,
                    "created_at": CREATED,
                }
            )
    return rows


def _migrate(url: str, revision: str, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", "tabops.store:migrations")
    with sa.create_engine(url).begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_history_survives_the_upgrade_and_the_downgrade(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        request.getfixturevalue("pg_url")
        if backend == "postgres"
        else f"sqlite:///{tmp_path / 'store.db'}"
    )
    engine_url = sqlalchemy_url(url)
    _migrate(engine_url, "0008")
    old = sa.Table("batch_predictions", sa.MetaData(), autoload_with=sa.create_engine(engine_url))
    with sa.create_engine(engine_url).begin() as conn:
        conn.execute(old.insert(), _old_rows())

    store = open_store(url)  # upgrades to the head
    summaries = run_summaries(store, "churn")
    assert [(d, s.batch_id, s.model_version, s.rows) for d, s in summaries.items()] == [
        (D1, "b1", "1", 2),
        (D2, "b2", "2", 1),
    ]
    history = batch_history(store, "churn").to_pylist()
    assert [(r["run_date"], r["entity_id"], r["batch_id"]) for r in history] == [
        (D1, "c1", "b1"),  # a run's old rows are numbered in entity order
        (D1, "c2", "b1"),
        (D2, "c3", "b2"),
    ]
    assert {r["created_at"] for r in history} == {CREATED}
    store.engine.dispose()

    _migrate(engine_url, "0008", down=True)
    with sa.create_engine(engine_url).connect() as conn:
        back = [dict(r._mapping) for r in conn.execute(sa.select(old).order_by("entity_id"))]
    assert [(r["entity_id"], r["batch_id"], r["score"]) for r in back] == [
        ("c1", "b1", 0.2),
        ("c2", "b1", 0.1),
        ("c3", "b2", 0.1),
    ]

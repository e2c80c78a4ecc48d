"""Batch history: the run's lineage once per run (``batch_runs``), slim rows keyed by run.

Each history row carried its project, run date, batch id, model name and version and a
timestamp, and an index on (project, run date, entity): on SQLite a million rows took 2.6 s
to insert and 350 MB of journal to commit. The lineage now lives in one ``batch_runs`` row per
run date, and a row's ``id`` is its run's id times 2**32 plus its position in the run, so a
run's rows are one range of the primary key and no second index is needed (1.0 s, 60 MB).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_RUN_BASE = 2**32  # schema.RUN_ROW_BITS; a migration keeps its own copy of what it wrote


def upgrade() -> None:
    op.create_table(
        "batch_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("run_date", sa.Date, nullable=False),
        sa.Column("batch_id", sa.String(32), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("scored_rows", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ux_batch_runs_run_date", "batch_runs", ["project", "run_date"], unique=True)
    op.execute(
        "INSERT INTO batch_runs (project, run_date, batch_id, model_name, model_version, "
        "scored_rows, created_at) SELECT project, run_date, MIN(batch_id), MIN(model_name), "
        "MIN(model_version), COUNT(*), MIN(created_at) FROM batch_predictions "
        "GROUP BY project, run_date"
    )
    op.drop_index("ix_batch_predictions_run_entity", "batch_predictions")
    op.rename_table("batch_predictions", "batch_predictions_0008")
    _create_rows_table()
    op.execute(
        "INSERT INTO batch_predictions (id, run_id, entity_id, score, label, decision) "
        f"SELECT r.id * {_RUN_BASE} + ROW_NUMBER() OVER (PARTITION BY r.id "
        "ORDER BY o.entity_id) - 1, r.id, o.entity_id, o.score, o.label, o.decision "
        "FROM batch_predictions_0008 o JOIN batch_runs r "
        "ON r.project = o.project AND r.run_date = o.run_date"
    )
    op.drop_table("batch_predictions_0008")


def _create_rows_table() -> None:
    op.create_table(
        "batch_predictions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),  # SQLite: the rowid itself
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("entity_id", sa.String(128)),
        sa.Column("score", sa.Float),
        sa.Column("label", sa.Text),
        sa.Column("decision", sa.String(32)),
    )


def downgrade() -> None:
    op.rename_table("batch_predictions", "batch_predictions_0009")
    op.create_table(
        "batch_predictions",
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("run_date", sa.Date, nullable=False),
        sa.Column("batch_id", sa.String(32), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(128)),
        sa.Column("score", sa.Float),
        sa.Column("label", sa.Text),
        sa.Column("decision", sa.String(32)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(
        "INSERT INTO batch_predictions (project, run_date, batch_id, model_name, model_version, "
        "entity_id, score, label, decision, created_at) SELECT r.project, r.run_date, "
        "r.batch_id, r.model_name, r.model_version, n.entity_id, n.score, n.label, n.decision, "
        "r.created_at FROM batch_predictions_0009 n JOIN batch_runs r ON r.id = n.run_id"
    )
    op.drop_table("batch_predictions_0009")
    op.drop_table("batch_runs")
    op.create_index(
        "ix_batch_predictions_run_entity", "batch_predictions", ["project", "run_date", "entity_id"]
    )

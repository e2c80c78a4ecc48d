"""Batch predictions: every ``tabops predict`` run's scored rows per entity, with run date,
batch id and model version, so monitoring reads batch scores like the prediction log.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
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
    op.create_index("ix_batch_predictions_run", "batch_predictions", ["project", "run_date"])
    op.create_index(
        "ix_batch_predictions_entity", "batch_predictions", ["project", "entity_id", "run_date"]
    )


def downgrade() -> None:
    op.drop_index("ix_batch_predictions_entity", "batch_predictions")
    op.drop_index("ix_batch_predictions_run", "batch_predictions")
    op.drop_table("batch_predictions")

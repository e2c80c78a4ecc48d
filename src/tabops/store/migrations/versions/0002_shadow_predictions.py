"""Shadow predictions: the challenger's answers to the requests the champion served.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shadow_predictions",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("model_version", sa.String(32), primary_key=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outputs", sa.Text, nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("decision", sa.String(32)),
        sa.Column("latency_ms", sa.Float),
    )
    op.create_index(
        "ix_shadow_predictions_project_time", "shadow_predictions", ["project", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_shadow_predictions_project_time", "shadow_predictions")
    op.drop_table("shadow_predictions")

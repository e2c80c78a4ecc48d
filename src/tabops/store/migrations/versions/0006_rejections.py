"""Refused prediction requests per minute, in all and by field and reason.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rejected_requests",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("records", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_rejected_requests_project_minute", "rejected_requests", ["project", "minute"]
    )
    op.create_table(
        "rejected_fields",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("field", sa.String(128), primary_key=True),
        sa.Column("reason", sa.String(32), primary_key=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("records", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_rejected_fields_project_minute", "rejected_fields", ["project", "minute"])


def downgrade() -> None:
    op.drop_index("ix_rejected_fields_project_minute", "rejected_fields")
    op.drop_table("rejected_fields")
    op.drop_index("ix_rejected_requests_project_minute", "rejected_requests")
    op.drop_table("rejected_requests")

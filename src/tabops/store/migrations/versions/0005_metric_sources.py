"""Metric sources: the prediction log's windows and those of data files or tables measured
with ``tabops monitor run --data`` are separate series, and so are their alerts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_EVENT_KEY = ["project", "model_name", "alert", "window_end", "state"]


def _source() -> sa.Column[str]:
    # The rows already stored came from the prediction log: the default says so.
    return sa.Column("source", sa.String(128), nullable=False, server_default="predictions")


def upgrade() -> None:
    with op.batch_alter_table("monitor_metrics") as batch:
        batch.add_column(_source())
    op.create_index(
        "ix_monitor_metrics_source", "monitor_metrics", ["project", "source", "window_end"]
    )
    op.drop_index("ux_alert_events_transition", "alert_events")
    with op.batch_alter_table("alert_events") as batch:
        batch.add_column(_source())
    op.create_index(
        "ux_alert_events_transition", "alert_events", [*_EVENT_KEY, "source"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ux_alert_events_transition", "alert_events")
    with op.batch_alter_table("alert_events") as batch:
        batch.drop_column("source")
    op.create_index("ux_alert_events_transition", "alert_events", _EVENT_KEY, unique=True)
    op.drop_index("ix_monitor_metrics_source", "monitor_metrics")
    with op.batch_alter_table("monitor_metrics") as batch:
        batch.drop_column("source")

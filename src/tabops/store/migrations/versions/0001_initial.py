"""Initial tabops store: ingestion ledger, snapshots, quarantine, predictions, labels,
monitoring metrics and promotion audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    committed = sa.column("status") == "committed"
    op.create_table(
        "ingest_batches",
        sa.Column("batch_id", sa.String(32), primary_key=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("spec_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rows_in", sa.BigInteger, nullable=False),
        sa.Column("rows_loaded", sa.BigInteger, nullable=False),
        sa.Column("rows_quarantined", sa.BigInteger, nullable=False),
        sa.Column("rows_rejected", sa.BigInteger, nullable=False),
        sa.Column("snapshot_hash", sa.String(64)),
        sa.Column("report", sa.Text, nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=False),
    )
    op.create_index(
        "ux_ingest_batches_committed_content",
        "ingest_batches",
        ["project", "content_hash"],
        unique=True,
        sqlite_where=committed,
        postgresql_where=committed,
    )
    op.create_table(
        "snapshots",
        sa.Column("project", sa.String(64), primary_key=True),
        sa.Column("snapshot_hash", sa.String(64), primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("columns", sa.Integer, nullable=False),
        sa.Column("batch_id", sa.String(32), nullable=False),
        sa.Column("parent_hash", sa.String(64)),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "quarantine",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("batch_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("line", sa.BigInteger),
        sa.Column("row_number", sa.BigInteger),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("replayed_batch_id", sa.String(32)),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_quarantine_project_batch", "quarantine", ["project", "batch_id"])
    op.create_index("ix_quarantine_project_status", "quarantine", ["project", "status"])
    op.create_table(
        "predictions",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("entity_id", sa.String(128)),
        sa.Column("features", sa.Text, nullable=False),
        sa.Column("outputs", sa.Text, nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("decision", sa.String(32)),
        sa.Column("rules", sa.Text),
        sa.Column("latency_ms", sa.Float),
    )
    op.create_index("ix_predictions_project_time", "predictions", ["project", "created_at"])
    op.create_index("ix_predictions_model", "predictions", ["model_name", "model_version"])
    op.create_table(
        "labels",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(64)),
        sa.Column("entity_id", sa.String(128)),
        sa.Column("event_time", _TS),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("received_at", _TS, nullable=False),
    )
    op.create_index("ux_labels_project_request", "labels", ["project", "request_id"], unique=True)
    op.create_index("ix_labels_project_entity", "labels", ["project", "entity_id", "event_time"])
    op.create_table(
        "monitor_metrics",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("model_name", sa.String(128)),
        sa.Column("model_version", sa.String(32)),
        sa.Column("window_start", _TS, nullable=False),
        sa.Column("window_end", _TS, nullable=False),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("column_name", sa.String(128)),
        sa.Column("value", sa.Float),
        sa.Column("details", sa.Text),
        sa.Column("computed_at", _TS, nullable=False),
    )
    op.create_index(
        "ix_monitor_metrics_lookup", "monitor_metrics", ["project", "metric", "window_end"]
    )
    op.create_table(
        "promotion_audit",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("from_version", sa.String(32)),
        sa.Column("to_version", sa.String(32)),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_promotion_audit_project_time", "promotion_audit", ["project", "created_at"])


def downgrade() -> None:
    for table in (
        "promotion_audit",
        "monitor_metrics",
        "labels",
        "predictions",
        "quarantine",
        "snapshots",
        "ingest_batches",
    ):
        op.drop_table(table)

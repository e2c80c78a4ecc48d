"""The tabops store's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

The tables are created and changed only by the versioned migrations in
``tabops/store/migrations``; this module describes the current shape for queries and writes.
JSON documents are stored as text so that bulk writes (COPY on PostgreSQL) stay portable.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()
#: The migration these tables are the result of (the alembic head): a store already at it opens
#: without loading alembic.
SCHEMA_REVISION = "0009"

#: One row per ingest attempt: the ledger that makes loads idempotent per content hash.
ingest_batches = Table(
    "ingest_batches",
    metadata,
    Column("batch_id", String(32), primary_key=True),
    Column("project", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("spec_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # committed | blocked
    Column("rows_in", BigInteger, nullable=False),
    Column("rows_loaded", BigInteger, nullable=False),
    Column("rows_quarantined", BigInteger, nullable=False),
    Column("rows_rejected", BigInteger, nullable=False),
    Column("snapshot_hash", String(64)),
    Column("report", Text, nullable=False),  # JSON: checks, drift, timings
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Index(
        "ux_ingest_batches_committed_content",
        "project",
        "content_hash",
        unique=True,
        sqlite_where=Column("status") == "committed",
        postgresql_where=Column("status") == "committed",
    ),
)

#: Immutable, content-hashed Parquet snapshots: the data versions later stages record.
snapshots = Table(
    "snapshots",
    metadata,
    Column("project", String(64), primary_key=True),
    Column("snapshot_hash", String(64), primary_key=True),
    Column("path", Text, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("columns", Integer, nullable=False),
    Column("batch_id", String(32), nullable=False),
    Column("parent_hash", String(64)),
    Column("source", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: Rows that failed the contract or could not be parsed, kept raw with every reason.
quarantine = Table(
    "quarantine",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("project", String(64), nullable=False),
    Column("batch_id", String(32), nullable=False),
    Column("kind", String(16), nullable=False),  # structural | contract
    Column("line", BigInteger),  # line in the CSV file where the record starts
    Column("row_number", BigInteger),  # 1-based record number in the batch
    Column("raw", Text, nullable=False),  # the raw line (structural) or JSON object (contract)
    Column("reasons", Text, nullable=False),  # JSON list of {column, check, message}
    Column("status", String(16), nullable=False),  # open | replayed
    Column("replayed_batch_id", String(32)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_quarantine_project_batch", "project", "batch_id"),
    Index("ix_quarantine_project_status", "project", "status"),
)

#: Every served prediction, keyed by request_id so retries and replays upsert.
predictions = Table(
    "predictions",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("project", String(64), nullable=False),
    Column("model_name", String(128), nullable=False),
    Column("model_version", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("entity_id", String(128)),
    Column("features", Text, nullable=False),  # JSON object
    Column("outputs", Text, nullable=False),  # JSON object
    Column("score", Float),
    Column("decision", String(32)),
    Column("rules", Text),  # JSON: rules version, fired rules
    Column("latency_ms", Float),
    Index("ix_predictions_project_time", "project", "created_at"),
    Index("ix_predictions_model", "model_name", "model_version"),
)

#: One row per `tabops predict` run date: its lineage and how many rows it scored.
batch_runs = Table(
    "batch_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(64), nullable=False),
    Column("run_date", Date, nullable=False),
    Column("batch_id", String(32), nullable=False),
    Column("model_name", String(128), nullable=False),
    Column("model_version", String(32), nullable=False),
    Column("scored_rows", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ux_batch_runs_run_date", "project", "run_date", unique=True),
)

#: Bits of a history row's id below its run's id: a run holds fewer than 2**32 rows.
RUN_ROW_BITS = 32

#: Each batch run's scored rows. A row's ``id`` is its run's id shifted by ``RUN_ROW_BITS``
#: plus its position in the run, so a run's rows are one range of the primary key and the
#: table needs no second index (on SQLite a million rows insert in 1.0 s instead of 2.6 s with
#: the lineage on every row and an index on run date and entity; migration 0009).
batch_predictions = Table(
    "batch_predictions",
    metadata,
    # INTEGER on SQLite: the rowid itself, the table's only B-tree.
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("run_id", Integer, nullable=False),  # batch_runs.id
    Column("entity_id", String(128)),  # the id column(s), joined by '|' when several
    Column("score", Float),
    Column("label", Text),
    Column("decision", String(32)),
)

#: The challenger's answers, scored in shadow beside the champion's (never returned).
shadow_predictions = Table(
    "shadow_predictions",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("model_version", String(32), primary_key=True),
    Column("project", String(64), nullable=False),
    Column("model_name", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("outputs", Text, nullable=False),  # JSON object
    Column("score", Float),
    Column("decision", String(32)),
    Column("latency_ms", Float),
    Index("ix_shadow_predictions_project_time", "project", "created_at"),
)

#: Ground truth arriving late, joined to predictions by request_id or entity and time.
labels = Table(
    "labels",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("project", String(64), nullable=False),
    Column("request_id", String(64)),
    Column("entity_id", String(128)),
    Column("event_time", DateTime(timezone=True)),
    Column("label", Text, nullable=False),
    Column("source", String(64), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("ux_labels_project_request", "project", "request_id", unique=True),
    Index("ix_labels_project_entity", "project", "entity_id", "event_time"),
)

#: Monitoring results per window: drift statistics, realized performance, alerts.
monitor_metrics = Table(
    "monitor_metrics",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("project", String(64), nullable=False),
    Column("model_name", String(128)),
    Column("model_version", String(32)),
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("window_end", DateTime(timezone=True), nullable=False),
    Column("metric", String(64), nullable=False),
    Column("column_name", String(128)),
    Column("value", Float),
    Column("details", Text),  # JSON
    Column("computed_at", DateTime(timezone=True), nullable=False),
    # "predictions" (the log) or the name a `monitor run --data` stored a file or table under.
    Column("source", String(128), nullable=False, server_default="predictions"),
    Index("ix_monitor_metrics_lookup", "project", "metric", "window_end"),
    Index("ix_monitor_metrics_source", "project", "source", "window_end"),
)

#: Prediction requests a server refused (422, or a body that is not JSON), per minute, model
#: version and process (``id``): summed over ids when read.
rejected_requests = Table(
    "rejected_requests",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project", String(64), nullable=False),
    Column("model_name", String(128), nullable=False),
    Column("model_version", String(32), nullable=False),
    Column("minute", DateTime(timezone=True), nullable=False),
    Column("requests", BigInteger, nullable=False),
    Column("records", BigInteger, nullable=False),  # in the refused requests
    Index("ix_rejected_requests_project_minute", "project", "minute"),
)

#: The same minutes by field and reason: records refused for each (field, reason).
rejected_fields = Table(
    "rejected_fields",
    metadata,
    Column("id", String(64), primary_key=True),  # the rejected_requests row's
    Column("field", String(128), primary_key=True),  # a column of the spec, or "(other)"
    Column("reason", String(32), primary_key=True),  # missing, type, min, max, category, ...
    Column("project", String(64), nullable=False),
    Column("model_name", String(128), nullable=False),
    Column("model_version", String(32), nullable=False),
    Column("minute", DateTime(timezone=True), nullable=False),
    Column("records", BigInteger, nullable=False),
    Index("ix_rejected_fields_project_minute", "project", "minute"),
)

#: Each model version's reference: its training data's profile, score calibration, threshold.
reference_profiles = Table(
    "reference_profiles",
    metadata,
    Column("project", String(64), primary_key=True),
    Column("model_name", String(128), primary_key=True),
    Column("model_version", String(32), primary_key=True),
    Column("reference", Text, nullable=False),  # JSON (tabops.monitor.reference)
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: Each alert's firings and resolutions, one row per transition, with its delivery state.
alert_events = Table(
    "alert_events",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("project", String(64), nullable=False),
    Column("model_name", String(128), nullable=False),
    Column("alert", String(64), nullable=False),
    Column("window_end", DateTime(timezone=True), nullable=False),
    Column("state", String(16), nullable=False),  # firing | resolved
    Column("severity", String(16), nullable=False),
    Column("metric", String(64), nullable=False),
    Column("column_name", String(128)),
    Column("value", Float, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("notified_at", DateTime(timezone=True)),  # null until the webhook took it
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("source", String(128), nullable=False, server_default="predictions"),  # as above
    Index(
        "ux_alert_events_transition",
        "project",
        "model_name",
        "alert",
        "window_end",
        "state",
        "source",
        unique=True,
    ),
)

#: Every promotion decision and alias move, with reasons and both models' metrics.
promotion_audit = Table(
    "promotion_audit",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("project", String(64), nullable=False),
    Column("model_name", String(128), nullable=False),
    Column("action", String(16), nullable=False),  # gate | promote | rollback
    Column("decision", String(16), nullable=False),  # promoted | refused
    Column("from_version", String(32)),
    Column("to_version", String(32)),
    Column("reasons", Text, nullable=False),  # JSON list
    Column("metrics", Text, nullable=False),  # JSON: candidate and champion metrics
    Column("actor", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_promotion_audit_project_time", "project", "created_at"),
)

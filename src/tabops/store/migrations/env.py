"""Alembic environment for the tabops store; run programmatically by ``tabops.store.db``."""

from __future__ import annotations

from alembic import context

from tabops.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

"""What every stage function receives: settings, the store (opened on first use), progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tabops.progress import SILENT, Progress
from tabops.settings import Settings

if TYPE_CHECKING:  # the store pulls in SQLAlchemy, Alembic and Arrow: only when used
    from tabops.store.db import Store


@dataclass
class Context:
    """Settings plus lazily opened resources, shared by the CLI, API and DAG adapters."""

    settings: Settings = field(default_factory=Settings)
    progress: Progress = SILENT
    _store: Store | None = field(default=None, repr=False)

    @property
    def store(self) -> Store:
        """The tabops store, opened and migrated on first use."""
        if self._store is None:
            from tabops.store.db import open_store

            self._store = open_store(self.settings.store_url)
        return self._store

"""What every stage function receives: settings, the store (opened on first use), progress."""

from __future__ import annotations

from dataclasses import dataclass, field

from tabops.progress import SILENT, Progress
from tabops.settings import Settings
from tabops.store.db import Store, open_store


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
            self._store = open_store(self.settings.store_url)
        return self._store

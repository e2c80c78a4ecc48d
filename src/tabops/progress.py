"""Progress reporting that stage functions use without knowing who is watching.

The CLI passes a Rich-backed reporter; ``--json``, the HTTP API and DAGs pass :data:`SILENT`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

#: Called with how much work was just done.
Advance = Callable[[float], None]


class Progress(Protocol):
    """Reports named steps of long work, optionally with a known total."""

    def step(self, description: str, total: float | None = None) -> AbstractContextManager[Advance]:
        """A step: entered when it starts, left when it ends; yields an advance function."""
        ...


class _Silent:
    @contextmanager
    def step(self, description: str, total: float | None = None) -> Iterator[Advance]:
        yield lambda _amount: None


#: A reporter that shows nothing.
SILENT: Progress = _Silent()

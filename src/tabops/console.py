"""Terminal output for the CLI: Rich progress, tables, and JSON documents for scripts."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tabops.progress import Advance

out = Console()
err = Console(stderr=True)


class RichProgress:
    """Shows each step of a stage as a spinner (or a bar when the total is known)."""

    def __init__(self, console: Console = err) -> None:
        self._console = console

    @contextmanager
    def step(self, description: str, total: float | None = None) -> Iterator[Advance]:
        started = time.perf_counter()
        if total is None:
            with self._console.status(description):
                yield lambda _amount: None
        else:
            columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                       TimeElapsedColumn()]  # fmt: skip
            with Progress(*columns, console=self._console, transient=True) as progress:
                task = progress.add_task(description, total=total)
                yield lambda amount: progress.advance(task, amount)
        elapsed = time.perf_counter() - started
        self._console.print(f"[green]✓[/green] {description} [dim]({elapsed:.2f} s)[/dim]")


def print_json(document: Any) -> None:
    """One machine-readable JSON document on stdout (strict JSON: NaN and infinities as null)."""
    sys.stdout.write(json.dumps(_strict(document), indent=2, default=str, allow_nan=False) + "\n")
    sys.stdout.flush()


def _strict(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """A Rich table with a title, header and stringified cells."""
    rendered = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        rendered.add_column(column)
    for row in rows:
        rendered.add_row(*("" if cell is None else str(cell) for cell in row))
    return rendered


def key_values(title: str, pairs: Sequence[tuple[str, Any]]) -> Table:
    """A two-column table of labelled values."""
    rendered = Table(title=title, title_justify="left", show_header=False)
    rendered.add_column(style="bold")
    rendered.add_column()
    for key, value in pairs:
        rendered.add_row(key, "" if value is None else str(value))
    return rendered

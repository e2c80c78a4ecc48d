"""Migrations from several threads of one process (the prediction-log writer and requests)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tabops.store.db import open_store


def test_threads_migrating_at_once_all_succeed(tmp_path: Path) -> None:
    urls = [f"sqlite:///{tmp_path / f'store{i % 3}.db'}" for i in range(24)]
    with ThreadPoolExecutor(8) as pool:
        stores = list(pool.map(open_store, urls))  # raises if alembic's context is corrupted
    assert len(stores) == 24

"""Snapshot lookup by hash prefix: literal comparison, every match found."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tabops.store import schema
from tabops.store.db import Store, open_store
from tabops.store.ledger import find_snapshot, snapshots_with_prefix

_projects = itertools.count()
hashes = st.lists(st.text("ab%_/\\0", min_size=1, max_size=6), min_size=1, max_size=8, unique=True)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return open_store(f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'store.db'}")


def _record(store: Store, project: str, digests: list[str]) -> None:
    now = datetime.now(UTC)
    with store.connect() as conn:
        conn.execute(
            schema.snapshots.insert(),
            [
                {"project": project, "snapshot_hash": digest, "path": str(Path(digest)),
                 "rows": 1, "columns": 1, "batch_id": "b", "parent_hash": None,
                 "source": "test", "created_at": now}
                for digest in digests
            ],
        )  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(digests=hashes, prefix=st.text("ab%_/\\0", max_size=4))
def test_prefixes_are_compared_literally(store: Store, digests: list[str], prefix: str) -> None:
    project = f"p{next(_projects)}"
    _record(store, project, digests)
    found = {row.snapshot_hash for row in snapshots_with_prefix(store, project, prefix, limit=99)}
    expected = {d for d in digests if d.startswith(prefix)} if prefix else set()
    assert found == expected
    unique = find_snapshot(store, project, prefix)
    assert (unique.snapshot_hash if unique else None) == (
        expected.pop() if len(expected) == 1 else None
    )

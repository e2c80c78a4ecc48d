"""The prediction log's journal: rows reach the store once, survive a dead process, and are
dropped (and counted) only at the disk cap."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from tabops.serve.journal import LogRow, PredictionLog


def _rows(start: int, count: int) -> list[LogRow]:
    return [
        LogRow(f"r{i}", "m", "1", time.time(), None, {"x": i}, {"label": "yes"}, 0.5, "yes", 1.0)
        for i in range(start, start + count)
    ]


def _stored(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        try:
            return [r[0] for r in conn.execute("SELECT request_id FROM predictions ORDER BY 1")]
        except sqlite3.OperationalError:  # not migrated yet
            return []


def _wait(condition: object, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def test_rows_reach_the_store_once_and_the_journal_empties(tmp_path: Path, url: str) -> None:
    journal = PredictionLog(tmp_path / "journal", url, "p", max_bytes=10**8)
    journal.start()
    assert journal.append(_rows(0, 50)) and journal.append(_rows(50, 50))
    assert journal.append(_rows(0, 10))  # a client retry with the same request ids
    _wait(lambda: journal.backlog_rows == 0)
    journal.close(5)
    stored = _stored(tmp_path / "store.db")
    assert len(stored) == 100 == len(set(stored))
    assert not list((tmp_path / "journal").glob("*.jsonl"))


def test_a_dead_process_journal_is_replayed_by_the_next_start(tmp_path: Path, url: str) -> None:
    folder = tmp_path / "journal"
    dead = PredictionLog(folder, "postgresql://nobody@127.0.0.1:1/none", "p", max_bytes=10**8)
    dead.append(_rows(0, 30))  # never started: as if killed before its writer ran
    with (folder / f"{dead._owner}.000000.jsonl").open("ab") as handle:
        handle.write(b'["torn line, cut by a crash')  # no newline: ignored, not replayed
    os.close(dead._lock_fd)  # the process "dies": its lock is released
    survivor = PredictionLog(folder, url, "p", max_bytes=10**8)
    survivor.start()
    _wait(lambda: len(_stored(tmp_path / "store.db")) == 30)
    survivor.close(5)
    assert _stored(tmp_path / "store.db") == sorted(f"r{i}" for i in range(30))


def test_a_live_process_journal_is_left_alone(tmp_path: Path, url: str) -> None:
    folder = tmp_path / "journal"
    live = PredictionLog(folder, "postgresql://nobody@127.0.0.1:1/none", "p", max_bytes=10**8)
    live.append(_rows(0, 5))
    other = PredictionLog(folder, url, "p", max_bytes=10**8)
    other.start()
    other.append(_rows(100, 1))
    _wait(lambda: other.backlog_rows == 0)
    other.close(5)
    assert _stored(tmp_path / "store.db") == ["r100"]


def test_rows_past_the_disk_cap_are_dropped_and_counted(tmp_path: Path) -> None:
    down = "postgresql://nobody@127.0.0.1:1/none"  # the store never answers
    journal = PredictionLog(tmp_path / "journal", down, "p", max_bytes=2000)
    journal.start()
    kept = sum(journal.append(_rows(i, 1)) for i in range(50))
    assert 0 < kept < 50
    assert journal.stats.dropped == 50 - kept
    _wait(lambda: not journal.stats.store_up)
    assert not journal.healthy
    journal.close(0.5)
    assert list((tmp_path / "journal").glob("*.jsonl"))  # kept rows stay for a later start

"""The prediction log's journal: rows reach the store once, survive a dead process, and are
dropped (and counted) only at the disk cap."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tabops.serve import journal as journal_module
from tabops.serve.journal import PredictionLog
from tabops.store.db import Store, sqlalchemy_url
from tabops.store.predictions import Prediction


def _rows(start: int, count: int) -> list[Prediction]:
    return [
        Prediction(
            f"r{i}", "m", "1", time.time(), None, {"x": i}, {"label": "yes"}, 0.5, "yes", 1.0
        )
        for i in range(start, start + count)
    ]


def _stored(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        try:
            return [r[0] for r in conn.execute("SELECT request_id FROM predictions ORDER BY 1")]
        except sqlite3.OperationalError:  # not migrated yet
            return []


def _wait(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def test_rows_reach_the_store_once_and_the_journal_empties(tmp_path: Path, url: str) -> None:
    journal = PredictionLog(tmp_path / "journal", Store(url), "p", max_bytes=10**8)
    journal.start()
    assert journal.append(_rows(0, 50)) and journal.append(_rows(50, 50))
    assert journal.append(_rows(0, 10))  # a client retry with the same request ids
    _wait(lambda: journal.backlog_rows == 0)
    journal.close(5)
    assert journal.stats.duplicates == 10
    stored = _stored(tmp_path / "store.db")
    assert len(stored) == 100 == len(set(stored))
    assert not list((tmp_path / "journal").glob("*.jsonl"))


def test_a_dead_process_journal_is_replayed_by_the_next_start(tmp_path: Path, url: str) -> None:
    folder = tmp_path / "journal"
    dead = PredictionLog(
        folder, Store("postgresql://nobody@127.0.0.1:1/none"), "p", max_bytes=10**8
    )
    dead.append(_rows(0, 30))  # never started: as if killed before its writer ran
    with (folder / f"{dead._owner}.000000.jsonl").open("ab") as handle:
        handle.write(b'["torn line, cut by a crash')  # no newline: ignored, not replayed
    os.close(dead._lock_fd)  # the process "dies": its lock is released
    survivor = PredictionLog(folder, Store(url), "p", max_bytes=10**8)
    survivor.start()
    _wait(lambda: len(_stored(tmp_path / "store.db")) == 30)
    _wait(lambda: survivor.stats.dropped == 1)  # the torn line, counted
    survivor.close(5)
    assert _stored(tmp_path / "store.db") == sorted(f"r{i}" for i in range(30))
    assert not list(folder.glob("*.jsonl"))


def test_a_live_process_journal_is_left_alone(tmp_path: Path, url: str) -> None:
    folder = tmp_path / "journal"
    live = PredictionLog(
        folder, Store("postgresql://nobody@127.0.0.1:1/none"), "p", max_bytes=10**8
    )
    live.append(_rows(0, 5))
    other = PredictionLog(folder, Store(url), "p", max_bytes=10**8)
    other.start()
    other.append(_rows(100, 1))
    _wait(lambda: other.backlog_rows == 0)
    other.close(5)
    assert _stored(tmp_path / "store.db") == ["r100"]


def test_rows_past_the_disk_cap_are_dropped_and_counted(tmp_path: Path) -> None:
    down = "postgresql://nobody@127.0.0.1:1/none"  # the store never answers
    journal = PredictionLog(tmp_path / "journal", Store(down), "p", max_bytes=2000)
    journal.start()
    kept = sum(journal.append(_rows(i, 1)) for i in range(50))
    assert 0 < kept < 50
    assert journal.stats.dropped == 50 - kept
    _wait(lambda: not journal.stats.store_up)
    assert not journal.healthy
    journal.close(0.5)
    assert list((tmp_path / "journal").glob("*.jsonl"))  # kept rows stay for a later start


def test_a_line_longer_than_one_read_is_copied(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "_READ_BYTES", 256)
    journal = PredictionLog(tmp_path / "journal", Store(url), "p", max_bytes=10**8)
    journal.start()
    big = _rows(0, 1)
    big[0].features = {"note": "x" * 5000}  # 20 reads long
    assert journal.append(_rows(1, 3)) and journal.append(big) and journal.append(_rows(4, 2))
    _wait(lambda: journal.backlog_rows == 0)
    journal.close(5)
    assert _stored(tmp_path / "store.db") == sorted(f"r{i}" for i in range(6))


def _kill(journal: PredictionLog) -> None:
    """As if the process died: its lock is released, its journal stays."""
    os.close(journal._lock_fd)


def test_a_row_the_store_refuses_is_set_aside_and_the_rest_copied(tmp_path: Path, url: str) -> None:
    folder = tmp_path / "journal"
    dead = PredictionLog(
        folder, Store("postgresql://nobody@127.0.0.1:1/none"), "p", max_bytes=10**8
    )
    dead.append(_rows(0, 20))
    with (folder / f"{dead._owner}.000000.jsonl").open("ab") as handle:
        handle.write(b'["r-bad", "m"]\n')  # JSON, but not a log row (a bug, or another version)
    dead.append(_rows(20, 20))
    _kill(dead)
    survivor = PredictionLog(folder, Store(url), "p", max_bytes=10**8)
    survivor.start()
    _wait(lambda: len(_stored(tmp_path / "store.db")) == 40)
    survivor.close(5)
    assert survivor.stats.dropped == 1
    [rejected] = (folder / "rejected.jsonl").read_text().splitlines()
    assert '"r-bad"' in rejected and "reason" in rejected


def test_postgresql_refusing_a_row_does_not_stall_the_log(tmp_path: Path, pg_url: str) -> None:
    """PostgreSQL text cannot hold NUL: such a row (the request schema refuses it, but the log
    must not trust that) is set aside while the rows around it are copied."""
    journal = PredictionLog(tmp_path / "journal", Store(pg_url), "p", max_bytes=10**8)
    journal.start()
    bad = _rows(100, 1)
    bad[0].entity_id = "a\x00b"
    assert journal.append(_rows(0, 30)) and journal.append(bad) and journal.append(_rows(30, 30))
    _wait(lambda: journal.backlog_rows == 0)
    journal.append(_rows(60, 5) + _rows(0, 2))  # and the log goes on (2 ids reused)
    _wait(lambda: journal.backlog_rows == 0)
    journal.close(5)
    assert journal.stats.dropped == 1 and journal.stats.store_up
    assert journal.stats.duplicates == 2
    engine = sa.create_engine(sqlalchemy_url(pg_url))
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM predictions")).scalar_one()
    engine.dispose()
    assert stored == 65
    assert "0x00" in (tmp_path / "journal" / "rejected.jsonl").read_text()  # the reason


def test_a_lock_removed_while_adopting_is_skipped(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another server closing cleanly removes its lock between our listing and opening it."""
    folder = tmp_path / "journal"
    folder.mkdir()
    (folder / "gone-1-1.lock").touch()
    real_open = os.open

    def vanishing(path: object, *args: object) -> int:
        if str(path).endswith("gone-1-1.lock"):
            raise FileNotFoundError(path)
        return real_open(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(journal_module.os, "open", vanishing)
    journal = PredictionLog(folder, Store(url), "p", max_bytes=10**8)
    journal.start()  # adopts at start, then every few seconds: neither may fail
    journal.append(_rows(0, 3))
    _wait(lambda: journal.backlog_rows == 0)
    assert journal.healthy
    journal.close(5)

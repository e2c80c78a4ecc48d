"""The prediction log: every prediction is appended to a local journal before its response is
sent, and a background writer copies the journal into the tabops store.

Why a journal first: an append is one ``write`` into the page cache (microseconds, never waits
for the database) and survives the process being killed. When the store is down or slow the
rows simply stay in the journal (they are *spilled*) and are copied when it returns; inserts
are idempotent on ``request_id``, so a replay after a crash never duplicates a row. Rows are
dropped only when the journal would grow past its disk cap, and drops are counted.

Journal files are ``<owner>.<seq>.jsonl`` in ``<home>/journal/<project>/``; each process holds
an exclusive lock on ``<owner>.lock`` while it lives, so a starting server can tell the
journals of dead processes from live ones and replay them.

The log also carries the server's refusal counts, a line per model version and minute
(:mod:`tabops.serve.rejections`), so that they ride out a store outage as predictions do.

The rows' format and the SQL that stores them live in :mod:`tabops.store.predictions`; this
module keeps what is serving's own: the journal, the background copy, and riding out outages.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from tabops.store.predictions import Prediction, PredictionWriter, ShadowPrediction, is_data_error
from tabops.store.rejections import RejectedBucket

if TYPE_CHECKING:
    from tabops.store.db import Store

log = logging.getLogger(__name__)

_READ_BYTES = 4 * 1024 * 1024
_ROTATE_BYTES = 16 * 1024 * 1024
_POLL_SECONDS = 0.2  # between copies that found little: bigger batches cost less per row
_SMALL_BATCH = 500
_ADOPT_SECONDS = 5.0


@dataclass
class LogStats:
    """Counters for metrics and readiness."""

    appended: int = 0
    written: int = 0
    spilled: int = 0  # appended while the store was down: kept on disk for later
    dropped: int = 0  # refused past the disk cap, or unreadable after a crash
    duplicates: int = 0  # not inserted: the request_id was in the store already
    store_errors: int = 0
    store_up: bool = True
    backlog_bytes: int = 0


@dataclass
class _Segment:
    path: Path
    offset: int = 0
    owned: bool = True  # False for a dead process's journal being replayed


class PredictionLog:
    """Append-only journal plus the writer that copies it into the store."""

    def __init__(self, folder: Path, store: Store, project: str, max_bytes: int) -> None:
        self.folder, self.project, self.max_bytes = folder, project, max_bytes
        self.stats = LogStats()
        folder.mkdir(parents=True, exist_ok=True)
        self._owner = f"{socket.gethostname()}-{os.getpid()}-{time.time_ns()}"
        # Locked before it has its name: another server never sees it unlocked (and adopts it).
        lock = folder / f"{self._owner}.lock"
        self._lock_fd = os.open(lock.with_suffix(".new"), os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        lock.with_suffix(".new").rename(lock)
        self._append_lock = threading.Lock()
        self._seq = 0
        self._fd = self._open_segment()
        self._segments: deque[_Segment] = deque([_Segment(self._current)])
        self._orphans: deque[_Segment] = deque()
        self._orphan_locks: list[tuple[int, Path]] = []
        self._stop = threading.Event()
        self._drain_by: float | None = None
        self._thread = threading.Thread(target=self._run, name="tabops-prediction-log", daemon=True)
        self._writer = PredictionWriter(store)

    # -- the request side ---------------------------------------------------------------

    def append(self, rows: Sequence[Prediction | ShadowPrediction | RejectedBucket]) -> bool:
        """Journal ``rows`` (one write); False when they were dropped at the disk cap."""
        data = b"".join(row.encode() + b"\n" for row in rows)
        with self._append_lock:
            if self.stats.backlog_bytes + len(data) > self.max_bytes:
                self.stats.dropped += len(rows)
                return False
            os.write(self._fd, data)
            self.stats.backlog_bytes += len(data)
            self.stats.appended += len(rows)
            if not self.stats.store_up:
                self.stats.spilled += len(rows)
        return True

    @property
    def backlog_rows(self) -> int:
        """Rows journaled by this process and not yet in the store."""
        return self.stats.appended - self.stats.written

    @property
    def healthy(self) -> bool:
        """The writer runs and nothing is being dropped (a store outage alone is fine: the
        journal holds the rows)."""
        return self._thread.is_alive() and self.stats.backlog_bytes < self.max_bytes * 0.95

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._writer.prepare()
        self._adopt_orphans()
        self._thread.start()

    def close(self, grace_seconds: float) -> None:
        """Copy what is journaled within ``grace_seconds``; the rest stays on disk for the next
        start to replay."""
        self._drain_by = time.monotonic() + grace_seconds
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(grace_seconds + 5)
        with self._append_lock:
            os.close(self._fd)
            for segment in list(self._segments):  # empty, fully copied files are removed
                if segment.offset >= segment.path.stat().st_size:
                    segment.path.unlink(missing_ok=True)
        os.close(self._lock_fd)
        if not any(self.folder.glob(f"{self._owner}.*.jsonl")):
            (self.folder / f"{self._owner}.lock").unlink(missing_ok=True)
        if self.backlog_rows:
            log.warning(
                "%d prediction-log rows stay journaled in %s for the next start",
                self.backlog_rows,
                self.folder,
            )

    # -- the writer thread --------------------------------------------------------------

    @property
    def _current(self) -> Path:
        return self.folder / f"{self._owner}.{self._seq:06d}.jsonl"

    def _open_segment(self) -> int:
        return os.open(self._current, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)

    def _run(self) -> None:
        backoff, next_adopt = 0.0, time.monotonic() + _ADOPT_SECONDS
        while True:
            if self._stop.is_set() and (
                self._drain_by is None or time.monotonic() > self._drain_by or backoff
            ):
                return  # draining stops at the deadline, or at once when the store is down
            try:
                if time.monotonic() > next_adopt:
                    self._adopt_orphans()
                    next_adopt = time.monotonic() + _ADOPT_SECONDS
                copied = self._copy_some(self._orphans or self._segments)
            except Exception as exc:  # the store is down or refused: keep the rows journaled
                self.stats.store_errors += 1
                if self.stats.store_up:
                    log.warning(
                        "The tabops store is unavailable; journaling predictions: %s",
                        _first_line(exc),
                    )
                self.stats.store_up = False
                backoff = min(5.0, max(0.25, backoff * 2))
                self._stop.wait(backoff)
                continue
            if not self.stats.store_up:
                log.warning("The tabops store is back; copying journaled predictions.")
            self.stats.store_up, backoff = True, 0.0
            if not copied and self._stop.is_set() and not self._orphans and not self.backlog_rows:
                return
            if copied < _SMALL_BATCH:
                self._stop.wait(_POLL_SECONDS) if not self._stop.is_set() else time.sleep(0.01)

    def _copy_some(self, queue: deque[_Segment]) -> int:
        """Copy the next complete lines of the oldest segment; retire finished segments."""
        if not queue:
            return 0
        segment = queue[0]
        with segment.path.open("rb") as handle:
            handle.seek(segment.offset)
            chunk = handle.read(_READ_BYTES)
            end = chunk.rfind(b"\n") + 1
            if end == 0 and len(chunk) == _READ_BYTES:  # one line longer than a read
                chunk += handle.readline()
                end = chunk.rfind(b"\n") + 1
        if end == 0:
            self._retire(queue, segment, torn=bool(chunk))
            return 0
        rows, unreadable = [], 0
        for line in chunk[:end].splitlines():
            try:
                rows.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                unreadable += 1  # a line torn by a crash mid-write
        if rows:
            repeated = len(rows) - self._write(rows)
            if repeated and segment.owned:  # (a dead process's rows may have been copied)
                self.stats.duplicates += repeated
                log.warning(
                    "%d prediction(s) reused a request_id already logged; the first is kept",
                    repeated,
                )
        segment.offset += end
        if segment.owned:
            with self._append_lock:
                self.stats.written += len(rows) + unreadable
                self.stats.backlog_bytes -= end
        if unreadable:
            self.stats.dropped += unreadable
            log.warning("Skipped %d unreadable journal line(s) in %s", unreadable, segment.path)
        return len(rows)

    def _write(self, rows: list[Any]) -> int:
        """Copy ``rows``; how many were inserted or set aside (the rest were in the store
        already). Rows the store refuses as data are set aside one by one (halving the batch
        until they are found), so that one bad row never stalls the log."""
        try:
            return self._writer.write(self.project, rows)
        except Exception as exc:
            if not is_data_error(exc):
                raise
            if len(rows) == 1:
                self._reject(rows[0], exc)
                return 1
            middle = len(rows) // 2
            return self._write(rows[:middle]) + self._write(rows[middle:])

    def _reject(self, row: Any, exc: Exception) -> None:
        """Keep a row the store refused in ``rejected.jsonl`` with the reason; count it dropped."""
        reason = _first_line(exc)
        with (self.folder / "rejected.jsonl").open("ab") as handle:
            handle.write(orjson.dumps({"row": row, "reason": reason}) + b"\n")
        self.stats.dropped += 1
        log.error("The store refused a prediction-log row (kept in rejected.jsonl): %s", reason)

    def _retire(self, queue: deque[_Segment], segment: _Segment, torn: bool) -> None:
        """Remove a fully copied segment, rotating the live one first when it is large."""
        if segment.owned and len(queue) == 1:
            if segment.offset < _ROTATE_BYTES:
                return
            with self._append_lock:
                if os.fstat(self._fd).st_size != segment.offset:
                    return  # rows arrived meanwhile: copy them first
                os.close(self._fd)
                self._seq += 1
                self._fd = self._open_segment()
                queue.append(_Segment(self._current))
        if torn and not segment.owned:  # a dead process's last line, cut by its crash
            self.stats.dropped += 1
            log.warning("Skipped a torn last line in %s", segment.path)
        queue.popleft()
        segment.path.unlink(missing_ok=True)
        if not segment.owned:
            self._release_orphans()

    def _adopt_orphans(self) -> None:
        """Queue the journals of processes that died (their lock is free) for replay."""
        if self._orphans:
            return
        for lock in sorted(self.folder.glob("*.lock")):
            owner = lock.name.removesuffix(".lock")
            if owner == self._owner:
                continue
            try:
                fd = os.open(lock, os.O_RDWR)
            except FileNotFoundError:
                continue  # its owner closed cleanly meanwhile
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue  # a live server's journal
            self._orphan_locks.append((fd, lock))
            for path in sorted(self.folder.glob(f"{owner}.*.jsonl")):
                self._orphans.append(_Segment(path, owned=False))
        if not self._orphans:
            self._release_orphans()

    def _release_orphans(self) -> None:
        if self._orphans:
            return
        for fd, lock in self._orphan_locks:
            lock.unlink(missing_ok=True)
            os.close(fd)
        self._orphan_locks.clear()


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__

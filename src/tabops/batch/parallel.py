"""Chunks scored on several cores: ``tabops predict --workers N``.

Scoring a chunk is CPU-bound Python, NumPy and ONNX Runtime work, so threads would share one
core through the GIL; worker processes each build the :class:`ChunkScorer` once from the
picklable :class:`ScorerRecipe` and score whole chunks. This process keeps the reading and the
writing, sends each chunk as Arrow buffers and gets the results back in input order, with at
most two chunks per worker in flight (memory stays bounded by the chunk size).
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from tabops.batch.scoring import ChunkScorer, ScoredChunk, ScorerRecipe

_scorer: ChunkScorer | None = None  # one per worker process, built by _start


def score_chunks(
    recipe: ScorerRecipe,
    batches: Iterable[pa.RecordBatch],
    workers: int,
    scorer: ChunkScorer | None = None,
    *,
    keep_features: bool = False,
) -> Iterator[ScoredChunk]:
    """Each batch's :class:`ScoredChunk`, in input order, scored by ``workers`` processes
    (1: in this process by ``scorer``, or one built from the recipe; no pool)."""
    if workers <= 1:
        local = scorer or recipe.build()
        for batch in batches:
            yield local.score(batch, keep_features=keep_features)
        return
    # spawn, not fork: the parent may hold threads (ONNX Runtime, progress) and their locks.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, context, initializer=_start, initargs=(recipe,)) as pool:
        pending: deque[Future[ScoredChunk]] = deque()
        for batch in batches:
            pending.append(pool.submit(_score, batch, keep_features))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _start(recipe: ScorerRecipe) -> None:
    global _scorer
    _scorer = recipe.build()


def _score(batch: pa.RecordBatch, keep_features: bool) -> ScoredChunk:
    assert _scorer is not None, "the pool's initializer builds the scorer"
    return _scorer.score(batch, keep_features=keep_features)


class ReadAhead:
    """The batches of an iterator, read on a thread while the caller scores the previous one
    (Arrow's file readers and CSV parser release the GIL), at most ``depth`` batches ahead so
    memory stays bounded. Use with ``with``: leaving stops the reading."""

    def __init__(self, batches: Iterator[pa.RecordBatch], depth: int = 1) -> None:
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._fill, args=(batches,), name="tabops-read-ahead", daemon=True
        )
        self._thread.start()

    def _fill(self, batches: Iterator[pa.RecordBatch]) -> None:
        try:
            for batch in batches:
                if not self._put(("batch", batch)):
                    return
            self._put(("end", None))
        except BaseException as exc:  # raised again in the caller's thread
            self._put(("error", exc))

    def _put(self, item: tuple[str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        while True:
            kind, value = self._queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

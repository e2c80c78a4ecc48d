"""Hand items to a consumer running in a background thread.

The bulk writers (PostgreSQL COPY through ADBC, Parquet) spend their time in C++ with the GIL
released, so feeding them from a thread lets the next batch be parsed and checked meanwhile.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
_DEPTH = 4  # batches in flight: enough to keep the consumer busy, little memory


@contextmanager
def background(consume: Callable[[Iterator[T]], None], name: str) -> Iterator[Callable[[T], None]]:
    """Run ``consume(items)`` in a thread; yields ``put`` to hand it items one by one.

    Leaving the block ends the items and waits for the consumer; an error in the consumer is
    raised in the caller (by ``put`` or on leaving the block).
    """
    pending: queue.Queue[tuple[bool, T | None]] = queue.Queue(maxsize=_DEPTH)
    errors: list[BaseException] = []

    def items() -> Iterator[T]:
        while True:
            more, item = pending.get()
            if not more:
                return
            yield item  # type: ignore[misc]

    def run() -> None:
        try:
            consume(items())
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()

    def send(more: bool, item: T | None) -> None:
        while worker.is_alive():
            try:
                pending.put((more, item), timeout=0.1)
                return
            except queue.Full:
                continue
        if errors:
            raise errors[0]

    try:
        yield lambda item: send(True, item)
    finally:
        send(False, None)
        worker.join()
    if errors:
        raise errors[0]

"""Work done a little ahead, in a background thread, so two cores share a load.

Reading (GDAL), parsing WKB, reprojecting and encoding COPY data let go of Python's GIL for most
of their time, so a thread working out the next batch overlaps the main thread's work on this one
and PostgreSQL's on the one before. At most `depth` items wait, so memory stays bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from queue import Empty, Full, Queue
from typing import TypeVar

T = TypeVar("T")
POLL_SECONDS = 0.1
_END = object()


def _put(queue: Queue, item: tuple[bool, object], stop: threading.Event) -> bool:
    """Wait for room, unless the consumer has gone: whether the item was put."""
    while not stop.is_set():
        try:
            queue.put(item, timeout=POLL_SECONDS)
            return True
        except Full:
            continue
    return False


def _produce(items: Iterator[T], queue: Queue, stop: threading.Event) -> None:
    try:
        for item in items:
            if not _put(queue, (True, item), stop):
                return
        _put(queue, (True, _END), stop)
    except BaseException as exc:  # handed to the consumer, raised there
        _put(queue, (False, exc), stop)


def _consume(queue: Queue, thread: threading.Thread) -> Iterator[T]:
    while True:
        try:
            ok, item = queue.get(timeout=POLL_SECONDS)
        except Empty:
            if not thread.is_alive() and queue.empty():
                raise RuntimeError("the background thread stopped without a word") from None
            continue
        if not ok:
            raise item
        if item is _END:
            return
        yield item


@contextmanager
def ahead(items: Iterator[T], depth: int = 1) -> Iterator[Iterator[T]]:
    """items, each worked out in a background thread while the caller uses the one before.

    Leaving the block (finished, or on an error) stops the thread before it returns, so whatever
    items reads from (an open file) may be closed next.
    """
    queue: Queue = Queue(depth)
    stop = threading.Event()
    thread = threading.Thread(
        target=_produce, args=(items, queue, stop), name="regiongis-ahead", daemon=True
    )
    thread.start()
    try:
        yield _consume(queue, thread)
    finally:
        stop.set()
        thread.join()

"""A per-app pool of PostgreSQL connections for short read-only queries (tiles).

psycopg2's ThreadedConnectionPool raises PoolError when every connection is out; request threads
should wait instead, so a semaphore sized like the pool guards it. Connections are opened lazily,
so building the pool does no I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from psycopg2.extensions import cursor as Cursor
from psycopg2.pool import ThreadedConnectionPool


class Pool:
    def __init__(self, url: str, size: int = 8) -> None:
        self._pool = ThreadedConnectionPool(0, size, url, application_name="regiongis")
        self._slots = threading.BoundedSemaphore(size)

    @contextmanager
    def cursor(self) -> Iterator[Cursor]:
        """An autocommit cursor: one statement per round trip, no BEGIN/COMMIT around it."""
        with self._slots:
            conn = self._pool.getconn()
            try:
                conn.autocommit = True
                with conn.cursor() as cur:
                    yield cur
            finally:
                self._pool.putconn(conn, close=bool(conn.closed))

    def close(self) -> None:
        self._pool.closeall()

"""A per-app pool of PostgreSQL connections for short read-only queries (tiles, feature pages).

psycopg2's ThreadedConnectionPool keeps only `minconn` idle connections and closes the rest when
they are returned, so minconn is the pool's full size: otherwise every query pays for a new
backend (and PostGIS loading PROJ in it). It raises PoolError when every connection is out;
request threads should wait instead, so a semaphore sized like the pool guards it. The
connections are opened at first use, so building the pool (and the app) does no I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from psycopg2.extensions import cursor as Cursor
from psycopg2.pool import ThreadedConnectionPool


class Pool:
    def __init__(self, url: str, size: int = 8, options: str | None = None) -> None:
        self._url, self._size = url, size
        self._settings = {"application_name": "regiongis"} | (
            {"options": options} if options else {}
        )
        self._pool: ThreadedConnectionPool | None = None
        self._opening = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)

    def _connections(self) -> ThreadedConnectionPool:
        with self._opening:
            if self._pool is None:
                self._pool = ThreadedConnectionPool(
                    self._size, self._size, self._url, **self._settings
                )
        return self._pool

    @contextmanager
    def cursor(self) -> Iterator[Cursor]:
        """An autocommit cursor: one statement per round trip, no BEGIN/COMMIT around it."""
        with self._slots:
            pool = self._connections()
            conn = pool.getconn()
            try:
                conn.autocommit = True
                with conn.cursor() as cur:
                    yield cur
            finally:
                pool.putconn(conn, close=bool(conn.closed))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.closeall()

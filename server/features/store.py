"""Running feature SQL on a per-process connection pool, and counting what matched.

numberMatched is exact when that is cheap and the planner's estimate when the result is large:
a count(*) over hundreds of thousands of rows costs more than the page itself (pygeoapi #1969).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions
from psycopg2.pool import ThreadedConnectionPool

from server.features import sql as feature_sql
from server.features.collection import Collection
from server.features.crs import Crs
from server.features.errors import OGCError
from server.features.params import FeatureRequest

EXACT_COUNT_LIMIT = 100_000  # above this many estimated rows, numberMatched is the estimate
# up to this many estimated rows, the page and its count come from one scan (a window count);
# beyond it, sorting every match to cut one page costs more than a second, index-only count
WINDOW_COUNT_LIMIT = 20_000
POOL_SIZE = 8
STATEMENT_TIMEOUT_MS = 30_000
# many short queries: JIT compilation (triggered by ST_Transform's cost estimates) and parallel
# workers each cost more than the page itself
SESSION = "-c jit=off -c max_parallel_workers_per_gather=0"
ESTIMATE_TTL_S, ESTIMATES_KEPT = 10.0, 1024
_pools: dict[tuple[int, str], _Pool] = {}
_estimates: dict[bytes, tuple[float, int]] = {}
_lock = threading.Lock()


def dsn(data: Mapping[str, Any]) -> str:
    """A libpq connection string from the provider's `data` block (ingest.db.url_parts)."""
    keys = ("host", "port", "dbname", "user", "password")
    return psycopg2.extensions.make_dsn(
        **{k: data[k] for k in keys if data.get(k) not in (None, "")},
        options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS} {SESSION}",
    )


class _Pool:
    """Up to POOL_SIZE connections, opened on first use and kept open between requests.

    psycopg2 closes a returned connection once `minconn` are idle, so a pool built with
    minconn=0 (to open nothing up front) would reconnect on every request; raising minconn after
    construction keeps them. Threads wait for a free connection instead of getting PoolError.
    """

    def __init__(self, conninfo: str) -> None:
        self._pool = ThreadedConnectionPool(0, POOL_SIZE, conninfo)
        self._pool.minconn = POOL_SIZE
        self._slots = threading.BoundedSemaphore(POOL_SIZE)

    @contextmanager
    def cursor(self) -> Iterator[psycopg2.extensions.cursor]:
        with self._slots:
            conn = self._pool.getconn()
            try:
                conn.autocommit = True
                with conn.cursor() as cur:
                    yield cur
            finally:
                self._pool.putconn(conn, close=bool(conn.closed))


def _pool(conninfo: str) -> _Pool:
    """One pool per process and database: a pool inherited across fork would share sockets,
    and pygeoapi builds a provider per request, so the pools outlive providers."""
    key = (os.getpid(), conninfo)
    if key not in _pools:
        with _lock:
            if key not in _pools:
                _pools[key] = _Pool(conninfo)
    return _pools[key]


@contextmanager
def refused_as_400(collection: Collection) -> Iterator[None]:
    """Database complaints about a well-formed request (a text compared with a number, an
    impossible geometry) are the client's to fix."""
    try:
        yield
    except (psycopg2.DataError, psycopg2.errors.UndefinedFunction) as exc:
        message = str(exc).strip().splitlines()[0]
        raise OGCError(f"the request does not fit {collection.id}: {message}") from exc
    except psycopg2.errors.QueryCanceled as exc:
        raise OGCError(
            f"the request took longer than {STATEMENT_TIMEOUT_MS // 1000} s; narrow it",
            status=503,
            code="ServerBusy",
        ) from exc


@dataclass
class Page:
    features: list[str]  # GeoJSON text of each feature, as PostGIS wrote it
    last_fid: int | None
    more: bool
    matched: int


def _execute(cur: psycopg2.extensions.cursor, statement: feature_sql.Statement) -> None:
    cur.execute(statement.composed(), statement.params)


def _estimate(cur, collection: Collection, request: FeatureRequest) -> int:
    """The planner's row estimate for the request's conditions, remembered for ESTIMATE_TTL_S
    so that paging through one result (or asking the same again) costs one query a page."""
    statement = feature_sql.count(collection, request, estimate=True)
    key = cur.mogrify(statement.composed(), statement.params)
    now = time.monotonic()
    if (known := _estimates.get(key)) and known[0] > now:
        return known[1]
    cur.execute(key)
    estimate = int(cur.fetchone()[0][0]["Plan"]["Plan Rows"])
    if len(_estimates) >= ESTIMATES_KEPT:
        _estimates.clear()
    _estimates[key] = (now + ESTIMATE_TTL_S, estimate)
    return estimate


def _count(cur, collection: Collection, request: FeatureRequest) -> int:
    _execute(cur, feature_sql.count(collection, request, estimate=False))
    return cur.fetchone()[0]


def _fetch(cur, statement: feature_sql.Statement) -> list[tuple]:
    _execute(cur, statement)
    return cur.fetchall()


def _counted_page(cur, collection: Collection, request: FeatureRequest) -> Page:
    counted = _fetch(cur, feature_sql.counted_page(collection, request))
    matched = counted[0][0] if counted else _count(cur, collection, request)
    more = request.offset + len(counted) < matched
    return Page([r[2] for r in counted], counted[-1][1] if counted else None, more, matched)


def read_page(conninfo: str, collection: Collection, request: FeatureRequest) -> Page:
    """A page and numberMatched, the cheapest way the planner's estimate allows: a small result
    is counted in the page's own scan; a larger one pages by index and is counted apart (or not
    at all when the page turns out to hold the whole result); a large one is estimated."""
    with _pool(conninfo).cursor() as cur, refused_as_400(collection):
        estimate = _estimate(cur, collection, request)
        if request.after is None and estimate <= min(WINDOW_COUNT_LIMIT, EXACT_COUNT_LIMIT):
            return _counted_page(cur, collection, request)
        rows = _fetch(cur, feature_sql.page(collection, request))
        more, rows = len(rows) > request.limit, rows[: request.limit]
        if not more and request.after is None and (rows or not request.offset):
            matched = request.offset + len(rows)
        elif estimate > EXACT_COUNT_LIMIT:
            matched = estimate
        else:
            matched = _count(cur, collection, request)
    return Page([r[1] for r in rows], rows[-1][0] if rows else None, more, matched)


def read_one(
    conninfo: str, collection: Collection, fid: int, crs: Crs, as_of: datetime | None = None
) -> str | None:
    with _pool(conninfo).cursor() as cur, refused_as_400(collection):
        _execute(cur, feature_sql.one(collection, fid, crs, as_of))
        row = cur.fetchone()
    return row[0] if row else None

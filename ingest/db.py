"""Reaching PostGIS: an explicit DATABASE_URL wins, otherwise the embedded cluster is started."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from ingest.errors import DatabaseUnavailable
from ingest.pgcluster import EmbeddedCluster, cluster_folder


def resolve_database_url(explicit: str | None, state_dir: Path) -> str:
    """An explicit URL, or the embedded cluster under state_dir (started if need be)."""
    return explicit or EmbeddedCluster(cluster_folder(state_dir)).start()


def url_parts(url: str) -> dict[str, str | int]:
    """Libpq keyword parameters of a postgresql:// URL, as pygeoapi's provider wants them."""
    parts = urlsplit(url)
    return {
        "host": parts.hostname or "localhost",
        "port": parts.port or 5432,
        "dbname": parts.path.lstrip("/") or "postgres",
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
    }


def connect(url: str) -> psycopg2.extensions.connection:
    try:
        return psycopg2.connect(url, application_name="regiongis")
    except psycopg2.OperationalError as exc:
        where = url_parts(url)
        raise DatabaseUnavailable(
            f"cannot reach PostgreSQL at {where['host']}:{where['port']}/{where['dbname']}: "
            f"{str(exc).strip().splitlines()[0]}"
        ) from exc


@contextmanager
def transaction(url: str) -> Iterator[psycopg2.extensions.cursor]:
    """One connection, one transaction: committed on success, rolled back on any error."""
    conn = connect(url)
    try:
        with conn, conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def _autocommit(url: str, statement: sql.Composable) -> None:
    conn = connect(url)
    conn.autocommit = True  # CREATE/DROP DATABASE cannot run inside a transaction
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


@contextmanager
def scratch_database(base_url: str, prefix: str, template: str | None = None) -> Iterator[str]:
    """A fresh database with PostGIS beside base_url's, dropped afterwards (tests, benchmarks);
    a copy of the database `template` (no one may be connected to it) when one is named."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    _autocommit(base_url, create)
    url = base_url.rsplit("/", 1)[0] + "/" + name
    try:
        ensure_postgis(url)
        yield url
    finally:
        _autocommit(
            base_url,
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
        )


def ensure_postgis(url: str) -> None:
    with transaction(url) as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")


SCHEMA_LOCK = "regiongis.schema"


def _applied(cur: psycopg2.extensions.cursor, digest: str, tables: list[str]) -> bool:
    cur.execute("SELECT to_regclass('schema_applied') IS NOT NULL")
    if not cur.fetchone()[0]:
        return False
    cur.execute(
        "SELECT bool_and(to_regclass(t) IS NOT NULL) AND EXISTS "
        "(SELECT 1 FROM schema_applied WHERE digest = %s) FROM unnest(%s::text[]) AS t",
        (digest, tables),
    )
    return bool(cur.fetchone()[0])


def apply_once(cur: psycopg2.extensions.cursor, ddl: list[str], tables: list[str]) -> None:
    """Run DDL once per change of its text (while `tables` exist), one process at a time.

    Skipping DDL already applied matters beyond speed: CREATE INDEX IF NOT EXISTS and ALTER TABLE
    lock their tables even when there is nothing to do, and two processes doing that at once
    (workers starting together, checks after concurrent ingests) can deadlock each other. The
    usual case reads one row and takes no lock; applying takes a lock held to the transaction's
    end, so the next process sees the DDL done.
    """
    digest = hashlib.sha256("\n".join(ddl).encode()).hexdigest()
    if _applied(cur, digest, tables):
        return
    cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (SCHEMA_LOCK,))
    cur.execute(
        "CREATE TABLE IF NOT EXISTS schema_applied "
        "(digest text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    if _applied(cur, digest, tables):
        return
    for statement in ddl:
        cur.execute(statement)
    cur.execute("INSERT INTO schema_applied (digest) VALUES (%s) ON CONFLICT DO NOTHING", (digest,))

"""Publishers in the database, so tokens and jobs can reference them.

config/region.yaml stays the source of truth for the publishers that own sources: every server
and worker start upserts them (origin `config`; the config wins on name and kind). `regiongis
publishers add` adds database-only publishers (origin `cli`): partner organisations that read but
publish nothing, or a publisher onboarded before its config lands. A source in config/sources can
only name a publisher that is in region.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from psycopg2.extensions import cursor as Cursor

from ingest.errors import ConfigError
from ingest.region import Region

KINDS = ["council", "utility", "partner"]
SCHEMA_LOCK = 0x72676973  # serialises CREATE TABLE IF NOT EXISTS across processes starting at once


@dataclass(frozen=True)
class PublisherRow:
    id: str
    name: str
    kind: str
    origin: str
    live_tokens: int


def ensure_access_schema(cur: Cursor, region: Region) -> None:
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
    cur.execute(resources.files("server.access").joinpath("schema.sql").read_text())
    for p in region.publishers:
        cur.execute(
            "INSERT INTO publisher (id, name, kind, origin) VALUES (%s, %s, %s, 'config') "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, "
            "origin = 'config'",
            (p.id, p.name, str(p.kind)),
        )


def add_publisher(cur: Cursor, publisher_id: str, name: str, kind: str) -> None:
    cur.execute("SELECT origin FROM publisher WHERE id = %s", (publisher_id,))
    if (row := cur.fetchone()) is not None:
        where = "config/region.yaml" if row[0] == "config" else "the database"
        raise ConfigError(f"publisher {publisher_id!r} already exists (from {where})")
    cur.execute(
        "INSERT INTO publisher (id, name, kind, origin) VALUES (%s, %s, %s, 'cli')",
        (publisher_id, name, kind),
    )


def list_publishers(cur: Cursor) -> list[PublisherRow]:
    cur.execute(
        "SELECT p.id, p.name, p.kind, p.origin, count(t.id) FILTER (WHERE t.revoked_at IS NULL "
        "AND (t.expires_at IS NULL OR t.expires_at > now())) "
        "FROM publisher p LEFT JOIN api_token t ON t.publisher = p.id "
        "GROUP BY p.id ORDER BY p.origin DESC, p.id"
    )
    return [PublisherRow(*row) for row in cur.fetchall()]

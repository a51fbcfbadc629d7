"""The members' areas: the boundaries reference theme, read from the region's boundaries file."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import psycopg2
import pyogrio
import shapely
from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor

from ingest.db import apply_once
from ingest.errors import UnreadableInput
from ingest.read import file_sha256

BOUNDARY_FIELDS = {"publisher", "name"}
STORAGE_CRS = 27700


def statement(name: str, **identifiers: sql.Composable) -> sql.Composed:
    """One of this package's .sql files, with its {placeholders} filled by SQL-safe parts."""
    text = resources.files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")
    return sql.SQL(text).format(**identifiers)


TABLES = [
    "boundaries",
    "boundary_check",
    "boundary_checked_run",
    "boundary_issues",
    "duplicate_of",
    "edge_corrections",
]


def ensure_schema(cur: Cursor) -> None:
    """The checks' tables, once per change of schema.sql (apply_once: every check and every
    server worker starting calls this, often at the same moment)."""
    apply_once(cur, [statement("schema").as_string(cur)], TABLES)


def loaded_sha256(cur: Cursor) -> str | None:
    cur.execute("SELECT min(file_sha256) FROM boundaries")
    return cur.fetchone()[0]


def load_boundaries(cur: Cursor, path: Path) -> int:
    """Replace the boundaries table with the file's polygons, made valid, in EPSG:27700.

    The file needs a `publisher` (the member's id) and a `name` for each polygon.
    """
    try:
        frame = pyogrio.read_dataframe(path)
    except pyogrio.errors.DataSourceError as exc:
        raise UnreadableInput(f"cannot read the boundaries file {path}: {exc}") from exc
    if missing := BOUNDARY_FIELDS - set(frame.columns):
        raise UnreadableInput(
            f"the boundaries file {path} lacks the field(s) {sorted(missing)}: each polygon "
            "needs the member's id as `publisher` and its `name`"
        )
    if frame.crs is None:
        raise UnreadableInput(f"the boundaries file {path} does not say its CRS")
    frame = frame.to_crs(STORAGE_CRS)
    digest = file_sha256(path)
    cur.execute("DELETE FROM boundaries")
    cur.executemany(
        "INSERT INTO boundaries (publisher, name, file_sha256, geom) VALUES (%s, %s, %s, "
        "ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_GeomFromWKB(%s, %s)), 3)))",
        [
            (publisher, name, digest, psycopg2.Binary(wkb), STORAGE_CRS)
            for publisher, name, wkb in zip(
                frame["publisher"],
                frame["name"],
                shapely.to_wkb(frame.geometry.values),
                strict=True,
            )
        ],
    )
    return len(frame)

"""Each theme's extents, measured from the data when the configuration is generated.

Large tables use the planner's estimated extent (from ANALYZE statistics, no scan); small ones
are measured exactly. A theme with no table or no rows yet falls back to the region's bbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import psycopg2
from psycopg2 import sql

from ingest.db import transaction
from server.features.collection import Collection

ESTIMATE_ABOVE = 100_000  # rows


@dataclass(frozen=True)
class Extents:
    bbox: list[float] | None  # CRS84
    interval: tuple[datetime | None, datetime | None] | None


def _instant(value: date | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.combine(value, time(), UTC)


def _bbox_sql(collection: Collection) -> sql.Composable:
    table = sql.Identifier(collection.schema, collection.table)
    return sql.SQL(
        "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT ST_Transform("
        "ST_SetSRID((CASE WHEN (SELECT reltuples FROM pg_class WHERE oid = {regclass}::regclass)"
        " > {above} THEN ST_EstimatedExtent({schema}, {name}, 'geom') "
        "ELSE (SELECT ST_Extent(geom) FROM {table}) END)::geometry, {srid}), 4326) AS b) AS e"
    ).format(
        regclass=sql.Literal(f"{collection.schema}.{collection.table}"),
        above=sql.Literal(ESTIMATE_ABOVE),
        schema=sql.Literal(collection.schema),
        name=sql.Literal(collection.table),
        table=table,
        srid=sql.Literal(collection.srid),
    )


def _interval_sql(collection: Collection) -> sql.Composable:
    dates = [sql.Identifier(n) for n in collection.date_fields]
    return sql.SQL("SELECT min({first}), max(greatest({all})) FROM {table}").format(
        first=dates[0],
        all=sql.SQL(", ").join(dates),
        table=sql.Identifier(collection.schema, collection.table),
    )


def measure(database_url: str, collection: Collection) -> Extents:
    try:
        with transaction(database_url) as cur:
            cur.execute(_bbox_sql(collection))
            row = cur.fetchone()
            bbox = [round(v, 6) for v in row] if row and row[0] is not None else None
            interval = None
            if collection.date_fields:
                cur.execute(_interval_sql(collection))
                begin, end = cur.fetchone()
                interval = (_instant(begin), _instant(end)) if begin or end else None
    except psycopg2.errors.UndefinedTable:
        return Extents(None, None)
    return Extents(bbox, interval)

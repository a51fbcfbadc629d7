"""SQL for a FeatureRequest: PostGIS writes each feature's GeoJSON text, we only join them.

Every name here is a known column (sql.Identifier) and every value a %s parameter. Features are
read through the alias t, from the live table or, for an as-of instant, from the live rows and
the history rows that were valid then (the history contract of ingest: live rows carry
valid_from, `<table>_history` rows valid_from and valid_to, fids stable across versions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from psycopg2 import sql

from server.features.collection import Collection
from server.features.cql import FilterSql
from server.features.crs import Crs
from server.features.params import FeatureRequest
from server.visibility import snapped


@dataclass
class Statement:
    """SQL with its parameters, built in placeholder order."""

    parts: list[sql.Composable] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, part: sql.Composable, *params: Any) -> Statement:
        self.parts.append(part)
        self.params.extend(params)
        return self

    def composed(self) -> sql.Composed:
        return sql.Composed(self.parts)


def column(name: str) -> sql.Composable:
    return sql.SQL("t.{}").format(sql.Identifier(name))


class Rendered(sql.Composable):
    """A fragment fixed by its collection and options (names and constants only): rendered to
    text once, then reused by every request that asks for the same."""

    def __init__(self, wrapped: sql.Composable) -> None:
        super().__init__(wrapped)
        self._text: str | None = None

    def as_string(self, context: Any) -> str:
        if self._text is None:
            self._text = self._wrapped.as_string(context)
        return self._text


def geometry_json(collection: Collection, crs: Crs) -> sql.Composable:
    geom: sql.Composable = sql.SQL("t.geom")
    if crs.srid != collection.srid:
        geom = sql.SQL("ST_Transform({}, {})").format(geom, sql.Literal(crs.srid))
    if crs.lat_first:
        geom = sql.SQL("ST_FlipCoordinates({})").format(geom)
    return sql.SQL("ST_AsGeoJSON({}, {})").format(geom, sql.Literal(crs.decimals))


@lru_cache(maxsize=256)
def feature_json(
    collection: Collection, crs: Crs, properties: tuple[str, ...] | None, skip_geometry: bool
) -> sql.Composable:
    """One feature as GeoJSON text, built by string concatenation so that PostgreSQL never
    parses the geometry's JSON again."""
    names = list(collection.properties) if properties is None else properties
    pairs = sql.SQL(", ").join(sql.SQL("{}, {}").format(sql.Literal(n), column(n)) for n in names)
    geometry = sql.SQL("'null'") if skip_geometry else geometry_json(collection, crs)
    return Rendered(
        sql.SQL(
            """'{{"type":"Feature","id":' || t.fid || ',"geometry":' || {} """
            """|| ',"properties":' || json_build_object({})::text || '}}'"""
        ).format(geometry, pairs)
    )


def _versions(collection: Collection, as_of: datetime | None) -> Statement:
    live = sql.Identifier(collection.schema, collection.table)
    if as_of is None:
        return Statement().add(sql.SQL("{} AS t").format(live))
    history = sql.Identifier(collection.schema, collection.history_table)
    columns = sql.SQL(", ").join(sql.Identifier(n) for n in ["fid", "geom", *collection.properties])
    return Statement().add(
        sql.SQL(
            "(SELECT {cols} FROM {live} WHERE valid_from <= %s UNION ALL "
            "SELECT {cols} FROM {history} WHERE valid_from <= %s AND %s < valid_to) AS t"
        ).format(cols=columns, live=live, history=history),
        as_of,
        as_of,
        as_of,
    )


def source(collection: Collection, as_of: datetime | None) -> Statement:
    """The rows as `t`, live or as of an instant. Where the collection is generalised (a
    sensitive theme read by the public), the geometry is snapped before anything else sees it:
    bbox, spatial filters and the output alike, so no query can locate the exact geometry."""
    rows = _versions(collection, as_of)
    if collection.grid is None:
        return rows
    names = sql.SQL(", ").join(column(n) for n in collection.properties)
    head = sql.SQL("(SELECT t.fid, {} AS geom, {} FROM ").format(
        snapped(sql.SQL("t.geom"), collection.grid), names
    )
    return _join(Statement().add(head), rows, Statement().add(sql.SQL(") AS t")))


def _bbox(collection: Collection, request: FeatureRequest) -> Statement:
    assert request.bbox is not None
    minx, miny, maxx, maxy = request.bbox
    if request.bbox_crs.lat_first:
        minx, miny, maxx, maxy = miny, minx, maxy, maxx
    envelope = sql.SQL("ST_MakeEnvelope(%s, %s, %s, %s, {})").format(
        sql.Literal(request.bbox_crs.srid)
    )
    if request.bbox_crs.srid != collection.srid:
        envelope = sql.SQL("ST_Transform({}, {})").format(envelope, sql.Literal(collection.srid))
    return Statement().add(
        sql.SQL("ST_Intersects(t.geom, {})").format(envelope), minx, miny, maxx, maxy
    )


def _during(collection: Collection, start: Any, end: Any) -> Statement:
    """Features whose own dates overlap [start, end]: a feature with one date is an instant,
    with two an interval (an empty end means it goes on)."""
    dates = collection.date_fields
    begins, ends = column(dates[0]), column(dates[1] if len(dates) > 1 else dates[0])
    where = Statement()
    if end is not None:
        where.add(sql.SQL("{} <= %s").format(begins), end)
    if start is not None:
        if where.parts:
            where.add(sql.SQL(" AND "))
        where.add(sql.SQL("coalesce({}, {}) >= %s").format(ends, begins), start)
    return where


def conditions(collection: Collection, request: FeatureRequest) -> Statement:
    """The WHERE clause shared by the page and its count (keyset paging excluded)."""
    found: list[Statement] = []
    if request.bbox is not None:
        found.append(_bbox(collection, request))
    if request.ids is not None:
        found.append(Statement().add(sql.SQL("t.fid = ANY(%s)"), request.ids))
    for name, value in request.equals:
        found.append(Statement().add(sql.SQL("{} = %s").format(column(name)), value))
    if request.during is not None and any(v is not None for v in request.during):
        found.append(_during(collection, *request.during))
    if request.filter is not None:
        translator = FilterSql(collection, request.filter_crs)
        clause = translator.condition(request.filter)
        found.append(Statement(parts=[clause], params=translator.params))
    where = Statement()
    for i, part in enumerate(found):
        where.add(sql.SQL(" WHERE (" if i == 0 else " AND ("))
        where.parts.extend(part.parts)
        where.params.extend(part.params)
        where.add(sql.SQL(")"))
    return where


def _join(*statements: Statement) -> Statement:
    joined = Statement()
    for s in statements:
        joined.parts.extend(s.parts)
        joined.params.extend(s.params)
    return joined


def _order(request: FeatureRequest) -> sql.Composable:
    keys = [
        sql.SQL("{} {}").format(column(n), sql.SQL("DESC NULLS LAST" if d else "ASC NULLS LAST"))
        for n, d in request.sortby
    ]
    return sql.SQL(" ORDER BY {}").format(sql.SQL(", ").join([*keys, sql.SQL("t.fid")]))


def _feature(collection: Collection, request: FeatureRequest) -> sql.Composable:
    names = None if request.properties is None else tuple(request.properties)
    return feature_json(collection, request.crs, names, request.skip_geometry)


def _limit(request: FeatureRequest, extra: int) -> Statement:
    return (
        Statement()
        .add(_order(request))
        .add(sql.SQL(" LIMIT %s OFFSET %s"), request.limit + extra, request.offset)
    )


def page(collection: Collection, request: FeatureRequest) -> Statement:
    """The page's fids and features, one more than asked for, to know if a next page exists."""
    select = Statement().add(
        sql.SQL("SELECT t.fid, {} FROM ").format(_feature(collection, request))
    )
    where = conditions(collection, request)
    if request.after is not None:
        where.add(sql.SQL(" AND " if where.parts else " WHERE ")).add(
            sql.SQL("t.fid > %s"), request.after
        )
    return _join(select, source(collection, request.as_of), where, _limit(request, 1))


def counted_page(collection: Collection, request: FeatureRequest) -> Statement:
    """The page and the number matched from one scan: the window count sees every matching row
    before the limit, and only the page's rows are turned into GeoJSON."""
    inner = _join(
        Statement().add(sql.SQL("SELECT t.*, count(*) OVER () AS rgis_matched FROM ")),
        source(collection, request.as_of),
        conditions(collection, request),
        _limit(request, 0),
    )
    head = Statement().add(
        sql.SQL("SELECT t.rgis_matched, t.fid, {} FROM (").format(_feature(collection, request))
    )
    return _join(head, inner, Statement().add(sql.SQL(") AS t")).add(_order(request)))


def count(collection: Collection, request: FeatureRequest, estimate: bool) -> Statement:
    head = "EXPLAIN (FORMAT JSON) SELECT 1 FROM " if estimate else "SELECT count(*) FROM "
    return _join(
        Statement().add(sql.SQL(head)),
        source(collection, request.as_of),
        conditions(collection, request),
    )


def one(collection: Collection, fid: int, crs: Crs, as_of: datetime | None) -> Statement:
    select = Statement().add(
        sql.SQL("SELECT {} FROM ").format(feature_json(collection, crs, None, False))
    )
    where = Statement().add(sql.SQL(" WHERE t.fid = %s"), fid)
    return _join(select, source(collection, as_of), where)

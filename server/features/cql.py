"""CQL2 (text and JSON) to parameterised SQL, for one collection's known properties only.

pygeofilter parses the filter into an AST; this module walks it. Every property name must be one
of the collection's properties (it becomes an sql.Identifier), every value a %s parameter, and
every operator comes from the tables below: nothing the client sends reaches the SQL text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from psycopg2 import sql
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
from pygeofilter.parsers.cql2_text import parse as parse_cql2_text

from server.features.collection import Collection
from server.features.crs import Crs
from server.features.errors import OGCError

FILTER_LANGS = ("cql2-text", "cql2-json")
GEOMETRY_NAMES = ("geometry", "geom")
COMPARISONS = {
    ast.Equal: "=",
    ast.NotEqual: "<>",
    ast.LessThan: "<",
    ast.LessEqual: "<=",
    ast.GreaterThan: ">",
    ast.GreaterEqual: ">=",
}
ARITHMETIC = {ast.Add: "+", ast.Sub: "-", ast.Mul: "*", ast.Div: "/"}
SPATIAL = {
    ast.GeometryIntersects: "ST_Intersects",
    ast.GeometryDisjoint: "ST_Disjoint",
    ast.GeometryContains: "ST_Contains",
    ast.GeometryWithin: "ST_Within",
    ast.GeometryTouches: "ST_Touches",
    ast.GeometryCrosses: "ST_Crosses",
    ast.GeometryOverlaps: "ST_Overlaps",
    ast.GeometryEquals: "ST_Equals",
}
# instant-vs-instant meaning of the temporal operators; an interval operand uses its ends
TEMPORAL = {ast.TimeAfter: ">", ast.TimeBefore: "<", ast.TimeEquals: "=", ast.TimeDisjoint: "<>"}
FUNCTIONS = {"lower": "lower", "upper": "upper"}  # CQL2 casei() arrives as lower()
LITERALS = (str, int, float, bool, date, datetime)


def parse_filter(text: str, lang: str | None) -> ast.Node:
    """The filter's AST; a filter that does not parse is the client's error, said as such."""
    lang = lang or ("cql2-json" if text.lstrip().startswith("{") else "cql2-text")
    if lang not in FILTER_LANGS:
        raise OGCError(
            f"filter-lang {lang!r} is not supported; use one of {', '.join(FILTER_LANGS)}"
        )
    try:
        return parse_cql2_json(json.loads(text)) if lang == "cql2-json" else parse_cql2_text(text)
    except Exception as exc:  # pygeofilter raises lark, json and value errors alike
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OGCError(f"the filter is not valid {lang}: {first}") from exc


class FilterSql:
    """One filter's translation; params collects its values in placeholder order."""

    def __init__(self, collection: Collection, filter_crs: Crs) -> None:
        self.collection = collection
        self.filter_crs = filter_crs
        self.params: list[Any] = []
        self._nodes: dict[type, Callable[[Any], sql.Composable]] = {
            ast.And: self._combination,
            ast.Or: self._combination,
            ast.Not: lambda n: sql.SQL("NOT ({})").format(self.condition(n.sub_node)),
            ast.Between: self._between,
            ast.Like: self._like,
            ast.In: self._in,
            ast.IsNull: self._is_null,
            ast.BBox: self._bbox_predicate,
            ast.Include: lambda n: sql.SQL("FALSE" if n.not_ else "TRUE"),
        }

    def condition(self, node: Any) -> sql.Composable:
        kind = type(node)
        if kind in COMPARISONS:
            return self._binary(node.lhs, COMPARISONS[kind], node.rhs)
        if kind in SPATIAL:
            return sql.SQL("{}({}, {})").format(
                sql.SQL(SPATIAL[kind]), self.geometry(node.lhs), self.geometry(node.rhs)
            )
        if kind in TEMPORAL:
            return self._temporal(node)
        if kind in self._nodes:
            return self._nodes[kind](node)
        raise OGCError(f"the filter uses {kind.__name__}, which this server does not support")

    def _combination(self, node: ast.Combination) -> sql.Composable:
        op = sql.SQL(" AND " if isinstance(node, ast.And) else " OR ")
        return sql.SQL("({})").format(op.join([self.condition(node.lhs), self.condition(node.rhs)]))

    def _binary(self, lhs: Any, op: str, rhs: Any) -> sql.Composable:
        return sql.SQL("{} {} {}").format(self.value(lhs), sql.SQL(op), self.value(rhs))

    def _between(self, node: ast.Between) -> sql.Composable:
        return sql.SQL("{} {}BETWEEN {} AND {}").format(
            self.value(node.lhs),
            sql.SQL("NOT " if node.not_ else ""),
            self.value(node.low),
            self.value(node.high),
        )

    def _like(self, node: ast.Like) -> sql.Composable:
        op = ("NOT " if node.not_ else "") + ("ILIKE" if node.nocase else "LIKE")
        return sql.SQL("{}::text {} {}").format(
            self.value(node.lhs), sql.SQL(op), self.value(node.pattern)
        )

    def _in(self, node: ast.In) -> sql.Composable:
        items = sql.SQL(", ").join([self.value(v) for v in node.sub_nodes])
        op = "NOT IN" if node.not_ else "IN"
        return sql.SQL("{} {} ({})").format(self.value(node.lhs), sql.SQL(op), items)

    def _is_null(self, node: ast.IsNull) -> sql.Composable:
        return sql.SQL("{} IS {}NULL").format(
            self.value(node.lhs), sql.SQL("NOT " if node.not_ else "")
        )

    def _bbox_predicate(self, node: ast.BBox) -> sql.Composable:
        box = self._envelope([node.minx, node.miny, node.maxx, node.maxy])
        return sql.SQL("ST_Intersects({}, {})").format(self.geometry(node.lhs), box)

    def _temporal(self, node: ast.TemporalPredicate) -> sql.Composable:
        op, rhs = TEMPORAL[type(node)], node.rhs
        if isinstance(rhs, values.Interval):  # before the start, after the end
            rhs = rhs.end if isinstance(node, ast.TimeAfter) else rhs.start
            if isinstance(node, ast.TimeEquals | ast.TimeDisjoint):
                raise OGCError("T_EQUALS and T_DISJOINT compare instants, not intervals")
        return self._binary(node.lhs, op, rhs)

    def property(self, name: str) -> sql.Composable:
        if name not in self.collection.properties:
            raise OGCError(
                f"unknown property {name!r} in the filter of {self.collection.id}; "
                f"queryable properties are: {self.collection.describe_allowed()}"
            )
        return sql.SQL("t.{}").format(sql.Identifier(name))

    def value(self, node: Any) -> sql.Composable:
        if isinstance(node, ast.Attribute):
            return self.property(node.name)
        if isinstance(node, LITERALS):
            self.params.append(node)
            return sql.Placeholder()
        if type(node) in ARITHMETIC:
            return sql.SQL("({} {} {})").format(
                self.value(node.lhs), sql.SQL(ARITHMETIC[type(node)]), self.value(node.rhs)
            )
        if isinstance(node, ast.Function) and node.name.lower() in FUNCTIONS:
            args = sql.SQL(", ").join([self.value(a) for a in node.arguments])
            return sql.SQL("{}({})").format(sql.SQL(FUNCTIONS[node.name.lower()]), args)
        raise OGCError(f"the filter uses {node!r} as a value, which this server does not support")

    def geometry(self, node: Any) -> sql.Composable:
        if isinstance(node, ast.Attribute):
            if node.name not in GEOMETRY_NAMES:
                raise OGCError(f"{node.name!r} is not a geometry; the geometry is 'geometry'")
            return sql.SQL("t.geom")
        if isinstance(node, values.Envelope):  # pygeofilter 0.4 fills it from the bbox array
            return self._envelope([node.x1, node.x2, node.y1, node.y2])
        if isinstance(node, ast.Function) and node.name.lower() == "bbox":
            return self._envelope(node.arguments)
        if isinstance(node, values.Geometry):
            self.params.append(json.dumps(node.geometry))
            return self._to_storage(sql.SQL("ST_GeomFromGeoJSON({})").format(sql.Placeholder()))
        raise OGCError(f"the filter uses {node!r} as a geometry, which this server cannot read")

    def _envelope(self, bounds: list[Any]) -> sql.Composable:
        try:
            numbers = [float(v) for v in bounds]
        except (TypeError, ValueError) as exc:
            raise OGCError("a bbox in the filter needs four numbers") from exc
        if len(numbers) != 4:
            raise OGCError("a bbox in the filter needs four numbers")
        self.params.extend(numbers)
        corners = sql.SQL(", ").join([sql.Placeholder()] * 4)
        return self._to_storage(sql.SQL("ST_MakeEnvelope({})").format(corners))

    def _to_storage(self, geometry: sql.Composable) -> sql.Composable:
        """A literal in the filter CRS, in the storage CRS (and lon/lat order) for the index."""
        crs = self.filter_crs
        if crs.lat_first:
            geometry = sql.SQL("ST_FlipCoordinates({})").format(geometry)
        return sql.SQL("ST_Transform(ST_SetSRID({}, {}), {})").format(
            geometry, sql.Literal(crs.srid), sql.Literal(self.collection.srid)
        )

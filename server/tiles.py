"""OGC API - Tiles: Mapbox vector tiles per collection, built by PostGIS on request.

Features are stored in the theme's CRS (EPSG:27700), so the tile's box is carried into that CRS
for the GiST index and only the matching rows are transformed to Web Mercator and encoded. A tile
far outside the storage CRS's area of use holds nothing and is answered without the database.

Below EXACT_ZOOM a tile is thinned, so a 500,000-feature theme stays fast at the region's zoom
(a whole-region tile of 500,000 points: 20 MB in 1.5 s unthinned, 0.1 MB in 0.2 s thinned):
features smaller than a cell of CELL_PIXELS screen pixels (points, and specks of line or area)
keep one per cell, the lowest fid, so a tile holds at most (512 / 8)^2 of them plus its buffer's;
larger ones are simplified to a pixel and, past MAX_LARGE_FEATURES, only the largest are kept.
A pixel is 1/TILE_PIXELS of the tile's width, as our map draws tiles 512 pixels wide (256-pixel
maps see half-pixel detail); its points are 12-pixel circles, so one per 8-pixel cell still marks
every place that has any. From EXACT_ZOOM on, every feature is in its tiles unchanged.

Caching: the ETag names the theme's latest successful ingest run, so one query both learns the
data's version and, when the client already holds it, skips building the tile (304).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from functools import partial
from typing import Any

from psycopg2 import sql
from pyproj import CRS, Transformer
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from protocols import FieldSpec, FieldType, ThemeSpec
from server.access.reading import audit_sensitive_read, reader_of, refusal
from server.access.refusals import Refused
from server.features.errors import OGCError, not_found
from server.pgpool import Pool
from server.visibility import generalised_grid, sensitive, snapped, visible_fields

TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
CRS_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
MVT_TYPE = "application/vnd.mapbox-vector-tile"
TILESETS_REL = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
TILING_SCHEME_REL = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
MIN_ZOOM, MAX_ZOOM = 0, 22
EXTENT, BUFFER = 4096, 64
HALF_WORLD = 20037508.342789244  # Web Mercator's half-width in metres
EARTH_RADIUS = 6378137.0  # Web Mercator's sphere
EXACT_ZOOM = 12
TILE_PIXELS, CELL_PIXELS = 512, 8
MAX_LARGE_FEATURES = 10_000
THINNING = f"{EXACT_ZOOM}/{TILE_PIXELS}/{CELL_PIXELS}/{MAX_LARGE_FEATURES}"  # in the ETag
# A tile query is short: JIT compiling it (which ST_AsMVTGeom's cost estimate triggers) takes
# longer than running it, and concurrent requests already keep every core busy.
SESSION = "-c jit=off -c max_parallel_workers_per_gather=0"
CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=600"
ETAG = re.compile(r'(?:W/)?"(\d+)-([0-9a-f]+)"')

TILEJSON_TYPES = {FieldType.INTEGER: "Number", FieldType.DECIMAL: "Number"}
JSON_TYPES = {
    FieldType.INTEGER: "integer",
    FieldType.DECIMAL: "number",
    FieldType.BOOLEAN: "boolean",
}

TILE_SQL = """
WITH run AS (
    SELECT coalesce(max(id), 0) AS id FROM ingest_run
    WHERE theme = %(theme)s AND status = 'succeeded'
){thinning}
SELECT run.id, CASE WHEN run.id = %(known)s THEN NULL ELSE (
    SELECT ST_AsMVT(t, %(layer)s, {extent}, 'geom', 'fid') FROM (
        SELECT fid, {columns}, ST_AsMVTGeom(
            ST_Transform({geometry}, 3857),
            ST_TileEnvelope(%(z)s, %(x)s, %(y)s), {extent}, {buffer}, true
        ) AS geom
        FROM {table}
        WHERE {chosen}
    ) AS t
) END FROM run
"""

IN_TILE = """geom && ST_Expand(ST_Transform(
    ST_Segmentize(ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 3857), %(step)s), {srid}
), {pad})"""

# The features a thinned tile keeps: one small feature per cell, then the largest others.
THINNED = """,
kept AS (
    SELECT min(fid) AS fid FROM {table}
    WHERE {in_tile} AND {small}
    GROUP BY floor({cell_x} / %(cell)s), floor({cell_y} / %(cell)s)
    UNION ALL (
        SELECT fid FROM {table}
        WHERE {in_tile} AND NOT {small}
        ORDER BY {size} DESC LIMIT {cap}
    )
)"""

# A feature's size: the longer side of its box, in the storage CRS's metres.
SIZE = "greatest(ST_XMax(geom) - ST_XMin(geom), ST_YMax(geom) - ST_YMin(geom))"

Box = tuple[float, float, float, float]


def tile_box(z: int, x: int, y: int) -> Box:
    """The tile's bounds in EPSG:3857, widened by the buffer ST_AsMVTGeom keeps around it."""
    size = 2 * HALF_WORLD / 2**z
    margin = size * BUFFER / EXTENT
    left, top = -HALF_WORLD + x * size, HALF_WORLD - y * size
    return left - margin, top - size - margin, left + size + margin, top + margin


def area_of_use_3857(srid: int) -> Box:
    """Where a CRS is valid, in Web Mercator: beyond it a transform gives nonsense, not rows."""
    area = CRS.from_epsg(srid).area_of_use
    west, south, east, north = area.bounds if area else (-180.0, -85.0, 180.0, 85.0)
    to_3857 = Transformer.from_crs(4326, 3857, always_xy=True)
    return to_3857.transform_bounds(west, max(south, -85.0), east, min(north, 85.0))


def clip(box: Box, to: Box) -> Box | None:
    clipped = (max(box[0], to[0]), max(box[1], to[1]), min(box[2], to[2]), min(box[3], to[3]))
    return clipped if clipped[0] < clipped[2] and clipped[1] < clipped[3] else None


def ground_pixel(z: int, y: int) -> float:
    """Metres on the ground under one pixel at the tile's middle (Web Mercator stretches
    distances by 1 / cos(latitude) = cosh(northing / R)). Storage CRSs are projected in metres
    (the protocol checks), so this is a pixel in storage units too, near enough to thin by."""
    size = 2 * HALF_WORLD / 2**z
    northing = HALF_WORLD - (y + 0.5) * size
    return size / TILE_PIXELS / math.cosh(northing / EARTH_RADIUS)


def _kept(theme: ThemeSpec, in_tile: sql.Composed) -> sql.Composed:
    """The thinned tile's choice of features. A points-only theme is cut into cells by its
    coordinates, which PostGIS reads faster than boxes; every point is small."""
    points = set(theme.geometry_types) == {"Point"}
    corner = ("ST_X", "ST_Y") if points else ("ST_XMin", "ST_YMin")
    return sql.SQL(THINNED).format(
        table=sql.Identifier(theme.table),
        in_tile=in_tile,
        small=sql.SQL("true" if points else f"{SIZE} < %(cell)s"),
        cell_x=sql.SQL(f"{corner[0]}(geom)"),
        cell_y=sql.SQL(f"{corner[1]}(geom)"),
        size=sql.SQL(SIZE),
        cap=sql.Literal(MAX_LARGE_FEATURES),
    )


@dataclass(frozen=True)
class TileLayer:
    """One theme's tiles for one audience: the queries (exact, thinned), its valid area, its
    ETag suffix."""

    theme: ThemeSpec
    fields: list[FieldSpec]
    valid_box: Box
    exact: sql.Composed
    thinned: sql.Composed
    version: str

    @classmethod
    def build(cls, theme: ThemeSpec, public: bool) -> TileLayer:
        fields = visible_fields(theme, public)
        grid = generalised_grid(theme, public)
        geometry = snapped(sql.Identifier("geom"), grid) if grid else sql.Identifier("geom")
        in_tile = sql.SQL(IN_TILE).format(
            srid=sql.Literal(theme.storage_crs),
            pad=sql.Literal(grid or 0),  # a snapped feature may land up to a cell away
        )
        query = partial(
            sql.SQL(TILE_SQL).format,
            columns=sql.SQL(", ").join(sql.Identifier(f.name) for f in fields),
            table=sql.Identifier(theme.table),
            extent=sql.Literal(EXTENT),
            buffer=sql.Literal(BUFFER),
        )
        exact = query(thinning=sql.SQL(""), geometry=geometry, chosen=in_tile)
        thinned = query(
            thinning=_kept(theme, in_tile),
            # Simplifying keeps a subset of the vertices: snapped ones stay on their grid.
            geometry=sql.SQL("ST_Simplify({}, %(pixel)s)").format(geometry),
            chosen=sql.SQL("fid IN (SELECT fid FROM kept)"),
        )
        described = f"{theme.ref}|{public}|{','.join(f.name for f in fields)}|{grid}|{BUFFER}"
        version = hashlib.sha1(f"{described}|{THINNING}".encode()).hexdigest()[:10]
        return cls(theme, fields, area_of_use_3857(theme.storage_crs), exact, thinned, version)

    def known_run(self, if_none_match: str | None) -> int:
        """The run id of a tile the client already holds from us, or -1."""
        for run, version in ETAG.findall(if_none_match or ""):
            if version == self.version:
                return int(run)
        return -1

    def fetch(self, pool: Pool, z: int, x: int, y: int, known: int) -> tuple[int, bytes | None]:
        """(latest run id, tile bytes); the bytes are None when the client's copy is current."""
        box = clip(tile_box(z, x, y), self.valid_box)
        if box is None:
            return 0, b""
        params: dict[str, Any] = {"theme": self.theme.id, "known": known, "layer": self.theme.id}
        params |= {"z": z, "x": x, "y": y, "x0": box[0], "y0": box[1], "x1": box[2], "y1": box[3]}
        params["step"] = (box[2] - box[0]) / 8
        query = self.exact
        if z < EXACT_ZOOM:
            query, pixel = self.thinned, ground_pixel(z, y)
            params |= {"pixel": pixel, "cell": pixel * CELL_PIXELS}
        with pool.cursor() as cur:
            cur.execute(query, params)
            run, tile = cur.fetchone()
        return run, None if tile is None else bytes(tile)


def _tile_indices(request: Request) -> tuple[int, int, int] | str:
    """(z, x, y) from the OGC path order tileMatrix/tileRow/tileCol, or why they are wrong."""
    params = request.path_params
    try:
        z, y, x = (int(params[k]) for k in ("z", "y", "x"))
    except ValueError:
        return "tileMatrix, tileRow and tileCol must be whole numbers"
    if not MIN_ZOOM <= z <= MAX_ZOOM:
        return f"tileMatrix {z} is outside {MIN_ZOOM}..{MAX_ZOOM}"
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        return f"tileRow {y} / tileCol {x} are outside tileMatrix {z} (0..{2**z - 1})"
    return z, x, y


def _tile_template(base_url: str, theme: ThemeSpec) -> str:
    tileset = f"{base_url}/ogc/collections/{theme.id}/tiles/{TMS_ID}"
    return tileset + "/{tileMatrix}/{tileRow}/{tileCol}"


def _tileset_links(base_url: str, theme: ThemeSpec) -> list[dict[str, Any]]:
    here = f"{base_url}/ogc/collections/{theme.id}/tiles/{TMS_ID}"
    return [
        {"rel": "self", "type": "application/json", "href": here},
        {
            "rel": TILING_SCHEME_REL,
            "type": "application/json",
            "href": tile_matrix_set_url(base_url),
        },
        {
            "rel": "item",
            "type": MVT_TYPE,
            "title": f"{theme.title} vector tiles",
            "href": _tile_template(base_url, theme),
            "templated": True,
        },
    ]


def tile_matrix_set_url(base_url: str) -> str:
    return f"{base_url}/ogc/tileMatrixSets/{TMS_ID}"


def tileset_metadata(layer: TileLayer, base_url: str, bounds: list[float]) -> dict[str, Any]:
    """OGC tileset metadata and TileJSON 3.0 in one document, so either kind of client reads it."""
    theme = layer.theme
    tilejson_fields = {f.name: TILEJSON_TYPES.get(f.type, "String") for f in layer.fields}
    properties = {
        f.name: {"type": JSON_TYPES.get(f.type, "string"), "title": f.title} for f in layer.fields
    }
    template = _tile_template(base_url, theme)
    tilejson_url = template.replace("{tileMatrix}", "{z}").replace("{tileRow}", "{y}")
    return {
        "title": theme.title,
        "description": theme.description,
        "dataType": "vector",
        "crs": CRS_3857,
        "tileMatrixSetURI": TMS_URI,
        "links": _tileset_links(base_url, theme),
        "layers": [
            {
                "id": theme.id,
                "dataType": "vector",
                "minTileMatrix": str(MIN_ZOOM),
                "maxTileMatrix": str(MAX_ZOOM),
                "propertiesSchema": {"type": "object", "properties": properties},
            }
        ],
        "tilejson": "3.0.0",
        "name": theme.title,
        "attribution": theme.attribution,
        "tiles": [tilejson_url.replace("{tileCol}", "{x}")],
        "minzoom": MIN_ZOOM,
        "maxzoom": MAX_ZOOM,
        "bounds": bounds,
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, 10],
        "vector_layers": [
            {
                "id": theme.id,
                "description": theme.title,
                "minzoom": MIN_ZOOM,
                "maxzoom": MAX_ZOOM,
                "fields": tilejson_fields,
            }
        ],
    }


def tilesets(theme: ThemeSpec, base_url: str) -> dict[str, Any]:
    return {
        "tilesets": [
            {
                "title": theme.title,
                "dataType": "vector",
                "crs": CRS_3857,
                "tileMatrixSetURI": TMS_URI,
                "links": _tileset_links(base_url, theme),
            }
        ],
        "links": [
            {
                "rel": "self",
                "type": "application/json",
                "href": f"{base_url}/ogc/collections/{theme.id}/tiles",
            }
        ],
    }


def collection_links(theme: ThemeSpec, base_url: str) -> list[dict[str, str]]:
    """Links pygeoapi adds to the collection, so clients find the tiles from /collections."""
    return [
        {
            "type": "application/json",
            "rel": TILESETS_REL,
            "title": f"{theme.title} vector tilesets",
            "href": f"{base_url}/ogc/collections/{theme.id}/tiles",
        }
    ]


def _for_reader(
    request: Request, public: TileLayer, exact: TileLayer, indices: tuple[int, int, int]
) -> tuple[TileLayer, dict[str, str]]:
    """A sensitive theme's tile for whoever asks: exact for a partner (audited, and never kept
    in a shared cache), generalised for everyone else. Either answer varies with the
    credentials, so a browser that signs out does not reuse a partner's tile."""
    headers = {"Cache-Control": CACHE_CONTROL, "Vary": "Authorization, Cookie"}
    reader = reader_of(request)
    if not reader.partner:
        return public, headers
    z, x, y = indices
    audit_sensitive_read(request, reader, exact.theme.id, {"route": "tile", "tile": f"{z}/{x}/{y}"})
    return exact, headers | {"Cache-Control": "private, max-age=60"}


def tile_routes(
    themes: dict[str, ThemeSpec], pool: Pool, base_url: str, bounds: list[float]
) -> list[Route]:
    """The tile endpoints, to be placed before pygeoapi's mount so they answer under /ogc."""
    layers = {tid: TileLayer.build(t, public=True) for tid, t in themes.items()}
    exact = {tid: TileLayer.build(t, public=False) for tid, t in themes.items() if sensitive(t)}

    def layer_of(request: Request) -> TileLayer | None:
        return layers.get(request.path_params["collection_id"])

    def unknown_collection(request: Request) -> Response:
        cid = request.path_params["collection_id"]
        return not_found(f"no collection {cid!r} has tiles").response()

    def list_tilesets(request: Request) -> Response:
        layer = layer_of(request)
        if layer is None:
            return unknown_collection(request)
        return JSONResponse(tilesets(layer.theme, base_url))

    def describe_tileset(request: Request) -> Response:
        layer = layer_of(request)
        if layer is None:
            return unknown_collection(request)
        if request.path_params["tms"] != TMS_ID:
            return not_found(f"tiles are served in the {TMS_ID} tile matrix set only").response()
        return JSONResponse(tileset_metadata(layer, base_url, bounds))

    def tile(request: Request) -> Response:
        layer = layer_of(request)
        if layer is None:
            return unknown_collection(request)
        if request.path_params["tms"] != TMS_ID:
            return not_found(f"tiles are served in the {TMS_ID} tile matrix set only").response()
        indices = _tile_indices(request)
        if isinstance(indices, str):
            return OGCError(indices).response()
        headers = {"Cache-Control": CACHE_CONTROL, "Access-Control-Allow-Origin": "*"}
        if layer.theme.id in exact:
            try:
                layer, headers = _for_reader(request, layer, exact[layer.theme.id], indices)
            except Refused as refused:
                return refusal(refused)
        known = layer.known_run(request.headers.get("if-none-match"))
        run, body = layer.fetch(pool, *indices, known)
        if run:
            headers["ETag"] = f'"{run}-{layer.version}"'
        if body is None:
            return Response(status_code=304, headers=headers)
        if not body:
            return Response(status_code=204, headers=headers)
        return Response(body, media_type=MVT_TYPE, headers=headers)

    def tile_matrix_set(request: Request) -> Response:
        """pygeoapi serves these at /TileMatrixSets; the standard spells it tileMatrixSets."""
        rest = request.path_params.get("tms")
        target = f"{base_url}/ogc/TileMatrixSets" + (f"/{rest}" if rest else "")
        return RedirectResponse(target, status_code=308)

    collection = "/ogc/collections/{collection_id}/tiles"
    return [
        Route(collection, list_tilesets),
        Route(collection + "/{tms}", describe_tileset),
        Route(collection + "/{tms}/{z}/{y}/{x}", tile),
        Route("/ogc/tileMatrixSets", tile_matrix_set),
        Route("/ogc/tileMatrixSets/{tms}", tile_matrix_set),
    ]

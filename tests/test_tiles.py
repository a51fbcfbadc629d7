"""OGC API - Tiles: vector tiles read as maps read them (mapbox-vector-tile, GDAL's MVT driver)."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import httpx
import mapbox_vector_tile
import psycopg2
import pytest
from psycopg2 import sql
from pyproj import Transformer

from protocols import Protocols
from server import tiles
from server.pgpool import Pool
from server.tiles import (
    CELL_PIXELS,
    EXACT_ZOOM,
    EXTENT,
    HALF_WORLD,
    MVT_TYPE,
    SESSION,
    TILE_PIXELS,
    TileLayer,
    ground_pixel,
)
from server.visibility import visible_fields

TILES = "/ogc/collections/{}/tiles"
ZOOM = EXACT_ZOOM  # the first zoom whose tiles hold every feature
LOW_ZOOM = 8  # the whole demo region in one tile
CELL = EXTENT / TILE_PIXELS * CELL_PIXELS  # a thinning cell, in tile units


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    """(z, x, y) of the WebMercatorQuad tile holding a point."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def busiest_tile(db, table: str, zoom: int = ZOOM) -> tuple[int, int, int]:
    """The tile at a zoom holding the most features of a table."""
    size = 2 * HALF_WORLD / 2**zoom
    query = sql.SQL(
        "SELECT floor((ST_X(p) + %(h)s) / %(s)s)::int, floor((%(h)s - ST_Y(p)) / %(s)s)::int "
        "FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 3857) p FROM {}) q "
        "GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1"
    )
    db.execute(query.format(sql.Identifier(table)), {"h": HALF_WORLD, "s": size})
    x, y = db.fetchone()
    return zoom, x, y


def tile_url(base: str, theme: str, z: int, x: int, y: int) -> str:
    return f"{base}{TILES.format(theme)}/WebMercatorQuad/{z}/{y}/{x}"


def fids_in_tile(db, table: str, z: int, x: int, y: int, margin: float) -> set[int]:
    """The features PostGIS itself places in the tile widened by margin (in tile widths)."""
    query = sql.SQL(
        "SELECT fid FROM {} WHERE ST_Intersects(ST_Transform(geom, 3857), "
        "ST_TileEnvelope(%s, %s, %s, margin => %s))"
    )
    db.execute(query.format(sql.Identifier(table)), (z, x, y, margin))
    return {row[0] for row in db.fetchall()}


@pytest.fixture(scope="module")
def lighting_tile(live_server: str, demo_loaded, database_url: str):
    """A busy tile, and the fids inside it and inside its 64/4096 buffer (plus rounding)."""
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        z, x, y = busiest_tile(cur, "street_lighting")
        inside = fids_in_tile(cur, "street_lighting", z, x, y, 0)
        buffered = fids_in_tile(cur, "street_lighting", z, x, y, 65 / 4096)
    response = httpx.get(tile_url(live_server, "street-lighting", z, x, y))
    return (z, x, y), (inside, buffered), response


def test_tile_is_a_mapbox_vector_tile_with_the_features_postgis_places_there(lighting_tile):
    _, (inside, buffered), response = lighting_tile
    assert response.status_code == 200 and response.headers["content-type"] == MVT_TYPE
    layer = mapbox_vector_tile.decode(response.content)["street-lighting"]
    assert inside and inside <= {f["id"] for f in layer["features"]} <= buffered


def test_tile_features_carry_only_the_public_protocol_fields(lighting_tile, protocols: Protocols):
    layer = mapbox_vector_tile.decode(lighting_tile[2].content)["street-lighting"]
    public = {f.name for f in visible_fields(protocols.themes["street-lighting"], public=True)}
    assert all(set(f["properties"]) <= public for f in layer["features"])
    assert any("unit_id" in f["properties"] for f in layer["features"])


def test_gdal_mvt_driver_reads_the_tile(lighting_tile, tmp_path: Path):
    (z, x, y), _, response = lighting_tile
    expected = len(mapbox_vector_tile.decode(response.content)["street-lighting"]["features"])
    path = tmp_path / str(z) / str(x) / f"{y}.pbf"  # GDAL georeferences a tile from z/x/y.pbf
    path.parent.mkdir(parents=True)
    path.write_bytes(response.content)
    done = subprocess.run(
        ["ogrinfo", "-ro", "-so", f"MVT:{path}", "street-lighting"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert f"Feature Count: {expected}\n" in done.stdout


def test_a_tile_the_client_holds_is_answered_304_by_its_etag(live_server: str, lighting_tile):
    (z, x, y), _, response = lighting_tile
    etag = response.headers["etag"]
    again = httpx.get(
        tile_url(live_server, "street-lighting", z, x, y), headers={"If-None-Match": etag}
    )
    assert again.status_code == 304 and again.headers["etag"] == etag
    assert "max-age" in again.headers["cache-control"]


def test_an_empty_tile_is_204(live_server: str, demo_loaded):
    inland_elsewhere = tile_of(-3.0, 51.5, ZOOM)  # Wales: inside EPSG:27700, outside the region
    response = httpx.get(tile_url(live_server, "street-lighting", *inland_elsewhere))
    assert response.status_code == 204 and response.content == b""


def test_a_tile_beyond_the_storage_crs_is_204(live_server: str, demo_loaded):
    response = httpx.get(tile_url(live_server, "street-lighting", 3, 0, 0))  # the Pacific
    assert response.status_code == 204


@pytest.mark.parametrize("zoom", [ZOOM, ZOOM - 2])
def test_sensitive_themes_are_generalised_for_the_public(
    live_server, database_url, protocols, zoom: int
):
    """Water mains are critical infrastructure: the public tile snaps them to the public grid,
    exact or thinned (simplifying keeps a subset of the snapped vertices)."""
    theme = protocols.themes["water-mains"]
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        z, x, y = busiest_tile(cur, theme.table, zoom)
    tile = httpx.get(tile_url(live_server, theme.id, z, x, y)).content
    features = mapbox_vector_tile.decode(tile, default_options={"y_coord_down": True})[theme.id]
    assert features["features"]
    assert all("pressure_bar" not in f["properties"] for f in features["features"])
    size = 2 * HALF_WORLD / 2**z
    to_bng = Transformer.from_crs(3857, theme.storage_crs, always_xy=True)
    grid, tolerance = theme.access.public_grid_m, 2 * size / 4096  # a tile unit: 2.4 m at z12
    for feature in features["features"]:
        vertices = feature["geometry"]["coordinates"]  # those inside: edges are clip points
        for px, py in [(px, py) for px, py in vertices if 0 < px < 4096 and 0 < py < 4096][:3]:
            e, n = to_bng.transform(
                -HALF_WORLD + (x + px / 4096) * size, HALF_WORLD - (y + py / 4096) * size
            )
            assert abs(e - round(e / grid) * grid) < tolerance
            assert abs(n - round(n / grid) * grid) < tolerance


@pytest.fixture()
def mains_tile(database_url: str) -> str:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        return "/".join(map(str, busiest_tile(cur, "water_mains", ZOOM)))


def _mains(base: str, tile: str, headers: dict[str, str] | None = None) -> httpx.Response:
    z, x, y = tile.split("/")
    return httpx.get(tile_url(base, "water-mains", int(z), int(x), int(y)), headers=headers)


def test_a_partner_tile_of_a_sensitive_theme_is_exact_private_and_audited(
    live_server: str, mains_tile: str, partner: dict[str, str], db
):
    public, exact = _mains(live_server, mains_tile), _mains(live_server, mains_tile, partner)
    layer = mapbox_vector_tile.decode(exact.content)["water-mains"]["features"]

    assert exact.content != public.content
    assert all("pressure_bar" in f["properties"] for f in layer)
    assert exact.headers["cache-control"].startswith("private")
    assert exact.headers["etag"] != public.headers["etag"]
    db.execute(
        "SELECT detail->>'tile' FROM audit_log WHERE action = 'read-sensitive' "
        "AND detail->>'route' = 'tile' ORDER BY id DESC LIMIT 1"
    )
    assert db.fetchone()[0] == mains_tile


def test_a_sensitive_theme_tile_varies_with_credentials(live_server: str, mains_tile: str):
    response = _mains(live_server, mains_tile)

    assert "Cookie" in response.headers["vary"] and "Authorization" in response.headers["vary"]
    assert response.headers["cache-control"].startswith("public")


def points_in_tile(db, table: str, z: int, x: int, y: int) -> list[tuple[float, float]]:
    """Where PostGIS places each point inside the tile, in tile units (y down, as decoded)."""
    size = 2 * HALF_WORLD / 2**z
    query = sql.SQL(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(geom, 3857) p FROM {}) q "
        "WHERE p && ST_TileEnvelope(%s, %s, %s)"
    )
    db.execute(query.format(sql.Identifier(table)), (z, x, y))
    return [
        ((px + HALF_WORLD - x * size) / size * EXTENT, (HALF_WORLD - py - y * size) / size * EXTENT)
        for px, py in db.fetchall()
    ]


def test_a_low_zoom_tile_keeps_a_point_near_every_point_it_leaves_out(
    live_server: str, database_url: str
):
    """One point per cell: fewer points, but no place with points is left empty (a cell's
    diagonal, widened for the storage grid's turn against Web Mercator)."""
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        z, x, y = busiest_tile(cur, "street_lighting", LOW_ZOOM)
        points = points_in_tile(cur, "street_lighting", z, x, y)
    tile = httpx.get(tile_url(live_server, "street-lighting", z, x, y)).content
    layer = mapbox_vector_tile.decode(tile, default_options={"y_coord_down": True})
    kept = [f["geometry"]["coordinates"] for f in layer["street-lighting"]["features"]]
    assert 0 < len(kept) < len(points)
    for px, py in points:
        assert min(math.dist((px, py), k) for k in kept) < 1.5 * CELL


def feature_sizes(db, table: str, z: int, x: int, y: int, margin: float) -> dict[int, float]:
    """fid -> the longer side of its box in metres, for the features whose boxes meet the tile
    widened by margin (in tile widths)."""
    query = sql.SQL(
        "SELECT fid, greatest(ST_XMax(geom) - ST_XMin(geom), ST_YMax(geom) - ST_YMin(geom)) "
        "FROM {} WHERE ST_Transform(geom, 3857) && ST_TileEnvelope(%s, %s, %s, margin => %s)"
    )
    db.execute(query.format(sql.Identifier(table)), (z, x, y, margin))
    return dict(db.fetchall())


def test_a_low_zoom_tile_past_its_cap_keeps_the_largest_features(
    database_url: str, demo_loaded, protocols: Protocols, monkeypatch: pytest.MonkeyPatch
):
    """Lines and areas a cell or longer are capped per tile, the largest kept: a cap of 5 here
    (the real one is 10,000), on the roadworks tile with the most lines."""
    monkeypatch.setattr(tiles, "MAX_LARGE_FEATURES", 5)
    layer = TileLayer.build(protocols.themes["roadworks"], public=True)
    pool = Pool(database_url, size=1, options=SESSION)
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        z, x, y = busiest_tile(cur, "roadworks", ZOOM - 1)
        try:
            _, body = layer.fetch(pool, z, x, y, known=-1)
        finally:
            pool.close()
        fids = {f["id"] for f in mapbox_vector_tile.decode(body)["roadworks"]["features"]}
        cell = ground_pixel(z, y) * CELL_PIXELS
        near = feature_sizes(cur, "roadworks", z, x, y, margin=1)  # all the tile may hold
        inside = feature_sizes(cur, "roadworks", z, x, y, margin=0)
    kept = {fid: near[fid] for fid in fids if near[fid] >= cell}
    large_inside = sorted((size for size in inside.values() if size >= cell), reverse=True)
    assert len(large_inside) > 5 and 0 < len(kept) <= 5
    assert min(kept.values()) >= large_inside[4]


@pytest.mark.parametrize(
    "path",
    ["WebMercatorQuad/12/4096/0", "WebMercatorQuad/99/0/0", "WebMercatorQuad/12/a/1"],
)
def test_tile_indices_outside_the_matrix_are_a_400(live_server: str, path: str):
    response = httpx.get(f"{live_server}{TILES.format('street-lighting')}/{path}")
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameterValue"


def test_tiles_of_an_unknown_collection_are_a_404(live_server: str):
    response = httpx.get(f"{live_server}{TILES.format('nowhere')}/WebMercatorQuad/1/0/0")
    assert response.status_code == 404 and response.json()["code"] == "NotFound"


def test_tileset_metadata_gives_the_template_zooms_bounds_and_fields(live_server, protocols):
    url = f"{live_server}{TILES.format('street-lighting')}/WebMercatorQuad"
    meta = httpx.get(url).json()
    template = next(link for link in meta["links"] if link["rel"] == "item")["href"]
    assert template.endswith("/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}")
    assert meta["tiles"][0].endswith("/WebMercatorQuad/{z}/{y}/{x}")
    assert meta["minzoom"] == 0 and meta["maxzoom"] >= 16 and len(meta["bounds"]) == 4
    public = {f.name for f in visible_fields(protocols.themes["street-lighting"], public=True)}
    assert set(meta["vector_layers"][0]["fields"]) == public


def test_collections_link_to_their_tilesets(live_server: str):
    collection = httpx.get(f"{live_server}/ogc/collections/street-lighting?f=json").json()
    rels = {link["rel"]: link["href"] for link in collection["links"]}
    tilesets = httpx.get(rels["http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"]).json()
    assert tilesets["tilesets"][0]["tileMatrixSetURI"].endswith("/WebMercatorQuad")


def test_the_tile_matrix_set_is_served_at_its_standard_path(live_server: str):
    response = httpx.get(
        f"{live_server}/ogc/tileMatrixSets/WebMercatorQuad?f=json", follow_redirects=True
    )
    assert response.status_code == 200 and response.json()["id"] == "WebMercatorQuad"

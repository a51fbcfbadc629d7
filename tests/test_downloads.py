"""Downloads: files opened with GDAL (ogrinfo/ogr2ogr) and parsed as CSV/GeoJSON equal PostGIS."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import httpx
import pytest
from psycopg2 import sql

DOWNLOAD = "/ogc/collections/{}/download"


def fetch(base: str, theme: str, folder: Path, **params: str) -> tuple[httpx.Response, Path]:
    response = httpx.get(f"{base}{DOWNLOAD.format(theme)}", params=params, timeout=120)
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    path = folder / disposition.split('filename="')[1].rstrip('"')
    path.write_bytes(response.content)
    return response, path


def ogr(*args: str) -> str:
    done = subprocess.run(["ogrinfo", "-ro", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def as_csv(path: Path, layer: str) -> list[dict[str, str]]:
    """The file's attribute table as GDAL reads it, through ogr2ogr."""
    done = subprocess.run(
        ["ogr2ogr", "-f", "CSV", "/vsistdout/", str(path), layer],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return list(csv.DictReader(io.StringIO(done.stdout)))


def lighting_rows(db, where: str = "true", params: tuple = ()) -> list[tuple]:
    """The rows PostGIS holds, under a fixed predicate written by the test."""
    query = sql.SQL(
        "SELECT unit_id, lamp_type, wattage, installed_date FROM street_lighting "
        "WHERE {} ORDER BY fid"
    )
    db.execute(query.format(sql.SQL(where)), params)
    return db.fetchall()


def as_rows(table: list[dict[str, str]]) -> list[tuple]:
    """Sorted: FlatGeobuf stores features in spatial-index order. GDAL's CSV writes dates as
    2012/12/29, and FlatGeobuf has no date type (2012-12-29 00:00:00)."""

    def value(text: str, kind=str):
        return kind(text) if text else None

    return sorted(
        (
            r["unit_id"],
            r["lamp_type"],
            value(r["wattage"], int),
            value(r["installed_date"].replace("/", "-")[:10]),
        )
        for r in table
    )


def pg_rows(rows: list[tuple]) -> list[tuple]:
    return sorted((u, t, w, d.isoformat() if d else None) for u, t, w, d in rows)


@pytest.mark.parametrize("fmt", ["gpkg", "fgb"])
def test_gdal_reads_every_feature_and_attribute_postgis_holds(live_server, db, tmp_path, fmt):
    _, path = fetch(live_server, "street-lighting", tmp_path, f=fmt)
    expected = pg_rows(lighting_rows(db))
    assert f"Feature Count: {len(expected)}\n" in ogr("-so", str(path), "street-lighting")
    assert as_rows(as_csv(path, "street-lighting")) == expected


def test_files_are_named_for_the_collection_and_day(live_server, tmp_path):
    response, path = fetch(live_server, "roadworks", tmp_path, f="gpkg")
    assert path.name.startswith("roadworks-20") and path.suffix == ".gpkg"
    assert response.headers["content-type"] == "application/geopackage+sqlite3"


def test_files_default_to_british_national_grid(live_server, tmp_path):
    _, path = fetch(live_server, "roadworks", tmp_path, f="fgb")
    assert 'ID["EPSG",27700]' in ogr("-so", str(path), "roadworks")


def test_the_requested_crs_is_honoured(live_server, tmp_path):
    _, path = fetch(live_server, "street-lighting", tmp_path, f="gpkg", crs="EPSG:4326")
    summary = ogr("-so", str(path), "street-lighting")
    extent = summary.split("Extent: (")[1].split(")")[0]
    lon, lat = (float(v) for v in extent.split(", "))
    assert 'ID["EPSG",4326]' in summary and -2.5 < lon < 0.5 and 52 < lat < 53.6


def test_bbox_and_field_filters_select_what_postgis_selects(live_server, db, tmp_path):
    box = (-1.2, 52.8, -0.9, 53.1)
    _, path = fetch(
        live_server, "street-lighting", tmp_path, f="gpkg",
        bbox=",".join(map(str, box)), lamp_type="led",
    )  # fmt: skip
    where = "lamp_type = 'led' AND ST_Intersects(geom, ST_Transform(ST_MakeEnvelope(%s, %s, %s, %s, 4326), 27700))"  # noqa: E501
    expected = pg_rows(lighting_rows(db, where, box))
    assert expected and as_rows(as_csv(path, "street-lighting")) == expected


def test_a_cql2_filter_selects_what_postgis_selects(live_server, db, tmp_path):
    _, path = fetch(live_server, "street-lighting", tmp_path, f="fgb", filter="wattage > 60")
    expected = pg_rows(lighting_rows(db, "wattage > 60"))
    assert expected and as_rows(as_csv(path, "street-lighting")) == expected


def test_csv_carries_points_as_x_and_y(live_server, db):
    response = httpx.get(f"{live_server}{DOWNLOAD.format('street-lighting')}", params={"f": "csv"})
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert as_rows(table) == pg_rows(lighting_rows(db))
    assert 436000 <= float(table[0]["x"]) <= 506000 and 299000 <= float(table[0]["y"]) <= 373000


def test_csv_carries_lines_as_wkt(live_server, db):
    response = httpx.get(f"{live_server}{DOWNLOAD.format('roadworks')}", params={"f": "csv"})
    table = list(csv.DictReader(io.StringIO(response.text)))
    db.execute("SELECT count(*) FROM roadworks")
    assert len(table) == db.fetchone()[0]
    assert {r["wkt"].split(" ")[0].split("(")[0] for r in table} <= {"POINT", "LINESTRING"}


def test_geojson_is_crs84_feature_collection_of_every_feature(live_server, db):
    response = httpx.get(f"{live_server}{DOWNLOAD.format('roadworks')}", params={"f": "geojson"})
    body = json.loads(response.content)
    db.execute("SELECT count(*) FROM roadworks")
    assert len(body["features"]) == db.fetchone()[0] and "crs" not in body
    lon, lat = (
        body["features"][0]["geometry"]["coordinates"][0][:2]
        if isinstance(body["features"][0]["geometry"]["coordinates"][0], list)
        else body["features"][0]["geometry"]["coordinates"][:2]
    )
    assert -2.5 < lon < 0.5 and 52 < lat < 53.6


def test_sensitive_fields_are_never_downloaded(live_server, tmp_path):
    _, path = fetch(live_server, "water-mains", tmp_path, f="gpkg")
    table = as_csv(path, "water-mains")
    assert table and "pressure_bar" not in table[0] and "diameter_mm" in table[0]


@pytest.mark.parametrize(
    "params", [{"f": "shp"}, {"limit": "10"}, {"nonsense": "1"}, {"crs": "EPSG:2154"}]
)
def test_what_a_download_cannot_honour_is_a_400_saying_why(live_server, params):
    response = httpx.get(f"{live_server}{DOWNLOAD.format('street-lighting')}", params=params)
    assert response.status_code == 400 and response.json()["description"]


def test_unknown_collection_is_a_404(live_server):
    response = httpx.get(f"{live_server}{DOWNLOAD.format('nowhere')}")
    assert response.status_code == 404


def test_collections_link_to_their_downloads(live_server):
    collection = httpx.get(f"{live_server}/ogc/collections/roadworks?f=json").json()
    types = {link["type"] for link in collection["links"] if "/download?" in link["href"]}
    assert {"application/geopackage+sqlite3", "application/flatgeobuf"} <= types

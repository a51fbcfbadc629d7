"""The OGC API feeds, read with the clients GIS officers use: HTTP, GDAL's OAPIF driver, OWSLib."""

from __future__ import annotations

import sqlite3
import subprocess

import httpx
from owslib.ogcapi.features import Features

from ingest.pipeline import RunResult

THEMES = {"roadworks", "street-lighting"}


def loaded_per_theme(results: list[RunResult]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for r in results:
        totals[r.theme] = totals.get(r.theme, 0) + r.loaded
    return totals


def ogr(*args: str) -> str:
    done = subprocess.run(["ogrinfo", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_collections_list_every_theme(live_server: str) -> None:
    body = httpx.get(f"{live_server}/ogc/collections", params={"f": "json"}).json()
    assert {c["id"] for c in body["collections"]} >= THEMES


def test_items_count_matches_what_was_loaded(live_server: str, demo_loaded) -> None:
    for theme, loaded in loaded_per_theme(demo_loaded).items():
        url = f"{live_server}/ogc/collections/{theme}/items"
        body = httpx.get(url, params={"f": "json", "limit": 1}).json()
        assert body["numberMatched"] == loaded, theme


def test_items_are_served_in_wgs84_with_protocol_fields(live_server: str, demo_loaded) -> None:
    url = f"{live_server}/ogc/collections/street-lighting/items"
    feature = httpx.get(url, params={"f": "json", "limit": 1}).json()["features"][0]
    lon, lat = feature["geometry"]["coordinates"][:2]
    assert -2.5 < lon < 0.5 and 52.0 < lat < 53.6
    assert {"unit_id", "lamp_type", "wattage", "installed_date"} <= feature["properties"].keys()


def test_gdal_oapif_driver_lists_every_layer(live_server: str, demo_loaded) -> None:
    listing = ogr("-ro", "-q", f"OAPIF:{live_server}/ogc")
    for theme in THEMES:
        assert theme in listing


def test_gdal_oapif_driver_counts_equal_the_demo_files(live_server: str, demo_loaded) -> None:
    for theme, loaded in loaded_per_theme(demo_loaded).items():
        summary = ogr("-ro", "-so", f"OAPIF:{live_server}/ogc", theme)
        assert f"Feature Count: {loaded}\n" in summary, theme


def test_owslib_reads_features(live_server: str, demo_loaded) -> None:
    api = Features(f"{live_server}/ogc")
    assert {c["id"] for c in api.collections()["collections"]} >= THEMES
    items = api.collection_items("roadworks", limit=5)
    assert len(items["features"]) == 5


def test_gdal_ogr2ogr_download_equals_postgis(live_server: str, db, tmp_path) -> None:
    """Every page followed, every feature once, attributes exactly as stored."""
    out = tmp_path / "roadworks.gpkg"
    done = subprocess.run(
        ["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{live_server}/ogc", "roadworks"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(out) as gpkg:
        downloaded = gpkg.execute(
            "SELECT reference, works_type, status, start_date, end_date, promoter FROM roadworks"
        ).fetchall()
    db.execute(
        "SELECT reference, works_type, status, start_date::text, end_date::text, promoter "
        "FROM roadworks"
    )
    assert sorted(downloaded, key=str) == sorted(db.fetchall(), key=str)


def test_owslib_filters_with_cql2(live_server: str, db) -> None:
    api = Features(f"{live_server}/ogc")
    items = api.collection_items("roadworks", filter="status = 'planned'", limit=10000)
    db.execute("SELECT count(*) FROM roadworks WHERE status = 'planned'")
    assert items["numberMatched"] == len(items["features"]) == db.fetchone()[0]
    assert {f["properties"]["status"] for f in items["features"]} == {"planned"}

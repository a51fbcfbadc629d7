"""OGC API - Features, Parts 1-3, as served by our provider: the answers equal PostGIS."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.pgcluster import free_port
from ingest.pipeline import ingest_file
from ingest.region import Region, Source
from protocols import Protocols
from server.features import store

EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
NOTTINGHAM_BOX = "-1.30,52.85,-1.05,53.05"  # lon/lat around Nottingham, where demo data lies


def items(server: str, collection: str = "roadworks", **params: Any) -> httpx.Response:
    return httpx.get(
        f"{server}/ogc/collections/{collection}/items", params={"f": "json", **params}, timeout=60
    )


def ids(response: httpx.Response) -> set[int]:
    assert response.status_code == 200, response.text
    return {f["id"] for f in response.json()["features"]}


def row(db, query: str, *params: Any) -> tuple:
    db.execute(query, params)
    return db.fetchone()


def scalar(db, query: str, *params: Any) -> Any:
    return row(db, query, *params)[0]


def refused(response: httpx.Response, *mentions: str) -> str:
    """A 400 in the OGC form whose description names what the client may use instead."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] and all(m in body["description"] for m in mentions), body
    return body["description"]


# --- generated configuration -----------------------------------------------------------------


def test_collection_metadata_comes_from_the_protocol(live_server, protocols: Protocols) -> None:
    body = httpx.get(f"{live_server}/ogc/collections/roadworks", params={"f": "json"}).json()
    theme = protocols.themes["roadworks"]
    assert body["title"] == theme.title
    assert body["description"].startswith(theme.description.strip())
    assert theme.attribution in body["description"]
    assert body["keywords"] == theme.keywords
    licence = [link for link in body["links"] if link["rel"] == "license"]
    assert licence and theme.licence in licence[0]["href"]


def test_spatial_extent_is_measured_from_the_data(live_server, db) -> None:
    body = httpx.get(f"{live_server}/ogc/collections/roadworks", params={"f": "json"}).json()
    minx, miny, maxx, maxy = body["extent"]["spatial"]["bbox"][0]
    db.execute(
        "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM "
        "(SELECT ST_Transform(ST_SetSRID(ST_Extent(geom)::geometry, 27700), 4326) b "
        "FROM roadworks) e"
    )
    expected = db.fetchone()
    assert [minx, miny, maxx, maxy] == pytest.approx(list(expected), abs=1e-5)


def test_temporal_extent_spans_the_features_own_dates(live_server, db) -> None:
    body = httpx.get(f"{live_server}/ogc/collections/roadworks", params={"f": "json"}).json()
    begin, end = body["extent"]["temporal"]["interval"][0]
    first = scalar(db, "SELECT min(start_date) FROM roadworks")
    last = scalar(db, "SELECT max(greatest(start_date, end_date)) FROM roadworks")
    assert begin.startswith(first.isoformat()) and end.startswith(last.isoformat())


def test_queryables_carry_titles_types_and_code_lists(live_server, protocols: Protocols) -> None:
    url = f"{live_server}/ogc/collections/roadworks/queryables"
    response = httpx.get(url, params={"f": "json"})
    assert response.headers["content-type"].startswith("application/schema+json")
    queryables = response.json()["properties"]
    status = protocols.themes["roadworks"].field("status")
    assert queryables["status"]["title"] == status.title
    assert queryables["status"]["enum"] == [
        v.code for v in protocols.codelists["works-status"].values
    ]
    assert queryables["start_date"] == queryables["start_date"] | {
        "type": "string",
        "format": "date",
    }
    assert queryables["geometry"]["x-ogc-role"] == "primary-geometry"


def test_sensitive_fields_are_neither_queryable_nor_served(live_server, protocols) -> None:
    for theme in protocols.themes.values():
        secret = {f.name for f in theme.fields if f.sensitive}
        url = f"{live_server}/ogc/collections/{theme.id}/queryables"
        assert not secret & httpx.get(url, params={"f": "json"}).json()["properties"].keys()
        features = items(live_server, theme.id, limit=5).json()["features"]
        assert all(not secret & f["properties"].keys() for f in features), theme.id


# --- Part 1: items, paging, single items ----------------------------------------------------


def test_next_links_walk_every_feature_once(live_server, db) -> None:
    url, seen = f"{live_server}/ogc/collections/roadworks/items?f=json&limit=7", []
    while url:
        page = httpx.get(url).json()
        seen += [f["id"] for f in page["features"]]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert sorted(seen) == sorted(set(seen))
    assert len(seen) == scalar(db, "SELECT count(*) FROM roadworks")


def test_offset_pages_link_back_with_prev(live_server) -> None:
    page = items(live_server, limit=5, offset=10).json()
    prev = next(link["href"] for link in page["links"] if link["rel"] == "prev")
    assert ids(httpx.get(prev)) == ids(items(live_server, limit=5, offset=5))


def test_number_matched_is_exact_for_small_results(live_server, db) -> None:
    body = items(live_server, limit=2, status="planned").json()
    expected = scalar(db, "SELECT count(*) FROM roadworks WHERE status = 'planned'")
    assert (body["numberMatched"], body["numberReturned"]) == (expected, min(2, expected))


def test_number_matched_is_the_planner_estimate_above_the_threshold(
    live_server, db, monkeypatch
) -> None:
    monkeypatch.setattr(store, "EXACT_COUNT_LIMIT", 0)  # as if the table were huge
    body = items(live_server, "street-lighting", limit=1).json()
    db.execute("EXPLAIN (FORMAT JSON) SELECT 1 FROM street_lighting")
    assert body["numberMatched"] == db.fetchone()[0][0]["Plan"]["Plan Rows"]


def test_single_item_equals_its_row(live_server, db) -> None:
    fid, reference = row(db, "SELECT fid, reference FROM roadworks LIMIT 1")
    response = httpx.get(f"{live_server}/ogc/collections/roadworks/items/{fid}?f=json")
    assert response.headers["content-type"] == "application/geo+json"
    feature = response.json()
    assert (feature["id"], feature["properties"]["reference"]) == (fid, reference)
    assert any(link["rel"] == "collection" for link in feature["links"])


def test_unknown_item_is_404(live_server) -> None:
    for fid in ("999999999", "not-a-fid"):
        response = httpx.get(f"{live_server}/ogc/collections/roadworks/items/{fid}?f=json")
        assert response.status_code == 404 and response.json()["code"] == "NotFound"


def test_html_pages_are_rendered_by_pygeoapi_from_our_provider(live_server, db) -> None:
    reference = scalar(db, "SELECT reference FROM roadworks ORDER BY fid LIMIT 1")
    response = items(live_server, f="html", limit=3)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    assert reference in response.text


def test_properties_and_skip_geometry_trim_features(live_server) -> None:
    feature = items(live_server, limit=1, properties="reference,status", skipGeometry="true")
    first = feature.json()["features"][0]
    assert first["properties"].keys() == {"reference", "status"} and first["geometry"] is None


def test_sortby_orders_by_a_property_descending(live_server, db) -> None:
    body = items(live_server, limit=10, sortby="-start_date").json()
    dates = [f["properties"]["start_date"] for f in body["features"]]
    latest = scalar(db, "SELECT max(start_date) FROM roadworks")
    assert dates == sorted(dates, reverse=True) and dates[0] == latest.isoformat()


# --- Part 2: CRS ------------------------------------------------------------------------------


def test_crs_27700_returns_storage_coordinates(live_server, db) -> None:
    fid, x, y = row(db, "SELECT fid, ST_X(geom), ST_Y(geom) FROM street_lighting LIMIT 1")
    url = f"{live_server}/ogc/collections/street-lighting/items/{fid}"
    response = httpx.get(url, params={"f": "json", "crs": EPSG.format(27700)})
    assert response.headers["content-crs"] == f"<{EPSG.format(27700)}>"
    assert response.json()["geometry"]["coordinates"] == pytest.approx([x, y], abs=1e-3)


def test_epsg_4326_puts_latitude_first_and_crs84_longitude(live_server) -> None:
    url = f"{live_server}/ogc/collections/street-lighting/items"
    lonlat = httpx.get(url, params={"f": "json", "limit": 1}).json()["features"][0]
    latlon = httpx.get(url, params={"f": "json", "limit": 1, "crs": EPSG.format(4326)})
    assert latlon.headers["content-crs"] == f"<{EPSG.format(4326)}>"
    lon, lat = lonlat["geometry"]["coordinates"]
    assert latlon.json()["features"][0]["geometry"]["coordinates"] == [lat, lon]


def test_bbox_in_any_supported_crs_selects_the_same_features(live_server, db) -> None:
    west, south, east, north = map(float, NOTTINGHAM_BOX.split(","))
    expected = ids(items(live_server, "street-lighting", bbox=NOTTINGHAM_BOX, limit=10000))
    assert expected
    latlon = f"{south},{west},{north},{east}"
    assert expected == ids(
        items(live_server, "street-lighting", bbox=latlon, limit=10000, **{"bbox-crs": "EPSG:4326"})
    )
    inside = scalar(
        db,
        "SELECT count(*) FROM street_lighting WHERE "
        "ST_Intersects(geom, ST_Transform(ST_MakeEnvelope(%s, %s, %s, %s, 4326), 27700))",
        west,
        south,
        east,
        north,
    )
    assert len(expected) == inside


def test_unsupported_crs_is_refused_naming_the_supported(live_server) -> None:
    refused(items(live_server, crs="EPSG:2154"), "EPSG/0/27700", "CRS84")
    refused(items(live_server, bbox="1,2,3,4", **{"bbox-crs": "EPSG:2154"}), "EPSG/0/4326")


# --- Part 3: filters --------------------------------------------------------------------------


def test_cql2_text_filter_equals_sql(live_server, db) -> None:
    body = items(
        live_server, limit=1000, filter="status = 'planned' AND start_date >= DATE('2026-01-01')"
    )
    expected = scalar(
        db, "SELECT count(*) FROM roadworks WHERE status = 'planned' AND start_date >= '2026-01-01'"
    )
    assert body.json()["numberMatched"] == expected == len(ids(body))


def test_cql2_json_filter_equals_its_text_form(live_server) -> None:
    text = ids(
        items(
            live_server, limit=1000, filter="works_type IN ('resurfacing') OR status <> 'planned'"
        )
    )
    as_json = {
        "op": "or",
        "args": [
            {"op": "in", "args": [{"property": "works_type"}, ["resurfacing"]]},
            {"op": "<>", "args": [{"property": "status"}, "planned"]},
        ],
    }
    params = {"filter": json.dumps(as_json), "filter-lang": "cql2-json", "limit": 1000}
    assert text and ids(items(live_server, **params)) == text


def test_spatial_filter_equals_the_bbox_parameter(live_server) -> None:
    west, south, east, north = NOTTINGHAM_BOX.split(",")
    polygon = (
        f"POLYGON(({west} {south},{east} {south},{east} {north},{west} {north},{west} {south}))"
    )
    by_filter = items(
        live_server, "street-lighting", limit=10000, filter=f"S_INTERSECTS(geometry, {polygon})"
    )
    by_bbox = items(live_server, "street-lighting", limit=10000, bbox=NOTTINGHAM_BOX)
    assert ids(by_filter) == ids(by_bbox)


def test_property_equality_parameters_filter(live_server, db) -> None:
    found = ids(items(live_server, "street-lighting", limit=10000, lamp_type="led"))
    assert len(found) == scalar(db, "SELECT count(*) FROM street_lighting WHERE lamp_type = 'led'")


def test_filter_on_an_unknown_property_names_the_queryables(live_server) -> None:
    refused(items(live_server, filter="colour = 'red'"), "colour", "reference", "status")


def test_filter_that_does_not_parse_is_refused(live_server) -> None:
    refused(items(live_server, filter="status = = 'planned'"), "cql2-text")


def test_sortby_and_properties_refuse_unknown_names(live_server) -> None:
    refused(items(live_server, sortby="-colour"), "colour", "start_date")
    refused(items(live_server, properties="reference,colour"), "colour")


def test_bad_bbox_is_refused(live_server) -> None:
    refused(items(live_server, bbox="1,2,three,4"), "bbox")
    refused(items(live_server, bbox="5,2,1,4"), "bbox")


def test_unknown_parameter_is_refused_listing_the_allowed(live_server) -> None:
    refused(items(live_server, colour="red"), "colour", "sortby", "reference")


def test_unknown_collection_is_404_listing_the_collections(live_server) -> None:
    response = httpx.get(f"{live_server}/ogc/collections/roadwork/items?f=json")
    assert response.status_code == 404 and "roadworks" in response.json()["description"]


INJECTIONS = [
    {"filter": "status = 'x'; DROP TABLE roadworks; --"},
    {"filter": "\"status; DROP TABLE roadworks\" = 'x'"},
    {"filter": "status = 'x' OR 1=1) --"},
    {"sortby": "start_date; DROP TABLE roadworks"},
    {"sortby": "(SELECT 1)"},
    {"properties": "reference, (SELECT pg_sleep(5))"},
    {"ids": "1); DROP TABLE roadworks; --"},
    {"bbox": "0,0,1,1); DROP TABLE roadworks; --"},
    {"status": "planned'; DROP TABLE roadworks; --", "start_date": "2026-01-01'--"},
]


@pytest.mark.parametrize("attack", INJECTIONS, ids=lambda a: ",".join(a))
def test_sql_injection_is_refused_logged_and_the_table_intact(
    live_server, db, attack, caplog
) -> None:
    before = scalar(db, "SELECT count(*) FROM roadworks")
    with caplog.at_level(logging.WARNING, logger="server.features.routes"):
        response = items(live_server, **attack)
    assert response.status_code == 400, response.text
    assert scalar(db, "SELECT count(*) FROM roadworks") == before
    assert any(r.getMessage().startswith("refused ") for r in caplog.records)


def test_a_quoted_value_is_data_not_sql(live_server) -> None:
    response = items(live_server, status="planned' OR 'a'='a")
    assert response.status_code == 200 and response.json()["numberMatched"] == 0


# --- datetime: history and the features' own dates -------------------------------------------

HISTORY_SOURCE = Source.model_validate(
    {
        "id": "history-roadworks",
        "publisher": "trentvale",
        "theme": "roadworks",
        "file": "history.geojson",
        "fields": {
            "reference": "ref",
            "works_type": {"value": "resurfacing"},
            "status": "status",
            "start_date": "starts",
            "promoter": {"value": "History Borough Council (fictional)"},
        },
    }
)


def _version(folder: Path, rows: list[tuple[str, str]]) -> Path:
    features = [
        {
            "type": "Feature",
            "properties": {"ref": ref, "status": status, "starts": "2026-03-01"},
            "geometry": {"type": "Point", "coordinates": [-1.1505, 52.9536]},
        }
        for ref, status in rows
    ]
    path = folder / "history.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


@pytest.fixture()
def two_versions(
    tmp_path: Path, database_url: str, demo_region: Region, protocols: Protocols, db
) -> Iterator[str]:
    """HIST-A and HIST-B loaded, then HIST-A changed, HIST-B retired and HIST-C added; yields
    an instant between the two loads."""
    first = [("HIST-A", "planned"), ("HIST-B", "planned")]
    ingest_file(database_url, _version(tmp_path, first), HISTORY_SOURCE, demo_region, protocols)
    between = scalar(db, "SELECT clock_timestamp()").isoformat()
    time.sleep(0.05)
    second = [("HIST-A", "in-progress"), ("HIST-C", "planned")]
    ingest_file(database_url, _version(tmp_path, second), HISTORY_SOURCE, demo_region, protocols)
    yield between
    for table in ("roadworks", "roadworks_history"):
        db.execute(f"DELETE FROM {table} WHERE source = %s", (HISTORY_SOURCE.id,))  # noqa: S608


def _states(response: httpx.Response) -> dict[str, tuple[int, str]]:
    assert response.status_code == 200, response.text
    return {
        f["properties"]["reference"]: (f["id"], f["properties"]["status"])
        for f in response.json()["features"]
    }


def test_datetime_instant_returns_features_as_they_were(live_server, two_versions) -> None:
    source = {"source": HISTORY_SOURCE.id, "limit": 100}
    then = _states(items(live_server, datetime=two_versions, **source))
    now = _states(items(live_server, **source))
    assert {k: v[1] for k, v in then.items()} == {"HIST-A": "planned", "HIST-B": "planned"}
    assert {k: v[1] for k, v in now.items()} == {"HIST-A": "in-progress", "HIST-C": "planned"}
    assert then["HIST-A"][0] == now["HIST-A"][0]  # the same feature, the same id


def test_single_item_as_it_was(live_server, two_versions) -> None:
    fid = _states(items(live_server, source=HISTORY_SOURCE.id))["HIST-A"][0]
    url = f"{live_server}/ogc/collections/roadworks/items/{fid}"
    feature = httpx.get(url, params={"f": "json", "datetime": two_versions}).json()
    assert feature["properties"]["status"] == "planned"


def test_datetime_interval_matches_the_features_own_dates(live_server, db) -> None:
    found = ids(items(live_server, limit=10000, datetime="2026-06-01/2026-06-30"))
    expected = scalar(
        db,
        "SELECT count(*) FROM roadworks WHERE start_date <= '2026-06-30' "
        "AND coalesce(end_date, start_date) >= '2026-06-01'",
    )
    assert len(found) == expected


def test_datetime_that_is_not_rfc3339_is_refused(live_server) -> None:
    refused(items(live_server, datetime="last tuesday"), "RFC 3339")


# --- discovery and deployment -----------------------------------------------------------------


def test_conformance_declares_cql2_filtering(live_server) -> None:
    body = httpx.get(f"{live_server}/ogc/conformance", params={"f": "json"}).json()
    assert {
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    } <= set(body["conformsTo"])


def test_openapi_documents_filter_and_datetime(live_server) -> None:
    body = httpx.get(f"{live_server}/ogc/openapi", params={"f": "json"}).json()
    parameters = body["paths"]["/collections/roadworks/items"]["get"]["parameters"]
    names = {p.get("name") for p in parameters}
    assert {"filter", "filter-lang", "datetime", "after"} <= names


def test_serve_workers_share_one_port(database_url: str, demo_loaded, tmp_path: Path) -> None:
    """`regiongis serve --workers 2`: two server processes behind one port, as benchmarked."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "RGIS_STATE_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "server.cli", "serve", "--workers", "2", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/ogc/collections/roadworks/items?f=json&limit=1"
        deadline = time.monotonic() + 120
        while not _answers(url):
            assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()
            time.sleep(0.5)
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        assert len(children) == 2
    finally:
        server.terminate()
        server.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False

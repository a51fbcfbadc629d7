"""Sensitive themes on the read routes: the public sees grid cells and no sensitive field;
a partner's token shows them exactly, and every such read is audited.

water-mains is the demo's sensitive theme (grid 250 m, pressure_bar a sensitive field). Every
request goes through the real app, real PostGIS and, where named, GDAL and Chromium.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import open_page
from conftest import issue_token
from owslib.ogcapi.features import Features

from server.access import Role
from server.access.signin import safe_next

THEME, GRID, SECRET = "water-mains", 250, "pressure_bar"
ITEMS = f"/ogc/collections/{THEME}/items"
BNG = "http://www.opengis.net/def/crs/EPSG/0/27700"


def _items(base: str, headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
    params = {"f": "json", "crs": BNG, "limit": 1000} | params
    return httpx.get(f"{base}{ITEMS}", params=params, headers=headers or {})


def _coordinates(geometry: dict[str, Any]) -> list[list[float]]:
    lines = geometry["coordinates"]
    if geometry["type"] == "LineString":
        lines = [lines]
    return [point for line in lines for point in line]


def _exact(db: Any, fid: int) -> list[list[float]]:
    db.execute("SELECT ST_AsGeoJSON(geom, 3) FROM water_mains WHERE fid = %s", (fid,))
    return _coordinates(json.loads(db.fetchone()[0]))


def _audited(db: Any, token: str, action: str) -> list[tuple[str, dict[str, Any]]]:
    token_id = token.split("_")[1]
    db.execute(
        "SELECT target, detail FROM audit_log WHERE token_id = %s AND action = %s ORDER BY id",
        (token_id, action),
    )
    return db.fetchall()


def test_public_items_of_a_sensitive_theme_are_grid_cells_without_sensitive_fields(
    live_server: str,
) -> None:
    features = _items(live_server).json()["features"]

    assert features
    points = [p for f in features if f["geometry"] for p in _coordinates(f["geometry"])]
    assert points and all(x % GRID == 0 and y % GRID == 0 for x, y in points)
    assert all(SECRET not in f["properties"] for f in features)


def test_public_single_item_of_a_sensitive_theme_is_generalised(live_server: str) -> None:
    fid = _items(live_server, limit=1).json()["features"][0]["id"]

    item = httpx.get(f"{live_server}{ITEMS}/{fid}", params={"f": "json", "crs": BNG}).json()

    assert all(x % GRID == 0 and y % GRID == 0 for x, y in _coordinates(item["geometry"]))
    assert SECRET not in item["properties"]


def test_a_tiny_public_bbox_cannot_locate_a_main_by_its_exact_vertex(
    live_server: str, db: Any
) -> None:
    """Filters see the generalised geometry, not the exact one, or a bbox search could trace
    every main metre by metre."""
    db.execute(
        "SELECT fid, ST_X(p), ST_Y(p) FROM (SELECT fid, ST_PointN(ST_GeometryN(geom, 1), 2) AS p, "
        "ST_SnapToGrid(geom, %s) AS cells FROM water_mains) AS m "
        "WHERE ST_Distance(p, cells) > 5 ORDER BY fid LIMIT 1",
        (GRID,),
    )
    fid, x, y = db.fetchone()
    bbox = f"{x - 1},{y - 1},{x + 1},{y + 1}"

    found = _items(live_server, bbox=bbox, **{"bbox-crs": BNG}).json()["features"]

    assert fid not in {f["id"] for f in found}


def test_public_filter_on_a_sensitive_field_is_refused(live_server: str) -> None:
    response = _items(live_server, filter=f"{SECRET} > 5")

    assert response.status_code == 400
    assert SECRET in response.json()["description"]


def test_partner_reads_exact_geometry_and_sensitive_fields(
    live_server: str, partner: dict[str, str], db: Any
) -> None:
    features = _items(live_server, partner).json()["features"]

    first = features[0]
    assert _coordinates(first["geometry"]) == _exact(db, first["id"])
    assert all(SECRET in f["properties"] for f in features)


def test_partner_can_filter_on_a_sensitive_field(
    live_server: str, partner: dict[str, str], db: Any
) -> None:
    db.execute("SELECT count(*) FROM water_mains WHERE pressure_bar > 5")
    expected = db.fetchone()[0]

    body = _items(live_server, partner, filter=f"{SECRET} > 5").json()

    assert body["numberMatched"] == expected


def test_partner_reads_of_a_sensitive_theme_are_audited(
    live_server: str, partner_token: str, partner: dict[str, str], db: Any
) -> None:
    before = len(_audited(db, partner_token, "read-sensitive"))
    fid = _items(live_server, partner, limit=1).json()["features"][0]["id"]
    httpx.get(f"{live_server}{ITEMS}/{fid}", params={"f": "json"}, headers=partner)

    logged = _audited(db, partner_token, "read-sensitive")[before:]

    assert [(target, detail["route"]) for target, detail in logged] == [
        (THEME, "items"),
        (THEME, "item"),
    ]
    assert logged[0][1]["query"]["limit"] == "1"


def test_partner_reads_of_open_themes_are_not_audited(
    live_server: str, partner_token: str, partner: dict[str, str], db: Any
) -> None:
    before = len(_audited(db, partner_token, "read-sensitive"))

    httpx.get(f"{live_server}/ogc/collections/roadworks/items", headers=partner)

    assert len(_audited(db, partner_token, "read-sensitive")) == before


def test_an_uploader_token_reads_the_public_view(live_server: str, database_url: str) -> None:
    uploader = issue_token(database_url, "kestrel-water", Role.UPLOADER)

    features = _items(live_server, {"Authorization": f"Bearer {uploader}"}).json()["features"]

    assert all(SECRET not in f["properties"] for f in features)


def test_a_wrong_token_on_a_read_route_is_refused_and_logged(live_server: str, db: Any) -> None:
    wrong = {"Authorization": "Bearer rgis_nosuchtoken_0000"}

    response = _items(live_server, wrong)

    assert response.status_code == 401
    assert "Bearer" in response.headers["www-authenticate"]
    db.execute("SELECT count(*) FROM audit_log WHERE action = 'read-refused' AND target = %s",
               (ITEMS,))  # fmt: skip
    assert db.fetchone()[0] >= 1


def test_a_revoked_partner_token_is_refused_at_once(
    live_server: str, database_url: str, db: Any
) -> None:
    token = issue_token(database_url, "kestrel-water", Role.PARTNER)
    headers = {"Authorization": f"Bearer {token}"}
    assert _items(live_server, headers, limit=1).status_code == 200

    db.execute("UPDATE api_token SET revoked_at = now() WHERE id = %s", (token.split("_")[1],))

    assert _items(live_server, headers, limit=1).status_code == 401


def test_pygeoapi_html_page_of_a_sensitive_theme_hides_the_sensitive_field(
    live_server: str,
) -> None:
    page = httpx.get(f"{live_server}{ITEMS}", params={"f": "html", "limit": 50})

    assert page.status_code == 200
    assert "Operating pressure" not in page.text and SECRET not in page.text


def _ogr_coordinates(url: str, path: Path, env: dict[str, str]) -> list[list[float]]:
    out = path / "mains.geojson"
    command = ["ogr2ogr", "-f", "GeoJSON", "-t_srs", "EPSG:27700", "-lco", "RFC7946=NO",
               str(out), f"OAPIF:{url}/ogc", THEME]  # fmt: skip
    subprocess.run(command, check=True, env=os.environ | env, capture_output=True, timeout=120)
    features = json.loads(out.read_text())["features"]
    return [p for f in features if f["geometry"] for p in _coordinates(f["geometry"])]


def test_gdal_reads_the_partner_view_with_its_token_and_the_public_view_without(
    live_server: str, partner_token: str, tmp_path: Path
) -> None:
    header = {"GDAL_HTTP_HEADERS": f"Authorization: Bearer {partner_token}"}
    (tmp_path / "p").mkdir()
    (tmp_path / "q").mkdir()

    exact = _ogr_coordinates(live_server, tmp_path / "p", header)
    public = _ogr_coordinates(live_server, tmp_path / "q", {})

    assert all(round(x) % GRID == 0 and round(y) % GRID == 0 for x, y in public)
    assert any(round(x, 1) % GRID != 0 for x, _ in exact)


def test_owslib_sends_the_partner_token_and_gets_sensitive_fields(
    live_server: str, partner: dict[str, str]
) -> None:
    api = Features(f"{live_server}/ogc", headers=partner)

    features = api.collection_items(THEME, limit=5)["features"]

    assert all(SECRET in f["properties"] for f in features)


def test_public_download_is_generalised_and_a_partner_download_exact(
    live_server: str, partner: dict[str, str]
) -> None:
    url = f"{live_server}/ogc/collections/{THEME}/download"
    params = {"f": "geojson", "crs": BNG}

    public = httpx.get(url, params=params).json()["features"]
    exact = httpx.get(url, params=params, headers=partner).json()["features"]

    assert all(
        x % GRID == 0 for f in public if f["geometry"] for x, _ in _coordinates(f["geometry"])
    )
    assert SECRET not in public[0]["properties"] and SECRET in exact[0]["properties"]
    assert len(public) == len(exact)


@pytest.mark.parametrize(
    "path", ["/quality/quarantine.geojson", "/ogc/collections/boundary-issues/items?f=json"]
)
def test_partner_only_data_is_refused_without_a_token(live_server: str, path: str) -> None:
    response = httpx.get(f"{live_server}{path}")

    assert response.status_code == 401
    assert "partner" in response.json()["description"]


def test_boundary_issues_metadata_stays_public(live_server: str) -> None:
    response = httpx.get(f"{live_server}/ogc/collections/boundary-issues", params={"f": "json"})

    assert response.status_code == 200


def test_the_quality_page_sends_a_browser_without_a_token_to_sign_in(live_server: str) -> None:
    response = httpx.get(f"{live_server}/quality")

    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=/quality"


def test_the_quality_page_refuses_an_uploader_token(live_server: str, database_url: str) -> None:
    uploader = issue_token(database_url, "trentvale", Role.UPLOADER)

    response = httpx.get(f"{live_server}/quality", headers={"Authorization": f"Bearer {uploader}"})

    assert response.status_code == 403
    assert "partner token" in response.json()["description"]


def test_a_partner_signs_in_in_the_browser_and_sees_the_quality_page(
    live_server: str, partner_token: str, db: Any
) -> None:
    with open_page(f"{live_server}/quality") as (page, _):
        assert "/signin" in page.url
        page.fill("#token", partner_token)
        page.click("button[type=submit] >> text=Sign in")
        page.wait_for_url(f"{live_server}/quality")
        runs = page.locator("table.runs tbody tr").count()
        cookie = next(c for c in page.context.cookies() if c["name"] == "rgis_token")

    assert runs > 0
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert _audited(db, partner_token, "signin")


def test_a_wrong_token_at_sign_in_is_shown_the_reason_and_sets_no_cookie(
    live_server: str,
) -> None:
    with open_page(f"{live_server}/signin") as (page, _):
        page.fill("#token", "rgis_nosuchtoken_0000")
        page.click("button[type=submit] >> text=Sign in")
        message = page.locator("[role=alert]").inner_text()
        cookies = page.context.cookies()

    assert "not valid" in message
    assert not [c for c in cookies if c["name"] == "rgis_token"]


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil", ""])
def test_sign_in_only_returns_to_a_page_on_this_site(target: str) -> None:
    assert safe_next(target) == "/quality"


def test_a_signed_in_partner_sees_who_they_are_and_can_sign_out(
    live_server: str, partner_token: str
) -> None:
    with open_page(f"{live_server}/quality", token=partner_token) as (page, _):
        banner = page.locator(".signed-in").inner_text()
        page.click(".signed-in button")
        page.wait_for_url(f"{live_server}/")
        cookies = [c for c in page.context.cookies() if c["name"] == "rgis_token"]

    assert "kestrel-water" in banner and partner_token.split("_")[1] in banner
    assert cookies == []

"""The public map served by the real app, on the real feeds, in a real headless Chromium.

The map draws themes from the server's vector tiles; ?source=geojson draws them from the items
feed instead. The test server has no base map (conftest), as a browser here may reach no other
host; tests/test_maps.py shows that blocked base-map tiles leave the map working.
"""

from __future__ import annotations

import httpx
from browser import PageReport, load_page, open_page
from playwright.sync_api import Page

from ingest.pipeline import RunResult
from server.settings import PROJECT_ROOT

ARTEFACTS = PROJECT_ROOT / "tests" / "artefacts"
DRAWN_FEATURE = "path.leaflet-interactive"
FIRST_FEATURE = "performance.getEntriesByName('regional-map:first-feature').length > 0"
OUTLINE = ".leaflet-overlay-pane path:not(.leaflet-interactive)"


def assert_clean(report: PageReport) -> None:
    assert report.console_errors == [] and report.page_errors == []
    assert report.external_requests == [] and report.failed_requests == []


def a_roadworks_point(live_server: str) -> dict:
    items = httpx.get(f"{live_server}/ogc/collections/roadworks/items?f=json&limit=200").json()
    return next(f for f in items["features"] if f["geometry"]["type"] == "Point")


def wait_for_tiles(page: Page) -> None:
    page.wait_for_function(FIRST_FEATURE, timeout=20000)
    page.wait_for_load_state("networkidle")


def click_at(page: Page, lon: float, lat: float) -> None:
    point = page.evaluate(
        "([lat, lon]) => regionalMap.current.map.latLngToContainerPoint([lat, lon])", [lat, lon]
    )
    box = page.locator(".folium-map").bounding_box()
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])


def test_map_draws_tiles_with_no_console_error_and_no_request_leaving_loopback(
    live_server: str, demo_loaded: list[RunResult]
) -> None:
    with open_page(f"{live_server}/map") as (page, report):
        wait_for_tiles(page)
        tiles = page.evaluate(
            "performance.getEntriesByType('resource').filter(e => e.name.includes('/tiles/'))"
            ".length"
        )
        page.screenshot(path=str(ARTEFACTS / "demo-map.png"))
    assert tiles > 0
    assert_clean(report)


REQUESTED_TILES = """() => {
    const {map, bounds} = regionalMap.current;
    const z = map.getZoom() - 1;  // 512-pixel tiles, each the server's tile one zoom up
    const corner = (latlng) => map.project(latlng, z).divideBy(256).floor();
    const region = L.latLngBounds(bounds);
    const paths = performance.getEntriesByType("resource").map((e) => e.name)
        .filter((name) => name.includes("/tiles/"));
    return {z, nw: corner(region.getNorthWest()), se: corner(region.getSouthEast()),
            tiles: paths.map((path) => path.split("/").slice(-3).map(Number))};
}"""


def test_map_requests_tiles_only_at_its_view_and_inside_the_region(
    live_server: str, demo_loaded: list[RunResult]
) -> None:
    """The view is set before the layers are added, and tiles beyond the tileset's bounds are
    never asked for: what the first drawn tile waits on is a few requests, not a screenful."""
    with open_page(f"{live_server}/map") as (page, report):
        wait_for_tiles(page)
        seen = page.evaluate(REQUESTED_TILES)
    assert seen["tiles"]
    for z, y, x in seen["tiles"]:
        assert z == seen["z"]
        assert seen["nw"]["x"] <= x <= seen["se"]["x"] and seen["nw"]["y"] <= y <= seen["se"]["y"]
    assert_clean(report)


def test_map_draws_every_loaded_feature_from_the_geojson_fallback(
    live_server: str, demo_loaded: list[RunResult]
) -> None:
    themes = {"roadworks", "street-lighting"}
    expected = sum(r.loaded for r in demo_loaded if r.theme in themes)
    url = f"{live_server}/map?source=geojson&layers={','.join(sorted(themes))}"
    with open_page(url, wait_for=DRAWN_FEATURE) as (page, report):
        page.wait_for_function(
            f"document.querySelectorAll('{DRAWN_FEATURE}').length >= {expected}", timeout=20000
        )
        drawn = page.locator(DRAWN_FEATURE).count()
    assert drawn == expected
    assert_clean(report)


def test_map_draws_the_member_boundaries(live_server: str, demo_loaded: list[RunResult]) -> None:
    with open_page(f"{live_server}/map", wait_for=OUTLINE) as (page, _):
        outlines = page.locator(OUTLINE).count()
    assert outlines == 3


def test_clicking_a_tile_feature_opens_a_popup_with_labels_and_dates(
    live_server: str, demo_loaded: list[RunResult]
) -> None:
    feature = a_roadworks_point(live_server)
    lon, lat = feature["geometry"]["coordinates"]
    with open_page(f"{live_server}/map#17/{lat:.6f}/{lon:.6f}/layers=roadworks") as (page, report):
        wait_for_tiles(page)
        click_at(page, lon, lat)
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for()
        text = popup.inner_text()
        page.screenshot(path=str(ARTEFACTS / "demo-map-popup.png"))
    assert feature["properties"]["reference"] in text
    assert "Works reference" in text and "Status" in text
    start = feature["properties"]["start_date"]  # shown as "3 Nov 2026", not ISO
    assert start not in text
    assert_clean(report)


def test_searching_a_works_reference_opens_that_feature(
    live_server: str, demo_loaded: list[RunResult]
) -> None:
    reference = a_roadworks_point(live_server)["properties"]["reference"]
    with open_page(f"{live_server}/map") as (page, report):
        page.get_by_label("Find a town, council or feature reference").fill(reference)
        page.keyboard.press("Enter")
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for()
        text = popup.inner_text()
        zoom = page.evaluate("regionalMap.current.map.getZoom()")
    assert reference in text and zoom == 16
    assert_clean(report)


def test_permalink_restores_the_view_and_layers_on_the_served_map(
    live_server: str, demo_loaded: list[RunResult]
) -> None:
    with open_page(f"{live_server}/map") as (page, _):
        page.get_by_role("checkbox", name="Roadworks").uncheck()
        page.evaluate("regionalMap.current.map.setView([52.95, -1.15], 12, {animate: false})")
        permalink = page.url
    with open_page(permalink) as (page, report):
        state = page.evaluate(
            """() => { const {map, layers} = regionalMap.current; const c = map.getCenter();
                return [map.getZoom(), c.lat, c.lng, map.hasLayer(layers.roadworks),
                        map.hasLayer(layers["street-lighting"])]; }"""
        )
    assert "#12/52.95000/-1.15000/layers=" in permalink
    assert state == [12, 52.95, -1.15, False, True]
    assert_clean(report)


def test_map_page_serves_at_map_with_its_screenshot(
    live_server: str, demo_loaded: list[RunResult]
) -> None:
    report = load_page(
        f"{live_server}/map?source=geojson", ARTEFACTS / "demo-map-geojson.png", DRAWN_FEATURE
    )
    assert report.title == "East Midlands demo partnership (fictional)"
    assert_clean(report)

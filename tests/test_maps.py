"""The public regional map: rendered HTML, then the page as a real browser draws it.

The browser tests serve the page, maps/static and small GeoJSON feeds from a loopback HTTP server,
so they check what a reader gets: layers fetched live, no request to any other host, and
publishers' attribute values shown as text, never run as markup.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from browser import PageReport, load_page, open_page

from maps import STATIC_DIR, Basemap, build_regional_map
from maps.regional import DEFAULT_ASSETS_URL, legend_entries
from protocols import load_protocols
from protocols.spec import Style

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

PROTOCOLS = load_protocols()
ROADWORKS = PROTOCOLS.themes["roadworks"]
LIGHTING = PROTOCOLS.themes["street-lighting"]
ARTEFACTS = Path(__file__).parent / "artefacts"
BOUNDS = (-3.56, 50.70, -3.50, 50.74)  # west, south, east, north
HOSTILE_REFERENCE = "<img src=x onerror=alert(1)>"
DRAWN_FEATURE = "path.leaflet-interactive"


def render(**kwargs: Any) -> str:
    options: dict[str, Any] = {"tiles_url": None, **kwargs}
    return build_regional_map(PROTOCOLS, title="Regional map", bounds_wgs84=BOUNDS, **options)


def feature(geometry: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


FEEDS = {
    "roadworks": collection(
        feature(
            point(-3.535, 50.722),
            reference=HOSTILE_REFERENCE,
            works_type="utility-repair",
            status="in-progress",
            start_date="2026-11-03",
            end_date="2026-11-20",
            promoter="South West Water (demo)",
        ),
        feature(
            {"type": "LineString", "coordinates": [[-3.545, 50.712], [-3.515, 50.728]]},
            reference="RW-2026-0042",
            works_type="resurfacing",
            status="planned",
            start_date="2026-12-01",
            end_date=None,
            promoter="Demo County Council",
        ),
    ),
    "street-lighting": collection(
        feature(
            point(-3.525, 50.716),
            unit_id="SL-0001",
            lamp_type="led",
            wattage=36,
            installed_date="2021-04-19",
        ),
    ),
    "boundaries": collection(
        feature(
            {
                "type": "Polygon",
                "coordinates": [
                    [
                        [-3.555, 50.705],
                        [-3.505, 50.705],
                        [-3.505, 50.735],
                        [-3.555, 50.735],
                        [-3.555, 50.705],
                    ]
                ],
            },
            name="Demo district",
        ),
    ),
}


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def write_site(root: Path) -> None:
    """The rendered page, maps/static where the page expects it, and one feed file per layer."""
    shutil.copytree(STATIC_DIR, root / DEFAULT_ASSETS_URL.strip("/"))
    data = root / "data"
    data.mkdir()
    for theme_id in [*PROTOCOLS.themes, "boundaries"]:
        body = FEEDS.get(theme_id, collection())
        (data / f"{theme_id}.json").write_text(json.dumps(body), encoding="utf-8")
    page = render(items_url="/data/{collection}.json", boundaries_url="/data/boundaries.json")
    (root / "index.html").write_text(page, encoding="utf-8")


@pytest.fixture(scope="module")
def map_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("site")
    write_site(root)
    handler = partial(QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/index.html"
    server.shutdown()
    server.server_close()


def open_popup(page: Page, colour: str) -> Locator:
    """Click the point drawn in colour and return its popup, once it has faded in."""
    page.locator(f'{DRAWN_FEATURE}[fill="{colour}"]').click()
    popup = page.locator(".leaflet-popup")
    popup.wait_for()
    page.wait_for_function(
        "popup => getComputedStyle(popup).opacity === '1'", arg=popup.element_handle()
    )
    return popup.locator(".leaflet-popup-content")


def assert_clean(report: PageReport) -> None:
    assert report.console_errors == []
    assert report.page_errors == []
    assert report.external_requests == []
    assert report.failed_requests == []
    assert report.dialogs == []


def test_rendered_html_has_no_remote_urls() -> None:
    page = render(boundaries_url="/boundaries.json")

    assert re.findall(r"https?://\S*", page) == []


def test_assets_referenced_by_the_html_are_in_the_static_folder() -> None:
    prefix = "/assets/maps/"
    page = render(assets_url=prefix.rstrip("/"))

    referenced = re.findall(rf'(?:src|href)="{prefix}([^"]+)"', page)

    assert "vendor/leaflet/leaflet.js" in referenced
    assert "vendor/leaflet/leaflet.css" in referenced
    assert [path for path in referenced if not (STATIC_DIR / path).is_file()] == []


def test_title_is_escaped_in_the_page() -> None:
    page = build_regional_map(
        PROTOCOLS, title="<script>alert(1)</script> roads", bounds_wgs84=BOUNDS
    )

    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; roads" in page


def test_basemap_is_added_with_its_attribution_only_when_given() -> None:
    tiles = "https://tiles.example.org/{z}/{x}/{y}.png"

    page = render(basemap=Basemap(tiles, "Example tiles"))

    assert json.dumps(tiles) in page
    assert "Example tiles" in page
    assert "tiles.example.org" not in render()


def test_boundaries_layer_is_added_only_when_a_url_is_given() -> None:
    assert "/boundaries.json" in render(boundaries_url="/boundaries.json")
    assert '"Boundaries"' not in render()


def test_legend_adds_other_for_codes_without_a_colour() -> None:
    partial_style = Style(colour_by="status", colours={"planned": "#000000"})
    theme = ROADWORKS.model_copy(update={"style": partial_style})

    assert legend_entries(theme, PROTOCOLS) == [("Planned", "#000000"), ("Other", "#3366cc")]


def test_page_loads_without_errors_or_external_requests(map_url: str) -> None:
    report = load_page(map_url, ARTEFACTS / "regional-map.png", wait_for=DRAWN_FEATURE)

    assert_clean(report)
    assert report.title == "Regional map"


def test_every_theme_is_a_layer_titled_in_the_layer_control(map_url: str) -> None:
    with open_page(map_url, wait_for=DRAWN_FEATURE) as (page, _):
        labels = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()

    assert {theme.title for theme in PROTOCOLS.themes.values()} <= {s.strip() for s in labels}


def test_features_are_fetched_and_drawn_in_their_code_colour(map_url: str) -> None:
    point_fill = ROADWORKS.style.colours["in-progress"]
    line_stroke = ROADWORKS.style.colours["planned"]
    lamp_fill = LIGHTING.style.colours["led"]

    with open_page(map_url, wait_for=DRAWN_FEATURE) as (page, _):
        in_progress = page.locator(f'{DRAWN_FEATURE}[fill="{point_fill}"]').count()
        planned = page.locator(f'{DRAWN_FEATURE}[stroke="{line_stroke}"]').count()
        led = page.locator(f'{DRAWN_FEATURE}[fill="{lamp_fill}"]').count()

    assert (in_progress, planned, led) == (1, 1, 1)


def test_boundaries_are_drawn_as_outlines_that_ignore_clicks(map_url: str) -> None:
    with open_page(map_url, wait_for=DRAWN_FEATURE) as (page, _):
        outline = page.locator(".leaflet-overlay-pane path:not(.leaflet-interactive)")
        fills = [outline.nth(i).get_attribute("fill") for i in range(outline.count())]

    assert fills == ["none"]


def test_legend_shows_each_theme_with_its_code_labels(map_url: str) -> None:
    with open_page(map_url, wait_for=DRAWN_FEATURE) as (page, _):
        headings = page.locator(".regional-legend h3").all_inner_texts()
        items = page.locator(".regional-legend li").all_inner_texts()

    assert headings == [theme.title for theme in PROTOCOLS.themes.values()]
    assert "High-pressure sodium (SON)" in items
    assert "In progress" in items


def test_popup_shows_field_titles_code_labels_and_dates(map_url: str) -> None:
    with open_page(map_url, wait_for=DRAWN_FEATURE) as (page, _):
        text = open_popup(page, ROADWORKS.style.colours["in-progress"]).inner_text()
        page.screenshot(path=str(ARTEFACTS / "regional-map-popup.png"), full_page=True)

    for name in ROADWORKS.style.popup:
        assert ROADWORKS.field(name).title in text
    for shown in ["Utility repair", "In progress", "3 Nov 2026", "20 Nov 2026"]:
        assert shown in text


def test_popup_shows_markup_in_attribute_values_as_text(map_url: str) -> None:
    with open_page(map_url, wait_for=DRAWN_FEATURE) as (page, report):
        popup = open_popup(page, ROADWORKS.style.colours["in-progress"])
        text = popup.inner_text()
        images = popup.locator("img").count()
        page.wait_for_timeout(200)  # time for an injected onerror handler to have fired

    assert HOSTILE_REFERENCE in text
    assert images == 0
    assert_clean(report)


def map_state(page: Page) -> dict[str, Any]:
    """What the reader sees: zoom, centre, the themes switched on, and the permalink."""
    return page.evaluate(
        """() => {
            const {map, layers} = regionalMap.current;
            const c = map.getCenter();
            return {
                zoom: map.getZoom(), lat: c.lat, lon: c.lng, hash: location.hash,
                shown: Object.keys(layers).filter((id) => map.hasLayer(layers[id])),
            };
        }"""
    )


def test_toggling_a_layer_hides_its_features_and_updates_the_permalink(map_url: str) -> None:
    lamp_fill = LIGHTING.style.colours["led"]

    with open_page(map_url, wait_for=DRAWN_FEATURE) as (page, report):
        page.get_by_role("checkbox", name=LIGHTING.title).uncheck()
        lamps = page.locator(f'{DRAWN_FEATURE}[fill="{lamp_fill}"]').count()
        legend_hidden = page.locator('.regional-legend [data-theme="street-lighting"]').is_hidden()
        state = map_state(page)

    assert lamps == 0 and legend_hidden
    assert "street-lighting" not in state["shown"] and "roadworks" in state["shown"]
    assert "street-lighting" not in state["hash"].split("layers=")[1]
    assert_clean(report)


def test_permalink_restores_the_view_and_the_layers(map_url: str) -> None:
    with open_page(f"{map_url}#15/50.72000/-3.53000/layers=roadworks") as (page, report):
        state = map_state(page)

    assert state["zoom"] == 15
    assert (round(state["lat"], 3), round(state["lon"], 3)) == (50.72, -3.53)
    assert state["shown"] == ["roadworks"]
    assert state["hash"] == "#15/50.72000/-3.53000/layers=roadworks"
    assert_clean(report)


def test_layers_parameter_shows_only_the_named_themes(map_url: str) -> None:
    with open_page(f"{map_url}?embed=1&layers=street-lighting", wait_for=DRAWN_FEATURE) as (
        page,
        report,
    ):
        page.screenshot(path=str(ARTEFACTS / "regional-map-embed.png"))
        state = map_state(page)
        full_map = page.get_by_role("link", name="Open the full map").get_attribute("href")
        has_search = page.locator(".regional-search").count()

    assert state["shown"] == ["street-lighting"]
    assert full_map.startswith("/map#") and full_map.endswith("layers=street-lighting")
    assert has_search == 0
    assert_clean(report)


def test_searching_a_town_moves_the_map_there(map_url: str) -> None:
    with open_page(map_url, wait_for=DRAWN_FEATURE) as (page, report):
        page.get_by_label("Find a town, council or feature reference").fill("grantham")
        page.keyboard.press("Enter")
        page.get_by_role("button", name="Grantham", exact=True).click()
        state = map_state(page)

    assert state["zoom"] == 13
    assert (round(state["lat"], 2), round(state["lon"], 2)) == (52.91, -0.64)
    assert_clean(report)


def test_searching_a_council_lists_matching_member_areas(map_url: str) -> None:
    with open_page(map_url, wait_for=DRAWN_FEATURE) as (page, _):
        page.get_by_label("Find a town, council or feature reference").fill("demo")
        page.get_by_role("button", name="Search").click()
        result = page.get_by_role("button", name="Demo district")
        result.wait_for()
        result.click()
        bounds = page.evaluate("regionalMap.current.map.getBounds().toBBoxString()")

    west, south, east, north = map(float, bounds.split(","))
    assert west <= -3.555 and east >= -3.505 and south <= 50.705 and north >= 50.735


def test_blocked_base_map_tiles_leave_the_map_working(tmp_path: Path) -> None:
    """Offline, the base map's tiles fail; the themes and boundaries must still draw."""
    write_site(tmp_path)
    basemap = Basemap("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "OpenStreetMap")
    page_html = render(
        items_url="/data/{collection}.json",
        boundaries_url="/data/boundaries.json",
        basemap=basemap,
    )
    (tmp_path / "index.html").write_text(page_html, encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/index.html"
        report = load_page(url, ARTEFACTS / "regional-map-offline.png", wait_for=DRAWN_FEATURE)
    finally:
        server.shutdown()
        server.server_close()

    assert report.external_requests and all(
        "tile.openstreetmap.org" in url for url in report.external_requests
    )
    assert report.page_errors == []
    assert [e for e in report.console_errors if "ERR_BLOCKED_BY_CLIENT" not in e] == []

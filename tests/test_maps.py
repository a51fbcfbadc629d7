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

from maps import STATIC_DIR, build_regional_map
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
    return build_regional_map(PROTOCOLS, title="Regional map", bounds_wgs84=BOUNDS, **kwargs)


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


def test_tiles_are_added_with_their_attribution_only_when_given() -> None:
    tiles = "https://tiles.example.org/{z}/{x}/{y}.png"

    page = render(tiles=tiles, tiles_attribution="Example tiles")

    assert json.dumps(tiles) in page
    assert "Example tiles" in page


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

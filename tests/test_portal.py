"""The data portal served by the real app: the landing page, theme pages and the quality page.

Rendering is checked on dataclasses alone (maps needs no database); the pages as served are
checked in headless Chromium on the ingested demo region, as a GIS officer would use them.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import PageReport, load_page, open_page

from ingest.db import transaction
from ingest.pipeline import RunResult
from maps.portal import (
    PortalInfo,
    PublisherInfo,
    RunRow,
    ThemeCard,
    format_when,
    render_landing,
    render_quality_page,
    render_theme_page,
)
from maps.regional import STATIC_DIR
from protocols import Protocols
from server.settings import PROJECT_ROOT

ARTEFACTS = PROJECT_ROOT / "tests" / "artefacts"
HELD_BACK_REASON = "status: 'LIVE-ISH' is not in code list works-status"
PORTAL = PortalInfo(
    title="Demo partnership",
    description="A test region.",
    base_url="http://gis.example.test",
    publishers=(
        PublisherInfo("<b>Vale</b> Council", "council"),
        PublisherInfo("Wet Co", "utility"),
    ),
)
CARD = ThemeCard(
    id="roadworks",
    title="Roadworks",
    description="Works on the highway.",
    publishers=("<b>Vale</b> Council",),
    licence="OGL-UK-3.0",
    update_frequency="daily",
    last_updated=datetime(2026, 7, 1, 13, 5, tzinfo=UTC),
    feature_count=12345,
    loaded=990,
    quarantined=10,
)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def held_back(database_url: str, demo_loaded: list[RunResult]) -> Iterator[str]:
    """One quarantined feature in Nottingham (the demo's files are clean), removed afterwards."""
    run_id = next(r.run_id for r in demo_loaded if r.source == "trentvale-roadworks")
    with transaction(database_url) as cur:
        cur.execute(
            "INSERT INTO quarantine (run_id, source, theme, source_row, reason, attributes, geom)"
            " VALUES (%s, 'trentvale-roadworks', 'roadworks', 7, %s, '{}',"
            " ST_SetSRID(ST_MakePoint(457300, 340000), 27700)) RETURNING id",
            (run_id, HELD_BACK_REASON),
        )
        quarantine_id = cur.fetchone()[0]
    yield HELD_BACK_REASON
    with transaction(database_url) as cur:
        cur.execute("DELETE FROM quarantine WHERE id = %s", (quarantine_id,))


def assert_clean(report: PageReport) -> None:
    assert report.console_errors == [] and report.page_errors == []
    assert report.external_requests == [] and report.failed_requests == []


def test_landing_page_escapes_publisher_names() -> None:
    page = render_landing(PORTAL, [CARD])

    assert "<b>Vale</b>" not in page
    assert "&lt;b&gt;Vale&lt;/b&gt; Council" in page


def test_card_shows_count_quality_and_uk_local_time() -> None:
    page = render_landing(PORTAL, [CARD])

    assert "12,345" in page
    assert "99.0% passed checks" in page and "10 held back" in page
    assert format_when(CARD.last_updated) == "1 Jul 2026 14:05"  # BST in July
    assert "1 Jul 2026 14:05" in page


def test_card_links_feed_downloads_and_map_for_its_theme() -> None:
    page = render_landing(PORTAL, [CARD])

    assert 'value="http://gis.example.test/ogc/collections/roadworks"' in page
    for fmt in ("gpkg", "fgb", "csv", "geojson"):
        assert f'href="/ogc/collections/roadworks/download?f={fmt}"' in page
    assert 'href="/map?layers=roadworks"' in page


def test_quality_page_links_only_the_reports_that_exist() -> None:
    runs = [
        RunRow(7, "vale-roadworks", "vale", "roadworks", "succeeded", None, 9, 1, None,
               reports=(("html", "/quality/reports/vale-roadworks-7.html"),)),
        RunRow(6, "vale-roadworks", "vale", "roadworks", "failed", None, None, None, "bad zip"),
    ]  # fmt: skip

    page = render_quality_page(PORTAL, [CARD], runs, has_boundary_checks=False)

    assert 'href="/quality/reports/vale-roadworks-7.html"' in page
    assert "vale-roadworks-6" not in page and "bad zip" in page


def test_landing_page_loads_clean_with_a_card_per_theme(
    live_server: str, demo_loaded: list[RunResult], protocols: Protocols
) -> None:
    with open_page(f"{live_server}/") as (page, report):
        page.screenshot(path=str(ARTEFACTS / "portal-landing.png"), full_page=True)
        titles = page.locator(".card h3").all_inner_texts()
        counts = page.locator(".card .facts div:nth-child(4) dd").all_inner_texts()
        publishers = page.locator("#who ~ .members li").all_inner_texts()
    assert titles == [theme.title for theme in protocols.themes.values()]
    assert all(int(n.replace(",", "")) > 0 for n in counts)
    assert "Trentvale Borough Council (fictional)" in publishers
    assert_clean(report)


def test_copy_button_copies_the_feed_url(live_server: str, demo_loaded: list[RunResult]) -> None:
    with open_page(f"{live_server}/") as (page, report):
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        page.locator('button[data-copy="ogc-roadworks"]').click()
        copied = page.evaluate("navigator.clipboard.readText()")
        status = page.locator("#copy-status").inner_text()
    assert copied == f"{live_server}/ogc/collections/roadworks"
    assert status == "Copied OGC API URL"
    assert_clean(report)


def test_landing_page_is_keyboard_navigable_from_a_skip_link(
    live_server: str, demo_loaded: list[RunResult]
) -> None:
    with open_page(f"{live_server}/") as (page, _):
        page.keyboard.press("Tab")
        first = page.evaluate("document.activeElement.textContent")
        page.keyboard.press("Enter")
        target = page.evaluate("location.hash")
    assert first == "Skip to content" and target == "#main"


def test_theme_page_embeds_its_map_and_offers_the_snippet(
    live_server: str, demo_loaded: list[RunResult]
) -> None:
    with open_page(f"{live_server}/themes/roadworks") as (page, report):
        frame = page.frame_locator("#theme-map")
        frame.locator(".leaflet-control-layers").wait_for()
        page.wait_for_function(
            "document.getElementById('theme-map').contentWindow.performance"
            ".getEntriesByName('regional-map:first-feature').length > 0",
            timeout=20000,
        )
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(ARTEFACTS / "portal-theme.png"), full_page=True)
        snippet = page.get_by_label("Embed this map on your site").input_value()
        fields = page.locator("table th[scope=row]").all_inner_texts()
    assert f'src="{live_server}/map?embed=1&layers=roadworks"' in snippet
    assert "Works reference" in fields
    assert_clean(report)


def test_theme_page_time_slider_reloads_the_map_as_of_a_past_load(
    tmp_path: Path, protocols: Protocols
) -> None:
    """The demo loads each source once, so the slider is tried on a page with two loads."""
    earlier, later = datetime(2026, 5, 1, 9, 0, tzinfo=UTC), datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    card = replace(CARD, history=(earlier, later))
    page_html = render_theme_page(PORTAL, card, protocols.themes["roadworks"], protocols)
    shutil.copytree(STATIC_DIR, tmp_path / "static" / "maps")
    (tmp_path / "theme.html").write_text(page_html, encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with open_page(f"http://127.0.0.1:{server.server_port}/theme.html") as (page, _):
            before = page.locator("#theme-map").get_attribute("src")
            page.get_by_label("Show the data as it was after the load of").fill("0")
            after = page.locator("#theme-map").get_attribute("src")
            label = page.locator("#as-of-label").inner_text()
    finally:
        server.shutdown()
        server.server_close()

    assert "datetime" not in before
    assert after == "/map?embed=1&layers=roadworks&datetime=2026-05-01T09%3A00%3A00%2B00%3A00"
    assert label == "1 May 2026 10:00"


def test_unknown_theme_is_a_404_naming_the_themes(live_server: str) -> None:
    response = httpx.get(f"{live_server}/themes/no-such-theme")
    assert response.status_code == 404
    assert "roadworks" in response.text


def test_quarantine_is_served_to_partners_as_geojson_in_wgs84(
    live_server: str, held_back: str, partner: dict[str, str]
) -> None:
    body = httpx.get(f"{live_server}/quality/quarantine.geojson", headers=partner).json()

    feature = next(f for f in body["features"] if f["properties"]["reason"] == held_back)
    lon, lat = feature["geometry"]["coordinates"]
    assert (round(lat, 2), round(lon, 2)) == (52.95, -1.15)
    assert feature["properties"]["source"] == "trentvale-roadworks"


def test_quality_page_maps_quarantined_features_and_lists_runs(
    live_server: str, held_back: str, db: Any, partner_token: str
) -> None:
    db.execute("SELECT id, source FROM ingest_run ORDER BY id DESC LIMIT 1")
    latest_id, latest_source = db.fetchone()
    with open_page(f"{live_server}/quality", token=partner_token) as (page, report):
        frame = page.frame_locator(".quality-map")
        frame.locator("path.leaflet-interactive").first.wait_for()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(ARTEFACTS / "portal-quality.png"), full_page=True)
        first_run = page.locator("table.runs tbody tr").first.inner_text()
    assert first_run.startswith(str(latest_id)) and latest_source in first_run
    assert_clean(report)


def test_quality_map_popup_says_why_a_feature_was_held_back(
    live_server: str, held_back: str, partner_token: str
) -> None:
    url, shot = f"{live_server}/quality/map", ARTEFACTS / "quality-map.png"
    assert_clean(load_page(url, shot, "path.leaflet-interactive", partner_token))
    with open_page(url, "path.leaflet-interactive", partner_token) as (page, _):
        page.evaluate(
            """() => { const layer = regionalMap.current.layers.quarantine;
                const first = layer.getLayers()[0];
                regionalMap.current.map.setView(first.getLatLng ? first.getLatLng()
                    : first.getBounds().getCenter(), 15, {animate: false});
                first.openPopup(); }"""
        )
        text = page.locator(".leaflet-popup-content").inner_text()
    assert "Why it was held back" in text and held_back in text

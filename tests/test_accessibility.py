"""Accessibility and phones, checked in real Chromium: axe-core (the engine behind Lighthouse's
accessibility audit) finds no WCAG 2.1 A/AA violation on any page a person reaches, and every
page fits a phone's width without sideways scrolling.
"""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from browser import open_page

from ingest.pipeline import RunResult

WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
PAGES = {
    "landing": ("/", None),
    "map": ("/map", ".leaflet-container"),
    "theme": ("/themes/roadworks", None),
    "signin": ("/signin", None),
    "upload": ("/upload", None),
}
PHONE = {"width": 390, "height": 844}


def _violations(page: Any) -> list[str]:
    found = Axe().run(page, options=WCAG).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in found
    ]


@pytest.mark.parametrize("name", PAGES)
def test_page_has_no_wcag_violation(
    live_server: str, demo_loaded: list[RunResult], name: str
) -> None:
    path, ready = PAGES[name]
    with open_page(f"{live_server}{path}", ready) as (page, _):
        assert _violations(page) == []


def test_quality_page_has_no_wcag_violation(live_server: str, partner_token: str) -> None:
    with open_page(f"{live_server}/quality", token=partner_token) as (page, _):
        assert _violations(page) == []


@pytest.mark.parametrize("name", PAGES)
def test_page_fits_a_phone_without_sideways_scrolling(
    live_server: str, demo_loaded: list[RunResult], name: str
) -> None:
    path, ready = PAGES[name]
    with open_page(f"{live_server}{path}", ready, viewport=PHONE) as (page, _):
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0


def test_map_fills_a_phone_screen_with_layers_and_legend_folded_to_buttons(
    live_server: str, demo_loaded: list[RunResult]
) -> None:
    with open_page(f"{live_server}/map", ".leaflet-container", viewport=PHONE) as (page, _):
        box = page.locator(".leaflet-container").bounding_box()
        folded = page.locator(".leaflet-control-layers-expanded").count()
        legend_open = page.locator(".regional-legend .legend-body").is_visible()
        page.locator(".leaflet-control-layers-toggle").tap()
        page.locator(".regional-legend summary").tap()
        layers_shown = page.locator(".leaflet-control-layers-expanded").count()
        legend_shown = page.locator(".regional-legend .legend-body").is_visible()
    assert box is not None and box["width"] >= PHONE["width"] - 2
    assert box["height"] >= PHONE["height"] * 0.8
    assert (folded, legend_open) == (0, False)
    assert (layers_shown, legend_shown) == (1, True)

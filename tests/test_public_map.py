"""The public map served by the real app, on the real feeds, in a real headless Chromium."""

from __future__ import annotations

from browser import load_page, open_page

from ingest.pipeline import RunResult
from server.settings import PROJECT_ROOT

ARTEFACTS = PROJECT_ROOT / "tests" / "artefacts"
DRAWN_FEATURE = "path.leaflet-interactive"


def test_map_renders_with_no_console_error_and_no_request_leaving_loopback(
    live_server: str, demo_loaded: list[RunResult]
) -> None:
    report = load_page(f"{live_server}/", ARTEFACTS / "demo-map.png", wait_for=DRAWN_FEATURE)
    assert report.console_errors == [] and report.page_errors == []
    assert report.external_requests == [] and report.failed_requests == []


def test_map_draws_every_loaded_feature_from_the_feeds(
    live_server: str, demo_loaded: list[RunResult]
) -> None:
    expected = sum(r.loaded for r in demo_loaded)
    with open_page(f"{live_server}/", wait_for=DRAWN_FEATURE) as (page, _):
        page.wait_for_function(
            f"document.querySelectorAll('{DRAWN_FEATURE}').length >= {expected}", timeout=20000
        )
        drawn = page.locator(DRAWN_FEATURE).count()
    assert drawn == expected


def test_map_draws_the_member_boundaries(live_server: str, demo_loaded: list[RunResult]) -> None:
    with open_page(f"{live_server}/", wait_for=DRAWN_FEATURE) as (page, _):
        page.wait_for_selector(".leaflet-overlay-pane path:not(.leaflet-interactive)")
        outlines = page.locator(".leaflet-overlay-pane path:not(.leaflet-interactive)").count()
    assert outlines == 3

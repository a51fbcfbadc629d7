"""Time from navigation to the first drawn features of the demo map: vector tiles against the
same map drawing the same themes from the GeoJSON items feed (the skeleton's map, ?source=geojson).

The demo region is written and ingested into a scratch database beside the configured one,
served by the real app on a free loopback port, and opened in headless Chromium with a cold cache
for every run. The page marks `regional-map:first-feature` when a tile or feed first draws a
feature (maps/static/regional-map.js); the mark's time is measured from navigation start.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ingest.db import resolve_database_url, scratch_database
from ingest.pgcluster import free_port
from server.commands.run import ingest_all
from server.demo_data import write_demo_files
from server.deployment import Deployment, load_parts
from server.inprocess import serving
from server.settings import Settings

CHROMIUM = "/usr/bin/chromium"
RUNS = 7
FIRST_FEATURE = "regional-map:first-feature"
MARKED = f"performance.getEntriesByName('{FIRST_FEATURE}').length > 0"
MARK_TIME = f"performance.getEntriesByName('{FIRST_FEATURE}')[0].startTime"
# What the first drawn feature waited on: the requests the page started before it.
REQUESTS_BEFORE = f"""() => {{
    const mark = performance.getEntriesByName('{FIRST_FEATURE}')[0].startTime;
    return performance.getEntriesByType('resource').filter((e) => e.startTime < mark).length;
}}"""


@contextmanager
def map_database() -> Iterator[str]:
    """A throwaway database beside the configured one, so the map shows the demo and nothing else
    (the configured database may hold other benchmarks' 100,000-row themes)."""
    base = resolve_database_url(Settings().database_url, Settings().state_dir)
    with scratch_database(base, "regiongis_bench_map") as url:
        yield url


@contextmanager
def demo_server(state_dir: Path, database_url: str) -> Iterator[str]:
    port = free_port()
    settings = Settings(port=port, state_dir=state_dir, basemap_url="")
    data_dir = state_dir / "demo-data"
    write_demo_files(data_dir)
    protocols, region = load_parts(settings, data_dir)
    deployment = Deployment(settings, protocols, region, database_url)
    ingest_all(deployment)
    with serving(deployment) as base_url:
        yield base_url


def first_feature(browser, url: str) -> tuple[float, int]:
    """(ms from navigation to the first drawn feature, requests started before it)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_function(MARKED, timeout=60000)
        return float(page.evaluate(MARK_TIME)), int(page.evaluate(REQUESTS_BEFORE))
    finally:
        context.close()


def run(args: argparse.Namespace) -> None:
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory() as tmp,
        map_database() as database_url,
        demo_server(Path(tmp), database_url) as base,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        first_feature(browser, f"{base}/map")  # warm the server, not the browser
        runs = {
            source: [first_feature(browser, f"{base}/map?source={source}") for _ in range(RUNS)]
            for source in ("tiles", "geojson")
        }
        browser.close()
    times = {source: statistics.median(ms for ms, _ in found) for source, found in runs.items()}
    for source, found in runs.items():
        requests = statistics.median(n for _, n in found)
        print(f"# {source}: {requests:.0f} requests started before the first drawn feature")
    print(f"RESULT map_first_feature_tiles {times['tiles']:.0f} ms")
    print(f"RESULT map_first_feature_geojson {times['geojson']:.0f} ms")
    print(f"RATIO map_first_feature_tiles/geojson {times['tiles'] / times['geojson']:.2f}")

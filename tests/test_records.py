"""OGC API - Records: the catalogue of themes, sources and publishers, read over HTTP and OWSLib."""

from __future__ import annotations

import httpx
import pytest
from owslib.ogcapi.records import Records

from ingest.pipeline import RunResult
from ingest.region import Region
from protocols import Protocols

ITEMS = "/ogc/collections/catalogue/items"


def records(base: str, **params: str) -> dict:
    response = httpx.get(f"{base}{ITEMS}", params={"f": "json", "limit": 100, **params})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def catalogue(live_server: str, demo_loaded) -> dict[str, dict]:
    return {r["id"]: r for r in records(live_server)["features"]}


def test_the_catalogue_is_a_collection(live_server: str):
    body = httpx.get(f"{live_server}/ogc/collections", params={"f": "json"}).json()
    listed = {c["id"]: c for c in body["collections"]}
    assert listed["catalogue"]["itemType"] == "record"


def test_every_theme_source_and_publisher_has_a_record(catalogue, protocols, demo_region):
    expected = (
        {f"theme-{t}" for t in protocols.themes}
        | {f"source-{s}" for s in demo_region.sources}
        | {f"publisher-{p.id}" for p in demo_region.publishers}
    )
    assert set(catalogue) == expected


def test_a_theme_record_counts_what_its_sources_loaded(catalogue, demo_loaded: list[RunResult]):
    runs = [r for r in demo_loaded if r.theme == "roadworks"]
    props = catalogue["theme-roadworks"]["properties"]
    assert props["featureCount"] == sum(r.loaded for r in runs)
    read, quarantined = sum(r.input for r in runs), sum(r.quarantined for r in runs)
    assert props["quality"]["featuresQuarantined"] == quarantined
    assert props["quality"]["quarantinedShare"] == pytest.approx(quarantined / read, abs=1e-4)


def test_a_source_record_carries_licence_frequency_last_run_and_publisher(
    catalogue, db, protocols: Protocols, demo_region: Region
):
    source = demo_region.sources["trentvale-street-lighting"]
    props = catalogue["source-trentvale-street-lighting"]["properties"]
    theme = protocols.themes[source.theme]
    db.execute(
        "SELECT max(finished_at) FROM ingest_run WHERE source = %s AND status = 'succeeded'",
        (source.id,),
    )
    finished = db.fetchone()[0]
    assert props["license"] == theme.licence
    assert props["updateFrequency"] == theme.update_frequency
    assert props["updated"].startswith(finished.astimezone().strftime("%Y-%m-%d"))
    assert props["publisher"] == demo_region.publisher(source.publisher).name


def test_records_have_their_data_extent_as_geometry(catalogue):
    ring = catalogue["theme-street-lighting"]["geometry"]["coordinates"][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    assert -2.5 < min(lons) < max(lons) < 0.5 and 52 < min(lats) < max(lats) < 53.6


def test_q_finds_records_by_their_words(live_server: str, demo_loaded):
    found = records(live_server, q="lighting")["features"]
    assert found and all("lighting" in str(r["properties"]).lower() for r in found)
    assert "theme-roadworks" not in {r["id"] for r in found}


def test_bbox_leaves_out_records_elsewhere(live_server: str, demo_loaded):
    assert records(live_server, bbox="-5,50,-4,51")["numberMatched"] == 0
    assert records(live_server, bbox="-1.5,52.5,-0.5,53.5")["numberMatched"] > 0


def test_one_record_by_id_and_a_404_for_none(live_server: str, demo_loaded):
    one = httpx.get(f"{live_server}{ITEMS}/publisher-trentvale", params={"f": "json"})
    assert one.status_code == 200 and one.json()["properties"]["type"] == "publisher"
    assert httpx.get(f"{live_server}{ITEMS}/theme-nowhere", params={"f": "json"}).status_code == 404


def test_owslib_records_client_searches_the_catalogue(live_server: str, demo_loaded):
    api = Records(f"{live_server}/ogc")
    found = api.collection_items("catalogue", q="roadworks")
    assert "theme-roadworks" in {r["id"] for r in found["features"]}

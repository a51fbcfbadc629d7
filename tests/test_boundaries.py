"""Checks across member authorities' boundaries, on the demo region with its seeded cases.

The seeded demo goes through the real path (`regiongis demo`'s ingest_all, which checks after
every source) into a database of its own, so the clean demo the other tests use stays clean.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import httpx
import pandas as pd
import psycopg2
import pyogrio
import pytest
import shapely

from ingest import report
from ingest.boundaries import (
    check_after_ingest,
    check_region,
    check_theme,
    check_topology,
    issue_counts,
    load_boundaries,
)
from ingest.boundaries.areas import ensure_schema
from ingest.db import resolve_database_url, scratch_database, transaction
from ingest.pipeline import ingest_file
from ingest.region import Region, Source, load_region
from protocols import Protocols, load_protocols
from server.cli import main
from server.commands.run import ingest_all
from server.demo_boundary_cases import (
    EDGE_MATCH_GAPS_M,
    OVERLAP,
    SLIVER,
    Case,
    add_boundary_cases,
    boundary_cases,
)
from server.demo_data import write_demo_files
from server.deployment import Deployment
from server.settings import DEFAULT_CONFIG_DIR, PROJECT_ROOT, Settings

ROADWORKS_FOUND = {"dangling-end": 1, "duplicate": 1, "edge-match": 3, "out-of-area": 1}


@dataclass(frozen=True)
class Seeded:
    url: str
    region: Region
    cases: list[Case]
    clean_boundaries: Path


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, protocols: Protocols) -> Iterator[Seeded]:
    """The demo region with its boundary cases, ingested source by source, checked after each."""
    folder = tmp_path_factory.mktemp("seeded-demo")
    write_demo_files(folder)
    clean = shutil.copy(folder / "boundaries.gpkg", folder.parent / "clean-boundaries.gpkg")
    cases = boundary_cases(folder)
    add_boundary_cases(folder)
    region = load_region(DEFAULT_CONFIG_DIR, folder)
    base = resolve_database_url(Settings().database_url, PROJECT_ROOT / ".regiongis")
    with scratch_database(base, "regiongis_test_boundaries") as url:
        ingest_all(Deployment(Settings(), protocols, region, url))
        yield Seeded(url, region, cases, Path(clean))


def _rows(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with transaction(url) as cur:
        cur.execute(query, params)
        return cur.fetchall()


def _expected(seeded: Seeded) -> set[tuple[str, str, str, str]]:
    sources = seeded.region.sources
    return {
        (c.expect, sources[c.source].theme, sources[c.source].publisher, _reference(c))
        for c in seeded.cases
        if c.expect
    }


def _reference(case: Case) -> str:
    return str(case.record.get("reference") or case.record["unit_id"])


def test_every_seeded_case_is_found_and_nothing_on_the_clean_data(seeded: Seeded) -> None:
    found = _rows(
        seeded.url,
        "SELECT kind, theme, publisher, reference FROM boundary_issues WHERE theme <> 'boundaries'",
    )
    assert sorted(found) == sorted(_expected(seeded))


def test_the_sliver_gap_and_the_overlap_are_found_with_their_areas(seeded: Seeded) -> None:
    found = _rows(
        seeded.url,
        "SELECT kind, publisher, other_publisher, area_m2 FROM boundary_issues "
        "WHERE theme = 'boundaries' ORDER BY kind",
    )
    (gap_kind, *gap_between, gap_area), (overlap_kind, *overlap_between, overlap_area) = found
    assert (gap_kind, sorted(gap_between)) == ("boundary-gap", sorted(SLIVER[:2]))
    assert gap_area == pytest.approx(SLIVER[3] * SLIVER[4], rel=0.05)
    assert (overlap_kind, sorted(overlap_between)) == ("boundary-overlap", sorted(OVERLAP[:2]))
    assert overlap_area == pytest.approx(OVERLAP[3] * OVERLAP[4], rel=0.05)


def test_councils_that_tile_exactly_have_no_gaps_or_overlaps(seeded: Seeded) -> None:
    conn = psycopg2.connect(seeded.url)
    try:
        with conn.cursor() as cur:
            load_boundaries(cur, seeded.clean_boundaries)
            assert check_topology(cur) == {}
    finally:
        conn.rollback()
        conn.close()


def test_ends_that_miss_their_partner_are_reported_by_how_far(seeded: Seeded) -> None:
    gaps = _rows(
        seeded.url, "SELECT distance_m FROM boundary_issues WHERE kind = 'edge-match' ORDER BY 1"
    )
    assert [g for (g,) in gaps] == pytest.approx(list(EDGE_MATCH_GAPS_M), abs=0.01)


def test_joined_ends_meet_at_one_shared_node_and_the_originals_are_kept(seeded: Seeded) -> None:
    joints = _rows(
        seeded.url,
        "SELECT i.distance_m, ST_Distance(ST_EndPoint(a.geom), ST_EndPoint(b.geom)), "
        "ST_Distance(ST_EndPoint(ca.geom), ST_EndPoint(cb.geom)), ca.end_shift_m, cb.end_shift_m, "
        "ST_Equals(ca.end_node, i.geom) "
        "FROM boundary_issues AS i "
        "JOIN roadworks AS a ON a.fid = i.feature_fid JOIN roadworks AS b ON b.fid = i.other_fid "
        "JOIN edge_corrections AS ca ON ca.fid = a.fid "
        "JOIN edge_corrections AS cb ON cb.fid = b.fid "
        "WHERE i.kind = 'edge-match'",
    )
    assert len(joints) == len(EDGE_MATCH_GAPS_M)
    for gap, original, corrected, shift_a, shift_b, at_node in joints:
        assert original == pytest.approx(gap, abs=1e-6)
        assert corrected == pytest.approx(0, abs=1e-6)
        assert shift_a == pytest.approx(gap / 2, abs=0.01)
        assert shift_b == pytest.approx(gap / 2, abs=0.01)
        assert at_node


def test_an_end_with_no_partner_across_the_boundary_is_a_gap(seeded: Seeded) -> None:
    [(publisher, neighbour, distance)] = _rows(
        seeded.url,
        "SELECT publisher, other_publisher, distance_m FROM boundary_issues "
        "WHERE kind = 'dangling-end'",
    )
    assert (publisher, neighbour) == ("trentvale", "belvoir-vale")
    assert distance == pytest.approx(4.0, abs=0.1)


def test_the_duplicate_kept_is_the_one_whose_publishers_area_holds_it(seeded: Seeded) -> None:
    decided = _rows(
        seeded.url,
        "SELECT d.theme, dropped.publisher, kept.publisher FROM duplicate_of AS d "
        "JOIN boundary_issues AS i ON i.kind = 'duplicate' AND i.theme = d.theme "
        "AND i.feature_fid = d.fid AND i.other_fid = d.kept_fid "
        "JOIN LATERAL (SELECT i.publisher) AS dropped ON true "
        "JOIN LATERAL (SELECT i.other_publisher AS publisher) AS kept ON true ORDER BY 1",
    )
    assert decided == [
        ("roadworks", "soar-wreake", "trentvale"),
        ("street-lighting", "trentvale", "soar-wreake"),
    ]


def test_the_merged_view_hides_duplicates_and_draws_corrected_lines(seeded: Seeded) -> None:
    [(stored, merged, corrected)] = _rows(
        seeded.url,
        "SELECT (SELECT count(*) FROM roadworks), (SELECT count(*) FROM roadworks_merged), "
        "(SELECT count(*) FROM roadworks_merged AS m JOIN edge_corrections AS c "
        "ON c.theme = 'roadworks' AND c.fid = m.fid AND ST_Equals(c.geom, m.geom))",
    )
    assert merged == stored - 1
    assert corrected == 2 * len(EDGE_MATCH_GAPS_M)


def test_out_of_area_says_how_far_outside(seeded: Seeded) -> None:
    [(publisher, distance)] = _rows(
        seeded.url,
        "SELECT publisher, distance_m FROM boundary_issues WHERE kind = 'out-of-area'",
    )
    assert publisher == "soar-wreake"
    assert distance == pytest.approx(700, abs=5)


def test_a_runs_counts_are_what_the_check_after_it_found(seeded: Seeded) -> None:
    [(last_roadworks_run,)] = _rows(
        seeded.url, "SELECT max(id) FROM ingest_run WHERE theme = 'roadworks'"
    )
    with transaction(seeded.url) as cur:
        assert issue_counts(cur, run_id=last_roadworks_run) == ROADWORKS_FOUND
        assert issue_counts(cur, theme="roadworks") == ROADWORKS_FOUND


def test_a_runs_report_carries_what_the_checks_after_it_found(seeded: Seeded) -> None:
    [(last_roadworks_run,)] = _rows(
        seeded.url, "SELECT max(id) FROM ingest_run WHERE theme = 'roadworks'"
    )
    built = report.from_run(seeded.url, last_roadworks_run)
    assert built.summary["boundary_issues"] == ROADWORKS_FOUND


def test_checking_again_finds_the_same_issues(seeded: Seeded, protocols: Protocols) -> None:
    query = "SELECT kind, theme, publisher, reference, round(distance_m) FROM boundary_issues"
    before = sorted(_rows(seeded.url, query))
    check_region(seeded.url, seeded.region, protocols)
    assert sorted(_rows(seeded.url, query)) == before


def test_cli_check_prints_counts_per_theme(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", seeded.url)
    monkeypatch.setenv("RGIS_DATA_DIR", str(seeded.region.data_dir))
    assert main(["boundaries", "check", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["roadworks"] == ROADWORKS_FOUND
    assert found["street-lighting"] == {"duplicate": 1}
    assert found["boundaries"] == {"boundary-gap": 1, "boundary-overlap": 1}


def test_boundaries_and_issues_are_served_as_ogc_collections(
    live_server: str,
    database_url: str,
    demo_region: Region,
    protocols: Protocols,
    partner: dict[str, str],
) -> None:
    check_region(database_url, demo_region, protocols)
    base = f"{live_server}/ogc/collections"
    councils = httpx.get(f"{base}/boundaries/items", params={"f": "json"}).json()
    assert {f["properties"]["publisher"] for f in councils["features"]} == {
        "trentvale",
        "soar-wreake",
        "belvoir-vale",
    }
    [(stored,)] = _rows(database_url, "SELECT count(*) FROM boundary_issues")
    params = {"f": "json", "limit": 1000}
    issues = httpx.get(f"{base}/boundary-issues/items", params=params, headers=partner)
    assert issues.status_code == 200
    assert issues.json()["numberMatched"] == stored


# Checks after an ingest look only at what the runs changed; these edit the seeded demo, each in a
# copy of its database.

FINDINGS = (
    "SELECT kind, theme, publisher, reference, other_reference, round(distance_m::numeric, 2) "
    "FROM boundary_issues ORDER BY 1, 2, 3, 4, 5"
)
DECISIONS = (
    "SELECT 'hidden', theme, fid, kept_fid FROM duplicate_of UNION ALL "
    "SELECT 'corrected', theme, fid, NULL FROM edge_corrections ORDER BY 1, 2, 3"
)


@pytest.fixture
def edited(seeded: Seeded) -> Iterator[Seeded]:
    """A copy of the seeded demo's database, for a test that changes it."""
    template = seeded.url.rsplit("/", 1)[1]
    base = resolve_database_url(Settings().database_url, PROJECT_ROOT / ".regiongis")
    with scratch_database(base, "regiongis_test_rechecks", template=template) as url:
        yield Seeded(url, seeded.region, seeded.cases, seeded.clean_boundaries)


def _soar_roadworks(seeded: Seeded) -> tuple[Source, gpd.GeoDataFrame]:
    """The seeded Soar & Wreake roadworks feed as the council wrote it (GeoJSON, lon/lat)."""
    source = seeded.region.sources["soar-wreake-roadworks"]
    path = seeded.region.data_dir / source.file
    return source, pyogrio.read_dataframe(path, datetime_as_string=True)


def _send(seeded: Seeded, source: Source, feed: gpd.GeoDataFrame, folder: Path) -> int:
    """Ingest an edited feed and check after it, as `regiongis ingest` does."""
    path = folder / source.file
    pyogrio.write_dataframe(feed, path, driver="GeoJSON")
    result = ingest_file(seeded.url, path, source, seeded.region, load_protocols())
    check_after_ingest(
        seeded.url, seeded.region, load_protocols().themes["roadworks"], result.run_id
    )
    return result.run_id


def _works(feed: gpd.GeoDataFrame, reference: str) -> pd.Series:
    return feed["worksRef"] == reference


def _agrees_with_a_whole_check(seeded: Seeded, protocols: Protocols) -> None:
    after_ingest = _rows(seeded.url, FINDINGS), _rows(seeded.url, DECISIONS)
    check_region(seeded.url, seeded.region, protocols)
    assert (_rows(seeded.url, FINDINGS), _rows(seeded.url, DECISIONS)) == after_ingest


def test_the_check_after_an_unchanged_reload_leaves_every_finding_as_it_stood(
    edited: Seeded, tmp_path: Path
) -> None:
    query = "SELECT fid, check_id FROM boundary_issues WHERE theme = 'roadworks' ORDER BY fid"
    before = _rows(edited.url, query)
    _send(edited, *_soar_roadworks(edited), tmp_path)
    [(whole,)] = _rows(edited.url, "SELECT whole FROM boundary_check ORDER BY id DESC LIMIT 1")
    assert (whole, _rows(edited.url, query)) == (False, before)


def test_a_feature_moved_onto_another_publishers_is_a_duplicate_not_out_of_area(
    edited: Seeded, tmp_path: Path, protocols: Protocols
) -> None:
    source, feed = _soar_roadworks(edited)
    copy = feed.loc[_works(feed, "SWDC-2027-99020"), "geometry"].iloc[0]
    feed.loc[_works(feed, "SWDC-2027-99030"), "geometry"] = shapely.affinity.translate(copy, 1e-6)
    _send(edited, source, feed, tmp_path)
    [(counts,)] = _rows(edited.url, "SELECT counts FROM boundary_check ORDER BY id DESC LIMIT 1")
    assert counts == {"dangling-end": 1, "duplicate": 2, "edge-match": 3}
    _agrees_with_a_whole_check(edited, protocols)


def test_a_retired_features_findings_go_with_it(
    edited: Seeded, tmp_path: Path, protocols: Protocols
) -> None:
    untouched = "SELECT feature_fid, check_id FROM boundary_issues WHERE kind = 'out-of-area'"
    before = _rows(edited.url, untouched)
    source, feed = _soar_roadworks(edited)
    _send(edited, source, feed[~_works(feed, "SWDC-2027-99020")], tmp_path)
    assert _rows(edited.url, "SELECT * FROM duplicate_of WHERE theme = 'roadworks'") == []
    kinds = _rows(edited.url, "SELECT DISTINCT kind FROM boundary_issues WHERE theme = 'roadworks'")
    assert "duplicate" not in {k for (k,) in kinds}
    assert _rows(edited.url, untouched) == before  # the feature still out of area was not looked at
    _agrees_with_a_whole_check(edited, protocols)


def test_a_run_whose_own_check_never_ran_is_looked_at_by_the_next_check(
    edited: Seeded, tmp_path: Path, protocols: Protocols
) -> None:
    source, feed = _soar_roadworks(edited)
    edited_feed = feed[~_works(feed, "SWDC-2027-99030")]
    pyogrio.write_dataframe(edited_feed, tmp_path / source.file, driver="GeoJSON")
    ingest_file(edited.url, tmp_path / source.file, source, edited.region, protocols)
    other = edited.region.sources["larkspur-gas-roadworks"]
    _send(edited, other, pyogrio.read_dataframe(edited.region.data_dir / other.file), tmp_path)
    out_of_area = "SELECT count(*) FROM boundary_issues WHERE kind = 'out-of-area'"
    assert _rows(edited.url, out_of_area) == [(0,)]
    _agrees_with_a_whole_check(edited, protocols)


def test_changed_tolerances_make_the_next_check_look_at_the_whole_theme(
    edited: Seeded, protocols: Protocols
) -> None:
    roadworks = protocols.themes["roadworks"]
    wider = roadworks.model_copy(
        update={"matching": roadworks.matching.model_copy(update={"duplicate_m": 30.0})}
    )
    last_check = "SELECT whole FROM boundary_check ORDER BY id DESC LIMIT 1"
    looked_at_whole = []
    with transaction(edited.url) as cur:
        for theme in (roadworks, wider, roadworks):
            check_theme(cur, theme, whole=False)
            cur.execute(last_check)
            looked_at_whole.append(cur.fetchone()[0])
    assert looked_at_whole == [False, True, True]


def test_ingest_says_what_the_theme_has_across_boundaries_after_the_run(
    edited: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    source, feed = _soar_roadworks(edited)
    pyogrio.write_dataframe(feed[~_works(feed, "SWDC-2027-99020")], tmp_path / source.file)
    monkeypatch.setenv("DATABASE_URL", edited.url)
    monkeypatch.setenv("RGIS_DATA_DIR", str(edited.region.data_dir))
    argv = ["ingest", str(tmp_path / source.file), "--source", source.id]
    assert main([*argv, "--report", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (
        "across boundaries, roadworks now has: 1 dangling-end, 3 edge-match, 1 out-of-area" in out
    )
    assert main([*argv, "--report", str(tmp_path), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["boundary_issues"]
    assert found == {"dangling-end": 1, "edge-match": 3, "out-of-area": 1}


def test_processes_making_the_checks_tables_ready_at_once_never_deadlock() -> None:
    """Server workers start together and checks after concurrent ingests begin together, each
    making the tables ready inside a transaction that goes on; first on a fresh database, then
    on one where they are ready."""
    base = resolve_database_url(Settings().database_url, PROJECT_ROOT / ".regiongis")
    with scratch_database(base, "regiongis_test_schema") as url:
        for _ in range(2):
            start = threading.Barrier(4)
            with ThreadPoolExecutor(4) as pool:
                for done in [pool.submit(_make_ready, url, start) for _ in range(4)]:
                    done.result()


def _make_ready(url: str, start: threading.Barrier) -> None:
    with transaction(url) as cur:
        start.wait()
        ensure_schema(cur)
        cur.execute("SELECT pg_sleep(0.3)")  # the rest of the check

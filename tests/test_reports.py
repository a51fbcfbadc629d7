"""Report specification: `regiongis check` and `regiongis ingest` say what happened, by rule, exit 0
whenever the run completed, and leave a JSON and an HTML report a publisher can act on."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from browser import open_page

from ingest import report
from ingest.db import transaction
from ingest.load import ensure_schema
from server.cli import main
from server.settings import DEFAULT_CONFIG_DIR

SOURCE = {
    "id": "report-roadworks",
    "publisher": "trentvale",
    "theme": "roadworks",
    "file": "report.geojson",
    "where": {"state": {"not_in": ["Draft"]}},
    "fields": {
        "reference": "ref",
        "works_type": {"from": "kind", "values": {"Resurface": "resurfacing"}},
        "status": {"from": "state", "values": {"Live": "in-progress"}},
        "start_date": {"from": "starts", "format": "%d/%m/%Y"},
        "promoter": {"value": "Report Borough Council (fictional)"},
    },
}
HOSTILE = "<script>alert('x')</script><img src=https://example.com/t.png>"
GOOD = {"ref": "REP-1", "kind": "Resurface", "state": "Live", "starts": "03/11/2026"}
NOTTINGHAM = [-1.1505, 52.9536]


def feature(properties: dict, coordinates: list | None = NOTTINGHAM) -> dict:
    geometry = None if coordinates is None else {"type": "Point", "coordinates": coordinates}
    return {"type": "Feature", "properties": {**GOOD, **properties}, "geometry": geometry}


FEATURES = [
    feature({}),
    feature({"ref": "REP-2", "kind": HOSTILE}),
    feature({"ref": "REP-3", "state": "Draft"}),
    feature({"ref": "REP-4"}, coordinates=[2.35, 48.85]),
    *(feature({"ref": f"REP-{i}", "starts": f"{i}th of never"}) for i in range(5, 13)),
]


@pytest.fixture()
def publisher_file(tmp_path: Path) -> Path:
    path = tmp_path / "report.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": FEATURES}))
    return path


@pytest.fixture()
def deployment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str, protocols, db
) -> Iterator[Path]:
    """A region config holding the report source, and its rows removed from the database after."""
    with transaction(database_url) as cur:
        ensure_schema(cur, list(protocols.themes.values()))
    config = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, config)
    (config / "sources" / "report-roadworks.yaml").write_text(yaml.safe_dump(SOURCE))
    monkeypatch.setenv("RGIS_CONFIG_DIR", str(config))
    monkeypatch.setenv("RGIS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    yield tmp_path
    db.execute("DELETE FROM roadworks WHERE source = %s", (SOURCE["id"],))
    db.execute("SELECT to_regclass('roadworks_history') IS NOT NULL")
    if db.fetchone()[0]:
        db.execute("DELETE FROM roadworks_history WHERE source = %s", (SOURCE["id"],))
    db.execute("DELETE FROM ingest_run WHERE source = %s", (SOURCE["id"],))


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """The folder over loopback HTTP, as a publisher's browser would open a report it was sent."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def check_json(publisher_file: Path, folder: Path, capsys) -> dict:
    argv = ["check", str(publisher_file), "--source", SOURCE["id"], "--json"]
    code, out, _ = run_cli([*argv, "--report", str(folder)], capsys)
    assert code == 0
    return json.loads(out)


def test_check_prints_counts_issue_rules_and_the_report_paths(
    deployment, publisher_file, capsys, db
) -> None:
    code, out, _ = run_cli(["check", str(publisher_file), "--source", SOURCE["id"]], capsys)
    assert code == 0
    assert out.startswith("report-roadworks: 12 read, 1 loaded into roadworks, 11 quarantined")
    assert "  date-value: 8" in out and "1 of the quarantined left out on purpose" in out
    html = Path(out.split("report: ")[1].split()[0])
    assert html.parent == deployment / "state" / "reports" and html.exists()
    db.execute("SELECT count(*) FROM ingest_run WHERE source = %s", (SOURCE["id"],))
    assert db.fetchone()[0] == 0


def test_check_json_holds_the_counts_the_rules_and_the_report(
    deployment, publisher_file, capsys
) -> None:
    result = check_json(publisher_file, deployment / "out", capsys)
    assert (result["input"], result["loaded"], result["quarantined"]) == (12, 1, 11)
    assert result["issues"]["filtered-out"] == 1 and result["inserted"] is None
    assert Path(result["report"]["json"]).parent == deployment / "out"


def test_an_unreadable_file_exits_2_with_a_one_line_reason(deployment, tmp_path, capsys) -> None:
    junk = tmp_path / "junk.geojson"
    junk.write_bytes(b"\x00\x01 not a geojson")
    code, out, err = run_cli(["check", str(junk), "--source", SOURCE["id"]], capsys)
    assert (code, out) == (2, "")
    assert err.startswith("regiongis: junk.geojson") and err.count("\n") == 1


def test_ingest_json_reports_what_the_load_changed(deployment, publisher_file, capsys) -> None:
    argv = ["ingest", str(publisher_file), "--source", SOURCE["id"], "--json"]
    code, out, _ = run_cli(argv, capsys)
    result = json.loads(out)
    assert code == 0 and (result["input"], result["loaded"], result["quarantined"]) == (12, 1, 11)
    assert (result["inserted"], result["updated"], result["retired"]) == (1, 0, 0)


def test_the_ingest_report_is_read_back_from_the_run(deployment, publisher_file, capsys) -> None:
    argv = ["ingest", str(publisher_file), "--source", SOURCE["id"], "--json"]
    result = json.loads(run_cli(argv, capsys)[1])
    saved = json.loads(Path(result["report"]["json"]).read_text())
    assert saved["run_id"] == result["run_id"] and saved["status"] == "succeeded"
    assert (saved["input"], saved["loaded"], saved["quarantined"]) == (12, 1, 11)
    assert len(saved["quarantine"]) == 11 and saved["filtered"] == 1
    hostile = next(q for q in saved["quarantine"] if q["row"] == 1)
    assert hostile["attributes"]["kind"] == HOSTILE


def test_each_rule_shows_at_most_five_examples_and_its_fix(
    deployment, publisher_file, capsys
) -> None:
    result = check_json(publisher_file, deployment / "out", capsys)
    rules = {r["rule"]: r for r in json.loads(Path(result["report"]["json"]).read_text())["rules"]}
    dates = rules["date-value"]
    assert (dates["count"], len(dates["examples"])) == (8, report.EXAMPLES)
    assert dates["fix"].startswith("Write dates in the format")
    assert "change `where`" in rules["filtered-out"]["examples"][0]["message"]


def test_the_html_report_is_self_contained_and_shows_hostile_values_as_text(
    deployment, publisher_file, capsys
) -> None:
    result = check_json(publisher_file, deployment / "out", capsys)
    html = Path(result["report"]["html"])
    assert "<script" not in html.read_text() and "<img" not in html.read_text()
    with serve_folder(html.parent) as base, open_page(f"{base}/{html.name}") as (page, seen):
        shown = page.inner_text("#rule-code-value")
        drawn = page.locator("#map g.feature").count()
    assert HOSTILE in shown
    assert not (seen.console_errors or seen.page_errors or seen.dialogs)
    assert seen.external_requests == []
    assert drawn == 11  # every quarantined feature has a location, even the one in Paris


@pytest.mark.parametrize("command", ["check", "ingest"])
def test_a_report_says_how_the_coordinates_reached_the_national_grid(
    command: str, deployment, publisher_file, capsys
) -> None:
    """GeoJSON is WGS84 (GDAL says EPSG:4326): moved by OSTN15 ("OSGB36 to WGS 84 (9)")."""
    argv = [command, str(publisher_file), "--source", SOURCE["id"], "--json"]
    result = json.loads(run_cli([*argv, "--report", str(deployment / "out")], capsys)[1])
    saved = json.loads(Path(result["report"]["json"]).read_text())
    assert saved["source_crs"] == "EPSG:4326"
    assert saved["transformation"].startswith("Inverse of OSGB36 to WGS 84 (9)")
    html = Path(result["report"]["html"]).read_text()
    assert "Coordinates: EPSG:4326, moved to the theme's storage CRS by Inverse of OSGB36" in html


def test_a_dry_run_report_shows_the_first_features_as_they_would_load(
    deployment, publisher_file, capsys
) -> None:
    result = check_json(publisher_file, deployment / "out", capsys)
    [shown] = json.loads(Path(result["report"]["json"]).read_text())["sample"]
    harmonised = ["row", "reference", "works_type", "status", "start_date"]
    assert [shown[k] for k in harmonised] == [
        0,
        "REP-1",
        "resurfacing",
        "in-progress",
        "2026-11-03",
    ]
    assert shown["wkt"].startswith("POINT (457")  # British National Grid, as stored
    html = Path(result["report"]["html"]).read_text()
    assert 'id="sample"' in html and "in-progress" in html


@pytest.mark.parametrize("command", ["check", "ingest"])
def test_a_report_lists_the_first_issues_and_counts_them_all(
    command: str, deployment, publisher_file, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many features a file gets wrong, its report stays a readable size (here: lists
    of 3, for 12 features)."""
    monkeypatch.setattr("ingest.report.LISTED", 3)
    monkeypatch.setattr("ingest.pipeline.LISTED", 3)
    argv = [command, str(publisher_file), "--source", SOURCE["id"], "--json"]
    result = json.loads(run_cli([*argv, "--report", str(deployment / "out")], capsys)[1])
    saved = json.loads(Path(result["report"]["json"]).read_text())
    assert (len(saved["issue_log"]), len(saved["quarantine"])) == (3, 3)
    total = sum(saved["issues"].values())
    assert saved["not_listed"] == {"issue_log": total - 3, "quarantine": 11 - 3}
    assert [q["row"] for q in saved["quarantine"]] == [1, 2, 3]  # the first, by row
    dates = next(r for r in saved["rules"] if r["rule"] == "date-value")
    assert (dates["count"], len(dates["examples"])) == (8, report.EXAMPLES)
    assert (saved["quarantined"], saved["filtered"]) == (11, 1)
    html = Path(result["report"]["html"]).read_text()
    assert 'id="quarantine-more">… and 8 more' in html
    assert "The map draws from the first 3 quarantined features." in html

"""Ingest specification: every input feature is loaded or quarantined with a reason, and a failed
run changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from uploading import FIELDS

from ingest.errors import UnreadableInput
from ingest.pipeline import RunResult, ingest_file
from ingest.region import Region, Source
from protocols import Protocols

TEST_SOURCE = Source.model_validate(
    {
        "id": "spec-roadworks",
        "publisher": "trentvale",
        "theme": "roadworks",
        "file": "spec.geojson",
        "fields": FIELDS
        | {
            "end_date": {"from": "ends", "format": "%d/%m/%Y"},
            "promoter": {"value": "Spec Borough Council (fictional)"},
        },
    }
)
GOOD = {"ref": "SPEC-1", "kind": "Resurface", "state": " live ", "starts": "03/11/2026"}
NOTTINGHAM = [-1.1505, 52.9536]


def feature(properties: dict, coordinates: list[float] | None = NOTTINGHAM) -> dict:
    geometry = None if coordinates is None else {"type": "Point", "coordinates": coordinates}
    return {"type": "Feature", "properties": {"ends": None, **properties}, "geometry": geometry}


def write_geojson(folder: Path, features: list[dict]) -> Path:
    path = folder / "spec.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


@pytest.fixture(autouse=True)
def _forget_spec_source(db) -> Iterator[None]:
    """Each test starts and ends with no rows from the spec source, so feeds count only the demo."""
    yield
    db.execute("DELETE FROM roadworks WHERE source = %s", (TEST_SOURCE.id,))


def rows_of(db, source: str) -> list[tuple]:
    db.execute(
        "SELECT reference, status, start_date FROM roadworks WHERE source = %s ORDER BY 1",
        (source,),
    )
    return db.fetchall()


def test_every_demo_feature_is_loaded(demo_loaded: list[RunResult], demo_counts, db) -> None:
    _, counts = demo_counts
    for result in demo_loaded:
        table = result.theme.replace("-", "_")
        db.execute(f"SELECT count(*) FROM {table} WHERE source = %s", (result.source,))  # noqa: S608
        assert db.fetchone()[0] == counts[result.source] == result.loaded, result.source
        assert result.quarantined == 0, result.issues


def test_loaded_rows_carry_provenance(demo_loaded: list[RunResult], db) -> None:
    db.execute(
        "SELECT count(*) FROM roadworks r JOIN ingest_run i ON i.id = r.run_id "
        "WHERE i.status = 'succeeded' AND length(i.file_sha256) = 64 AND r.publisher = i.publisher"
    )
    db_rows = db.fetchone()[0]
    assert db_rows == sum(r.loaded for r in demo_loaded if r.theme == "roadworks")


def test_geometry_is_stored_in_the_protocol_crs(demo_loaded: list[RunResult], db) -> None:
    db.execute(
        "SELECT DISTINCT ST_SRID(geom) FROM roadworks "
        "UNION SELECT ST_SRID(geom) FROM street_lighting"
    )
    assert db.fetchall() == [(27700,)]


def test_code_values_are_mapped_onto_the_code_list(
    demo_loaded: list[RunResult], db, protocols: Protocols
) -> None:
    db.execute("SELECT DISTINCT lamp_type FROM street_lighting")
    assert {r[0] for r in db.fetchall()} <= protocols.codelists["lamp-type"].codes


def test_values_are_normalised_before_mapping(
    tmp_path, database_url, demo_region: Region, protocols, db
):
    path = write_geojson(tmp_path, [feature(GOOD)])
    result = ingest_file(database_url, path, TEST_SOURCE, demo_region, protocols)
    assert (result.loaded, result.quarantined) == (1, 0)
    assert rows_of(db, TEST_SOURCE.id)[0][1] == "in-progress"


def test_bad_features_are_quarantined_with_a_reason(
    tmp_path, database_url, demo_region: Region, protocols, db
) -> None:
    features = [
        feature(GOOD),
        feature({**GOOD, "ref": "SPEC-2", "state": "Abandoned"}),
        feature({**GOOD, "ref": "SPEC-3", "starts": "2026-13-45"}),
        feature({**GOOD, "ref": "SPEC-4"}, coordinates=None),
        feature({**GOOD, "ref": "SPEC-5"}, coordinates=[2.35, 48.85]),
        feature({**GOOD, "ref": None}),
    ]
    path = write_geojson(tmp_path, features)
    result = ingest_file(database_url, path, TEST_SOURCE, demo_region, protocols)
    assert (result.input, result.loaded, result.quarantined) == (6, 1, 5)
    db.execute(
        "SELECT attributes->>'ref', reason FROM quarantine WHERE run_id = %s ORDER BY source_row",
        (result.run_id,),
    )
    reasons = dict(db.fetchall())
    assert "code list works-status" in reasons["SPEC-2"]
    assert "format %d/%m/%Y" in reasons["SPEC-3"]
    assert "no geometry" in reasons["SPEC-4"]
    assert "outside the region" in reasons["SPEC-5"]
    assert "required field 'reference'" in reasons[None]


def test_reingesting_replaces_the_source_contribution(
    tmp_path, database_url, demo_region: Region, protocols, db
) -> None:
    path = write_geojson(tmp_path, [feature(GOOD), feature({**GOOD, "ref": "SPEC-9"})])
    ingest_file(database_url, path, TEST_SOURCE, demo_region, protocols)
    ingest_file(database_url, path, TEST_SOURCE, demo_region, protocols)
    assert [r[0] for r in rows_of(db, TEST_SOURCE.id)] == ["SPEC-1", "SPEC-9"]


def test_a_failed_run_leaves_the_previous_data_intact(
    tmp_path, database_url, demo_region: Region, protocols, db
) -> None:
    path = write_geojson(tmp_path, [feature(GOOD)])
    ingest_file(database_url, path, TEST_SOURCE, demo_region, protocols)
    before = rows_of(db, TEST_SOURCE.id)
    broken = TEST_SOURCE.model_copy(
        update={"fields": {**TEST_SOURCE.fields, "reference": "REF_NO"}}
    )
    with pytest.raises(UnreadableInput, match="no column 'REF_NO'"):
        ingest_file(database_url, path, broken, demo_region, protocols)
    assert rows_of(db, TEST_SOURCE.id) == before
    db.execute("SELECT status, message FROM ingest_run ORDER BY id DESC LIMIT 1")
    status, message = db.fetchone()
    assert status == "failed" and "REF_NO" in message


def test_an_unreadable_file_is_refused_in_one_sentence(
    tmp_path, demo_region, protocols, database_url
):
    junk = tmp_path / "spec.geojson"
    junk.write_bytes(b"\x00\x01PK not geojson at all")
    with pytest.raises(UnreadableInput, match="GDAL cannot read it"):
        ingest_file(database_url, junk, TEST_SOURCE, demo_region, protocols)

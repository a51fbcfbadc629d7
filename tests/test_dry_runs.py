"""Dry-run specification: `regiongis check` and an upload's check job read the file batch by batch,
as a load does, keep only what a report needs, and find what a load would find, across batches too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_loading import source, works, write

from ingest.db import scratch_database, transaction
from ingest.pipeline import SAMPLE, check_file, ingest_file
from ingest.region import Region, Source
from protocols import Protocols, ThemeSpec

# a theme whose unique field is not its natural key, so no database index stands behind it
METERS = ThemeSpec.model_validate(
    {
        "id": "dry-run-meters",
        "version": "1.0",
        "title": "Dry-run meters",
        "description": "Meters with a serial number of their own beside the asset id.",
        "geometry_types": ["Point"],
        "natural_key": ["reference"],
        "fields": [
            {"name": "reference", "type": "text", "title": "Reference", "required": True},
            {"name": "serial", "type": "text", "title": "Serial number", "unique": True},
        ],
    }
)


def quarantine_of(url: str, run_id: int) -> list[tuple]:
    with transaction(url) as cur:
        cur.execute(
            "SELECT source_row, reason FROM quarantine WHERE run_id = %s ORDER BY 1", (run_id,)
        )
        return cur.fetchall()


def test_a_key_repeated_in_a_later_batch_is_found_by_a_dry_run_as_by_a_load(
    tmp_path: Path, database_url: str, demo_region: Region, protocols: Protocols, db
) -> None:
    path = write(works(["DRY-1", "DRY-2", "DRY-3", "DRY-1", "DRY-4"]), tmp_path)
    dry = check_file(path, source(), demo_region, protocols, batch_size=2)
    loaded = ingest_file(database_url, path, source(), demo_region, protocols, batch_size=2)
    db.execute("DELETE FROM roadworks WHERE source = %s", (source().id,))
    assert dry.result(source()).issues == loaded.issues == {"duplicate-key": 1}
    said = list(zip(dry.quarantined["row"], dry.quarantined["reason"], strict=True))
    assert said == quarantine_of(database_url, loaded.run_id)
    assert said == [
        (3, "the same key as feature 0 earlier in this file; give each feature its own value")
    ]


def test_a_batch_repeating_keys_of_its_own_and_of_an_earlier_batch_names_each_first_one(
    tmp_path: Path, demo_region: Region, protocols: Protocols
) -> None:
    path = write(works(["A", "B", "X", "A", "C", "C"]), tmp_path)
    dry = check_file(path, source(), demo_region, protocols, batch_size=3)
    said = dict(zip(dry.quarantined["row"], dry.quarantined["reason"], strict=True))
    assert list(said) == [3, 5]
    assert said[3].startswith("the same key as feature 0 earlier")
    assert "the same key as feature 4 earlier" in said[5]  # and the same reference


def test_a_dry_run_keeps_the_quarantined_features_and_a_sample_not_every_clean_one(
    tmp_path: Path, demo_region: Region, protocols: Protocols
) -> None:
    frame = works([f"DRY-{i}" for i in range(100)])
    frame.loc[[7, 70], "starts"] = "the 40th of May"
    dry = check_file(write(frame, tmp_path), source(), demo_region, protocols, batch_size=16)
    assert (dry.input, list(dry.quarantined["row"])) == (100, [7, 70])
    assert len(dry.sample) == SAMPLE and 7 not in dry.sample.index
    assert set(dry.sample["works_type"]) == {"resurfacing"}  # as it would load, not as sent


def test_a_dry_run_reports_progress_batch_by_batch(
    tmp_path: Path, demo_region: Region, protocols: Protocols
) -> None:
    seen: list[tuple[int, int | None]] = []
    path = write(works([f"DRY-{i}" for i in range(5)]), tmp_path)
    check_file(path, source(), demo_region, protocols, lambda *p: seen.append(p), batch_size=2)
    assert seen == [(2, 5), (4, 5), (5, 5)]


@pytest.fixture()
def meters(database_url: str, protocols: Protocols) -> Iterator[tuple[str, Protocols, Source]]:
    """A database of its own with the meters theme, and a source for it."""
    with_meters = Protocols(
        themes={**protocols.themes, METERS.id: METERS}, codelists=protocols.codelists
    )
    meters_source = Source.model_validate(
        {
            "id": "dry-run-meters",
            "publisher": "trentvale",
            "theme": METERS.id,
            "file": "meters.gpkg",
            "fields": {"reference": "ref", "serial": "kind"},
        }
    )
    with scratch_database(database_url, "regiongis_test_meters") as url:
        yield url, with_meters, meters_source


def test_a_unique_value_repeated_in_a_later_batch_is_quarantined_by_a_load_and_a_dry_run(
    tmp_path: Path, meters, demo_region: Region
) -> None:
    url, with_meters, meters_source = meters
    frame = works(["M-1", "M-2", "M-3"])
    frame["kind"] = ["SN-9", "SN-5", "SN-9"]
    path = write(frame, tmp_path)
    loaded = ingest_file(url, path, meters_source, demo_region, with_meters, batch_size=2)
    dry = check_file(path, meters_source, demo_region, with_meters, batch_size=2)
    assert (loaded.loaded, loaded.issues) == (2, {"unique": 1})
    assert dry.result(meters_source).issues == {"unique": 1}
    reason = "the same serial as feature 0 earlier in this file; give each feature its own value"
    assert quarantine_of(url, loaded.run_id) == [(2, reason)]

"""Loading semantics: a run merges one source's features by natural key, keeps what it replaces in
history, and is atomic (a failed or killed run changes nothing); runs of one source queue, runs of
different sources do not."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import psycopg2
import pytest
import shapely

from ingest.db import transaction
from ingest.load import ensure_schema
from ingest.pipeline import RunResult, ingest_file
from ingest.region import Region, Source
from protocols import Protocols
from server.settings import DEFAULT_CONFIG_DIR

SOURCES = ["loading-a", "loading-b"]
FIELDS = {
    "reference": "ref",
    "works_type": {"from": "kind", "values": {"Resurface": "resurfacing"}},
    "status": {"from": "state", "values": {"Live": "in-progress", "Plan": "planned"}},
    "start_date": {"from": "starts", "format": "%d/%m/%Y"},
    "promoter": {"value": "Loading Borough Council (fictional)"},
}
NOTTINGHAM = (-1.1505, 52.9536)


def source(source_id: str = SOURCES[0]) -> Source:
    return Source.model_validate(
        {
            "id": source_id,
            "publisher": "trentvale",
            "theme": "roadworks",
            "file": "works.gpkg",
            "fields": FIELDS,
        }
    )


def works(refs: list[str], state: str = "Live", shift: float = 0.0) -> gpd.GeoDataFrame:
    n = len(refs)
    x = NOTTINGHAM[0] + np.arange(n) * 1e-5 + shift
    return gpd.GeoDataFrame(
        {
            "ref": refs,
            "kind": ["Resurface"] * n,
            "state": [state] * n,
            "starts": ["03/11/2026"] * n,
        },
        geometry=shapely.points(x, np.full(n, NOTTINGHAM[1])),
        crs=4326,
    )


def write(frame: gpd.GeoDataFrame, folder: Path, name: str = "works.gpkg") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    frame.to_file(path, driver="GPKG", engine="pyogrio")
    return path


@pytest.fixture(autouse=True)
def _forget_loading_sources(db, database_url: str, protocols: Protocols) -> Iterator[None]:
    """Feeds count only the demo's rows, so each test leaves none of its own behind."""
    with transaction(database_url) as cur:
        ensure_schema(cur, list(protocols.themes.values()))
    yield
    for table in ("roadworks", "roadworks_history"):
        db.execute(f"DELETE FROM {table} WHERE source = ANY(%s)", (SOURCES,))  # noqa: S608


@pytest.fixture()
def many(db, monkeypatch: pytest.MonkeyPatch) -> int:
    """Enough new features for a bulk load: at least a quarter of the theme, 100 or more. The
    rule reads the planner's row count, so it is refreshed first: other tests' deletes leave it
    stale."""
    monkeypatch.setattr("ingest.load.BULK_ROWS", 100)
    db.execute("ANALYZE roadworks")
    db.execute("SELECT greatest(reltuples, 0) FROM pg_class WHERE relname = 'roadworks'")
    return max(200, int(db.fetchone()[0]))


@pytest.fixture()
def load(tmp_path: Path, database_url: str, demo_region: Region, protocols: Protocols):
    """Ingest a frame as the given source; each call writes a fresh file."""
    calls = iter(range(1000))

    def _load(frame: gpd.GeoDataFrame, source_id: str = SOURCES[0], **options) -> RunResult:
        path = write(frame, tmp_path / f"run-{next(calls)}")
        return ingest_file(database_url, path, source(source_id), demo_region, protocols, **options)

    return _load


def live(db, source_id: str = SOURCES[0]) -> list[tuple]:
    db.execute(
        "SELECT fid, reference, status, run_id, valid_from FROM roadworks WHERE source = %s "
        "ORDER BY reference",
        (source_id,),
    )
    return db.fetchall()


def test_a_rerun_counts_what_it_inserted_updated_left_unchanged_and_retired(load) -> None:
    load(works(["W-1", "W-2", "W-3"]))
    rerun = works(["W-1", "W-2", "W-4"])
    rerun.loc[1, "state"] = "Plan"
    result = load(rerun)
    counts = (result.inserted, result.updated, result.unchanged, result.retired)
    assert counts == (1, 1, 1, 1)
    assert (result.input, result.loaded, result.quarantined) == (3, 3, 0)


def test_an_updated_feature_keeps_its_fid_and_its_old_version_goes_to_history(load, db) -> None:
    first = load(works(["W-1"]))
    ((fid, _, _, _, loaded_at),) = live(db)
    second = load(works(["W-1"], state="Plan"))
    assert live(db)[0][:4] == (fid, "W-1", "planned", second.run_id)
    db.execute(
        "SELECT fid, status, run_id, valid_from, valid_to FROM roadworks_history WHERE fid = %s",
        (fid,),
    )
    (old,) = db.fetchall()
    assert old[:4] == (fid, "in-progress", first.run_id, loaded_at)
    assert old[4] == live(db)[0][4]  # the old version ends the moment the new one begins


def test_an_unchanged_feature_is_left_alone(load, db) -> None:
    first = load(works(["W-1"]))
    before = live(db)
    assert load(works(["W-1"])).unchanged == 1
    assert live(db) == before and before[0][3] == first.run_id
    db.execute("SELECT count(*) FROM roadworks_history WHERE source = %s", (SOURCES[0],))
    assert db.fetchone()[0] == 0


def test_a_retired_feature_moves_to_history(load, db) -> None:
    load(works(["W-1", "W-2"]))
    gone_fid = live(db)[1][0]
    load(works(["W-1"]))
    assert [row[1] for row in live(db)] == ["W-1"]
    db.execute("SELECT reference FROM roadworks_history WHERE fid = %s", (gone_fid,))
    assert db.fetchall() == [("W-2",)]


def as_of(db, when) -> list[tuple]:
    """The contract the OGC API's datetime filter is written against."""
    db.execute(
        "SELECT reference, status FROM roadworks WHERE source = %(s)s AND valid_from <= %(t)s "
        "UNION ALL SELECT reference, status FROM roadworks_history WHERE source = %(s)s "
        "AND valid_from <= %(t)s AND %(t)s < valid_to ORDER BY 1",
        {"s": SOURCES[0], "t": when},
    )
    return db.fetchall()


def test_the_state_of_a_theme_on_a_past_date_can_be_queried(load, db) -> None:
    load(works(["W-1", "W-2"]))
    db.execute("SELECT clock_timestamp()")
    between = db.fetchone()[0]
    rerun = works(["W-1", "W-3"])
    rerun.loc[0, "state"] = "Plan"
    load(rerun)
    assert as_of(db, between) == [("W-1", "in-progress"), ("W-2", "in-progress")]
    db.execute("SELECT clock_timestamp()")
    assert as_of(db, db.fetchone()[0]) == [("W-1", "planned"), ("W-3", "in-progress")]


def test_a_key_repeated_in_a_later_batch_is_quarantined_with_a_reason(load, db) -> None:
    result = load(works(["W-1", "W-2", "W-3", "W-1", "W-4"]), batch_size=2)
    assert (result.input, result.loaded, result.quarantined) == (5, 4, 1)
    assert result.issues["duplicate-key"] == 1
    db.execute("SELECT source_row, reason FROM quarantine WHERE run_id = %s", (result.run_id,))
    assert db.fetchall() == [
        (3, "the same key as feature 0 earlier in this file; give each feature its own value")
    ]


def test_every_row_carries_its_provenance(load, db, tmp_path: Path) -> None:
    result = load(works(["W-1", "W-2"]))
    db.execute(
        "SELECT r.publisher, r.source_row, r.loaded_at IS NOT NULL, i.file_sha256, i.file_name "
        "FROM roadworks r JOIN ingest_run i ON i.id = r.run_id WHERE r.source = %s ORDER BY 2",
        (SOURCES[0],),
    )
    rows = db.fetchall()
    sha = hashlib.sha256((tmp_path / "run-0" / "works.gpkg").read_bytes()).hexdigest()
    assert rows == [("trentvale", i, True, sha, "works.gpkg") for i in range(2)]
    assert result.run_id is not None


def test_progress_is_reported_batch_by_batch(load) -> None:
    seen: list[tuple[int, int | None]] = []
    load(works([f"W-{i}" for i in range(5)]), batch_size=2, progress=lambda *p: seen.append(p))
    assert seen == [(2, 5), (4, 5), (5, 5)]


class Paused:
    """A progress callback holding its run mid-load (lock held, transaction open) until let go."""

    def __init__(self) -> None:
        self.reached, self.go = threading.Event(), threading.Event()

    def __call__(self, done: int, total: int | None) -> None:
        self.reached.set()
        assert self.go.wait(timeout=60)


def in_thread(target, *args, **kwargs) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.append(target(*args, **kwargs)), daemon=True)
    thread.start()
    return thread, out


def test_two_runs_of_one_source_queue_one_behind_the_other(load, db) -> None:
    paused = Paused()
    first, _ = in_thread(load, works(["W-1"]), progress=paused)
    assert paused.reached.wait(timeout=60)
    second, results = in_thread(load, works(["W-1", "W-2"]))
    time.sleep(1.5)
    assert second.is_alive() and live(db) == []  # waiting for the first run's lock
    paused.go.set()
    first.join(timeout=60)
    second.join(timeout=60)
    (result,) = results
    assert (result.inserted, result.unchanged) == (1, 1)  # it saw the first run's feature


def test_runs_of_different_sources_go_ahead_in_parallel(load, db) -> None:
    paused = Paused()
    first, _ = in_thread(load, works(["W-1"]), progress=paused)
    assert paused.reached.wait(timeout=60)
    try:
        result = load(works(["W-1"]), SOURCES[1])  # finishes while the first run is held
        assert result.inserted == 1 and len(live(db, SOURCES[1])) == 1
        assert live(db, SOURCES[0]) == []
    finally:
        paused.go.set()
        first.join(timeout=60)
    assert len(live(db, SOURCES[0])) == 1


KILLABLE = """
import json, sys
from pathlib import Path
from ingest.pipeline import ingest_file
from ingest.region import Source, load_region
from protocols import load_protocols
url, path, doc, config = sys.argv[1:]
def report(done, total):
    print(done, flush=True)
region = load_region(Path(config), Path(path).parent)
ingest_file(url, Path(path), Source.model_validate(json.loads(doc)), region, load_protocols(),
            progress=report, batch_size=2000)
"""


def kill_after_two_batches(database_url: str, path: Path, prelude: str = "") -> None:
    """Ingest path as source() in a child process and SIGKILL it once two batches are sent."""
    doc = json.dumps(source().model_dump(by_alias=True))
    child = subprocess.Popen(
        [sys.executable, "-c", prelude + KILLABLE, database_url, str(path), doc,
         str(DEFAULT_CONFIG_DIR)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert child.stdout is not None
    assert child.stdout.readline() and child.stdout.readline()  # two batches sent
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)


def fingerprint(db) -> str:
    db.execute(
        "SELECT md5(string_agg(t::text, ',' ORDER BY fid)) FROM roadworks t WHERE source = %s",
        (SOURCES[0],),
    )
    return db.fetchone()[0]


def test_a_run_killed_mid_load_leaves_the_live_data_exactly_as_before(
    load, db, database_url: str, tmp_path: Path
) -> None:
    load(works(["W-1", "W-2"]))
    before = fingerprint(db)
    big = works([f"K-{i}" for i in range(100_000)], state="Plan")
    kill_after_two_batches(database_url, write(big, tmp_path / "big"))
    db.execute(
        "SELECT status FROM ingest_run WHERE source = %s ORDER BY id DESC LIMIT 1", (SOURCES[0],)
    )
    assert db.fetchone()[0] != "succeeded"
    assert fingerprint(db) == before


def test_a_run_left_running_by_a_dead_process_is_failed_by_the_next_run(
    load, db, database_url: str
) -> None:
    gone = psycopg2.connect(database_url)
    with gone.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    gone.close()
    db.execute(
        "INSERT INTO ingest_run (source, publisher, theme, protocol, file_name, file_sha256, "
        "backend_pid) VALUES (%s, 'trentvale', 'roadworks', 'roadworks@1.0', 'x', 'x', %s) "
        "RETURNING id",
        (SOURCES[0], pid),
    )
    dead = db.fetchone()[0]
    load(works(["W-1"]))
    db.execute("SELECT status, message FROM ingest_run WHERE id = %s", (dead,))
    status, message = db.fetchone()
    assert status == "failed" and "stopped before it finished" in message


def test_a_bulk_load_builds_the_indexes_again_and_keeps_other_sources(load, db, many: int) -> None:
    db.execute("SELECT count(*) FROM roadworks WHERE source <> ALL(%s)", (SOURCES,))
    others = db.fetchone()[0]
    assert load(works([f"B-{i}" for i in range(many)])).inserted == many
    db.execute(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'roadworks' ORDER BY 1",
    )
    indexes = [name for (name,) in db.fetchall()]
    assert {"roadworks_geom_idx", "roadworks_source_reference_key"} <= set(indexes)
    db.execute("SELECT count(*) FROM roadworks WHERE source <> ALL(%s)", (SOURCES,))
    assert db.fetchone()[0] == others

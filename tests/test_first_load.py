"""A source's first bulk load COPYs straight into the live table (keys and index dropped, then
rebuilt) instead of staging and merging: the same results, the same atomicity, the same
quarantine. Into a theme that holds nothing yet, the rows are written frozen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
import test_loading
from test_loading import NOTTINGHAM, SOURCES, kill_after_two_batches, source, works, write

from ingest.db import scratch_database, transaction
from ingest.load import ensure_schema
from ingest.pipeline import ingest_file
from ingest.region import Region, Source
from protocols import Protocols

# test_loading's fixtures: the same cleanup after every test, the same bulk-sized load
_forget_loading_sources = test_loading._forget_loading_sources
many = test_loading.many
BULK_FROM_100 = "import ingest.load\ningest.load.BULK_ROWS = 100\n"  # for a killed child
INDEXES = {"roadworks_pkey", "roadworks_geom_idx", "roadworks_source_reference_key"}


def indexes(db) -> set[str]:
    db.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'roadworks'")
    return {name for (name,) in db.fetchall()}


def theme_fingerprint(db) -> str:
    db.execute("SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY fid), '')) FROM roadworks t")
    return db.fetchone()[0]


def first_load(frame, tmp_path: Path, url: str, region: Region, protocols: Protocols, **kw):
    path = write(frame, tmp_path / "first")
    return ingest_file(url, path, source(), region, protocols, **kw)


def test_a_first_bulk_load_quarantines_a_key_repeated_in_a_later_batch(
    many: int, db, tmp_path: Path, database_url: str, demo_region: Region, protocols: Protocols
) -> None:
    refs = [f"F-{i}" for i in range(many)] + ["F-0"]
    frame = works(refs)
    result = first_load(frame, tmp_path, database_url, demo_region, protocols, batch_size=100)
    assert (result.input, result.loaded, result.quarantined) == (many + 1, many, 1)
    assert (result.inserted, result.issues) == (many, {"duplicate-key": 1})
    db.execute("SELECT source_row, reason FROM quarantine WHERE run_id = %s", (result.run_id,))
    assert db.fetchall() == [
        (many, "the same key as feature 0 earlier in this file; give each feature its own value")
    ]
    assert indexes(db) >= INDEXES


def test_a_first_bulk_load_carries_the_same_provenance_as_a_merge(
    many: int, db, tmp_path: Path, database_url: str, demo_region: Region, protocols: Protocols
) -> None:
    result = first_load(
        works([f"F-{i}" for i in range(many)]), tmp_path, database_url, demo_region, protocols
    )
    db.execute(
        "SELECT count(*), count(DISTINCT fid), min(source_row), max(source_row), "
        "bool_and(loaded_at = valid_from), bool_and(publisher = 'trentvale'), "
        "bool_and(run_id = %s) FROM roadworks WHERE source = %s",
        (result.run_id, SOURCES[0]),
    )
    assert db.fetchone() == (many, many, 0, many - 1, True, True, True)


def test_a_first_bulk_load_of_lines_stores_every_vertex_where_proj_puts_it(
    many: int, db, tmp_path: Path, database_url: str, demo_region: Region, protocols: Protocols
) -> None:
    # lines of 1,200-1,500 vertices: enough coordinates for the reprojection to split them
    # over two threads
    vertices = 1_200 + np.arange(many) % 7 * 50
    frame = works([f"L-{i}" for i in range(many)])
    steps = [np.arange(n) * 1e-5 for n in vertices]
    lines = [
        shapely.linestrings(p.x + s, p.y + s * (n % 3))
        for p, s, n in zip(frame.geometry, steps, vertices, strict=True)
    ]
    frame = frame.set_geometry(lines, crs=4326)
    result = first_load(frame, tmp_path, database_url, demo_region, protocols)
    assert (result.loaded, result.quarantined) == (many, 0)
    db.execute(
        "SELECT ST_AsBinary(geom) FROM roadworks WHERE source = %s ORDER BY source_row",
        (SOURCES[0],),
    )
    stored = shapely.from_wkb([bytes(wkb) for (wkb,) in db.fetchall()])
    expected = frame.geometry.to_crs(27700).values
    assert (shapely.get_type_id(stored) == 1).all()
    assert (shapely.get_num_coordinates(stored) == vertices).all()
    coords = shapely.get_coordinates(stored)
    assert np.allclose(coords, shapely.get_coordinates(expected), atol=1e-6)


@pytest.mark.parametrize(
    "wkt",
    [
        "MULTIPOINT ((-1.15 52.95), EMPTY)",
        "MULTIPOLYGON (((-1.15 52.95, -1.14 52.95, -1.14 52.96, -1.15 52.95)), EMPTY)",
    ],
)
def test_a_first_bulk_load_of_parts_hiding_an_empty_one_accounts_for_every_feature(
    wkt: str,
    many: int,
    tmp_path: Path,
    database_url: str,
    demo_region: Region,
    protocols: Protocols,
) -> None:
    frame = works([f"E-{i}" for i in range(many)])
    frame = frame.set_geometry([shapely.from_wkt(wkt)] * many, crs=4326)
    result = first_load(frame, tmp_path, database_url, demo_region, protocols)
    assert result.input == result.loaded + result.quarantined == many


def test_a_first_bulk_load_killed_mid_load_leaves_the_theme_exactly_as_before(
    many: int, db, database_url: str, tmp_path: Path
) -> None:
    before = (theme_fingerprint(db), indexes(db))
    path = write(works([f"K-{i}" for i in range(max(many, 20_000))], state="Plan"), tmp_path)
    kill_after_two_batches(database_url, path, BULK_FROM_100)
    assert (theme_fingerprint(db), indexes(db)) == before


@pytest.fixture()
def empty_theme(database_url: str, protocols: Protocols, monkeypatch) -> Iterator[str]:
    """A database of its own whose themes hold nothing yet (a partnership's first load), with
    PostgreSQL's pg_visibility to see which pages are frozen; bulk from 100 features."""
    monkeypatch.setattr("ingest.load.BULK_ROWS", 100)
    with scratch_database(database_url, "regiongis_test_first") as url:
        with transaction(url) as cur:
            ensure_schema(cur, list(protocols.themes.values()))
            cur.execute("CREATE EXTENSION pg_visibility")
        yield url


def query(url: str, statement: str) -> list[tuple]:
    with transaction(url) as cur:
        cur.execute(statement)
        return cur.fetchall()


def every_page_frozen(url: str, table: str) -> bool:
    """What only a COPY FREEZE leaves behind straight after a load."""
    with transaction(url) as cur:
        cur.execute(
            "SELECT (SELECT all_frozen FROM pg_visibility_map_summary(%(t)s)), "
            "pg_relation_size(%(t)s) / current_setting('block_size')::int",
            {"t": table},
        )
        frozen, pages = cur.fetchone()
    return frozen == pages > 0


def test_a_first_load_into_an_empty_theme_writes_every_page_frozen(
    empty_theme: str, tmp_path: Path, demo_region: Region, protocols: Protocols
) -> None:
    frame = works([f"F-{i}" for i in range(300)])
    assert first_load(frame, tmp_path, empty_theme, demo_region, protocols).inserted == 300
    assert every_page_frozen(empty_theme, "roadworks")


def test_a_first_load_numbers_its_features_from_the_theme_sequence_and_moves_it_past_them(
    empty_theme: str, tmp_path: Path, demo_region: Region, protocols: Protocols
) -> None:
    first_load(works([f"F-{i}" for i in range(300)]), tmp_path, empty_theme, demo_region, protocols)
    later = write(works(["L-1", "L-2"]), tmp_path / "later")
    ingest_file(empty_theme, later, source(SOURCES[1]), demo_region, protocols)
    by_source = "SELECT source, min(fid), max(fid), count(*) FROM roadworks GROUP BY 1 ORDER BY 1"
    (first, lo, hi, n), (_, later_lo, _, _) = query(empty_theme, by_source)
    assert (first, hi - lo + 1, n) == (SOURCES[0], 300, 300)
    assert later_lo > hi


def test_a_first_load_into_an_empty_theme_quarantines_a_repeated_key_and_keeps_its_keys(
    empty_theme: str, tmp_path: Path, demo_region: Region, protocols: Protocols
) -> None:
    frame = works([f"F-{i}" for i in range(300)] + ["F-7"])
    result = first_load(frame, tmp_path, empty_theme, demo_region, protocols, batch_size=100)
    assert (result.loaded, result.quarantined, result.issues) == (300, 1, {"duplicate-key": 1})
    with transaction(empty_theme) as cur:
        assert indexes(cur) == INDEXES


def test_a_first_load_into_an_empty_theme_killed_mid_load_leaves_it_empty_and_indexed(
    empty_theme: str, tmp_path: Path
) -> None:
    path = write(works([f"K-{i}" for i in range(20_000)]), tmp_path)
    kill_after_two_batches(empty_theme, path, BULK_FROM_100)
    assert query(empty_theme, "SELECT count(*) FROM roadworks") == [(0,)]
    with transaction(empty_theme) as cur:
        assert indexes(cur) == INDEXES


PRESSURES = [0.0, 2.5, 3.0, 0.1, 12.345678901234, 24.99999, None]


def mains(n: int) -> gpd.GeoDataFrame:
    """Water mains (a theme with a decimal field, pressure_bar) near Nottingham."""
    x, y = NOTTINGHAM
    return gpd.GeoDataFrame(
        {
            "asset": [f"WM{i}" for i in range(n)],
            "mat": ["pvc"] * n,
            "dia": [125] * n,
            "bar": [PRESSURES[i % len(PRESSURES)] for i in range(n)],
        },
        geometry=[
            shapely.linestrings([(x + i * 1e-4, y), (x + i * 1e-4, y + 1e-4)]) for i in range(n)
        ],
        crs=4326,
    )


def load_mains(url: str, path: Path, region: Region, protocols: Protocols):
    fields = {"asset_id": "asset", "material": "mat", "diameter_mm": "dia", "pressure_bar": "bar"}
    doc = {"id": "mains", "publisher": "kestrel-water", "theme": "water-mains", "file": path.name}
    source = Source.model_validate({**doc, "fields": fields})
    return ingest_file(url, path, source, region, protocols)


def test_a_first_bulk_load_of_a_decimal_field_stores_what_postgresql_casts_it_to(
    empty_theme: str, tmp_path: Path, demo_region: Region, protocols: Protocols
) -> None:
    path = write(mains(300), tmp_path)
    assert load_mains(empty_theme, path, demo_region, protocols).inserted == 300
    assert every_page_frozen(empty_theme, "water_mains")  # COPYed straight in, numeric and all
    cast = (
        "SELECT array_agg(v::numeric::text ORDER BY o) "
        "FROM unnest(%s::float8[]) WITH ORDINALITY AS t(v, o)"
    )
    stored = "SELECT array_agg(pressure_bar::text ORDER BY source_row) FROM water_mains"
    with transaction(empty_theme) as cur:
        cur.execute(cast, (PRESSURES,))
        expected = cur.fetchone()
    assert query(empty_theme, stored + " WHERE source_row < 7") == [expected]


def test_a_decimal_field_bulk_copied_in_is_unchanged_when_staged_and_merged_again(
    empty_theme: str, tmp_path: Path, demo_region: Region, protocols: Protocols
) -> None:
    path = write(mains(300), tmp_path)
    load_mains(empty_theme, path, demo_region, protocols)
    again = load_mains(empty_theme, path, demo_region, protocols)
    assert (again.unchanged, again.updated, again.inserted) == (300, 0, 0)

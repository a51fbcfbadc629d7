"""The invariant, for whatever a publisher sends: input = loaded + quarantined, every feature is in
exactly one of the two, and what loads meets the protocol.

Hypothesis writes hostile files (unicode and control characters, SQL and script in attributes,
nulls, wrong types, bad dates, NaN and infinite coordinates, empty, invalid, huge and mixed
geometries, duplicate keys) as GeoJSON and CSV, and checks them through `check_file` (many
examples, no database) and through `ingest_file` into PostGIS (fewer examples).
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import psycopg2
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest.coordinates import as_geodataframe
from ingest.pipeline import check_file, checked_batches, ingest_file
from ingest.region import Region, Source, load_region
from protocols import Protocols, load_protocols
from server.settings import DEFAULT_CONFIG_DIR

FIELDS = {
    "reference": "ref",
    "works_type": {"from": "kind", "values": {"Resurface": "resurfacing", "Dig": "utility-repair"}},
    "status": {"from": "state", "values": {"Live": "in-progress", "Plan": "planned"}},
    "start_date": {"from": "starts", "format": ["%d/%m/%Y", "%Y-%m-%d"]},
    "end_date": {"from": "ends", "format": ["%d/%m/%Y", "%Y-%m-%d"]},
    "promoter": {"from": "who", "default": "Invariant Borough Council (fictional)"},
}
COMMON = {"publisher": "trentvale", "theme": "roadworks", "fields": FIELDS}
COMMON["where"] = {"state": {"not_in": ["Draft"]}}
GEOJSON = Source.model_validate({"id": "invariant-geojson", "file": "x.geojson", **COMMON})
CSV = Source.model_validate(
    {"id": "invariant-csv", "file": "x.csv", "csv": {"x": "X", "y": "Y"}, "crs": "EPSG:27700"}
    | COMMON
)
HOSTILE_TEXT = [
    "'; DROP TABLE roadworks; --",
    "<script>alert(1)</script>",
    "Robert'); DELETE FROM ingest_run; --",
    "\u202egnp.exe",
    "NULL",
    "null",
    "",
    " ",
    "\t\r\n",
    "1e309",
    "NaN",
    "-Infinity",
    "9" * 40,
    "%s %s",
    '{"a": [1, 2]}',
    "😀 Ω ß ǅ",
    "\\N",
    "a,b;c|d",
]
SETTINGS = {"deadline": None, "database": None, "suppress_health_check": list(HealthCheck)}

# ---- attribute values ----

any_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
text_without_nul = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00"),
    max_size=40,
)


def scalars(text: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.none(),
        text,
        st.sampled_from(HOSTILE_TEXT),
        st.integers(-(2**63), 2**63 - 1),  # GDAL refuses a whole file beyond int64
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
    )


date_text = st.one_of(
    st.dates().map(lambda d: d.strftime("%d/%m/%Y")),
    st.dates().map(str),
    st.sampled_from(["31/02/2026", "2026-13-45", "00/00/0000", "tomorrow", "03/11/26"]),
)


def properties(text: st.SearchStrategy) -> st.SearchStrategy[dict]:
    scalar = scalars(text)

    def like(*good: str) -> st.SearchStrategy:
        return st.one_of(st.sampled_from(good), scalar)

    return st.fixed_dictionaries(
        {
            "ref": st.one_of(st.sampled_from(["DUP-1", "DUP-2"]), text, scalar),
            "kind": like("Resurface", " dig ", "drainage", "EMERGENCY"),
            "state": like("Live", "Plan", "Draft", " draft ", "completed"),
            "starts": st.one_of(date_text, scalar),
            "ends": st.one_of(date_text, scalar),
            "who": st.one_of(text, scalar),
        }
    )


# ---- geometries (GeoJSON: lon/lat) ----

in_region = st.tuples(st.floats(-1.5, -0.7), st.floats(52.45, 53.15))
anywhere = st.tuples(st.floats(-180, 180), st.floats(-90, 90))
grid_as_lonlat = st.tuples(st.floats(4.4e5, 5e5), st.floats(3e5, 3.7e5))
not_finite = st.tuples(
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1.0]),
    st.sampled_from([float("nan"), float("inf"), 52.9]),
)
position = st.one_of(in_region, in_region, anywhere, grid_as_lonlat, not_finite).map(list)


def huge_line(n: int) -> dict:
    return {
        "type": "LineString",
        "coordinates": [[-1.2 + i * 1e-5, 52.9 + (i % 2) * 1e-5] for i in range(n)],
    }


geometry = st.one_of(
    st.none(),
    position.map(lambda p: {"type": "Point", "coordinates": p}),
    st.tuples(in_region, st.floats(-1e4, 1e4)).map(
        lambda p: {"type": "Point", "coordinates": [*p[0], p[1]]}
    ),
    st.lists(position, max_size=6).map(lambda c: {"type": "LineString", "coordinates": c}),
    st.lists(position, max_size=3).map(lambda c: {"type": "MultiPoint", "coordinates": c}),
    st.lists(position, min_size=0, max_size=6).map(
        lambda c: {"type": "Polygon", "coordinates": [c]}
    ),
    st.just(
        {
            "type": "Polygon",
            "coordinates": [[[-1.2, 52.9], [-1.1, 53.0], [-1.1, 52.9], [-1.2, 53.0], [-1.2, 52.9]]],
        }
    ),
    st.just({"type": "GeometryCollection", "geometries": []}),
    st.just({"type": "Point", "coordinates": []}),
    st.integers(2, 5_000).map(huge_line),
)

features = st.lists(
    st.tuples(properties(any_text), geometry).map(
        lambda pg: {"type": "Feature", "properties": pg[0], "geometry": pg[1]}
    ),
    min_size=1,
    max_size=25,
)

# ---- CSV rows (British National Grid x/y as text) ----

coordinate_text = st.one_of(
    st.floats(4.4e5, 5e5).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", "abc", "1,5", "-1.15", "NaN", "inf"]),
)
csv_rows = st.lists(
    st.tuples(properties(text_without_nul), coordinate_text, st.floats(3e5, 3.7e5).map(str)),
    min_size=1,
    max_size=25,
)


def write_geojson(folder: Path, rows: list[dict]) -> Path:
    path = folder / "x.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": rows}), encoding="utf-8")
    return path


def write_csv(folder: Path, rows: list[tuple[dict, str, str]]) -> Path:
    path = folder / "x.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f, quoting=csv.QUOTE_ALL)
        out.writerow([*rows[0][0], "X", "Y"])
        for props, x, y in rows:
            out.writerow([*("" if v is None else str(v) for v in props.values()), x, y])
    return path


@cache
def region() -> Region:
    return load_region(DEFAULT_CONFIG_DIR, Path(tempfile.gettempdir()))


@cache
def protocols() -> Protocols:
    return load_protocols()


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="regiongis-invariant-") as folder:
        yield Path(folder)


def assert_accounted_for(path: Path, source: Source, written: int) -> None:
    theme, rows = protocols().themes["roadworks"], set(range(written))
    batches = list(checked_batches(path, source, region(), protocols()))
    loaded = set().union(*(b.loadable.index for b in batches))
    quarantined = set().union(*(b.reasons.index for b in batches))
    assert loaded | quarantined == rows and not loaded & quarantined
    for batch in batches:
        assert set(batch.issues["row"]) <= rows
        good = as_geodataframe(batch.loadable)
        assert good.geometry.notna().all() and not good.geometry.is_empty.any()
        assert good.geometry.is_valid.all()
        for spec in (f for f in theme.fields if f.required):
            assert good[spec.name].notna().all(), spec.name
    result = check_file(path, source, region(), protocols()).result(source)
    assert result.input == written == result.loaded + result.quarantined
    assert result.quarantined == len(quarantined)


@settings(max_examples=80, **SETTINGS)
@given(rows=features)
def test_every_geojson_feature_is_loaded_or_quarantined(rows, scratch) -> None:
    assert_accounted_for(write_geojson(scratch, rows), GEOJSON, len(rows))


@settings(max_examples=50, **SETTINGS)
@given(rows=csv_rows)
def test_every_csv_row_is_loaded_or_quarantined(rows, scratch) -> None:
    assert_accounted_for(write_csv(scratch, rows), CSV, len(rows))


@pytest.fixture(scope="module")
def cursor(database_url: str) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor for counting, and the invariant sources' rows removed when the module is done."""
    conn = psycopg2.connect(database_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        yield cur
        ids = [GEOJSON.id, CSV.id]
        cur.execute("DELETE FROM roadworks WHERE source = ANY(%s)", (ids,))
        cur.execute("SELECT to_regclass('roadworks_history') IS NOT NULL")
        if cur.fetchone()[0]:
            cur.execute("DELETE FROM roadworks_history WHERE source = ANY(%s)", (ids,))
        cur.execute("DELETE FROM ingest_run WHERE source = ANY(%s)", (ids,))
    conn.close()


def assert_stored(cur, result, written: int, source: Source) -> None:
    assert result.input == written == result.loaded + result.quarantined
    cur.execute("SELECT count(*) FROM roadworks WHERE source = %s", (source.id,))
    assert cur.fetchone()[0] == result.loaded
    cur.execute("SELECT count(*) FROM quarantine WHERE run_id = %s", (result.run_id,))
    assert cur.fetchone()[0] == result.quarantined
    cur.execute("SELECT input, loaded, quarantined FROM ingest_run WHERE id = %s", (result.run_id,))
    assert cur.fetchone() == (result.input, result.loaded, result.quarantined)


HUGE_NUMBER = [  # a float pandas' JSON writer rounds past the largest double, to Infinity
    {
        "type": "Feature",
        "properties": {
            **dict.fromkeys(["ref", "kind", "state", "ends", "who"]),
            "starts": 1.7976931348e308,
        },
        "geometry": None,
    }
]


@settings(max_examples=20, **SETTINGS)
@given(rows=features)
@example(rows=HUGE_NUMBER)
def test_every_geojson_feature_is_stored_or_quarantined_in_postgis(
    rows, scratch, database_url, cursor
) -> None:
    path = write_geojson(scratch, rows)
    result = ingest_file(database_url, path, GEOJSON, region(), protocols())
    assert_stored(cursor, result, len(rows), GEOJSON)


@settings(max_examples=10, **SETTINGS)
@given(rows=csv_rows)
def test_every_csv_row_is_stored_or_quarantined_in_postgis(
    rows, scratch, database_url, cursor
) -> None:
    result = ingest_file(database_url, write_csv(scratch, rows), CSV, region(), protocols())
    assert_stored(cursor, result, len(rows), CSV)

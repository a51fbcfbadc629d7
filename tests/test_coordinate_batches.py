"""A batch of plain 2D points or lines (present, non-empty, finite) is read as coordinate arrays
(a PointFrame or LineFrame), not as shapely objects; points are reprojected and validated from
their coordinate array, not by the general geometry rules. The same issues, quarantine and
loaded rows either way."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import test_loading
from test_loading import SOURCES, source, works, write

from ingest import load
from ingest import validate as validation
from ingest.coordinates import LineFrame, PointFrame, RingFrame, attributes
from ingest.harmonise import harmonise
from ingest.pipeline import RunResult, ingest_file
from ingest.read import open_batches
from ingest.region import Region, Source
from protocols import Protocols

_forget_loading_sources = test_loading._forget_loading_sources
BBOX = (436000.0, 299000.0, 506000.0, 373000.0)
# inside, on each edge and corner, just outside, far outside, at 0,0, and lon/lat read as metres
PLAIN = [(470000, 330000), (436000, 330000), (506000, 373000), (435999.9, 330000)]
PLAIN += [(600000, 900000), (0, 0), (-1.15, 52.95), (470000, 299000)]
ODD = ["POINT EMPTY", None, "POINT (470000 NaN)", "POINT (Infinity 330000)"]
ODD_LINES = [
    "LINESTRING EMPTY",
    None,
    "LINESTRING (-1.15 52.95, -1.14 NaN)",
    "POINT (-1.15 52.95)",
]
QUARANTINE_SQL = (
    "SELECT source_row, reason, ST_AsText(geom) FROM quarantine WHERE run_id = %(run)s "
    "ORDER BY 1, 2"
)
ISSUES_SQL = (
    "SELECT source_row, field, rule, severity, message, value FROM issue_log "
    "WHERE run_id = %(run)s ORDER BY 1, 2, 3, 4, 5, 6"
)
LIVE_SQL = "SELECT source_row, ST_AsText(geom) FROM roadworks WHERE source = %(source)s ORDER BY 1"
ODD_POLYGONS = [
    "POLYGON EMPTY",
    None,
    "POLYGON ((-1.2 52.9, -1.1 52.9, -1.1 53, -1.2 52.9), (-1.15 52.92, -1.12 52.92, "
    "-1.12 52.95, -1.15 52.92))",  # a hole
    "POINT (-1.15 52.95)",  # (a multipolygon beside them would make the writer promote all)
]
COVERAGE = {  # broadband-coverage from the roadworks test file's columns
    "area_id": "ref",
    "speed_tier": {"value": "gigabit"},
    "max_download_mbps": {"value": "900"},
    "technology": {"value": "fttp"},
    "as_at": {"from": "starts", "format": "%d/%m/%Y"},
}


def harmonised(geometry: list, protocols: Protocols) -> gpd.GeoDataFrame:
    """Features as harmonise leaves them, given in the roadworks theme's storage CRS."""
    raw = works([f"P-{i}" for i in range(len(geometry))])
    raw = raw.set_geometry(gpd.GeoSeries(geometry)).set_crs(27700, allow_override=True)
    theme = protocols.themes["roadworks"]
    return harmonise(raw, source(), theme, protocols)[0]


def test_plain_points_get_the_same_issues_as_in_a_batch_the_general_rules_check(
    protocols: Protocols,
) -> None:
    theme = protocols.themes["roadworks"]
    plain = harmonised(list(shapely.points(PLAIN)), protocols)
    mixed = harmonised(list(shapely.points(PLAIN)) + [shapely.from_wkt(w) for w in ODD], protocols)
    assert validation._plain_points(plain.geometry, theme) is not None
    assert validation._plain_points(mixed.geometry, theme) is None
    fast_clean, fast_found = validation.validate(plain, theme, BBOX)
    clean, found = validation.validate(mixed, theme, BBOX)
    shared = found[found["row"] < len(PLAIN)].reset_index(drop=True)
    assert set(fast_found["rule"]) == {"out-of-region"}
    pd.testing.assert_frame_equal(fast_found, shared)
    assert shapely.equals(fast_clean.geometry.values, clean.geometry.values[: len(PLAIN)]).all()


def with_odd_ones(frame: gpd.GeoDataFrame, odd_ones: list[str | None], folder: Path) -> Path:
    """The frame, then its odd features (in batches of 4, a batch of their own), as a file."""
    odd = works([f"ODD-{i}" for i in range(len(odd_ones))])
    odd["geometry"] = [shapely.from_wkt(w) for w in odd_ones]
    return write(pd.concat([frame, odd], ignore_index=True), folder / "batches")


def loaded_alike(
    db,
    path: Path,
    url: str,
    region: Region,
    protocols: Protocols,
    make_source: Callable[[str], Source] = source,
) -> RunResult:
    """The file loaded in batches of 4 (all but the last read as coordinates) and in one batch
    (which holds the odd features, so the general rules check it): the same issues, counts,
    quarantine, issue log and live rows. The batched run's result."""
    with open_batches(path, make_source(SOURCES[0]), batch_size=4) as batches:
        kinds = [type(frame) for frame in batches.frames]
    assert kinds[-1] is gpd.GeoDataFrame and gpd.GeoDataFrame not in kinds[:-1]
    results = [
        ingest_file(url, path, make_source(sid), region, protocols, batch_size=size)
        for sid, size in zip(SOURCES, (4, 1000), strict=True)
    ]
    live = LIVE_SQL.replace("roadworks", protocols.themes[make_source(SOURCES[0]).theme].table)
    assert results[0].issues == results[1].issues
    counts = [(r.input, r.loaded, r.quarantined) for r in results]
    assert counts[0] == counts[1]
    for query in (QUARANTINE_SQL, ISSUES_SQL, live):
        rows = []
        for sid, result in zip(SOURCES, results, strict=True):
            db.execute(query, {"run": result.run_id, "source": sid})
            rows.append(str(db.fetchall()).replace(sid, "the-source"))  # messages name it
        assert rows[0] == rows[1]
    return results[0]


def test_a_load_in_plain_point_batches_matches_one_the_general_rules_check(
    db, tmp_path: Path, database_url: str, demo_region: Region, protocols: Protocols
) -> None:
    frame = works([f"P-{i}" for i in range(12)])
    # outside the region; and a latitude PROJ cannot move (infinity), in a batch read as points
    outside = shapely.points([(-3.0, 52.9), (0.0, 0.0), (-1.2, 58.0), (-1.2, 95.0)])
    frame.loc[[2, 5, 9, 10], "geometry"] = outside
    path = with_odd_ones(frame, ODD, tmp_path)
    result = loaded_alike(db, path, database_url, demo_region, protocols)
    assert result.issues["out-of-region"] == 3
    assert result.issues["geometry-coordinates"] == 3  # NaN, infinity, and latitude 95
    assert (result.input, result.loaded, result.quarantined) == (16, 8, 8)


def lines(starts: list[tuple[float, float]]) -> list[shapely.LineString]:
    """Lines of 3 to 5 vertices about 10 m a step, from each start."""
    return [
        shapely.linestrings([(x + i * 1e-4, y + (i % 2) * 1e-4) for i in range(3 + n % 3)])
        for n, (x, y) in enumerate(starts)
    ]


def test_a_load_in_plain_line_batches_matches_one_the_general_rules_check(
    db, tmp_path: Path, database_url: str, demo_region: Region, protocols: Protocols
) -> None:
    frame = works([f"L-{i}" for i in range(16)])
    starts = [(p.x, p.y) for p in frame.geometry]
    # batches of 4: the first and last clean (checked on their vertices), one with lines
    # outside the region, one with a line PROJ cannot move and one of a single place
    starts[5], starts[6], starts[10] = (-3.0, 52.9), (0.0, 0.0), (-1.2, 95.0)
    frame["geometry"] = lines(starts)
    frame.loc[9, "geometry"] = shapely.from_wkt("LINESTRING (-1.15 52.95, -1.15 52.95)")
    frame.loc[13, "starts"] = "not a date"  # quarantined from a clean batch: the rest load
    path = with_odd_ones(frame, ODD_LINES, tmp_path)
    result = loaded_alike(db, path, database_url, demo_region, protocols)
    assert result.issues["out-of-region"] == 2 and result.quarantined > 4


def read_as_geometry(frame: gpd.GeoDataFrame, odd: str | None, folder: Path) -> bool:
    """Whether the two features, the second made odd, come back as one general batch."""
    frame.loc[1, "geometry"] = shapely.from_wkt(odd) if odd else None
    with open_batches(write(frame, folder), source()) as batches:
        (read,) = batches.frames
    return isinstance(read, gpd.GeoDataFrame) and len(read) == 2


def test_a_layer_of_plain_points_is_read_as_coordinates(tmp_path: Path) -> None:
    frame = works([f"P-{i}" for i in range(5)])
    with open_batches(write(frame, tmp_path), source()) as batches:
        (read,) = batches.frames
    assert isinstance(read, PointFrame) and read.crs.to_epsg() == 4326
    assert (read.xy == shapely.get_coordinates(frame.geometry.values)).all()
    assert list(attributes(read).columns) == list(frame.columns.drop("geometry"))


@pytest.mark.parametrize("odd", ODD + ["POINT Z (-1.1 52.9 10)", "MULTIPOINT ((-1.1 52.9))"])
def test_a_batch_holding_anything_but_plain_points_is_read_as_geometry(
    odd: str | None, tmp_path: Path
) -> None:
    assert read_as_geometry(works(["P-0", "P-1"]), odd, tmp_path)


def test_a_layer_of_plain_lines_is_read_as_its_vertices(tmp_path: Path) -> None:
    frame = works([f"L-{i}" for i in range(5)])
    frame["geometry"] = lines([(p.x, p.y) for p in frame.geometry])
    with open_batches(write(frame, tmp_path), source()) as batches:
        (read,) = batches.frames
    assert isinstance(read, LineFrame) and read.crs.to_epsg() == 4326
    assert list(read.vertices()[1]) == [3, 4, 5, 3, 4]
    assert shapely.equals_exact(
        read.to_geodataframe().geometry.values, frame.geometry.values, 0
    ).all()


@pytest.mark.parametrize(
    "odd",
    [*ODD_LINES, "LINESTRING Z (-1.15 52.95 1, -1.14 52.95 2)", "MULTILINESTRING ((-1 53, -1 54))"],
)
def test_a_batch_holding_anything_but_plain_lines_is_read_as_geometry(
    odd: str | None, tmp_path: Path
) -> None:
    frame = works(["L-0", "L-1"])
    frame["geometry"] = lines([(p.x, p.y) for p in frame.geometry])
    assert read_as_geometry(frame, odd, tmp_path)


def cells(centres: list[tuple[float, float]]) -> list[shapely.Polygon]:
    """Hexagons about 150 m across, around each centre."""
    turn = np.linspace(0, 2 * np.pi, 7)
    ring = np.column_stack([0.0011 * np.cos(turn), 0.00068 * np.sin(turn)])
    return [shapely.Polygon(ring + centre) for centre in centres]


def coverage_source(source_id: str) -> Source:
    return Source.model_validate(
        {
            "id": source_id,
            "publisher": "trentvale",
            "theme": "broadband-coverage",
            "file": "cells.gpkg",
            "fields": COVERAGE,
        }
    )


@pytest.fixture()
def _forget_coverage(db) -> Iterator[None]:
    yield
    db.execute("DELETE FROM broadband_coverage WHERE source = ANY(%s)", (SOURCES,))


def test_a_layer_of_plain_polygons_is_read_as_their_rings(tmp_path: Path) -> None:
    frame = works([f"C-{i}" for i in range(5)])
    frame["geometry"] = cells([(p.x, p.y) for p in frame.geometry])
    with open_batches(write(frame, tmp_path), source()) as batches:
        (read,) = batches.frames
    assert isinstance(read, RingFrame) and list(read.vertices()[1]) == [7] * 5
    assert not read.multi
    assert shapely.equals_exact(
        read.to_geodataframe().geometry.values, frame.geometry.values, 0
    ).all()


@pytest.mark.parametrize(
    "odd",
    [
        *ODD_POLYGONS,
        "POLYGON Z ((-1 53 1, -1 54 1, -2 54 1, -1 53 1))",
        "MULTIPOLYGON (((-1.2 52.9, -1.1 52.9, -1.1 53, -1.2 52.9)), "
        "((-1 52.9, -0.9 52.9, -0.9 53, -1 52.9)))",  # two parts
    ],
)
def test_a_batch_holding_anything_but_plain_polygons_is_read_as_geometry(
    odd: str | None, tmp_path: Path
) -> None:
    frame = works(["C-0", "C-1"])
    frame["geometry"] = cells([(p.x, p.y) for p in frame.geometry])
    assert read_as_geometry(frame, odd, tmp_path)


@pytest.mark.usefixtures("_forget_coverage")
def test_a_load_in_plain_polygon_batches_matches_one_the_general_rules_check(
    db, tmp_path: Path, database_url: str, demo_region: Region, protocols: Protocols
) -> None:
    frame = works([f"C-{i}" for i in range(16)])
    centres = [(p.x + i * 0.003, p.y) for i, p in enumerate(frame.geometry)]
    # batches of 4: the first and last clean (checked on their rings); one with a ring that
    # crosses itself (repaired by the general rules), one with a polygon outside the region
    centres[9] = (-3.0, 52.9)
    frame["geometry"] = cells(centres)
    frame.loc[5, "geometry"] = shapely.from_wkt(
        "POLYGON ((-1.15 52.95, -1.14 52.96, -1.14 52.95, -1.15 52.96, -1.15 52.95))"
    )
    frame.loc[13, "starts"] = "not a date"  # quarantined from a clean batch: the rest load
    path = with_odd_ones(frame, ODD_POLYGONS, tmp_path)
    result = loaded_alike(db, path, database_url, demo_region, protocols, coverage_source)
    assert result.issues["out-of-region"] == 1 and result.issues["date-value"] == 1
    assert result.loaded >= 12


@pytest.mark.usefixtures("_forget_coverage")
def test_a_load_in_single_part_multipolygon_batches_matches_one_the_general_rules_check(
    db, tmp_path: Path, database_url: str, demo_region: Region, protocols: Protocols
) -> None:
    """As many writers send polygons: each a multipolygon of one; the theme stores polygons."""
    frame = works([f"M-{i}" for i in range(8)])
    centres = [(p.x + i * 0.003, p.y) for i, p in enumerate(frame.geometry)]
    frame["geometry"] = [shapely.MultiPolygon([cell]) for cell in cells(centres)]
    frame.loc[6, "starts"] = "not a date"
    two_parts = shapely.MultiPolygon(cells([(-1.15, 52.95), (-1.14, 52.95)]))
    odd_ones = ["MULTIPOLYGON EMPTY", None, two_parts.wkt]
    path = with_odd_ones(frame, odd_ones, tmp_path)
    result = loaded_alike(db, path, database_url, demo_region, protocols, coverage_source)
    assert result.issues["geometry-multi"] == 8  # every single-part one, recorded
    assert (result.loaded, result.quarantined) == (8, 3)  # a bad date, the empty, the null


@pytest.mark.parametrize(
    "wkt",
    [
        ["POINT (1 2)", "POINT (3 4)"],
        ["LINESTRING (0 0, 1 1)", "LINESTRING (2 2, 3 3, 4 2)"],
        ["POLYGON ((0 0, 1 0, 1 1, 0 0))", "POLYGON ((5 5, 6 5, 6 6, 5 6, 5 5))"],
        ["POLYGON ((0 0, 3 0, 3 3, 0 0), (1 1, 2 1, 2 2, 1 1))", "POLYGON ((5 5, 6 5, 6 6, 5 5))"],
    ],
)
def test_the_copy_gets_shapelys_own_wkb_whoever_lays_it_out(wkt: list[str]) -> None:
    geometry = shapely.from_wkt(wkt)
    frame = gpd.GeoDataFrame({"n": range(len(wkt))}, geometry=geometry)
    assert load._wkb(frame).to_pylist() == list(shapely.to_wkb(geometry))

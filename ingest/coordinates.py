"""Batches of plain 2D points, lines or polygons carried as coordinate arrays, not shapely
objects.

Most big files are plain points (lamps, addresses, planning sites) or plain lines (roadworks,
mains). Making a shapely object a point costs about half a microsecond, and a load used to make
each feature twice (as read, and again once reprojected) and free both: for points a third of the
checking thread's time. Read straight from GDAL's WKB by numpy, and kept to the COPY:

- a PointFrame is the batch's attributes plus two coordinate columns, in a CRS. Reprojection,
  validation and the COPY's WKB all work on the coordinates; only the features that need a
  geometry object (quarantined ones, a report's map) get one, and a batch the coordinates cannot
  settle (a theme that stores multipoints, a point PROJ could not move) becomes a GeoDataFrame.
- a LineFrame is the batch's attributes plus all its vertices in one array, and where each
  line's lie in it. Reprojected as one array; when every line has two vertices apart (so GEOS
  would find it valid) and lies inside the region's box, the general rules have nothing to
  repair or refuse and the COPY's WKB is laid out from the vertices; otherwise the batch
  becomes a GeoDataFrame for the general rules.
- a RingFrame is a LineFrame of polygons without holes (coverage cells, parcels, sites), each
  held as its one closed ring; GEOS judges their validity (a ring may cross itself).

Anything else (Z or M, empties, nulls, mixed kinds, non-finite numbers, big-endian WKB) is read
into a GeoDataFrame and takes the general path.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyproj import CRS

X, Y = "__regiongis_x", "__regiongis_y"
START, END = "__regiongis_start", "__regiongis_end"
POINT_WKB = np.dtype([("order", "u1"), ("kind", "<u4"), ("x", "<f8"), ("y", "<f8")])
LINE_WKB_HEAD = np.dtype([("order", "u1"), ("kind", "<u4"), ("count", "<u4")])
RING_WKB_HEAD = np.dtype([("order", "u1"), ("kind", "<u4"), ("rings", "<u4"), ("count", "<u4")])
MULTI_RING_WKB_HEAD = np.dtype(  # a multipolygon of one polygon of one ring
    [("order", "u1"), ("kind", "<u4"), ("parts", "<u4")]
    + [("part_order", "u1"), ("part_kind", "<u4"), ("rings", "<u4"), ("count", "<u4")]
)
LITTLE_ENDIAN, WKB_POINT, WKB_LINESTRING, WKB_POLYGON, WKB_MULTIPOLYGON = 1, 1, 2, 3, 6
MAX_BINARY = 2**31 - 1  # bytes an Arrow binary array can hold


class PointFrame(pd.DataFrame):
    """Attributes, x/y columns and `crs` (kept through loc, drop and column selection)."""

    _metadata = ["crs"]

    @property
    def _constructor(self) -> type[PointFrame]:
        return PointFrame

    @classmethod
    def of(cls, attributes: pd.DataFrame, xy: np.ndarray, crs: CRS) -> PointFrame:
        frame = cls(attributes)
        frame[X], frame[Y] = xy[:, 0], xy[:, 1]
        frame.crs = crs
        return frame

    @property
    def xy(self) -> np.ndarray:
        return np.column_stack([self[X].to_numpy(), self[Y].to_numpy()])

    def to_geodataframe(self) -> gpd.GeoDataFrame:
        geometry = gpd.GeoSeries(shapely.points(self.xy), index=self.index, crs=self.crs)
        return gpd.GeoDataFrame(attributes(self), geometry=geometry)


class LineFrame(pd.DataFrame):
    """Attributes, and where each line's vertices lie (START, END columns) in `coords`, the
    batch's vertex array, in `crs`. Rows taken out (features quarantined) leave the array as it
    is: the lines still standing are found by their own START and END."""

    _metadata = ["crs", "coords"]
    KIND = "LineString"  # what the frame's rows are, as a theme's geometry_types names it

    @property
    def _constructor(self) -> type[LineFrame]:
        return LineFrame

    @classmethod
    def of(
        cls, attributes: pd.DataFrame, coords: np.ndarray, offsets: np.ndarray, crs: CRS
    ) -> LineFrame:
        frame = cls(attributes)
        frame[START], frame[END] = offsets[:-1], offsets[1:]
        frame.crs, frame.coords = crs, coords
        return frame

    def moved(self, attributes: pd.DataFrame, coords: np.ndarray, crs: CRS) -> LineFrame:
        """These lines with new attributes and their vertices moved (reprojected) in place."""
        frame = type(self)(attributes)
        frame[START], frame[END] = self[START], self[END]
        for name in self._metadata:
            setattr(frame, name, getattr(self, name))
        frame.crs, frame.coords = crs, coords
        return frame

    def vertices(self) -> tuple[np.ndarray, np.ndarray]:
        """The vertices of these lines, line after line, and how many each has."""
        starts, ends = self[START].to_numpy(), self[END].to_numpy()
        counts = ends - starts
        whole = len(starts) and starts[0] == 0 and ends[-1] == len(self.coords)
        if whole and (starts[1:] == ends[:-1]).all():
            return self.coords, counts
        at = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        return self.coords[at], counts

    def bounds(self) -> np.ndarray:
        """minx, miny, maxx, maxy a line."""
        coords, counts = self.vertices()
        starts = np.cumsum(counts) - counts
        low = np.minimum.reduceat(coords, starts)
        high = np.maximum.reduceat(coords, starts)
        return np.column_stack([low, high])

    def simple_enough(self) -> bool:
        """Whether every line has two vertices apart (so GEOS finds it valid) and only finite
        coordinates: then the general rules have nothing to repair."""
        coords, counts = self.vertices()
        if not np.isfinite(coords).all():
            return False
        moves = np.zeros(len(coords), bool)
        moves[:-1] = (coords[1:] != coords[:-1]).any(axis=1)
        starts = np.cumsum(counts) - counts
        moves[starts + counts - 1] = False  # from one line's end to the next line's start
        return bool(np.logical_or.reduceat(moves, starts).all())

    def geometries(self) -> np.ndarray:
        coords, counts = self.vertices()
        offsets = np.concatenate([[0], np.cumsum(counts)])
        return shapely.from_ragged_array(shapely.GeometryType.LINESTRING, coords, (offsets,))

    def to_geodataframe(self) -> gpd.GeoDataFrame:
        geometry = gpd.GeoSeries(self.geometries(), index=self.index, crs=self.crs)
        return gpd.GeoDataFrame(attributes(self), geometry=geometry)

    def wkb(self) -> pa.Array | None:
        return line_wkb(*self.vertices())


class RingFrame(LineFrame):
    """Polygons of one ring each (no holes), held as their rings: a ring is a closed line, so
    reading, reprojecting, boxing and writing WKB go as for lines. A ring may cross itself,
    though, so whether the general rules have nothing to repair is GEOS's to say. `multi`: the
    file sent each as a multipolygon of that one polygon (as many writers do)."""

    _metadata = [*LineFrame._metadata, "multi"]
    KIND = "Polygon"
    multi = False

    @property
    def _constructor(self) -> type[RingFrame]:
        return RingFrame

    @classmethod
    def of(
        cls,
        attributes: pd.DataFrame,
        coords: np.ndarray,
        offsets: np.ndarray,
        crs: CRS,
        multi: bool = False,
    ) -> RingFrame:
        frame = super().of(attributes, coords, offsets, crs)
        frame.multi = multi
        return frame

    def as_polygons(self) -> RingFrame:
        """These features as polygons, however the file sent them."""
        frame = self.copy(deep=False)
        frame.multi = False
        return frame

    def geometries(self) -> np.ndarray:
        coords, counts = self.vertices()
        rings = np.concatenate([[0], np.cumsum(counts)])
        each = np.arange(len(counts) + 1)  # one ring a polygon, one polygon a multipolygon
        if self.multi:
            kind, offsets = shapely.GeometryType.MULTIPOLYGON, (rings, each, each)
        else:
            kind, offsets = shapely.GeometryType.POLYGON, (rings, each)
        return shapely.from_ragged_array(kind, coords, offsets)

    def simple_enough(self) -> bool:
        """Whether every polygon is valid, as GEOS judges it, with finite coordinates."""
        coords, _ = self.vertices()
        return bool(np.isfinite(coords).all() and shapely.is_valid(self.geometries()).all())

    def wkb(self) -> pa.Array | None:
        """Polygons' WKB: a multipolygon of one is stored as its polygon (validate said so)."""
        return line_wkb(*self.vertices(), head=RING_WKB_HEAD)


def _binary_parts(wkb: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """The offsets and bytes of a WKB column with no nulls; else None."""
    if isinstance(wkb, pa.ExtensionArray):
        wkb = wkb.storage
    if len(wkb) == 0 or wkb.null_count or not pa.types.is_binary(wkb.type):
        return None
    offsets = np.frombuffer(wkb.buffers()[1], np.int32)[wkb.offset : wkb.offset + len(wkb) + 1]
    return offsets, np.frombuffer(wkb.buffers()[2], np.uint8)


def plain_xy(wkb: pa.Array) -> np.ndarray | None:
    """The x/y of a WKB column when every value is a little-endian 2D point with finite
    coordinates (what GDAL hands over for a point layer); else None."""
    parts = _binary_parts(wkb)
    if parts is None or not (np.diff(parts[0]) == POINT_WKB.itemsize).all():
        return None
    offsets, data = parts
    body = data[offsets[0] : offsets[-1]].view(POINT_WKB)
    if not ((body["order"] == LITTLE_ENDIAN).all() and (body["kind"] == WKB_POINT).all()):
        return None
    xy = np.column_stack([body["x"], body["y"]])
    return xy if np.isfinite(xy).all() else None  # POINT EMPTY is NaN, NaN


def _vertex_runs(
    wkb: pa.Array, head: np.dtype, kind: int, fewest: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The vertices and offsets of a WKB column when every value is a little-endian 2D value of
    the kind whose header is head (for a polygon: of one ring), with at least fewest finite
    vertices; else None."""
    parts = _binary_parts(wkb)
    if parts is None:
        return None
    offsets, data = parts
    sizes = np.diff(offsets)
    if not (sizes >= head.itemsize + 16 * fewest).all():
        return None
    head_bytes = (offsets[:-1, None] + np.arange(head.itemsize)).ravel()
    heads = data[head_bytes].view(head)
    counts = heads["count"].astype(np.int64)
    plain = (heads["order"] == LITTLE_ENDIAN) & (heads["kind"] == kind)
    if "rings" in head.names:
        plain &= heads["rings"] == 1
    if "parts" in head.names:
        plain &= (heads["parts"] == 1) & (heads["part_order"] == LITTLE_ENDIAN)
        plain &= heads["part_kind"] == WKB_POLYGON
    if not (plain.all() and (sizes == head.itemsize + 16 * counts).all()):
        return None
    vertex = np.ones(offsets[-1] - offsets[0], bool)
    vertex[head_bytes - offsets[0]] = False
    coords = data[offsets[0] : offsets[-1]][vertex].view("<f8").reshape(-1, 2)
    if not np.isfinite(coords).all():
        return None
    return coords, np.concatenate([[0], np.cumsum(counts)])


def plain_lines(wkb: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """The vertices and line offsets of a WKB column when every value is a little-endian 2D
    linestring of two or more finite vertices; else None."""
    return _vertex_runs(wkb, LINE_WKB_HEAD, WKB_LINESTRING, 2)


def plain_rings(wkb: pa.Array) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """The vertices and ring offsets of a WKB column when every value is a little-endian 2D
    polygon of one closed ring of four or more finite vertices, or every value a multipolygon
    of one such polygon (and which); else None."""
    for head, kind, multi in [
        (RING_WKB_HEAD, WKB_POLYGON, False),
        (MULTI_RING_WKB_HEAD, WKB_MULTIPOLYGON, True),
    ]:
        runs = _vertex_runs(wkb, head, kind, 4)
        if runs is not None:
            coords, offsets = runs
            closed = (coords[offsets[:-1]] == coords[offsets[1:] - 1]).all()
            return (coords, offsets, multi) if closed else None
    return None


def line_wkb(
    coords: np.ndarray, counts: np.ndarray, head: np.dtype = LINE_WKB_HEAD
) -> pa.Array | None:
    """WKB for 2D lines (or, given RING_WKB_HEAD, polygons of one ring), byte for byte what
    shapely's to_wkb writes: each header (laid out by numpy) joined by Arrow to its vertices,
    read in place from the vertex array; None if the batch is too big for one Arrow array."""
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(16 * counts, out=offsets[1:])
    if offsets[-1] + head.itemsize * len(counts) > MAX_BINARY:
        return None
    heads = np.empty(len(counts), head)
    heads["order"], heads["count"] = LITTLE_ENDIAN, counts
    if "rings" in head.names:
        heads["kind"], heads["rings"] = WKB_POLYGON, 1
    else:
        heads["kind"] = WKB_LINESTRING
    head_array = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(head.itemsize), len(counts), [None, pa.py_buffer(heads)]
    ).cast(pa.binary())
    vertices = pa.py_buffer(np.ascontiguousarray(coords, "<f8"))
    body = pa.BinaryArray.from_buffers(
        pa.binary(), len(counts), [None, pa.py_buffer(offsets.astype(np.int32)), vertices]
    )
    return pc.binary_join_element_wise(head_array, body, b"")


def point_wkb(xy: np.ndarray) -> pa.Array:
    """WKB for 2D points laid out by numpy, byte for byte what shapely's to_wkb writes."""
    wkb = np.empty(len(xy), POINT_WKB)
    wkb["order"], wkb["kind"], wkb["x"], wkb["y"] = LITTLE_ENDIAN, WKB_POINT, xy[:, 0], xy[:, 1]
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(POINT_WKB.itemsize), len(xy), [None, pa.py_buffer(wkb)]
    ).cast(pa.binary())


def attributes(frame: pd.DataFrame) -> pd.DataFrame:
    """A batch's columns other than its geometry, as a plain DataFrame."""
    if isinstance(frame, PointFrame):
        return pd.DataFrame(frame.drop(columns=[X, Y]))
    if isinstance(frame, LineFrame):
        return pd.DataFrame(frame.drop(columns=[START, END]))
    return pd.DataFrame(frame.drop(columns=frame.geometry.name))


def geometry_of(frame: pd.DataFrame, rows: pd.Index | pd.Series) -> gpd.GeoSeries:
    """Geometry objects for some rows (a boolean mask or labels) of any kind of frame."""
    if isinstance(frame, PointFrame):
        picked = frame.loc[rows, [X, Y]]
        return gpd.GeoSeries(shapely.points(picked.to_numpy()), index=picked.index, crs=frame.crs)
    return as_geodataframe(frame).geometry.loc[rows]


def as_geodataframe(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    if isinstance(frame, PointFrame | LineFrame):
        return frame.to_geodataframe()
    return frame

"""Batches of plain 2D points carried as x/y coordinates from read to load.

Most big files are points (lamps, addresses, planning sites). Making a shapely object a point
costs about half a microsecond, and a point load used to make two (as read, and again once
reprojected) and free them: a third of the checking thread's time. A PointFrame is the batch's
attributes plus two coordinate columns, in a CRS; read, reprojection, validation and the COPY's
WKB all work on the coordinate arrays, and only the features that need a geometry object
(quarantined ones, a report's map) get one. A batch the coordinates cannot settle (a theme that
stores multipoints, a point PROJ could not move) becomes a GeoDataFrame and takes the general
path.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from pyproj import CRS

X, Y = "__regiongis_x", "__regiongis_y"
POINT_WKB = np.dtype([("order", "u1"), ("kind", "<u4"), ("x", "<f8"), ("y", "<f8")])
LITTLE_ENDIAN, WKB_POINT = 1, 1


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


def plain_xy(wkb: pa.Array) -> np.ndarray | None:
    """The x/y of a WKB column when every value is a little-endian 2D point with finite
    coordinates (what GDAL hands over for a point layer); else None."""
    if isinstance(wkb, pa.ExtensionArray):
        wkb = wkb.storage
    if len(wkb) == 0 or wkb.null_count or not pa.types.is_binary(wkb.type):
        return None
    offsets = np.frombuffer(wkb.buffers()[1], np.int32)[wkb.offset : wkb.offset + len(wkb) + 1]
    if not (np.diff(offsets) == POINT_WKB.itemsize).all():
        return None
    body = np.frombuffer(wkb.buffers()[2], np.uint8)[offsets[0] : offsets[-1]].view(POINT_WKB)
    if not ((body["order"] == LITTLE_ENDIAN).all() and (body["kind"] == WKB_POINT).all()):
        return None
    xy = np.column_stack([body["x"], body["y"]])
    return xy if np.isfinite(xy).all() else None  # POINT EMPTY is NaN, NaN


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
    return pd.DataFrame(frame.drop(columns=frame.geometry.name))


def geometry_of(frame: pd.DataFrame, rows: pd.Index | pd.Series) -> gpd.GeoSeries:
    """Geometry objects for some rows (a boolean mask or labels) of either kind of frame."""
    if isinstance(frame, PointFrame):
        picked = frame.loc[rows, [X, Y]]
        return gpd.GeoSeries(shapely.points(picked.to_numpy()), index=picked.index, crs=frame.crs)
    return frame.geometry.loc[rows]


def as_geodataframe(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    return frame.to_geodataframe() if isinstance(frame, PointFrame) else frame

"""Phase 1, read: any GDAL-readable publisher file into a GeoDataFrame in its own CRS.

Everything goes through GDAL (pyogrio, Arrow when it can) so every format GDAL reads is a format we
read: zipped Shapefiles, GeoPackage, GeoJSON, CSV with coordinate or WKT columns, KML, GML, ...
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError

from ingest.errors import UnreadableInput
from ingest.region import Source


def _csv_open_options(source: Source) -> dict[str, str]:
    if source.csv is None:
        return {}
    if source.csv.wkt:
        return {"GEOM_POSSIBLE_NAMES": source.csv.wkt, "KEEP_GEOM_COLUMNS": "NO"}
    return {
        "X_POSSIBLE_NAMES": source.csv.x or "",
        "Y_POSSIBLE_NAMES": source.csv.y or "",
        "KEEP_GEOM_COLUMNS": "NO",
    }


def read_source(path: Path, source: Source) -> gpd.GeoDataFrame:
    """Read the file as the publisher sent it; attribute values are kept as GDAL typed them."""
    if not path.exists():
        raise UnreadableInput(f"{path}: no such file")
    options = _csv_open_options(source)
    if source.encoding:
        options["ENCODING"] = source.encoding
    try:
        frame = pyogrio.read_dataframe(
            path, layer=source.layer, use_arrow=True, **{k.lower(): v for k, v in options.items()}
        )
    except (DataSourceError, DataLayerError) as exc:
        raise UnreadableInput(
            f"{path.name}: GDAL cannot read it as {source.theme} data ({exc})"
        ) from exc
    if source.crs:
        frame = frame.set_crs(source.crs, allow_override=True)
    if frame.crs is None:
        raise UnreadableInput(
            f"{path.name}: the file does not say its coordinate system; "
            f"add `crs: EPSG:27700` (or the right code) to source {source.id}"
        )
    return frame

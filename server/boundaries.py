"""The member authorities' boundaries, drawn under every map so a view without base tiles still
shows where things are."""

from __future__ import annotations

import pyogrio

from ingest.region import Region


def boundaries_geojson(region: Region) -> str | None:
    """The region's boundary polygons as GeoJSON in WGS84, or None when the region has none."""
    if region.boundaries_file is None:
        return None
    path = region.data_dir / region.boundaries_file
    if not path.exists():
        return None
    return pyogrio.read_dataframe(path).to_crs(4326).to_json(drop_id=True)

"""Phase 3, validate: geometry rules and keys, on top of the field issues harmonise found.

Geometry that can be repaired is repaired and the repair recorded; geometry that cannot be trusted
(missing, empty, the wrong kind, outside the region) sends its feature to quarantine with a reason.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from ingest import issues
from ingest.issues import Severity
from protocols import ThemeSpec


def _allowed_types(theme: ThemeSpec) -> set[str]:
    return set(theme.geometry_types) | {f"Multi{t}" for t in theme.geometry_types}


def _repair(geoms: gpd.GeoSeries) -> tuple[gpd.GeoSeries, pd.DataFrame]:
    """Drop Z/M and make invalid geometry valid, recording each feature touched."""
    found = []
    has_z = geoms.has_z.fillna(False)
    if has_z.any():
        geoms = geoms.where(~has_z, shapely.force_2d(geoms.values))
        found.append(
            issues.issues_where(
                has_z,
                None,
                field="geometry",
                rule="geometry-dimension",
                message="Z values dropped",
                severity=Severity.FIXED,
            )
        )
    invalid = ~geoms.is_valid.fillna(True) & geoms.notna()
    if invalid.any():
        reasons = pd.Series(shapely.is_valid_reason(geoms.values), index=geoms.index)
        geoms = geoms.where(~invalid, shapely.make_valid(geoms.values))
        found.append(
            issues.issues_where(
                invalid,
                reasons,
                field="geometry",
                rule="geometry-repaired",
                message="invalid geometry repaired with make_valid",
                severity=Severity.FIXED,
            )
        )
    return geoms, issues.concat(found)


def validate(
    frame: gpd.GeoDataFrame, theme: ThemeSpec, region_bbox: tuple[float, float, float, float]
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The frame with repaired geometry, and the geometry and key issues found."""
    geoms, found = _repair(frame.geometry)
    frame = frame.set_geometry(geoms)
    missing = geoms.isna() | geoms.is_empty
    kinds = geoms.geom_type
    wrong_kind = ~missing & ~kinds.isin(_allowed_types(theme))
    minx, miny, maxx, maxy = region_bbox
    outside = ~missing & ~geoms.intersects(shapely.box(minx, miny, maxx, maxy))
    key = frame[theme.natural_key[0]].astype("string")
    for name in theme.natural_key[1:]:
        key = key + "|" + frame[name].astype("string")  # a missing part leaves the key missing
    duplicate = key.notna() & key.duplicated(keep="first")
    expected = " or ".join(theme.geometry_types)
    return frame, issues.concat(
        [
            found,
            issues.issues_where(
                missing,
                None,
                field="geometry",
                rule="geometry-missing",
                message="feature has no geometry",
            ),
            issues.issues_where(
                wrong_kind,
                kinds,
                field="geometry",
                rule="geometry-type",
                message=f"geometry must be {expected}",
            ),
            issues.issues_where(
                outside,
                None,
                field="geometry",
                rule="out-of-region",
                message="geometry lies outside the region; check the coordinate system",
            ),
            issues.issues_where(
                duplicate,
                key,
                field=",".join(theme.natural_key),
                rule="duplicate-key",
                message="the same key appears earlier in this file",
            ),
        ]
    )

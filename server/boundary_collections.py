"""The members' boundaries and the issues found across them, as OGC API collections.

Partners read `boundary-issues` in QGIS (filter by publisher, kind or theme) and the data-quality
map draws it. Both tables have no protocol of their own, so they are served through pygeoapi's
stock PostgreSQL provider, which reads whatever columns the table has. The tables are made (and
the region's boundaries loaded) before they are served: pygeoapi drops every collection from its
OpenAPI document when one collection's table is missing.
"""

from __future__ import annotations

from typing import Any

from ingest.boundaries import sync_boundaries
from ingest.boundaries.areas import ensure_schema
from ingest.db import transaction, url_parts
from ingest.region import Region

BOUNDARIES_COLLECTION = "boundaries"
ISSUES_COLLECTION = "boundary-issues"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
BNG = "http://www.opengis.net/def/crs/EPSG/0/27700"
CRS = [CRS84, "http://www.opengis.net/def/crs/EPSG/0/4326", BNG]

DESCRIPTIONS = {
    BOUNDARIES_COLLECTION: (
        "Member authorities' boundaries",
        "The area each member council answers for, as the partnership holds it. Utilities "
        "answer for the whole region.",
        ["boundaries", "administrative areas", "reference"],
        "boundaries",
    ),
    ISSUES_COLLECTION: (
        "Issues across authority boundaries",
        "What the cross-boundary checks found: features outside their publisher's area, the "
        "same object supplied by two publishers (kind duplicate; the merged view shows one), "
        "line ends joined to a neighbour's line (edge-match; the correction is stored beside "
        "the original) or left with no partner (dangling-end), and gaps and overlaps between "
        "members' boundaries. Filter by kind, theme or publisher.",
        ["data quality", "edge matching", "duplicates", "boundaries"],
        "boundary_issues",
    ),
}


def boundary_collections(
    database_url: str, region: Region, bbox_wgs84: list[float]
) -> dict[str, Any]:
    """pygeoapi resources for both tables, which are made ready first."""
    with transaction(database_url) as cur:
        ensure_schema(cur)
        sync_boundaries(cur, region)
    db = url_parts(database_url)
    return {
        name: {
            "type": "collection",
            "title": title,
            "description": description,
            "keywords": keywords,
            "links": [],
            "extents": {"spatial": {"bbox": bbox_wgs84, "crs": CRS84}},
            "providers": [
                {
                    "type": "feature",
                    "name": "PostgreSQL",
                    "data": {**db, "search_path": ["public"]},
                    "id_field": "fid",
                    "table": table,
                    "geom_field": "geom",
                    "storage_crs": BNG,
                    "crs": CRS,
                }
            ],
        }
        for name, (title, description, keywords, table) in DESCRIPTIONS.items()
    }

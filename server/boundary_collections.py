"""The members' boundaries and the issues found across them, as OGC API collections.

Partners read `boundary-issues` in QGIS (filter by publisher, kind or theme) and the data-quality
map draws it. Both tables have no protocol of their own, so they are served through pygeoapi's
stock PostgreSQL provider, which reads whatever columns the table has.
"""

from __future__ import annotations

from typing import Any

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


def boundary_collections(db: dict[str, Any], bbox_wgs84: list[float]) -> dict[str, Any]:
    """pygeoapi resources for both tables; db is libpq keyword parameters (ingest.db.url_parts)."""
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

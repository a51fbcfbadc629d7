"""Checks across member authorities' boundaries, in PostGIS.

Neighbouring publishers' data rarely meets at the line between them: the same works are supplied
twice, a main stops 3 m short of its continuation, the boundary polygons leave slivers. These
checks find that after every ingest and on demand, write what they find to `boundary_issues`, and
record their decisions beside the data, never over it: `duplicate_of` says which copy the merged
view hides and `edge_corrections` holds each joined line's corrected geometry. The view
`<theme table>_merged` is what the public should see: duplicates hidden, corrections applied.
"""

from ingest.boundaries.areas import load_boundaries
from ingest.boundaries.checks import (
    KINDS,
    check_after_ingest,
    check_region,
    check_theme,
    check_topology,
    issue_counts,
    merged_view,
    sync_boundaries,
)

__all__ = [
    "KINDS",
    "check_after_ingest",
    "check_region",
    "check_theme",
    "check_topology",
    "issue_counts",
    "load_boundaries",
    "merged_view",
    "sync_boundaries",
]

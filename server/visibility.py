"""What a reader may see of a theme, decided in one place for every route.

Items, single items, tiles, downloads and the catalogue all ask here, so a field marked sensitive
in its protocol is hidden from the public everywhere at once, and a sensitive theme's geometry is
snapped to its grid. Partners (public=False, server.access.reading) see it all exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg2 import sql
from starlette.requests import Request

from protocols import FieldSpec, ThemeSpec
from server.access.reading import audit_sensitive_read, reader_of

if TYPE_CHECKING:
    from server.features.collection import Collection


def visible_fields(theme: ThemeSpec, public: bool) -> list[FieldSpec]:
    return [f for f in theme.fields if not (public and f.sensitive)]


def sensitive(theme: ThemeSpec) -> bool:
    """Whether partners see more of the theme than the public does."""
    return theme.access.sensitive or any(f.sensitive for f in theme.fields)


def generalised_grid(theme: ThemeSpec, public: bool) -> int | None:
    """The grid (in storage CRS metres) a sensitive theme's geometry is snapped to for the public,
    or None where readers see it exactly."""
    return theme.access.public_grid_m if public and theme.access.sensitive else None


def snapped(geometry: sql.Composable, grid: int) -> sql.Composable:
    """A geometry generalised to grid cells: points move to a cell corner, lines keep only the
    cells they cross (a line within one cell becomes empty), so no coordinate finer than the
    grid leaves the database."""
    return sql.SQL("ST_SnapToGrid({}, {})").format(geometry, sql.Literal(grid))


def view_for(request: Request, collection: Collection, route: str) -> Collection:
    """The collection as this reader may see it: the public view, or for a partner the exact
    one, and then the read is written to the audit log. A bad token raises Unauthorized."""
    reader = reader_of(request)
    if not (reader.partner and collection.sensitive):
        return collection
    audit_sensitive_read(request, reader, collection.id, {"route": route})
    return collection.partner_view()

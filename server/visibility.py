"""What a reader may see of a theme, decided in one place for every route.

Tiles, downloads and the catalogue all ask here, so a field marked sensitive in its protocol is
hidden from the public everywhere at once. Partner access (public=False) comes with access control.
"""

from __future__ import annotations

from protocols import FieldSpec, ThemeSpec


def visible_fields(theme: ThemeSpec, public: bool) -> list[FieldSpec]:
    return [f for f in theme.fields if not (public and f.sensitive)]


def generalised_grid(theme: ThemeSpec, public: bool) -> int | None:
    """The grid (in storage CRS metres) a sensitive theme's geometry is snapped to for the public,
    or None where readers see it exactly."""
    return theme.access.public_grid_m if public and theme.access.sensitive else None

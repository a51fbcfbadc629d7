"""Public web maps and the data portal; STATIC_DIR is to be served at the pages' assets_url."""

from maps.gazetteer import EAST_MIDLANDS, Place
from maps.regional import STATIC_DIR, Basemap, build_quality_map, build_regional_map

__all__ = [
    "EAST_MIDLANDS",
    "STATIC_DIR",
    "Basemap",
    "Place",
    "build_quality_map",
    "build_regional_map",
]

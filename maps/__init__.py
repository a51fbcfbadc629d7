"""Public web maps of the shared themes; STATIC_DIR is to be served at the maps' assets_url."""

from maps.regional import STATIC_DIR, build_regional_map

__all__ = ["STATIC_DIR", "build_regional_map"]

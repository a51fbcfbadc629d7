"""pygeoapi, configured from the protocols and the region and mounted inside our app.

The pygeoapi configuration is generated, never hand-kept: a theme's collection, its queryables and
extents all come from its protocol and the data loaded, so nothing about a theme is written twice.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

import yaml
from pyproj import Transformer
from starlette.types import ASGIApp

from ingest.db import url_parts
from ingest.region import Region
from protocols import Protocols, ThemeSpec

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
SUPPORTED_CRS = [CRS84] + [
    f"http://www.opengis.net/def/crs/EPSG/0/{c}" for c in (4326, 27700, 3857)
]


def region_bbox_wgs84(region: Region) -> list[float]:
    transformer = Transformer.from_crs(region.region.bbox_crs, 4326, always_xy=True)
    return [round(v, 6) for v in transformer.transform_bounds(*region.region.bbox)]


def _collection(theme: ThemeSpec, db: dict[str, Any], bbox: list[float]) -> dict[str, Any]:
    return {
        "type": "collection",
        "title": theme.title,
        "description": theme.description,
        "keywords": theme.keywords,
        "links": [],
        "extents": {"spatial": {"bbox": bbox, "crs": CRS84}},
        "providers": [
            {
                "type": "feature",
                "name": "PostgreSQL",
                "data": {**db, "search_path": ["public"]},
                "id_field": "fid",
                "table": theme.table,
                "geom_field": "geom",
                "storage_crs": f"http://www.opengis.net/def/crs/EPSG/0/{theme.storage_crs}",
                "crs": SUPPORTED_CRS,
            }
        ],
    }


def pygeoapi_config(
    protocols: Protocols, region: Region, database_url: str, base_url: str, limits: tuple[int, int]
) -> dict[str, Any]:
    bbox = region_bbox_wgs84(region)
    db = url_parts(database_url)
    info = region.region
    default_items, max_items = limits
    return {
        "server": {
            "bind": {"host": "127.0.0.1", "port": 5000},
            "url": f"{base_url}/ogc",
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "languages": ["en-GB"],
            "cors": True,
            "pretty_print": False,
            "limits": {"default_items": default_items, "max_items": max_items},
            "map": {"url": "", "attribution": ""},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": info.title,
                "description": info.description or info.title,
                "keywords": ["geospatial", "regional data", "OGC API"],
                "keywords_type": "theme",
                "terms_of_service": "",
                "url": base_url,
            },
            "license": {"name": "Open Government Licence v3.0", "url": ""},
            "provider": {"name": info.title, "url": base_url},
            "contact": {"name": info.title, "position": "GIS team", "email": ""},
        },
        "resources": {t.id: _collection(t, db, bbox) for t in protocols.themes.values()},
    }


def mount_pygeoapi(config: dict[str, Any], workdir: Path) -> ASGIApp:
    """pygeoapi's Starlette app serving config.

    pygeoapi reads its configuration from files named in the environment when its Starlette module
    is first imported; we write both files, import it once, and then give it an API built from
    this config, so each create_app() serves its own configuration without forking pygeoapi.
    """
    from pygeoapi.api import API
    from pygeoapi.openapi import get_oas

    workdir.mkdir(parents=True, exist_ok=True)
    config_file, openapi_file = workdir / "pygeoapi.yaml", workdir / "openapi.json"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    openapi = get_oas(config, fail_on_invalid_collection=False)
    openapi_file.write_text(json.dumps(openapi))
    os.environ["PYGEOAPI_CONFIG"] = str(config_file)
    os.environ["PYGEOAPI_OPENAPI"] = str(openapi_file)
    module = importlib.import_module("pygeoapi.starlette_app")
    module.api_ = API(config, openapi)
    return module.APP

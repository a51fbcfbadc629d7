"""pygeoapi, configured from the protocols and the region and mounted inside our app.

The pygeoapi configuration is generated, never hand-kept: a theme's collection, its queryables and
extents all come from its protocol and the data loaded, so nothing about a theme is written twice.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from pyproj import Transformer
from starlette.types import ASGIApp, Receive, Scope, Send

from ingest.db import url_parts
from ingest.region import Region
from protocols import Protocols, ThemeSpec
from server.boundary_collections import boundary_collections
from server.features.collection import Collection, property_schemas
from server.features.crs import CRS84, SUPPORTED_URIS, epsg_uri
from server.features.extents import Extents, measure
from server.features.openapi import document_items
from server.features.routes import PROVIDER as FEATURE_PROVIDER
from server.features.routes import FeaturesFront, our_collections
from server.visibility import generalised_grid, sensitive

SUPPORTED_CRS = SUPPORTED_URIS
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"


def region_bbox_wgs84(region: Region) -> list[float]:
    transformer = Transformer.from_crs(region.region.bbox_crs, 4326, always_xy=True)
    return [round(v, 6) for v in transformer.transform_bounds(*region.region.bbox)]


def _licence_link(theme: ThemeSpec) -> dict[str, str]:
    """The theme's licence, named by its SPDX identifier in the protocol."""
    return {
        "type": "text/html",
        "rel": "license",
        "title": theme.licence,
        "href": f"https://spdx.org/licenses/{theme.licence}.html",
    }


def _extents(measured: Extents, region_bbox: list[float]) -> dict[str, Any]:
    extents: dict[str, Any] = {"spatial": {"bbox": measured.bbox or region_bbox, "crs": CRS84}}
    if measured.interval:
        begin, end = measured.interval
        extents["temporal"] = {"begin": begin, "end": end, "trs": GREGORIAN}
    return extents


def _collection(
    theme: ThemeSpec, protocols: Protocols, region: Region, database_url: str
) -> dict[str, Any]:
    """A theme's collection: all from its protocol, the region's publishers and its data."""
    publishers = {p.id: p.name for p in region.publishers}
    provider = {
        "type": "feature",
        "name": FEATURE_PROVIDER,
        "data": {**url_parts(database_url), "search_path": ["public"]},
        "id_field": "fid",
        "title_field": theme.natural_key[0],
        "table": theme.table,
        "geom_field": "geom",
        "storage_crs": epsg_uri(theme.storage_crs),
        "crs": SUPPORTED_CRS,
        "collection": theme.id,
        "geometry_types": list(theme.geometry_types),
        "properties_schema": property_schemas(theme, protocols, publishers),
        **_partner_view(theme, protocols, publishers),
    }
    collection = Collection.from_definition(theme.id, theme.title, provider)
    attribution = f"\n\nAttribution: {theme.attribution}" if theme.attribution else ""
    return {
        "type": "collection",
        "title": theme.title,
        "description": theme.description + attribution,
        "keywords": theme.keywords,
        "links": [_licence_link(theme)],
        "extents": _extents(measure(database_url, collection), region_bbox_wgs84(region)),
        "providers": [provider],
    }


def _partner_view(
    theme: ThemeSpec, protocols: Protocols, publishers: dict[str, str]
) -> dict[str, Any]:
    """What partners see beyond the public, for the provider block: the grid the public's
    geometry is snapped to, and the properties including the sensitive fields."""
    view: dict[str, Any] = {}
    if grid := generalised_grid(theme, public=True):
        view["public_grid_m"] = grid
    if sensitive(theme):
        view["partner_properties_schema"] = property_schemas(
            theme, protocols, publishers, public=False
        )
    return view


def pygeoapi_config(
    protocols: Protocols, region: Region, database_url: str, base_url: str, limits: tuple[int, int]
) -> dict[str, Any]:
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
        "resources": {
            t.id: _collection(t, protocols, region, database_url) for t in protocols.themes.values()
        }
        | boundary_collections(database_url, region, region_bbox_wgs84(region)),
    }


def mount_pygeoapi(
    config: dict[str, Any], workdir: Path, partner_only: frozenset[str] | set[str] = frozenset()
) -> ASGIApp:
    """pygeoapi's Starlette app serving config; the features of the `partner_only`
    collections are refused to anyone but partners.

    pygeoapi reads its configuration from files named in the environment when its Starlette module
    is first imported; we write both files, import it once, and then give it an API built from
    this config, so each create_app() serves its own configuration without forking pygeoapi.
    """
    from pygeoapi.api import API
    from pygeoapi.openapi import get_oas

    workdir.mkdir(parents=True, exist_ok=True)
    config_file, openapi_file = workdir / "pygeoapi.yaml", workdir / "openapi.json"
    _write_atomically(config_file, yaml.safe_dump(config, sort_keys=False))
    openapi = get_oas(config, fail_on_invalid_collection=False)
    document_items(openapi, list(our_collections(config)))
    _write_atomically(openapi_file, json.dumps(openapi))
    os.environ["PYGEOAPI_CONFIG"] = str(config_file)
    os.environ["PYGEOAPI_OPENAPI"] = str(openapi_file)
    module = importlib.import_module("pygeoapi.starlette_app")
    return FeaturesFront(_OwnAPI(module, API(config, openapi)), config, frozenset(partner_only))


class _OwnAPI:
    """pygeoapi's routes read the module-global `api_` as each request starts; this app makes it
    its own first, so several apps in one process (tests, embedding) each answer with their own
    configuration and base URL instead of the last one built."""

    def __init__(self, module: ModuleType, api: Any) -> None:
        self.module, self.api = module, api
        module.api_ = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.module.api_ = self.api
        await self.module.APP(scope, receive, send)


def _write_atomically(path: Path, text: str) -> None:
    """Worker processes start together and read these files: never show one half-written."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text)
    partial.replace(path)

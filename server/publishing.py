"""Vector tiles, downloads and the records catalogue, wired into one app beside pygeoapi.

pygeoapi's configuration gains the catalogue collection and, on every theme's collection, links to
its tiles and downloads; the routes returned go before pygeoapi's mount so they answer under /ogc.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from server import downloads, records, tiles
from server.deployment import Deployment
from server.features.routes import our_collections
from server.ogc import region_bbox_wgs84
from server.pgpool import Pool


def publishing_routes(deployment: Deployment, config: dict[str, Any]) -> list[Route]:
    protocols, region, url = deployment.protocols, deployment.region, deployment.database_url
    base = deployment.settings.base_url
    bbox = region_bbox_wgs84(region)
    for theme in protocols.themes.values():
        links = config["resources"][theme.id]["links"]
        links += tiles.collection_links(theme, base) + downloads.collection_links(theme, base)
    config["resources"][records.CATALOGUE_ID] = records.catalogue_resource(
        protocols, region, url, base, bbox
    )
    collections = {cid: c for cid, (c, _) in our_collections(config).items()}
    return [
        *tiles.tile_routes(protocols.themes, Pool(url, options=tiles.SESSION), base, bbox),
        *downloads.download_routes(collections, url),
    ]

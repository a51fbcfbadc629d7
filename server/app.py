"""The ASGI application: pygeoapi's OGC API at /ogc, the public map at /, their static files.

create_app() takes everything it needs as arguments and does no I/O at import time, so tests build
the app from the same parts the CLI uses.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import maps
from server.boundaries import boundaries_geojson
from server.deployment import Deployment
from server.ogc import mount_pygeoapi, pygeoapi_config, region_bbox_wgs84

BOUNDARIES_PATH = "/region/boundaries.geojson"


def _map_page(deployment: Deployment, has_boundaries: bool) -> str:
    bbox = region_bbox_wgs84(deployment.region)
    return maps.build_regional_map(
        deployment.protocols,
        title=deployment.region.region.title,
        bounds_wgs84=(bbox[0], bbox[1], bbox[2], bbox[3]),
        boundaries_url=BOUNDARIES_PATH if has_boundaries else None,
    )


def create_app(deployment: Deployment) -> Starlette:
    settings = deployment.settings
    config = pygeoapi_config(
        deployment.protocols,
        deployment.region,
        deployment.database_url,
        settings.base_url,
        (settings.default_items, settings.max_items),
    )
    ogc = mount_pygeoapi(config, Path(settings.state_dir) / "pygeoapi")
    boundaries = boundaries_geojson(deployment.region)
    page = _map_page(deployment, boundaries is not None)

    async def home(request: Request) -> Response:
        return HTMLResponse(page)

    async def region_boundaries(request: Request) -> Response:
        if boundaries is None:
            return JSONResponse({"detail": "this region publishes no boundaries"}, status_code=404)
        return Response(boundaries, media_type="application/geo+json")

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/", home),
            Route(BOUNDARIES_PATH, region_boundaries),
            Route("/healthz", health),
            Mount("/static/maps", StaticFiles(directory=maps.STATIC_DIR), name="map-assets"),
            Mount("/ogc", ogc),
        ]
    )

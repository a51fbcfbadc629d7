"""The ASGI application: pygeoapi's OGC API at /ogc, the portal at /, the public map at /map.

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
from server.access import Access
from server.access.signin import partners_only, signin_routes
from server.boundaries import boundaries_geojson
from server.boundary_collections import ISSUES_COLLECTION
from server.deployment import Deployment
from server.ogc import mount_pygeoapi, pygeoapi_config, region_bbox_wgs84
from server.portal_data import QUARANTINE_PATH, portal_routes, theme_publishers
from server.publishing import publishing_routes
from server.upload.routes import upload_routes

BOUNDARIES_PATH = "/region/boundaries.geojson"


def _basemap(deployment: Deployment) -> maps.Basemap | None:
    settings = deployment.settings
    if not settings.basemap_url:
        return None
    return maps.Basemap(settings.basemap_url, settings.basemap_attribution)


def _map_page(deployment: Deployment, has_boundaries: bool) -> str:
    bbox = region_bbox_wgs84(deployment.region)
    return maps.build_regional_map(
        deployment.protocols,
        title=deployment.region.region.title,
        bounds_wgs84=(bbox[0], bbox[1], bbox[2], bbox[3]),
        boundaries_url=BOUNDARIES_PATH if has_boundaries else None,
        basemap=_basemap(deployment),
        publishers={t: theme_publishers(deployment.region, t) for t in deployment.protocols.themes},
    )


def _quality_map(deployment: Deployment, has_boundaries: bool, boundary_checks: bool) -> str:
    bbox = region_bbox_wgs84(deployment.region)
    issues_url = f"/ogc/collections/{ISSUES_COLLECTION}/items?f=json&limit=10000"
    return maps.build_quality_map(
        title=f"Data quality: {deployment.region.region.title}",
        bounds_wgs84=(bbox[0], bbox[1], bbox[2], bbox[3]),
        quarantine_url=QUARANTINE_PATH,
        boundary_issues_url=issues_url if boundary_checks else None,
        boundaries_url=BOUNDARIES_PATH if has_boundaries else None,
        basemap=_basemap(deployment),
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
    publishing = publishing_routes(deployment, config)  # tiles, downloads, catalogue
    ogc = mount_pygeoapi(config, Path(settings.state_dir) / "pygeoapi", {ISSUES_COLLECTION})
    boundaries = boundaries_geojson(deployment.region)
    page = _map_page(deployment, boundaries is not None)
    boundary_checks = ISSUES_COLLECTION in config["resources"]
    quality_map = _quality_map(deployment, boundaries is not None, boundary_checks)
    access = Access.open(deployment.database_url, deployment.region)  # tokens, audit log

    async def regional_map(request: Request) -> Response:
        return HTMLResponse(page)

    def quality_map_page(request: Request) -> Response:
        return HTMLResponse(quality_map)

    async def region_boundaries(request: Request) -> Response:
        if boundaries is None:
            return JSONResponse({"detail": "this region publishes no boundaries"}, status_code=404)
        return Response(boundaries, media_type="application/geo+json")

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/map", regional_map),
            Route("/quality/map", partners_only(quality_map_page, page=True)),
            *signin_routes(settings.base_url),
            *portal_routes(deployment, boundary_checks),
            Route(BOUNDARIES_PATH, region_boundaries),
            Route("/healthz", health),
            Mount("/static/maps", StaticFiles(directory=maps.STATIC_DIR), name="map-assets"),
            *publishing,
            *upload_routes(deployment, access),
            Mount("/ogc", ogc),
        ]
    )
    app.state.access = access  # server.access.authenticate(request) finds it here
    return app

"""The busy routes, answered in front of pygeoapi for our collections.

GeoJSON items, single items and queryables are answered here: the page arrives from PostGIS as
text and goes out as bytes, without becoming Python dicts that pygeoapi would serialise again.
HTML, JSON-LD, CSV and every other route fall through to pygeoapi, which reaches the same
collections through provider.FeatureProvider.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from server.access.reading import presented, refusal, require_partner
from server.access.refusals import Refused
from server.features import crs as crs_
from server.features import store
from server.features.collection import Collection
from server.features.errors import OGCError, not_found
from server.features.openapi import ConformanceAdded
from server.features.params import FeatureRequest, parse_datetime, parse_items_request
from server.visibility import view_for

LOGGER = logging.getLogger(__name__)
PROVIDER = "server.features.provider.FeatureProvider"
ROUTE = re.compile(r"^/collections/(?P<cid>[^/]+)/(?P<what>items|queryables)(?:/(?P<fid>[^/]+))?$")
JSON_FORMATS = ("json", "geojson")
CORS = {"Access-Control-Allow-Origin": "*"}
ITEM_PARAMS = {"f", "lang", "crs", "datetime"}


def our_collections(config: dict[str, Any]) -> dict[str, tuple[Collection, str]]:
    """Each collection served by our provider, with the connection string it names."""
    found = {}
    for rid, resource in config["resources"].items():
        for provider in resource.get("providers", []):
            if provider.get("name") == PROVIDER:
                collection = Collection.from_definition(rid, resource["title"], provider)
                found[rid] = collection, store.dsn(provider["data"])
    return found


def wants_json(request: Request) -> bool:
    """f=json, or no f and an Accept that does not put HTML first (browsers do)."""
    if f := request.query_params.get("f"):
        return f in JSON_FORMATS
    accept = request.headers.get("accept", "")
    return "text/html" not in accept.split(",")[0]


async def _view(request: Request, collection: Collection, route: str) -> Collection:
    """The public view without a database round trip; a token is checked (and a partner's
    sensitive read audited) in a worker thread."""
    if presented(request) is None:
        return collection
    return await run_in_threadpool(view_for, request, collection, route)


def _route_path(scope: Scope) -> str:
    root = scope.get("root_path", "")
    path = scope["path"]
    return path[len(root) :] if root and path.startswith(root) else path


class FeaturesFront:
    """An ASGI app wrapping pygeoapi's: ours for JSON features, pygeoapi's for the rest."""

    def __init__(
        self, pygeoapi: ASGIApp, config: dict[str, Any], partner_only: frozenset[str] = frozenset()
    ) -> None:
        self.pygeoapi = pygeoapi
        self.partner_only = partner_only
        self.collections = our_collections(config)
        self.resources = set(config["resources"])
        self.base = config["server"]["url"].rstrip("/")
        limits = config["server"].get("limits", {})
        self.limits = (limits.get("default_items", 10), limits.get("max_items", 10000))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = None
        if scope["type"] == "http":
            path = _route_path(scope)
            if refused := await self._refused(scope, receive, path):
                return await refused(scope, receive, send)
            reading = scope["method"] in ("GET", "HEAD")
            if reading and path == "/conformance":
                return await ConformanceAdded(self.pygeoapi)(scope, receive, send)
            match = ROUTE.match(path) if reading else None
        if match:
            request = Request(scope, receive)
            cid = match["cid"]
            if cid not in self.resources:
                allowed = ", ".join(sorted(self.resources))
                response = not_found(f"no collection {cid!r}; collections: {allowed}").response()
                return await response(scope, receive, send)
            if cid in self.collections and wants_json(request):
                response = await self._answer(request, cid, match["what"], match["fid"])
                return await response(scope, receive, send)
        await self.pygeoapi(scope, receive, send)

    async def _refused(self, scope: Scope, receive: Receive, path: str) -> Response | None:
        """A partner-only collection's features, items or otherwise, to anyone else."""
        parts = path.split("/")
        if len(parts) < 4 or parts[1] != "collections" or parts[2] not in self.partner_only:
            return None
        try:
            await run_in_threadpool(require_partner, Request(scope, receive))
        except Refused as refused:
            return refusal(refused)
        return None

    async def _answer(self, request: Request, cid: str, what: str, fid: str | None) -> Response:
        collection, conninfo = self.collections[cid]
        try:
            if what == "queryables":
                return self._queryables(collection)
            view = await _view(request, collection, "items" if fid is None else "item")
            if fid is None:
                return await self._items(request, view, conninfo)
            return await self._item(request, view, conninfo, fid)
        except OGCError as error:
            client = request.client.host if request.client else "-"
            LOGGER.warning("refused %s from %s: %s", request.url, client, error.description)
            return error.response()
        except Refused as refused:
            return refusal(refused)
        except Exception:
            LOGGER.exception("features request failed: %s", request.url)
            return OGCError("the server failed; see its log", 500, "ServerError").response()

    def _url(self, path: str, params: dict[str, str]) -> str:
        return f"{self.base}{path}?{urlencode(params)}" if params else f"{self.base}{path}"

    async def _items(self, request: Request, collection: Collection, conninfo: str) -> Response:
        params = dict(request.query_params)
        feature_request = parse_items_request(params, collection, self.limits)
        page = await run_in_threadpool(store.read_page, conninfo, collection, feature_request)
        links = self._items_links(collection, params, feature_request, page)
        head = (
            f'{{"type":"FeatureCollection","numberMatched":{page.matched},'
            f'"numberReturned":{len(page.features)},'
            f'"timeStamp":"{datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}",'
            f'"links":{json.dumps(links)},"features":['
        )
        body = head + ",".join(page.features) + "]}"
        return self._geojson(body, feature_request.crs)

    def _items_links(
        self, collection: Collection, params: dict[str, str], request: FeatureRequest, page
    ) -> list[dict[str, str]]:
        path = f"/collections/{collection.id}/items"
        base = {k: v for k, v in params.items() if k not in ("f", "offset", "after")}
        here = {k: v for k, v in params.items() if k != "f"}
        links = [
            {"rel": "self", "type": "application/geo+json", "title": "This page as GeoJSON",
             "href": self._url(path, here | {"f": "json"})},
            {"rel": "alternate", "type": "text/html", "title": "This page as HTML",
             "href": self._url(path, here | {"f": "html"})},
            {"rel": "collection", "type": "application/json", "title": collection.title,
             "href": self._url(f"/collections/{collection.id}", {"f": "json"})},
        ]  # fmt: skip
        if page.more:
            step = (
                {"after": str(page.last_fid)}
                if not request.sortby
                else {"offset": str(request.offset + request.limit)}
            )
            links.append(self._page_link("next", path, base | step))
        if request.offset > 0:
            previous = {"offset": str(max(0, request.offset - request.limit))}
            links.append(self._page_link("prev", path, base | previous))
        return links

    def _page_link(self, rel: str, path: str, params: dict[str, str]) -> dict[str, str]:
        href = self._url(path, params | {"f": "json"})
        return {"rel": rel, "type": "application/geo+json", "title": f"{rel} page", "href": href}

    async def _item(
        self, request: Request, collection: Collection, conninfo: str, fid: str
    ) -> Response:
        params = request.query_params
        if unknown := [k for k in params if k not in ITEM_PARAMS]:
            raise OGCError(f"unknown parameters {unknown}; an item takes {sorted(ITEM_PARAMS)}")
        crs = crs_.parse_crs(params.get("crs"), "crs", crs_.DEFAULT)
        as_of = None
        if params.get("datetime"):
            as_of = parse_datetime(params["datetime"], collection).get("as_of")
            if as_of is None:
                raise OGCError("an item takes a datetime instant (the item as it was then)")
        missing = not_found(f"no feature {fid!r} in {collection.id}")
        if not fid.isdigit():
            raise missing
        # a primary-key lookup takes well under a millisecond: cheaper on the event loop than
        # the hop to a worker thread and back (pages, which can take long, do make the hop)
        text = store.read_one(conninfo, collection, int(fid), crs, as_of)
        if text is None:
            raise missing
        path = f"/collections/{collection.id}/items/{fid}"
        links = [
            {"rel": "self", "type": "application/geo+json", "href": self._url(path, {"f": "json"})},
            {"rel": "alternate", "type": "text/html", "href": self._url(path, {"f": "html"})},
            {"rel": "collection", "type": "application/json",
             "href": self._url(f"/collections/{collection.id}", {"f": "json"})},
        ]  # fmt: skip
        return self._geojson(f'{text[:-1]},"links":{json.dumps(links)}}}', crs)

    def _geojson(self, body: str, crs: crs_.Crs) -> Response:
        headers = CORS | {"Content-Crs": f"<{crs.uri}>"}
        return Response(body.encode(), media_type="application/geo+json", headers=headers)

    def _queryables(self, collection: Collection) -> Response:
        kinds = collection.geometry_types
        geometry_format = f"geometry-{kinds[0].lower()}" if len(kinds) == 1 else "geometry-any"
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": self._url(f"/collections/{collection.id}/queryables", {}),
            "type": "object",
            "title": collection.title,
            "properties": {
                "geometry": {"format": geometry_format, "x-ogc-role": "primary-geometry"},
                **collection.properties,
            },
            "additionalProperties": False,
        }
        return JSONResponse(schema, media_type="application/schema+json", headers=CORS)

"""What our items routes take beyond pygeoapi's defaults, added to its OpenAPI document and
conformance declaration so that clients (GDAL pushes -where filters down as CQL2) can see it."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FILTER_CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/arithmetic",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/queryables",
]


def _string(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


PARAMETERS = [
    _string("filter", "CQL2 filter on the queryables (see /queryables)"),
    _string("filter-lang", "language of filter", enum=["cql2-text", "cql2-json"]),
    _string("filter-crs", "CRS of geometries in filter (default CRS84)"),
    _string(
        "datetime",
        "an instant returns the features as they were then (from history); an interval "
        "start/end (.. open) the features whose own dates overlap it",
    ),
    _string("after", "keyset paging: features with an id greater than this (next links use it)"),
    _string("ids", "comma-separated feature ids"),
]


def document_items(openapi: dict[str, Any], collection_ids: list[str]) -> None:
    for cid in collection_ids:
        operation = openapi["paths"].get(f"/collections/{cid}/items", {}).get("get")
        if operation is not None:
            operation["parameters"] = [*operation["parameters"], *PARAMETERS]


class ConformanceAdded:
    """pygeoapi's /conformance JSON with the filter classes our routes implement added."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: dict[str, Any] = {}
        body = bytearray()

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                body.extend(message.get("body", b""))

        await self.app(scope, receive, keep)
        content = bytes(body)
        if start.get("status") == 200 and content.startswith(b"{"):
            document = json.loads(content)
            document["conformsTo"] = sorted({*document["conformsTo"], *FILTER_CONFORMANCE})
            content = json.dumps(document).encode()
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(content)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": content})

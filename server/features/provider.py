"""Our PostGIS feature provider, plugged into pygeoapi by dotted path.

pygeoapi builds a provider per request and asks it for pages, single features and fields; this
one answers with the same SQL as the JSON routes (PostGIS builds the GeoJSON). pygeoapi only
reaches it for the formats it renders itself (HTML, JSON-LD, CSV), which need Python dicts.
"""

from __future__ import annotations

import json
from typing import Any

from pygeoapi.provider.base import (
    BaseProvider,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
)

from server.features import crs as crs_
from server.features import store
from server.features.collection import Collection
from server.features.errors import OGCError
from server.features.params import FeatureRequest, parse_datetime, property_value


def _target_crs(spec: Any) -> crs_.Crs:
    return crs_.parse_crs(spec.target_crs_uri, "crs", crs_.DEFAULT) if spec else crs_.DEFAULT


class FeatureProvider(BaseProvider):
    def __init__(self, provider_def: dict[str, Any]) -> None:
        super().__init__(provider_def)
        self.collection = Collection.from_definition(
            provider_def.get("collection", provider_def["table"]), "", provider_def
        )
        self.conninfo = store.dsn(provider_def["data"])
        self._fields = {k: dict(v) for k, v in self.collection.properties.items()}

    def get_fields(self) -> dict[str, dict[str, Any]]:
        return self._fields

    def _request(self, kwargs: dict[str, Any]) -> FeatureRequest:
        """pygeoapi's parsed arguments as our FeatureRequest (its bbox is already in the
        storage CRS, its filter geometries too)."""
        storage = crs_.SUPPORTED[crs_.epsg_uri(self.collection.srid)]
        bbox = kwargs.get("bbox") or None
        equals = [
            (k, property_value(self.collection, k, v)) for k, v in kwargs.get("properties", [])
        ]
        request = FeatureRequest(
            limit=kwargs.get("limit", 10),
            offset=kwargs.get("offset", 0),
            bbox=tuple(bbox[:2] + bbox[-2:]) if bbox else None,
            bbox_crs=storage,
            crs=_target_crs(kwargs.get("crs_transform_spec")),
            equals=equals,
            filter=kwargs.get("filterq"),
            filter_crs=storage,
            sortby=[(s["property"], s["order"] == "-") for s in kwargs.get("sortby", [])],
            properties=kwargs.get("select_properties") or None,
            skip_geometry=bool(kwargs.get("skip_geometry")),
        )
        if kwargs.get("datetime_"):
            for key, value in parse_datetime(kwargs["datetime_"], self.collection).items():
                setattr(request, key, value)
        return request

    def query(self, **kwargs: Any) -> dict[str, Any]:
        try:
            page = store.read_page(self.conninfo, self.collection, self._request(kwargs))
        except OGCError as error:
            raise ProviderInvalidQueryError(user_msg=error.description) from error
        features = [json.loads(text) for text in page.features]
        return {
            "type": "FeatureCollection",
            "features": features,
            "numberMatched": page.matched,
            "numberReturned": len(features),
        }

    def get(self, identifier: Any, **kwargs: Any) -> dict[str, Any]:
        missing = ProviderItemNotFoundError(user_msg=f"no feature {identifier!r}")
        if not str(identifier).isdigit():
            raise missing
        crs = _target_crs(kwargs.get("crs_transform_spec"))
        text = store.read_one(self.conninfo, self.collection, int(identifier), crs)
        if text is None:
            raise missing
        return json.loads(text)

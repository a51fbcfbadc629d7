"""A theme as a feature collection: its table, CRS and properties, all derived from its protocol.

pygeoapi hands providers nothing but their configuration block, so the block carries the
properties' JSON Schema (built here from the ThemeSpec and code lists) and every other part reads
the collection back from it: nothing about a theme is written twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from protocols import FieldSpec, Protocols, ThemeSpec
from protocols.jsonschema import field_schema
from server.features.crs import srid_of
from server.visibility import visible_fields

TEMPORAL_FORMATS = ("date", "date-time")


def queryable_schema(field: FieldSpec, protocols: Protocols) -> dict[str, Any]:
    """The protocol's JSON Schema of a field, in the simple form queryables want: one type
    (an absent value is no filter value), codes without null."""
    schema = field_schema(field, protocols)
    if isinstance(schema["type"], list):
        schema["type"] = schema["type"][0]
    if "enum" in schema:
        schema["enum"] = [v for v in schema["enum"] if v is not None]
    return schema


def property_schemas(
    theme: ThemeSpec, protocols: Protocols, publishers: Mapping[str, str], public: bool = True
) -> dict[str, dict[str, Any]]:
    """The properties of a theme's features: its protocol fields (for the public, never the
    sensitive ones), then which publisher and source each feature came from."""
    fields = visible_fields(theme, public)
    schemas = {f.name: queryable_schema(f, protocols) for f in fields}
    schemas["publisher"] = {
        "type": "string",
        "title": "Publisher",
        "description": "The member organisation that published the feature: "
        + "; ".join(f"{k} = {v}" for k, v in publishers.items()),
        "enum": list(publishers),
    }
    schemas["source"] = {
        "type": "string",
        "title": "Source",
        "description": "The publisher's source (one file or feed) the feature was loaded from",
    }
    return schemas


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    table: str
    schema: str
    srid: int
    geometry_types: tuple[str, ...]
    properties: Mapping[str, Mapping[str, Any]]
    grid: int | None = None  # geometry snapped to this grid (storage CRS units) before any use
    partner_properties: Mapping[str, Mapping[str, Any]] | None = None  # None: same as public

    @classmethod
    def from_definition(cls, collection_id: str, title: str, provider: Mapping[str, Any]):
        """The public view of a collection, as pygeoapi's provider block describes it."""
        return cls(
            id=collection_id,
            title=title,
            table=provider["table"],
            schema=(provider["data"].get("search_path") or ["public"])[0],
            srid=srid_of(provider["storage_crs"]),
            geometry_types=tuple(provider.get("geometry_types", ())),
            properties=provider["properties_schema"],
            grid=provider.get("public_grid_m"),
            partner_properties=provider.get("partner_properties_schema"),
        )

    def __hash__(self) -> int:  # the SQL built for a collection is cached by it
        return hash((self.id, self.schema, self.table, self.srid, self.grid, *self.properties))

    @property
    def sensitive(self) -> bool:
        """Whether partners see more of it than the public does."""
        return self.grid is not None or self.partner_properties is not None

    def partner_view(self) -> Collection:
        """The collection as a partner reads it: exact geometry, every field."""
        if not self.sensitive:
            return self
        properties = self.partner_properties or self.properties
        return replace(self, properties=properties, grid=None, partner_properties=None)

    @property
    def history_table(self) -> str:
        return f"{self.table}_history"

    @property
    def date_fields(self) -> list[str]:
        """The features' own dates, in protocol order: the first is when a feature begins and a
        second, if there is one, when it ends (start_date/end_date)."""
        return [n for n, s in self.properties.items() if s.get("format") in TEMPORAL_FORMATS]

    def describe_allowed(self) -> str:
        return ", ".join(self.properties)

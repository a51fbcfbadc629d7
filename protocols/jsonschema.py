"""A theme's JSON Schema: what one GeoJSON feature of the theme must look like.

Generated from the ThemeSpec, so a publisher's developer, the upload form and a validator in any
language all check against the same rules the ingest applies. Extension keywords (`x-...`) carry
what JSON Schema has no word for: the protocol version, units, sensitivity, deprecated codes.
"""

from __future__ import annotations

from typing import Any

from protocols.spec import FieldSpec, FieldType, Protocols, ThemeSpec

DIALECT = "https://json-schema.org/draft/2020-12/schema"

BASE: dict[FieldType, dict[str, Any]] = {
    FieldType.TEXT: {"type": "string"},
    FieldType.INTEGER: {"type": "integer"},
    FieldType.DECIMAL: {"type": "number"},
    FieldType.DATE: {"type": "string", "format": "date"},
    FieldType.DATETIME: {"type": "string", "format": "date-time"},
    FieldType.BOOLEAN: {"type": "boolean"},
    FieldType.CODE: {"type": "string"},
    FieldType.URL: {"type": "string", "format": "uri", "pattern": "^https?://"},
}
NESTING = {"Point": [], "LineString": [2], "Polygon": [4, 1]}
"""Array levels around a position, innermost first, with the fewest items each may hold: a line
has two positions or more, a polygon ring four (closed), a polygon one ring or more."""
CONSTRAINTS = {"minimum": "minimum", "maximum": "maximum", "max_length": "maxLength"}


def _position(dimension: int) -> dict[str, Any]:
    return {"type": "array", "minItems": 2, "maxItems": dimension, "items": {"type": "number"}}


def _geometry(kind: str, dimension: int) -> dict[str, Any]:
    """RFC 7946 coordinates for one geometry type, nested as deep as the type needs."""
    coordinates = _position(dimension)
    for least in NESTING[kind.removeprefix("Multi")]:
        coordinates = {"type": "array", "minItems": least, "items": coordinates}
    if kind.startswith("Multi"):
        coordinates = {"type": "array", "minItems": 1, "items": coordinates}
    return {
        "title": kind,
        "type": "object",
        "required": ["type", "coordinates"],
        "properties": {"type": {"const": kind}, "coordinates": coordinates},
    }


def geometry_kinds(theme: ThemeSpec) -> list[str]:
    """The theme's geometry types and their Multi forms, which the ingest accepts too."""
    kinds = [t.removeprefix("Multi") for t in theme.geometry_types]
    return list(dict.fromkeys([*kinds, *(f"Multi{t}" for t in kinds)]))


def field_schema(field: FieldSpec, protocols: Protocols) -> dict[str, Any]:
    schema: dict[str, Any] = {"title": field.title, **BASE[field.type]}
    if field.description:
        schema["description"] = field.description
    if codelist := protocols.codelist_for(field):
        schema["enum"] = [v.code for v in codelist.values]
        schema["x-codelist"] = codelist.ref
        schema["x-labels"] = {v.code: v.label for v in codelist.values}
        if deprecated := {v.code: v.replaced_by for v in codelist.values if v.deprecated}:
            schema["x-deprecated-codes"] = deprecated  # code -> its replacement, if any
    for attribute, keyword in CONSTRAINTS.items():
        if (value := getattr(field, attribute)) is not None:
            schema[keyword] = int(value) if field.type is FieldType.INTEGER else value
    if field.pattern:
        schema["pattern"] = field.pattern
    if field.unit:
        schema["x-unit"] = field.unit
    if field.unique:
        schema["x-unique-within-publisher"] = True
    if field.sensitive:
        schema["x-sensitive"] = True
    if not field.required:
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    return schema


def feature_schema(theme: ThemeSpec, protocols: Protocols) -> dict[str, Any]:
    """JSON Schema (2020-12) of one GeoJSON Feature of the theme, in WGS84 as RFC 7946 says."""
    kinds = geometry_kinds(theme)
    return {
        "$schema": DIALECT,
        "$id": f"urn:regiongis:protocol:{theme.ref}:feature",
        "title": f"{theme.title} ({theme.ref})",
        "description": theme.description,
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"const": "Feature"},
            "id": {"type": ["string", "integer"]},
            "geometry": {"oneOf": [_geometry(kind, theme.geometry_dimension) for kind in kinds]},
            "properties": {
                "type": "object",
                "required": [f.name for f in theme.fields if f.required],
                "properties": {f.name: field_schema(f, protocols) for f in theme.fields},
            },
        },
        "x-protocol": theme.ref,
        "x-natural-key": theme.natural_key,
        "x-storage-crs": f"EPSG:{theme.storage_crs}",
        "x-licence": theme.licence,
        "x-attribution": theme.attribution,
        "x-sensitive": theme.access.sensitive,
    }

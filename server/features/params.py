"""An items request, parsed and checked against its collection before any SQL is written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from server.features import crs as crs_
from server.features.collection import Collection
from server.features.cql import parse_filter
from server.features.errors import OGCError

# every parameter an items request may carry besides property=value
RESERVED = {
    "f", "lang", "limit", "offset", "after", "bbox", "bbox-crs", "crs", "datetime", "filter",
    "filter-lang", "filter-crs", "sortby", "properties", "skipGeometry", "ids",
}  # fmt: skip
OPEN = "..", ""


@dataclass
class FeatureRequest:
    limit: int
    offset: int = 0
    after: int | None = None  # keyset paging: features with fid greater than this
    bbox: tuple[float, float, float, float] | None = None  # in bbox_crs, as the client gave it
    bbox_crs: crs_.Crs = crs_.DEFAULT
    crs: crs_.Crs = crs_.DEFAULT
    as_of: datetime | None = None  # an instant: the features as they were then
    during: tuple[Any, Any] | None = None  # an interval, on the features' own dates
    equals: list[tuple[str, Any]] = field(default_factory=list)
    filter: Any = None  # a pygeofilter AST
    filter_crs: crs_.Crs = crs_.DEFAULT
    sortby: list[tuple[str, bool]] = field(default_factory=list)  # (property, descending)
    properties: list[str] | None = None
    skip_geometry: bool = False
    ids: list[int] | None = None


def _int(params: Mapping[str, str], name: str, default: int | None, minimum: int) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise OGCError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise OGCError(f"{name} must be at least {minimum}, not {value}")
    return value


def parse_bbox(raw: str) -> tuple[float, float, float, float]:
    try:
        numbers = [float(v) for v in raw.split(",")]
    except ValueError:
        raise OGCError(f"bbox must be four numbers minx,miny,maxx,maxy, not {raw!r}") from None
    if len(numbers) == 6:  # minx,miny,minz,maxx,maxy,maxz: heights do not narrow 2D features
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4:
        raise OGCError(f"bbox must be four numbers minx,miny,maxx,maxy, not {raw!r}")
    if numbers[1] > numbers[3] or numbers[0] > numbers[2]:
        raise OGCError(f"bbox {raw!r} has a minimum greater than its maximum")
    return numbers[0], numbers[1], numbers[2], numbers[3]


def parse_instant(raw: str) -> datetime | date:
    """RFC 3339: a date-time (a bare one is UTC) or a full date."""
    try:
        if "T" not in raw.upper():
            return date.fromisoformat(raw)
        value = datetime.fromisoformat(raw.upper().replace("Z", "+00:00"))
    except ValueError:
        raise OGCError(
            f"datetime {raw!r} is not RFC 3339: give 2024-05-01T12:00:00Z, 2024-05-01, "
            "or an interval start/end with .. for an open end"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _as_datetime(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def parse_datetime(raw: str, collection: Collection) -> dict[str, Any]:
    """An instant asks for the features as they were then (from history); an interval asks
    for features whose own dates overlap it."""
    if "/" not in raw:
        return {"as_of": _as_datetime(parse_instant(raw))}
    start, end = (None if p in OPEN else parse_instant(p) for p in raw.split("/", 1))
    if not collection.date_fields:
        raise OGCError(
            f"{collection.id} features carry no dates to match an interval against; "
            "give an instant to see the features as they were then"
        )
    if start and end and _as_datetime(start) > _as_datetime(end):
        raise OGCError(f"datetime interval {raw!r} ends before it starts")
    return {"during": (start, end)}


def _sortby(raw: str, collection: Collection) -> list[tuple[str, bool]]:
    keys = []
    for term in filter(None, (t.strip() for t in raw.split(","))):
        name, descending = term.lstrip("+-"), term.startswith("-")
        if name not in collection.properties:
            raise OGCError(
                f"cannot sort by {name!r}; sortable properties are: {collection.describe_allowed()}"
            )
        keys.append((name, descending))
    return keys


def _properties(raw: str, collection: Collection) -> list[str]:
    names = [n.strip() for n in raw.split(",") if n.strip()]
    if unknown := [n for n in names if n not in collection.properties]:
        raise OGCError(
            f"unknown properties {unknown}; {collection.id} has: {collection.describe_allowed()}"
        )
    return names


def _ids(raw: str) -> list[int]:
    try:
        return [int(v) for v in raw.split(",") if v.strip()]
    except ValueError:
        raise OGCError(f"ids must be feature ids (whole numbers), not {raw!r}") from None


def property_value(collection: Collection, name: str, raw: str) -> Any:
    """A property=value parameter, as the value's own type (so a bad one is a 400, not a
    database error)."""
    schema = collection.properties[name]
    kind, fmt = schema.get("type"), schema.get("format")
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
        if kind == "boolean":
            return {"true": True, "false": False}[raw.lower()]
        if fmt in ("date", "date-time"):
            return parse_instant(raw)
    except (ValueError, KeyError, OGCError):
        raise OGCError(f"{name}={raw!r} is not a valid {fmt or kind}") from None
    return raw


def _flag(params: Mapping[str, str], name: str) -> bool:
    raw = params.get(name, "false").lower()
    if raw not in ("true", "false"):
        raise OGCError(f"{name} must be true or false, not {raw!r}")
    return raw == "true"


def _paging(params: Mapping[str, str], limits: tuple[int, int]) -> dict[str, Any]:
    default_items, max_items = limits
    limit = min(_int(params, "limit", default_items, 1) or default_items, max_items)
    paging = {"limit": limit, "offset": _int(params, "offset", 0, 0) or 0}
    if params.get("after"):
        if "sortby" in params:
            raise OGCError("after pages in feature id order; with sortby, page with offset")
        paging["after"] = _int(params, "after", None, 0)
    return paging


def _spatial(params: Mapping[str, str]) -> dict[str, Any]:
    spatial: dict[str, Any] = {"crs": crs_.parse_crs(params.get("crs"), "crs", crs_.DEFAULT)}
    if params.get("bbox"):
        spatial["bbox"] = parse_bbox(params["bbox"])
        spatial["bbox_crs"] = crs_.parse_crs(params.get("bbox-crs"), "bbox-crs", crs_.DEFAULT)
    elif params.get("bbox-crs"):
        raise OGCError("bbox-crs was given without a bbox")
    return spatial


def _filtering(params: Mapping[str, str], collection: Collection) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if params.get("filter"):
        found["filter"] = parse_filter(params["filter"], params.get("filter-lang"))
        found["filter_crs"] = crs_.parse_crs(params.get("filter-crs"), "filter-crs", crs_.DEFAULT)
    if params.get("datetime"):
        found |= parse_datetime(params["datetime"], collection)
    if params.get("ids"):
        found["ids"] = _ids(params["ids"])
    found["equals"] = [
        (k, property_value(collection, k, v)) for k, v in params.items() if k not in RESERVED
    ]
    return found


def parse_items_request(
    params: Mapping[str, str], collection: Collection, limits: tuple[int, int]
) -> FeatureRequest:
    if unknown := [k for k in params if k not in RESERVED and k not in collection.properties]:
        raise OGCError(
            f"unknown parameters {unknown}; an items request takes {', '.join(sorted(RESERVED))} "
            f"and property=value for any of: {collection.describe_allowed()}"
        )
    request = FeatureRequest(
        **_paging(params, limits), **_spatial(params), **_filtering(params, collection)
    )
    if params.get("sortby"):
        request.sortby = _sortby(params["sortby"], collection)
    if params.get("properties") is not None:
        request.properties = _properties(params["properties"], collection)
    request.skip_geometry = _flag(params, "skipGeometry")
    return request

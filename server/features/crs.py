"""The coordinate reference systems we serve and accept (OGC API - Features Part 2).

EPSG:4326 is latitude first, as its definition says; CRS84 is the same datum longitude first. Both
appear in responses and bbox parameters exactly as the client named them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.features.errors import OGCError

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"


@dataclass(frozen=True)
class Crs:
    uri: str
    srid: int
    lat_first: bool
    decimals: int  # digits kept in GeoJSON output: 7 for degrees (~1 cm), 3 for metres (1 mm)


SUPPORTED: dict[str, Crs] = {
    c.uri: c
    for c in (
        Crs(CRS84, 4326, False, 7),
        Crs(EPSG_URI.format(4326), 4326, True, 7),
        Crs(EPSG_URI.format(27700), 27700, False, 3),
        Crs(EPSG_URI.format(3857), 3857, False, 3),
    )
}
SUPPORTED_URIS = list(SUPPORTED)
_SHORT = re.compile(r"^\[?(EPSG|OGC):(\w+)\]?$", re.IGNORECASE)


def epsg_uri(srid: int) -> str:
    return EPSG_URI.format(srid)


def _normalise(value: str) -> str:
    """Accept the short forms clients also send: EPSG:27700, [EPSG:27700], OGC:CRS84."""
    value = value.strip().replace("https://", "http://")
    if match := _SHORT.match(value):
        authority, code = match.group(1).upper(), match.group(2).upper()
        return CRS84 if (authority, code) == ("OGC", "CRS84") else EPSG_URI.format(code)
    return value


def parse_crs(value: str | None, parameter: str, default: Crs) -> Crs:
    if value is None or value == "":
        return default
    crs = SUPPORTED.get(_normalise(value))
    if crs is None:
        raise OGCError(
            f"{parameter} {value!r} is not supported; use one of: {', '.join(SUPPORTED_URIS)}"
        )
    return crs


def srid_of(uri: str) -> int:
    crs = SUPPORTED.get(_normalise(uri))
    if crs is None:
        raise ValueError(f"unsupported storage CRS {uri!r}")
    return crs.srid


DEFAULT = SUPPORTED[CRS84]

"""OGC API - Records: a searchable catalogue of the region's themes, sources and publishers.

It is a pygeoapi record collection ("catalogue") whose provider is this module's class, plugged in
by dotted path, so pygeoapi does the paging, links and HTML. What configuration knows (titles,
licences, update frequencies, who publishes what) is written into the provider's config once; what
changes with every ingest (last successful run, feature counts, quality, extent) is read from
PostGIS on each request. Every record aggregates a set of sources: a source is one, a theme is all
of its sources, a publisher all of theirs.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from psycopg2 import sql
from pygeoapi.provider.base import BaseProvider, ProviderItemNotFoundError
from pyproj import Transformer

from ingest.db import transaction
from ingest.region import Publisher, Region, Source
from protocols import Protocols, ThemeSpec
from server.downloads import collection_links as download_links
from server.tiles import collection_links as tile_links

CATALOGUE_ID = "catalogue"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
FIELDS = {
    name: {"type": kind}
    for name, kind in {
        "type": "string",
        "title": "string",
        "description": "string",
        "license": "string",
        "updateFrequency": "string",
        "updated": "string",
        "featureCount": "integer",
    }.items()
}
SEARCHED = ("title", "description", "keywords", "publisher")

LATEST_RUNS = """
SELECT DISTINCT ON (source) source, finished_at, input, loaded, quarantined
FROM ingest_run WHERE status = 'succeeded' ORDER BY source, finished_at DESC, id DESC
"""
EXTENT = "SELECT source, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT source, ST_Extent(geom) AS e FROM {} GROUP BY source) AS x"  # noqa: E501


def _themes(ids: Iterable[str], base_url: str) -> list[dict[str, Any]]:
    """OGC Records themes: concepts from a scheme, here the collections they are served as."""
    concepts = [{"id": i} for i in ids]
    return [{"concepts": concepts, "scheme": f"{base_url}/ogc/collections"}] if concepts else []


def _link(href: str, rel: str, kind: str, title: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": kind, "title": title}


def _theme_links(theme: ThemeSpec, base_url: str) -> list[dict[str, str]]:
    collection = f"{base_url}/ogc/collections/{theme.id}"
    return [
        _link(collection, "collection", "application/json", f"{theme.title} collection"),
        _link(f"{collection}/items", "items", "application/geo+json", f"{theme.title} features"),
        *tile_links(theme, base_url),
        *download_links(theme, base_url),
    ]


def _from_protocol(theme: ThemeSpec, base_url: str) -> dict[str, Any]:
    """What a theme's record and its sources' records all take from the protocol."""
    return {
        "keywords": theme.keywords,
        "themes": _themes([theme.id], base_url),
        "license": theme.licence,
        "rights": theme.attribution,
        "updateFrequency": theme.update_frequency,
        "protocol": theme.ref,
        "links": _theme_links(theme, base_url),
    }


def _theme_record(theme: ThemeSpec, sources: list[Source], base_url: str) -> dict[str, Any]:
    return {
        "id": f"theme-{theme.id}",
        "type": "collection",
        "title": theme.title,
        "description": theme.description,
        "publishers": sorted({s.publisher for s in sources}),
        "sources": [s.id for s in sources],
    } | _from_protocol(theme, base_url)


def _source_record(
    source: Source, theme: ThemeSpec, publisher: Publisher, base_url: str
) -> dict[str, Any]:
    return {
        "id": f"source-{source.id}",
        "type": "dataset",
        "title": source.title or f"{theme.title} from {publisher.name}",
        "description": f"{publisher.name}'s {theme.title.lower()}, harmonised onto {theme.ref}.",
        "publishers": [publisher.id],
        "sources": [source.id],
    } | _from_protocol(theme, base_url)


def _publisher_record(
    publisher: Publisher, sources: list[Source], themes: dict[str, ThemeSpec], base_url: str
) -> dict[str, Any]:
    licences = {themes[s.theme].licence for s in sources}
    return {
        "id": f"publisher-{publisher.id}",
        "type": "publisher",
        "title": publisher.name,
        "description": f"A {publisher.kind.value} publishing "
        + (", ".join(sorted({themes[s.theme].title.lower() for s in sources})) or "nothing yet"),
        "keywords": [publisher.kind.value],
        "themes": _themes(sorted({s.theme for s in sources}), base_url),
        **({"license": licences.pop()} if len(licences) == 1 else {}),
        "publishers": [publisher.id],
        "sources": [s.id for s in sources],
        "links": [_link(publisher.website, "about", "text/html", publisher.name)]
        if publisher.website
        else [],
    }


def catalogue_records(protocols: Protocols, region: Region, base_url: str) -> list[dict[str, Any]]:
    """What the configuration says about every theme, source and publisher (plain, YAML-safe)."""
    themes = protocols.themes
    sources = list(region.sources.values())
    return [
        *(
            _theme_record(t, [s for s in sources if s.theme == t.id], base_url)
            for t in themes.values()
        ),
        *(
            _source_record(s, themes[s.theme], region.publisher(s.publisher), base_url)
            for s in sources
        ),
        *(
            _publisher_record(p, [s for s in sources if s.publisher == p.id], themes, base_url)
            for p in region.publishers
        ),
    ]


def catalogue_resource(
    protocols: Protocols, region: Region, database_url: str, base_url: str, bbox: list[float]
) -> dict[str, Any]:
    """The pygeoapi resource for the catalogue, to sit beside the theme collections."""
    return {
        "type": "collection",
        "title": f"{region.region.title}: catalogue",
        "description": "Searchable records of the region's themes, their sources and publishers: "
        "licence, update frequency, last successful load, feature counts and quality.",
        "keywords": ["catalogue", "metadata", "records"],
        "links": [],
        "extents": {"spatial": {"bbox": bbox, "crs": CRS84}},
        "providers": [
            {
                "type": "record",
                "name": "server.records.CatalogueProvider",
                "data": database_url,
                "id_field": "id",
                "title_field": "title",
                "time_field": "updated",
                "themes": {t.id: [t.table, t.storage_crs] for t in protocols.themes.values()},
                "records": catalogue_records(protocols, region, base_url),
                "publishers": {p.id: p.name for p in region.publishers},
            }
        ],
    }


def _read_state(url: str, themes: dict[str, list]) -> tuple[dict, dict]:
    """(latest successful run per source, extent per source in CRS84) from PostGIS."""
    extents: dict[str, tuple[float, ...]] = {}
    with transaction(url) as cur:
        cur.execute(LATEST_RUNS)
        runs = {row[0]: row[1:] for row in cur.fetchall()}
        for table, srid in themes.values():
            cur.execute(sql.SQL(EXTENT).format(sql.Identifier(table)))
            to_crs84 = Transformer.from_crs(srid, 4326, always_xy=True)
            for source, *box in cur.fetchall():
                extents[source] = tuple(round(v, 6) for v in to_crs84.transform_bounds(*box))
    return runs, extents


def _union(boxes: Iterable[tuple[float, ...]]) -> list[float] | None:
    boxes = list(boxes)
    if not boxes:
        return None
    return [min(b[0] for b in boxes), min(b[1] for b in boxes)] + [
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    ]


def _polygon(box: list[float] | None) -> dict[str, Any] | None:
    if box is None:
        return None
    x0, y0, x1, y1 = box
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def _iso(moment: datetime.datetime | None) -> str | None:
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z") if moment else None


def live_record(static: dict[str, Any], runs: dict, extents: dict, names: dict) -> dict[str, Any]:
    """An OGC Records GeoJSON feature: the configured record and the state of its sources now."""
    mine = [runs[s] for s in static["sources"] if s in runs]
    read = sum(r[1] or 0 for r in mine)
    quarantined = sum(r[3] or 0 for r in mine)
    box = _union(extents[s] for s in static["sources"] if s in extents)
    properties = {k: v for k, v in static.items() if k not in {"id", "links", "publishers"}}
    properties |= {
        "publisher": ", ".join(names[p] for p in static["publishers"]),
        "contacts": [{"name": names[p], "roles": ["publisher"]} for p in static["publishers"]],
        "updated": _iso(max((r[0] for r in mine), default=None)),
        "featureCount": sum(r[2] or 0 for r in mine),
        "quality": {
            "featuresRead": read,
            "featuresQuarantined": quarantined,
            "quarantinedShare": round(quarantined / read, 4) if read else None,
        },
        "extent": {"spatial": {"bbox": [box], "crs": CRS84}} if box else None,
    }
    return {
        "id": static["id"],
        "type": "Feature",
        "geometry": _polygon(box),
        "properties": properties,
        "links": static["links"],
    }


def _matches_q(record: dict[str, Any], q: str | None) -> bool:
    """OGC Records q: a comma-separated list of terms, any of which may match (case-insensitive)."""
    terms = [t.strip().lower() for t in (q or "").split(",") if t.strip()]
    if not terms:
        return True
    props = record["properties"]
    text = " ".join(str(props.get(k) or "") for k in SEARCHED).lower()
    return any(t in text for t in terms)


def _matches_bbox(record: dict[str, Any], bbox: list[float]) -> bool:
    if not bbox:
        return True
    box = (record["properties"].get("extent") or {}).get("spatial", {}).get("bbox", [None])[0]
    return box is not None and not (
        box[0] > bbox[2] or box[2] < bbox[0] or box[1] > bbox[3] or box[3] < bbox[1]
    )


def _matches_properties(record: dict[str, Any], properties: list[tuple[str, Any]]) -> bool:
    return all(str(record["properties"].get(k)) == str(v) for k, v in properties)


class CatalogueProvider(BaseProvider):
    """pygeoapi record provider over the configured records and the ingest bookkeeping."""

    def __init__(self, provider_def: dict[str, Any]) -> None:
        super().__init__(provider_def)
        self._static = provider_def["records"]
        self._themes = provider_def["themes"]
        self._names = provider_def["publishers"]
        self._fields = FIELDS

    def get_fields(self) -> dict[str, dict[str, str]]:
        return FIELDS

    def _records(self) -> list[dict[str, Any]]:
        runs, extents = _read_state(self.data, self._themes)
        return [live_record(r, runs, extents, self._names) for r in self._static]

    def query(
        self,
        offset: int = 0,
        limit: int = 10,
        resulttype: str = "results",
        bbox: list[float] | None = None,
        properties: list[tuple[str, Any]] | None = None,
        sortby: list[dict[str, str]] | None = None,
        q: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        found = [
            r
            for r in self._records()
            if _matches_q(r, q)
            and _matches_bbox(r, bbox or [])
            and _matches_properties(r, properties or [])
        ]
        for order in reversed(sortby or []):
            found.sort(
                key=lambda r, k=order["property"]: str(r["properties"].get(k) or ""),
                reverse=order["order"] == "-",
            )
        page = [] if resulttype == "hits" else found[offset : offset + limit]
        return {
            "type": "FeatureCollection",
            "features": page,
            "numberMatched": len(found),
            "numberReturned": len(page),
        }

    def get(self, identifier: str, **_: Any) -> dict[str, Any]:
        record = next((r for r in self._records() if r["id"] == identifier), None)
        if record is None:
            raise ProviderItemNotFoundError(f"no catalogue record {identifier!r}")
        return record

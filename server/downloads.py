"""Downloads: a whole collection, or any selection an items request can make, as a file.

GeoPackage, FlatGeobuf, CSV and GeoJSON, in the CRS the user asks for (British National Grid by
default, the CRS QGIS users here work in; GeoJSON defaults to CRS84 as RFC 7946 expects). Rows come
from a server-side cursor in batches, so memory stays bounded however large the result: GeoJSON and
CSV are streamed as text while they are produced; GeoPackage and FlatGeobuf cannot be sent before
they are complete, so they are written batch by batch to a temporary file that is streamed, then
deleted.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyogrio
from psycopg2 import sql
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Route

from ingest.db import connect
from protocols import ThemeSpec
from server.access.reading import refusal
from server.access.refusals import Refused
from server.features import crs as crs_
from server.features import sql as feature_sql
from server.features.collection import Collection
from server.features.errors import OGCError, not_found
from server.features.params import FeatureRequest, parse_items_request
from server.features.sql import conditions, feature_json
from server.visibility import view_for

BATCH = 10_000
PAGING = ("limit", "offset", "after", "skipGeometry")  # a download holds every match
ARROW_TYPES = {"integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_()}
ARROW_FORMATS = {"date": pa.date32(), "date-time": pa.timestamp("us", tz="UTC")}


@dataclass(frozen=True)
class Format:
    key: str
    label: str
    media_type: str
    driver: str | None = None  # GDAL driver for the formats written to a file first


FORMATS = {
    f.key: f
    for f in (
        Format("gpkg", "GeoPackage", "application/geopackage+sqlite3", "GPKG"),
        Format("fgb", "FlatGeobuf", "application/flatgeobuf", "FlatGeobuf"),
        Format("csv", "CSV", "text/csv; charset=utf-8"),
        Format("geojson", "GeoJSON", "application/geo+json"),
    )
}
DRIVER_OPTIONS = {"GPKG": {"VERSION": "1.3"}, "FlatGeobuf": {}}  # 1.3: read by GDAL < 3.8 too


@dataclass(frozen=True)
class Selection:
    """What the user asked for, checked: the collection, the rows, the CRS and the format."""

    collection: Collection
    request: FeatureRequest
    format: Format

    @property
    def names(self) -> list[str]:
        return self.request.properties or list(self.collection.properties)

    @property
    def crs_name(self) -> str:
        return (
            "OGC:CRS84" if self.request.crs.uri == crs_.CRS84 else f"EPSG:{self.request.crs.srid}"
        )

    @property
    def filename(self) -> str:
        return f"{self.collection.id}-{date.today().isoformat()}.{self.format.key}"


def select(collection: Collection, params: dict[str, str]) -> Selection:
    """The items request grammar (bbox, datetime, property=value, CQL2 filter, crs) minus paging;
    the CRS defaults to the storage CRS, or CRS84 for GeoJSON as RFC 7946 expects."""
    fmt = FORMATS.get(params.pop("f", "gpkg"))
    if fmt is None:
        raise OGCError(f"f must be one of {', '.join(FORMATS)}")
    if paging := [p for p in PAGING if p in params]:
        raise OGCError(f"a download holds every matching feature; drop {', '.join(paging)}")
    storage = crs_.CRS84 if fmt.key == "geojson" else crs_.epsg_uri(collection.srid)
    params.setdefault("crs", storage)
    return Selection(collection, parse_items_request(params, collection, (1, 1)), fmt)


def _rows(url: str, selection: Selection, columns: sql.Composable) -> Iterator[list[tuple]]:
    """Batches from a server-side cursor, on a connection of the download's own."""
    collection, request = selection.collection, selection.request
    statement = feature_sql.Statement().add(sql.SQL("SELECT {} FROM ").format(columns))
    for part in (feature_sql.source(collection, request.as_of), conditions(collection, request)):
        statement.parts.extend(part.parts)
        statement.params.extend(part.params)
    statement.add(sql.SQL(" ORDER BY t.fid"))
    conn = connect(url)
    try:
        conn.set_session(readonly=True)
        with conn.cursor(name="download") as cur:
            cur.itersize = BATCH
            cur.execute(statement.composed(), statement.params)
            while batch := cur.fetchmany(BATCH):
                yield batch
    finally:
        conn.close()


def _geometry(selection: Selection) -> sql.Composable:
    """In the requested CRS, longitude first for 4326: files and CSV follow GIS axis order."""
    return sql.SQL("ST_Transform(t.geom, {})").format(sql.Literal(selection.request.crs.srid))


def _columns(names: list[str], cast: str | None = None) -> list[sql.Composable]:
    template = sql.SQL("t.{}::" + cast) if cast else sql.SQL("t.{}")
    return [template.format(sql.Identifier(n)) for n in names]


def _geojson_chunks(url: str, selection: Selection) -> Iterator[str]:
    """The same feature text as the items route writes, framed as one FeatureCollection."""
    request = selection.request
    feature = feature_json(selection.collection, request.crs, request.properties, False)
    crs = ""
    if request.crs.uri != crs_.CRS84:
        named = f"urn:ogc:def:crs:EPSG::{request.crs.srid}"
        crs = f',"crs":{{"type":"name","properties":{{"name":"{named}"}}}}'
    yield f'{{"type":"FeatureCollection","name":"{selection.collection.id}"{crs},"features":['
    separator = ""
    for batch in _rows(url, selection, feature):
        yield separator + ",".join(row[0] for row in batch)
        separator = ","
    yield "]}\n"


def _csv_chunks(url: str, selection: Selection) -> Iterator[str]:
    """Points as x/y columns (what spreadsheets and QGIS's delimited text expect), else WKT."""
    geom = _geometry(selection)
    if selection.collection.geometry_types == ("Point",):
        geometry = [sql.SQL("ST_X({g})::text, ST_Y({g})::text").format(g=geom)]
        geometry_header = ["x", "y"]
    else:
        geometry = [sql.SQL("ST_AsText({})").format(geom)]
        geometry_header = ["wkt"]
    columns = sql.SQL(", ").join(_columns(selection.names, "text") + geometry)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(selection.names + geometry_header)
    for batch in _rows(url, selection, columns):
        writer.writerows(batch)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def arrow_schema(selection: Selection) -> pa.Schema:
    """Column types from the collection's JSON Schema, the one description of its properties."""

    def arrow_type(schema: dict[str, Any]) -> pa.DataType:
        kind = ARROW_FORMATS.get(schema.get("format", ""))
        return kind or ARROW_TYPES.get(schema.get("type", ""), pa.string())

    properties = selection.collection.properties
    fields = [(n, arrow_type(properties[n])) for n in selection.names]
    return pa.schema([*fields, ("geometry", pa.binary())])


def _arrow_batches(url: str, selection: Selection, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    columns = [
        sql.SQL("{}::float8").format(c) if t == pa.float64() else c
        for c, t in zip(_columns(selection.names), schema.types, strict=False)
    ]
    columns.append(sql.SQL("ST_AsBinary({})").format(_geometry(selection)))
    for batch in _rows(url, selection, sql.SQL(", ").join(columns)):
        values = list(zip(*batch, strict=True))
        values[-1] = [bytes(g) for g in values[-1]]
        arrays = [pa.array(v, type=t) for v, t in zip(values, schema.types, strict=True)]
        yield pa.record_batch(arrays, schema=schema)


def write_file(url: str, selection: Selection, path: Path) -> None:
    """Write the selection with GDAL (through pyogrio) one batch at a time."""
    collection, driver = selection.collection, selection.format.driver
    schema = arrow_schema(selection)
    types = collection.geometry_types
    reader = pa.RecordBatchReader.from_batches(schema, _arrow_batches(url, selection, schema))
    pyogrio.write_arrow(
        reader,
        path,
        layer=collection.id,
        driver=driver,
        geometry_name="geometry",
        geometry_type=types[0] if len(types) == 1 else "Unknown",
        crs=selection.crs_name,
        dataset_options=DRIVER_OPTIONS[driver],
    )


def _headers(selection: Selection) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="{selection.filename}"',
        "Content-Crs": f"<{selection.request.crs.uri}>",
    }


def download_response(url: str, selection: Selection) -> Response:
    fmt = selection.format
    if fmt.driver is None:
        chunks = _geojson_chunks if fmt.key == "geojson" else _csv_chunks
        return StreamingResponse(
            chunks(url, selection), media_type=fmt.media_type, headers=_headers(selection)
        )
    folder = Path(tempfile.mkdtemp(prefix="regiongis-download-"))
    try:
        path = folder / selection.filename
        write_file(url, selection, path)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        path,
        media_type=fmt.media_type,
        headers=_headers(selection),
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


def collection_links(theme: ThemeSpec, base_url: str) -> list[dict[str, str]]:
    """Download links for the collection's page in pygeoapi.

    rel=alternate rather than enclosure: pygeoapi sends a HEAD request to every enclosure link
    without a length each time it lists collections, which would build every download.
    """
    return [
        {
            "type": fmt.media_type,
            "rel": "alternate",
            "title": f"Download all {theme.title.lower()} as {fmt.label}",
            "href": f"{base_url}/ogc/collections/{theme.id}/download?f={key}",
        }
        for key, fmt in FORMATS.items()
    ]


def download_routes(collections: dict[str, Collection], database_url: str) -> list[Route]:
    def download(request: Request) -> Response:
        collection = collections.get(request.path_params["collection_id"])
        if collection is None:
            cid = request.path_params["collection_id"]
            return not_found(f"no collection {cid!r} to download").response()
        try:
            view = view_for(request, collection, "download")
            return download_response(database_url, select(view, dict(request.query_params)))
        except OGCError as exc:
            return exc.response()
        except Refused as exc:
            return refusal(exc)

    return [Route("/ogc/collections/{collection_id}/download", download)]

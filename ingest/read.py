"""Phase 1, read: any GDAL-readable publisher file, as GeoDataFrames in its own CRS.

Everything goes through GDAL's Arrow stream (pyogrio.open_arrow) so every format GDAL reads is a
format we read (zipped Shapefiles, GeoPackage, GeoJSON, CSV with coordinate or WKT columns, KML,
GML, FlatGeobuf, MapInfo TAB, ...) at Arrow speed, in batches, so memory stays flat however big
the file. The index of every batch is the feature's position in the file: its `source_row`.

Files that cannot be read are refused with one sentence (UnreadableInput) before anything is
written: checks GDAL would not make (an empty file, a Shapefile missing its .dbf, binary junk
under a text name, text that is not in the encoding the source declares) are made here.
"""

from __future__ import annotations

import codecs
import hashlib
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError, GeometryError
from pyogrio.raw import open_arrow
from pyproj import CRS

from ingest.coordinates import (
    LineFrame,
    PointFrame,
    RingFrame,
    plain_lines,
    plain_rings,
    plain_xy,
)
from ingest.errors import ConfigError, UnreadableInput
from ingest.region import Source

BATCH_SIZE = 65_536  # points
SHAPE_BATCH_SIZE = 16_384  # lines and polygons: tens of vertices each
TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".json", ".geojson", ".geojsonl", ".kml", ".gml", ".xml"}
TRANSCODED_SUFFIXES = {".csv", ".tsv", ".txt", ".json", ".geojson", ".geojsonl"}
SIDECARS = (".csvt", ".prj")
UTF8 = {"utf-8", "utf-8-sig"}
READ_ERRORS = (DataSourceError, DataLayerError, GeometryError, pa.ArrowException, OSError)


@dataclass
class Batches:
    """An open publisher file (the path it was sent as, its CRS): how many features it says it
    has (None if it cannot say cheaply), and its features as GeoDataFrames (PointFrames for plain
    points or LineFrames: see ingest.coordinates) of at most `batch_size` rows."""

    path: Path
    crs: CRS
    total: int | None
    frames: Iterator[pd.DataFrame]


def _csv_open_options(source: Source) -> dict[str, str]:
    if source.csv is None:
        return {}
    if source.csv.wkt:
        return {"GEOM_POSSIBLE_NAMES": source.csv.wkt, "KEEP_GEOM_COLUMNS": "NO"}
    return {
        "X_POSSIBLE_NAMES": source.csv.x or "",
        "Y_POSSIBLE_NAMES": source.csv.y or "",
        "KEEP_GEOM_COLUMNS": "NO",
    }


def _encoding(source: Source) -> str | None:
    if not source.encoding:
        return None
    try:
        return codecs.lookup(source.encoding).name
    except LookupError:
        raise ConfigError(
            f"source {source.id}: unknown encoding {source.encoding!r}; "
            "use a name such as utf-8, cp1252 or latin-1"
        ) from None


def _check_shapefile_parts(path: Path) -> None:
    """GDAL opens a .shp without its .dbf as a layer with no attributes; we refuse it."""
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile:
            raise UnreadableInput(
                f"{path.name} is not a readable zip archive (damaged or cut short); "
                "ask the publisher to send it again"
            ) from None
    else:
        names = [p.name for p in path.parent.iterdir()] if path.suffix.lower() == ".shp" else []
    lower = {n.lower() for n in names}
    for shp in (n for n in names if n.lower().endswith(".shp")):
        stem = shp[:-4]
        missing = [e for e in (".shx", ".dbf") if f"{stem}{e}".lower() not in lower]
        if missing:
            raise UnreadableInput(
                f"{path.name}: the Shapefile {Path(shp).name} has no {' or '.join(missing)} "
                "beside it; a Shapefile needs its .shp, .shx and .dbf parts together"
            )


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise UnreadableInput(f"{path}: no such file")
    if path.is_file() and path.stat().st_size == 0:
        raise UnreadableInput(f"{path.name} is empty (0 bytes); ask the publisher to send it again")
    if path.suffix.lower() in TEXT_SUFFIXES:
        with path.open("rb") as f:
            head = f.read(1 << 16)
        if b"\x00" in head:
            raise UnreadableInput(
                f"{path.name}: GDAL cannot read it: it holds binary data but is named as text; "
                "check it is the right file (if it is UTF-16 text, save it as UTF-8)"
            )
    _check_shapefile_parts(path)


def _transcode(path: Path, encoding: str, folder: Path) -> Path:
    """A UTF-8 copy of a text file (with its sidecars), since GDAL's Arrow stream is UTF-8 only."""
    copy = folder / path.name
    try:
        with (
            path.open(encoding=encoding, newline="") as src,
            copy.open("w", encoding="utf-8", newline="") as dst,
        ):
            shutil.copyfileobj(src, dst, 1 << 20)
    except UnicodeDecodeError as exc:
        raise UnreadableInput(
            f"{path.name} is not {encoding} text (byte {exc.object[exc.start]:#04x} at "
            f"{exc.start}); correct `encoding` in the source's mapping"
        ) from None
    for suffix in SIDECARS:
        sidecar = path.with_suffix(suffix)
        if sidecar.exists():
            shutil.copy(sidecar, folder / sidecar.name)
    return copy


def _layer(path: Path, source: Source) -> str | None:
    """The layer to read: the one the source names, or the only one there is."""
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except READ_ERRORS as exc:
        raise UnreadableInput(f"{path.name}: GDAL cannot read it ({_first_line(exc)})") from None
    if source.layer is not None:
        if source.layer not in layers:
            raise UnreadableInput(
                f"{path.name} has no layer {source.layer!r}; its layers are {', '.join(layers)}"
            )
        return source.layer
    if len(layers) > 1:
        raise UnreadableInput(
            f"{path.name} holds {len(layers)} layers ({', '.join(layers)}); say which one with "
            f"`layer:` in source {source.id}"
        )
    return None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _frame(batch: pa.RecordBatch, meta: dict, start: int, crs: CRS) -> pd.DataFrame:
    """A GeoDataFrame, or a PointFrame, LineFrame or RingFrame when every feature is a plain 2D
    point, line or polygon of one ring (ingest.coordinates)."""
    geometry_name = meta["geometry_name"] or "wkb_geometry"
    wkb = batch.column(geometry_name) if geometry_name in batch.schema.names else None
    if wkb is not None:
        batch = batch.drop_columns([geometry_name])
    frame = batch.to_pandas(date_as_object=False)
    frame.index = pd.RangeIndex(start, start + len(frame))
    xy = plain_xy(wkb) if wkb is not None else None
    if xy is not None:
        return PointFrame.of(frame, xy, crs)
    lines = plain_lines(wkb) if wkb is not None else None
    if lines is not None:
        return LineFrame.of(frame, *lines, crs)
    rings = plain_rings(wkb) if wkb is not None else None
    if rings is not None:
        coords, offsets, multi = rings
        return RingFrame.of(frame, coords, offsets, crs, multi=multi)
    if wkb is not None:
        geometry = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False), on_invalid="ignore")
    else:
        geometry = [None] * batch.num_rows
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, index=frame.index), crs=crs)


def _crs(path: Path, source: Source, meta: dict) -> CRS:
    crs = source.crs or meta["crs"]
    if crs is None:
        raise UnreadableInput(
            f"{path.name}: the file does not say its coordinate system; "
            f"add `crs: EPSG:27700` (or the right code) to source {source.id}"
        )
    return CRS.from_user_input(crs)


def _is_utf8(batch: pa.RecordBatch) -> bool:
    """GDAL passes text through as it finds it; Arrow strings must be UTF-8."""
    try:
        batch.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _not_utf8(name: str) -> UnreadableInput:
    return UnreadableInput(
        f"{name} is not UTF-8 text; add `encoding:` with the encoding it was saved in "
        "(for example cp1252) to the source's mapping"
    )


def _stream(
    reader: pa.RecordBatchReader, meta: dict, crs: CRS, name: str
) -> Iterator[pd.DataFrame]:
    """Frames in file order; an empty layer still gives one (empty) frame with its columns."""
    start = 0
    try:
        for batch in reader:
            if not _is_utf8(batch):
                raise _not_utf8(name)
            yield _frame(batch, meta, start, crs)
            start += batch.num_rows
        if start == 0:
            yield _frame(pa.RecordBatch.from_pylist([], reader.schema), meta, 0, crs)
    except UnicodeDecodeError:
        raise _not_utf8(name) from None
    except READ_ERRORS as exc:
        raise UnreadableInput(
            f"{name}: GDAL stopped reading at feature {start} ({_first_line(exc)}); "
            "the file may be damaged or cut short"
        ) from None


def _open_options(path: Path, source: Source, encoding: str | None) -> dict[str, str]:
    options = {k.lower(): v for k, v in _csv_open_options(source).items()}
    if encoding and encoding not in UTF8 and path.suffix.lower() in {".zip", ".shp", ".dbf"}:
        options["encoding"] = encoding  # a Shapefile's .cpg says its encoding; this overrides it
    return options


def _batch_size(info: dict) -> int:
    """Features a batch: fewer for lines and polygons than for points, so that a batch's
    coordinate arrays stay a few megabytes and the pipeline's threads start and finish sooner
    (100,000 lines took 6% less CPU in 16,384-line batches than in 65,536-line ones)."""
    return BATCH_SIZE if "Point" in str(info.get("geometry_type")) else SHAPE_BATCH_SIZE


@contextmanager
def open_batches(path: Path, source: Source, batch_size: int | None = None) -> Iterator[Batches]:
    """The publisher's file as it was sent, batch by batch (of batch_size features, or as many
    as suit its kind of geometry); attribute values as GDAL typed them."""
    _check_readable(path)
    encoding = _encoding(source)
    with ExitStack() as stack:
        readable = path
        if encoding and encoding not in UTF8 and path.suffix.lower() in TRANSCODED_SUFFIXES:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="regiongis-read-"))
            readable = _transcode(path, encoding, Path(folder))
        layer = _layer(readable, source)
        options = _open_options(readable, source, encoding)
        try:
            info = pyogrio.read_info(readable, layer=layer, **options)
            size = batch_size or _batch_size(info)
            meta, reader = stack.enter_context(
                open_arrow(readable, layer=layer, batch_size=size, use_pyarrow=True, **options)
            )
        except READ_ERRORS as exc:
            raise UnreadableInput(
                f"{path.name}: GDAL cannot read it as {source.theme} data ({_first_line(exc)})"
            ) from None
        crs = _crs(path, source, meta)
        total = info["features"]
        frames = _stream(reader, meta, crs, path.name)
        yield Batches(path=path, crs=crs, total=total if total >= 0 else None, frames=frames)


def file_sha256(path: Path) -> str:
    """The file's provenance checksum (hashlib lets go of the GIL as it reads)."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()

"""Magic-byte sniffing: a file's contents must be what its extension says, before GDAL opens it.

GDAL picks a driver from the bytes, not the name, so a `.geojson` that is really a zip or an XML
document would reach a parser nobody meant to expose. Each accepted extension names the one kind
of content it may hold; XML is also refused if it declares a DTD or entities (billion laughs,
external entities), since GDAL's XML drivers would expand them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from server.access.refusals import UnsafeFile, WrongContent

HEAD_BYTES = 64 * 1024
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
SQLITE_MAGIC = b"SQLite format 3\x00"
FLATGEOBUF_MAGIC = b"fgb\x03"
SHAPEFILE_MAGIC = b"\x00\x00\x27\x0a"  # file code 9994, big-endian, in .shp and .shx headers
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
XML_DANGER = (b"<!doctype", b"<!entity")


def _is_text(head: bytes) -> bool:
    return not head.startswith(UTF16_BOMS) and b"\x00" not in head


def _first_char(head: bytes) -> bytes:
    return head.removeprefix(UTF8_BOM).lstrip()[:1]


def _zip(head: bytes) -> bool:
    return head.startswith(ZIP_MAGIC)


def _json(head: bytes) -> bool:
    return _is_text(head) and _first_char(head) in (b"{", b"[")


def _xml(head: bytes) -> bool:
    return _is_text(head) and _first_char(head) == b"<"


def _anything(head: bytes) -> bool:
    return True


# extension -> (what it should be, the test its first bytes must pass)
KINDS: dict[str, tuple[str, Callable[[bytes], bool]]] = {
    ".zip": ("a zip archive", _zip),
    ".gpkg": ("a GeoPackage", lambda h: h.startswith(SQLITE_MAGIC)),
    ".fgb": ("a FlatGeobuf file", lambda h: h.startswith(FLATGEOBUF_MAGIC)),
    ".geojson": ("GeoJSON", _json),
    ".json": ("GeoJSON", _json),
    ".kml": ("KML (XML)", _xml),
    ".gml": ("GML (XML)", _xml),
    ".csv": ("CSV text", _is_text),
    ".shp": ("Shapefile geometry (.shp)", lambda h: h.startswith(SHAPEFILE_MAGIC)),
    ".shx": ("a Shapefile index (.shx)", lambda h: h.startswith(SHAPEFILE_MAGIC)),
    ".dbf": ("Shapefile attributes (.dbf)", _anything),
    ".prj": ("a projection (.prj) text", _is_text),
    ".cpg": ("a code page (.cpg) text", _is_text),
    ".qix": ("a spatial index", _anything),
    ".sbn": ("a spatial index", _anything),
    ".sbx": ("a spatial index", _anything),
    ".xml": ("metadata (XML)", _xml),
}
UPLOADABLE = [".zip", ".gpkg", ".fgb", ".geojson", ".json", ".kml", ".gml", ".csv"]
DATASETS = [s for s in UPLOADABLE if s != ".zip"] + [".shp"]


def describe(head: bytes) -> str:
    """What the bytes look like, for a message that says what was actually sent."""
    for looks, test in [
        ("a zip archive", _zip),
        ("a GeoPackage/SQLite database", lambda h: h.startswith(SQLITE_MAGIC)),
        ("a FlatGeobuf file", lambda h: h.startswith(FLATGEOBUF_MAGIC)),
        ("Shapefile geometry", lambda h: h.startswith(SHAPEFILE_MAGIC)),
        ("JSON", _json),
        ("XML", _xml),
        ("text", _is_text),
    ]:
        if test(head):
            return looks
    return "binary data"


def check_uploadable(name: str) -> None:
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOADABLE:
        raise WrongContent(
            f"{name}: {suffix or 'no extension'} is not a format regiongis takes on its own; "
            f"upload one of {', '.join(UPLOADABLE)} (a Shapefile goes in a .zip with its "
            ".shx, .dbf and .prj)"
        )


def check_content(path: Path, shown_name: str) -> None:
    """Refuse the file unless its bytes are what its extension promises."""
    suffix = path.suffix.lower()
    if suffix not in KINDS:
        check_uploadable(shown_name)
    expected, test = KINDS[suffix]
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    if not test(head):
        raise WrongContent(
            f"{shown_name}: the name says {expected} but the contents are {describe(head)}; "
            "check you chose the right file, or save it again in that format"
        )
    if test is _xml:
        refuse_xml_declarations(path, shown_name)


def refuse_xml_declarations(path: Path, shown_name: str) -> None:
    """Scan the whole document: a DOCTYPE may follow a long comment."""
    overlap = max(len(d) for d in XML_DANGER)
    tail = b""
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            window = (tail + block).lower()
            if any(d in window for d in XML_DANGER):
                raise UnsafeFile(
                    f"{shown_name}: XML with a <!DOCTYPE> or <!ENTITY> declaration is refused "
                    "(entity expansion attacks); export it again without a DTD"
                )
            tail = window[-overlap:]

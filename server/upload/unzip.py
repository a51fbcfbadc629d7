"""Zip archives opened safely: names, sizes and ratios checked from the central directory first,
then every byte counted again while extracting, since the directory can lie.

Members are extracted flat into one folder (a folder inside the zip is common and harmless), so
no name can place a file anywhere else; names that try (`../`, absolute, drive letters) are
refused anyway, as an upload that tries is an attack rather than a mistake.
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from server.access.refusals import UnsafeFile, WrongContent
from server.upload.sniff import DATASETS, KINDS, check_content

MAX_MEMBERS = 1000
RATIO_FLOOR = 1024**2  # members smaller than this may compress as well as they like
SIDE_FILES = (".shx", ".dbf")


@dataclass(frozen=True)
class ZipLimits:
    max_expanded: int
    max_ratio: int


def _refuse_unsafe_name(info: zipfile.ZipInfo) -> None:
    name = info.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise UnsafeFile(f"the zip member {info.filename!r} points outside the archive; refused")
    if "\x00" in name:
        raise UnsafeFile("a zip member name contains a NUL byte; refused")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise UnsafeFile(f"the zip member {info.filename!r} is a symbolic link; refused")
    if info.flag_bits & 0x1:
        raise UnsafeFile(
            f"the zip member {info.filename!r} is encrypted; zip it without a password"
        )


def _wanted(info: zipfile.ZipInfo) -> bool:
    """Members we extract: known GIS parts, not folders, macOS resource forks or read-me files."""
    path = PurePosixPath(info.filename.replace("\\", "/"))
    if info.is_dir() or "__MACOSX" in path.parts or path.name.startswith("._"):
        return False
    if path.suffix.lower() == ".zip":
        raise UnsafeFile(f"the zip holds another zip ({info.filename}); upload the inner one")
    return path.suffix.lower() in KINDS


def _bomb(detail: str) -> UnsafeFile:
    return UnsafeFile(f"the zip expands too far ({detail}); refused as a possible zip bomb")


def _check_directory(members: list[zipfile.ZipInfo], limits: ZipLimits) -> None:
    if len(members) > MAX_MEMBERS:
        raise UnsafeFile(f"the zip has {len(members)} files; at most {MAX_MEMBERS} are read")
    names = Counter(PurePosixPath(i.filename.replace("\\", "/")).name.lower() for i in members)
    if clash := [n for n, count in names.items() if count > 1]:
        raise WrongContent(f"the zip holds several files named {clash[0]}; upload one dataset")
    total = sum(i.file_size for i in members)
    if total > limits.max_expanded:
        raise _bomb(f"{total:,} bytes declared, the limit is {limits.max_expanded:,}")
    for i in members:
        if i.file_size > RATIO_FLOOR and i.file_size > limits.max_ratio * max(i.compress_size, 1):
            raise _bomb(f"{i.filename} is compressed {i.file_size // max(i.compress_size, 1)}:1")


def _extract(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, into: Path, budget: int, limits: ZipLimits
) -> int:
    """Copy one member out, counting; returns the bytes written."""
    target = into / PurePosixPath(info.filename.replace("\\", "/")).name
    written = 0
    with archive.open(info) as src, target.open("wb") as out:
        for block in iter(lambda: src.read(1 << 20), b""):
            written += len(block)
            if written > info.file_size or written > budget:
                raise _bomb(f"{info.filename} holds more than its directory entry says")
            if written > RATIO_FLOOR and written > limits.max_ratio * max(info.compress_size, 1):
                raise _bomb(f"{info.filename} expands past {limits.max_ratio}:1")
            out.write(block)
    return written


def extract_dataset(path: Path, into: Path, limits: ZipLimits) -> Path:
    """Extract the zip's GIS files into `into` and return what GDAL should open."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise WrongContent(f"{path.name}: not a readable zip archive ({exc})") from exc
    with archive:
        for info in archive.infolist():
            _refuse_unsafe_name(info)
        members = [i for i in archive.infolist() if _wanted(i)]
        _check_directory(members, limits)
        into.mkdir()
        budget = limits.max_expanded
        try:
            for info in members:
                budget -= _extract(archive, info, into, budget, limits)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise UnsafeFile(
                f"{path.name}: the zip's contents do not match its directory ({exc}); refused"
            ) from exc
    return _dataset(into, path.name)


def _dataset(folder: Path, zip_name: str) -> Path:
    files = sorted(folder.iterdir())
    for f in files:
        check_content(f, f"{zip_name}: {f.name}")
    datasets = [f for f in files if f.suffix.lower() in DATASETS]
    if not datasets:
        raise WrongContent(
            f"{zip_name} holds no dataset regiongis reads; zip a Shapefile (.shp with .shx, .dbf "
            f"and .prj) or one of {', '.join(s for s in DATASETS if s != '.shp')}"
        )
    for shp in (f for f in datasets if f.suffix.lower() == ".shp"):
        for side in SIDE_FILES:
            if not any(f.name.lower() == shp.stem.lower() + side for f in files):
                raise WrongContent(f"{zip_name}: {shp.name} has no {side} beside it; zip it too")
    if len(datasets) == 1:
        return datasets[0]
    if all(f.suffix.lower() == ".shp" for f in datasets):
        return folder  # several Shapefiles: the source's `layer` picks one
    names = ", ".join(f.name for f in datasets)
    raise WrongContent(f"{zip_name} holds several datasets ({names}); upload one per source")

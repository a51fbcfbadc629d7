"""Known problems across the demo councils' boundaries, seeded so the checks have something to find.

A separate step after write_demo_files, because it deliberately breaks what the clean demo
promises (every feature inside its publisher's area, councils tiling the region exactly):

- works that stop 1.2, 3.0 and 4.6 m short of their continuation across Trentvale | Soar & Wreake;
- works that end 4 m from Belvoir Vale with nothing of theirs to join;
- the same boundary-road works, and the same street light, supplied by both Trentvale and Soar &
  Wreake;
- Soar & Wreake works drawn 300-700 m inside Trentvale;
- a sliver gap between Trentvale and Belvoir Vale, and Belvoir Vale overlapping Soar & Wreake.

Features are appended to the publishers' own files in their own dialects, encoded through the
same source mappings that decode them, so the demo files still look like what each publisher sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from ingest.region import Region, Source, load_region
from server.demo_data import BNG, SOURCES
from server.settings import DEFAULT_CONFIG_DIR

BOUNDARIES_FILE = "boundaries.gpkg"
EDGE_MATCH_GAPS_M = (1.2, 3.0, 4.6)
DANGLING_GAP_M = 4.0
DUPLICATE_OFFSET_M = 25.0
SLIVER = ("trentvale", "belvoir-vale", 0.6, 1500.0, 8.0)
"""The gap: cut from the first council along its edge with the second, at that fraction of the
edge, that long and that wide (m)."""
OVERLAP = ("belvoir-vale", "soar-wreake", 0.5, 1000.0, 3.0)
"""The overlap: the first council extended into the second, likewise."""


@dataclass(frozen=True)
class Case:
    """One seeded feature, in protocol terms, with what the checks should say about it."""

    source: str
    record: dict[str, object]
    geometry: BaseGeometry
    expect: str | None = None  # the kind of issue filed against this feature, if any


def _works(reference: str, promoter: str) -> dict[str, object]:
    return {
        "reference": reference,
        "works_type": "resurfacing",
        "status": "planned",
        "start_date": date(2027, 3, 1),
        "end_date": date(2027, 3, 12),
        "promoter": promoter,
    }


def _lamp(unit_id: str) -> dict[str, object]:
    return {
        "unit_id": unit_id,
        "lamp_type": "led",
        "wattage": 36,
        "installed_date": date(2021, 6, 1),
    }


class Edge:
    """The line two councils share, and directions across it."""

    def __init__(self, areas: dict[str, BaseGeometry], one: str, other: str) -> None:
        merged = shapely.line_merge(
            shapely.intersection(areas[one].boundary, areas[other].boundary)
        )
        self.line: LineString = max(shapely.get_parts(merged), key=lambda p: p.length)
        self.areas, self.one = areas, one

    def at(self, fraction: float) -> tuple[Point, tuple[float, float]]:
        """The point that far along, and the unit normal pointing into the first council."""
        along = fraction * self.line.length
        here = self.line.interpolate(along)
        ahead, behind = self.line.interpolate(along + 1), self.line.interpolate(along - 1)
        dx, dy = ahead.x - behind.x, ahead.y - behind.y
        norm = (dx * dx + dy * dy) ** 0.5
        normal = (-dy / norm, dx / norm)
        if not self.areas[self.one].contains(_shift(here, normal, 10)):
            normal = (-normal[0], -normal[1])
        return here, normal

    def across(self, fraction: float, near: float, far: float, into_one: bool) -> LineString:
        """A straight line across the edge's normal, from `far` to `near` metres off it."""
        here, (nx, ny) = self.at(fraction)
        sign = 1 if into_one else -1
        return LineString(
            [_shift(here, (sign * nx, sign * ny), far), _shift(here, (sign * nx, sign * ny), near)]
        )

    def strip(self, fraction: float, length: float, width: float) -> Polygon:
        """A strip `width` wide on both sides of `length` metres of the edge."""
        start = fraction * self.line.length
        return substring(self.line, start, start + length).buffer(width, cap_style="flat")


def _shift(point: Point, direction: tuple[float, float], distance: float) -> Point:
    return Point(point.x + direction[0] * distance, point.y + direction[1] * distance)


def _cases(region: Region, areas: dict[str, BaseGeometry]) -> list[Case]:
    trent_soar = Edge(areas, "trentvale", "soar-wreake")
    trent_belvoir = Edge(areas, "trentvale", "belvoir-vale")
    trentvale, soar = (region.publisher(p).name for p in ("trentvale", "soar-wreake"))
    cases = []
    for i, (gap, at) in enumerate(zip(EDGE_MATCH_GAPS_M, (0.25, 0.45, 0.65), strict=True)):
        cases += [
            Case(
                "trentvale-roadworks",
                _works(f"TBC-RW-99000{i}", trentvale),
                trent_soar.across(at, gap / 2, 300, into_one=True),
            ),
            Case(
                "soar-wreake-roadworks",
                _works(f"SWDC-2027-9900{i}", soar),
                trent_soar.across(at, gap / 2, 300, into_one=False),
                expect="edge-match",  # filed once per joint, under the first publisher by name
            ),
        ]
    road = _boundary_road(trent_soar, 0.85, 400)
    cases += [
        Case(
            "trentvale-roadworks",
            _works("TBC-RW-990010", trentvale),
            trent_belvoir.across(0.3, DANGLING_GAP_M, 300, into_one=True),
            expect="dangling-end",
        ),
        Case("trentvale-roadworks", _works("TBC-RW-990020", trentvale), road),
        Case(
            "soar-wreake-roadworks",
            _works("SWDC-2027-99020", soar),
            shapely.transform(road, lambda xy: xy + 0.5),
            expect="duplicate",
        ),
        Case(
            "soar-wreake-roadworks",
            _works("SWDC-2027-99030", soar),
            trent_soar.across(0.35, 300, 700, into_one=True),
            expect="out-of-area",
        ),
    ]
    lamp, (nx, ny) = trent_soar.at(0.55)
    in_soar = _shift(lamp, (-nx, -ny), 10)
    return [
        *cases,
        Case("soar-wreake-street-lighting", _lamp("SW-99001"), in_soar),
        Case(
            "trentvale-street-lighting",
            _lamp("TBC-SL-990001"),
            Point(round(in_soar.x + 0.4, 1), round(in_soar.y + 0.4, 1)),
            expect="duplicate",
        ),
    ]


def _boundary_road(edge: Edge, fraction: float, length: float) -> LineString:
    """Works on a road running beside the boundary, DUPLICATE_OFFSET_M inside the first council:
    close enough that both councils think it theirs, far enough that its ends are not at it."""
    start = fraction * edge.line.length
    stretch = substring(edge.line, start, start + length)
    left = stretch.offset_curve(DUPLICATE_OFFSET_M)
    if edge.areas[edge.one].contains(left.interpolate(0.5, normalized=True)):
        return left
    return stretch.offset_curve(-DUPLICATE_OFFSET_M)


def _encode(source: Source, record: dict[str, object]) -> dict[str, object]:
    """A record in the publisher's own columns, code values and date format: the source's
    mapping run backwards. Constant fields are the mapping's, so they are left out."""
    row = {}
    for name, value in record.items():
        fmap = source.field_map(name)
        if fmap is None or fmap.source is None:
            continue
        if fmap.values:
            value = next(theirs for theirs, ours in fmap.values.items() if ours == value)
        elif isinstance(value, date):
            value = value.strftime(fmap.formats[0])
        row[fmap.source] = value
    return row


def _append(region: Region, source: Source, cases: list[Case]) -> None:
    """Add the cases to the source's file as its publisher would have written them."""
    path = region.data_dir / source.file
    rows = [_encode(source, c.record) for c in cases]
    geometry = gpd.GeoSeries([c.geometry for c in cases], crs=BNG)
    if source.csv:
        existing = pd.read_csv(path, dtype=str, keep_default_na=False)
        xy = geometry.to_crs(source.crs or BNG)
        added = pd.DataFrame(rows).assign(
            **{source.csv.x: xy.x.round(1).astype(str), source.csv.y: xy.y.round(1).astype(str)}
        )
    else:
        existing = pyogrio.read_dataframe(path, layer=source.layer, datetime_as_string=True)
        added = gpd.GeoDataFrame(rows, geometry=geometry.to_crs(existing.crs).values)
    template = existing.drop(columns=added.columns, errors="ignore").iloc[[0] * len(cases)]
    added = pd.concat([added.reset_index(drop=True), template.reset_index(drop=True)], axis=1)
    frame = pd.concat([existing, added[existing.columns]], ignore_index=True)
    writers = {s.id: s.write for s in SOURCES}
    writers[source.id](frame, path)


def _adjust_boundaries(path: Path, areas: dict[str, BaseGeometry]) -> None:
    """Open the sliver gap and the overlap in the councils' polygons."""
    frame = pyogrio.read_dataframe(path)
    one, other, at, length, width = SLIVER
    gap = Edge(areas, one, other).strip(at, length, width)
    areas = {**areas, one: areas[one].difference(gap.intersection(areas[one]))}
    one, other, at, length, width = OVERLAP
    extra = Edge(areas, one, other).strip(at, length, width).intersection(areas[other])
    areas[one] = areas[one].union(extra)
    frame = frame.set_geometry([areas[p] for p in frame["publisher"]], crs=frame.crs)
    pyogrio.write_dataframe(frame, path, layer="boundaries", driver="GPKG")


def boundary_cases(out_dir: Path, config_dir: Path = DEFAULT_CONFIG_DIR) -> list[Case]:
    """The cases add_boundary_cases would seed into the demo files in out_dir (call it first)."""
    region = load_region(config_dir, out_dir)
    boundaries = pyogrio.read_dataframe(out_dir / BOUNDARIES_FILE)
    return _cases(region, dict(zip(boundaries["publisher"], boundaries.geometry, strict=True)))


def add_boundary_cases(out_dir: Path, config_dir: Path = DEFAULT_CONFIG_DIR) -> dict[str, int]:
    """Seed the cases into the demo files in out_dir; returns features added per source."""
    region = load_region(config_dir, out_dir)
    boundaries = pyogrio.read_dataframe(out_dir / BOUNDARIES_FILE)
    areas = dict(zip(boundaries["publisher"], boundaries.geometry, strict=True))
    cases = _cases(region, areas)
    added: dict[str, int] = {}
    for source_id in dict.fromkeys(c.source for c in cases):
        mine = [c for c in cases if c.source == source_id]
        _append(region, region.sources[source_id], mine)
        added[source_id] = len(mine)
    _adjust_boundaries(out_dir / BOUNDARIES_FILE, areas)
    return added

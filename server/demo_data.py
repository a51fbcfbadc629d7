"""Deterministic demo data: the files five fictional publishers would send the partnership.

The platform exists because every publisher sends the same kind of data in its own dialect, so the
demo must look like that: each source below has its own format, CRS, field names, code values and
date format, and config/sources/*.yaml says how each one maps onto the protocols. Places are real
East Midlands coordinates (EPSG:27700) so the map looks right; every publisher is invented.
Everything comes from seeded generators, so a demo, a test and a screenshot always agree.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from numpy.random import Generator
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring, unary_union

BNG = "EPSG:27700"
WGS84 = "EPSG:4326"
TODAY = date(2026, 11, 25)
"""The demo's "today": statuses agree with dates relative to it, whatever day the demo runs."""
FIRST_DAY, LAST_DAY = date(2025, 1, 1), date(2027, 12, 31)
EDGE_MARGIN = 20.0
"""Metres every feature keeps from its publisher's edge, so rounding coordinates keeps it inside."""

COUNCILS = {
    "trentvale": "Trentvale Borough Council (fictional)",
    "soar-wreake": "Soar & Wreake District Council (fictional)",
    "belvoir-vale": "Belvoir Vale District Council (fictional)",
}
UTILITIES = ("kestrel-water", "larkspur-gas", "brookmere-telecom")

# The council boundaries meet the region's edge at WEST, NORTH and EAST and each other at MIDDLE.
# Each list below is the rough course of one boundary, before _bend makes it meander: first those
# between councils, then the region's edge between meeting points, clockwise.
WEST, NORTH, EAST, MIDDLE = (440000, 331000), (472000, 368000), (502000, 326000), (467000, 333000)
WEST_TO_MIDDLE = [WEST, (447000, 328500), (455000, 330500), (461000, 329000), MIDDLE]
MIDDLE_TO_NORTH = [MIDDLE, (467800, 341000), (466000, 349000), (469000, 358000), NORTH]
MIDDLE_TO_EAST = [MIDDLE, (474000, 330500), (481000, 333000), (489000, 328500), EAST]
OUTER_WEST_TO_NORTH = [
    WEST, (437500, 340500), (440500, 349000), (439000, 358000), (444000, 366500),
    (455000, 369500), (463000, 367000), NORTH,
]  # fmt: skip
OUTER_NORTH_TO_EAST = [
    NORTH, (481000, 371000), (490000, 367500), (499000, 367000), (503500, 357000),
    (500500, 346000), (504000, 336000), EAST,
]  # fmt: skip
OUTER_EAST_TO_WEST = [
    EAST, (499000, 315000), (494000, 305000), (483000, 302000), (471000, 304500),
    (460000, 301000), (449000, 304000), (442000, 311000), (443500, 321000), WEST,
]  # fmt: skip

# Real town centres: x, y and how many streets radiate from each.
TOWNS: dict[str, tuple[float, float, int]] = {
    "nottingham": (457300, 340000, 12),
    "beeston": (452800, 336800, 6),
    "west-bridgford": (458600, 337400, 6),
    "arnold": (459500, 345700, 6),
    "hucknall": (453300, 349200, 6),
    "radcliffe": (464700, 339200, 4),
    "bingham": (470400, 339900, 5),
    "bottesford": (480600, 338900, 4),
    "newark": (479800, 353800, 8),
    "grantham": (491500, 335900, 8),
    "loughborough": (453700, 319700, 9),
    "shepshed": (447800, 319700, 5),
    "syston": (462300, 311500, 5),
    "melton": (475300, 319100, 7),
    "oakham": (486100, 308700, 5),
}
ROADS = [
    ("nottingham", "beeston"),
    ("nottingham", "west-bridgford"),
    ("nottingham", "arnold"),
    ("nottingham", "hucknall"),
    ("nottingham", "radcliffe"),
    ("beeston", "hucknall"),
    ("radcliffe", "bingham"),
    ("bingham", "bottesford"),
    ("bingham", "newark"),
    ("arnold", "newark"),
    ("bottesford", "grantham"),
    ("newark", "grantham"),
    ("west-bridgford", "loughborough"),
    ("west-bridgford", "melton"),
    ("loughborough", "shepshed"),
    ("loughborough", "syston"),
    ("syston", "melton"),
    ("melton", "oakham"),
    ("melton", "grantham"),
]


@dataclass(frozen=True)
class Geography:
    """The demo region's ground truth: each publisher's area and the roads and streets on it."""

    areas: dict[str, BaseGeometry]
    roads: list[LineString]
    streets: list[LineString]

    def pieces(self, publisher: str, lines: Sequence[LineString]) -> list[LineString]:
        """The parts of `lines` well inside the publisher's area, where its features may go."""
        inner = self.areas[publisher].buffer(-EDGE_MARGIN)
        clipped = shapely.intersection(np.asarray(lines, dtype=object), inner)
        parts = shapely.get_parts(clipped)
        return [p for p in parts if isinstance(p, LineString) and p.length > 0]


def _rng(seed: int, purpose: str) -> Generator:
    """A generator per purpose, so adding or changing one source leaves the others' data alone."""
    return np.random.default_rng([seed, zlib.crc32(purpose.encode())])


OCTAVES = 0.5 ** np.arange(4)
"""Relative sway of each wave in a bend: each half as long and half as wide as the one before,
so lines wander irregularly rather than like a sine wave."""


def _bend(
    control: Sequence[tuple[float, float]],
    rng: Generator,
    amplitude: float,
    wavelength: float,
    spacing: float,
) -> np.ndarray:
    """Densify the polyline through `control` and make it meander sideways like a river or road.

    The ends stay exactly where they were, so lines that meet there still meet.
    """
    line = LineString(control)
    along = np.linspace(0.0, line.length, max(3, int(line.length // spacing) + 1))
    xy = shapely.get_coordinates(shapely.line_interpolate_point(line, along))
    tangent = np.gradient(xy, axis=0)
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    sway = np.zeros_like(along)
    for weight in OCTAVES:
        wave = wavelength * weight * rng.uniform(0.8, 1.25)
        sway += weight * np.sin(2 * np.pi * along / wave + rng.uniform(0, 2 * np.pi))
    taper = np.sin(np.pi * along / line.length)
    xy += normal * (amplitude * taper * sway / OCTAVES.sum())[:, None]
    xy[0], xy[-1] = control[0], control[-1]
    return xy


def _chain(*parts: np.ndarray) -> np.ndarray:
    """Join polylines that meet end to start into one, without repeating the joints."""
    return np.vstack([parts[0], *(p[1:] for p in parts[1:])])


def _council_areas(rng: Generator) -> dict[str, Polygon]:
    """Three councils that tile the region exactly: each shared edge is one line used by both."""

    def boundary(control: Sequence[tuple[float, float]]) -> np.ndarray:
        return _bend(control, rng, amplitude=900, wavelength=9000, spacing=250)

    outer_wn, outer_ne, outer_ew = map(
        boundary, (OUTER_WEST_TO_NORTH, OUTER_NORTH_TO_EAST, OUTER_EAST_TO_WEST)
    )
    west_mid, mid_north, mid_east = map(boundary, (WEST_TO_MIDDLE, MIDDLE_TO_NORTH, MIDDLE_TO_EAST))
    return {
        "trentvale": Polygon(_chain(outer_wn, mid_north[::-1], west_mid[::-1])),
        "soar-wreake": Polygon(_chain(outer_ew, west_mid, mid_east)),
        "belvoir-vale": Polygon(_chain(outer_ne, mid_east[::-1], mid_north)),
    }


def _roads(rng: Generator) -> list[LineString]:
    """Meandering roads between neighbouring towns."""
    return [LineString(_bend([TOWNS[a][:2], TOWNS[b][:2]], rng, 250, 3000, 100)) for a, b in ROADS]


def _streets(rng: Generator) -> list[LineString]:
    """Each town's streets: roads radiating from its centre, crossed by one or two ring roads."""
    streets = []
    for x, y, count in TOWNS.values():
        angles = np.linspace(0, 2 * np.pi, count, endpoint=False) + rng.uniform(0, 2 * np.pi)
        for angle in angles + rng.uniform(-0.2, 0.2, count):
            reach = rng.uniform(1000, 3000)
            end = (x + reach * np.cos(angle), y + reach * np.sin(angle))
            streets.append(LineString(_bend([(x, y), end], rng, 60, 600, 25)))
        for radius in (600, 1400)[: 1 + (count >= 8)]:
            around = np.linspace(0, 2 * np.pi, 24) + rng.uniform(0, 2 * np.pi)
            circle = np.column_stack([x + radius * np.cos(around), y + radius * np.sin(around)])
            streets.append(LineString(_bend(circle, rng, 80, 800, 25)))
    return streets


def build_geography(seed: int) -> Geography:
    """Council areas, utilities' areas (all three councils) and the road network."""
    councils = _council_areas(_rng(seed, "boundaries"))
    region = unary_union(list(councils.values()))
    return Geography(
        areas={**councils, **dict.fromkeys(UTILITIES, region)},
        roads=_roads(_rng(seed, "roads")),
        streets=_streets(_rng(seed, "streets")),
    )


def _choose(pieces: list[LineString], rng: Generator, n: int) -> list[LineString]:
    """n pieces, each picked in proportion to its length, so features spread evenly by distance."""
    lengths = np.array([p.length for p in pieces])
    return [pieces[i] for i in rng.choice(len(pieces), size=n, p=lengths / lengths.sum())]


def _lines_on(
    pieces: list[LineString], rng: Generator, n: int, shortest: float, longest: float
) -> list[LineString]:
    """n stretches of road, each between `shortest` and `longest` metres long."""
    lines = []
    for piece in _choose([p for p in pieces if p.length > shortest], rng, n):
        length = rng.uniform(shortest, min(longest, piece.length))
        start = rng.uniform(0, piece.length - length)
        lines.append(substring(piece, start, start + length))
    return lines


def _points_on(pieces: list[LineString], rng: Generator, n: int, kerb: float) -> list[Point]:
    """n points on the roads, set `kerb` metres to either side (0 for the road's centre line)."""
    points = []
    for piece in _choose(pieces, rng, n):
        at = rng.uniform(0, piece.length)
        ahead = piece.interpolate(min(at + 1, piece.length))
        behind = piece.interpolate(max(at - 1, 0))
        dx, dy = ahead.x - behind.x, ahead.y - behind.y
        side = kerb * rng.choice([-1, 1]) / np.hypot(dx, dy)
        here = piece.interpolate(at)
        points.append(Point(here.x - dy * side, here.y + dx * side))
    return points


def _serials(rng: Generator, n: int, first: int) -> np.ndarray:
    """Increasing serial numbers with the gaps a live register leaves (withdrawn, merged, ...)."""
    return first + np.cumsum(rng.integers(1, 8, n))


WORKS_DAYS = {
    "resurfacing": (3, 20),
    "utility-repair": (1, 10),
    "new-connection": (2, 8),
    "emergency": (1, 3),
    "street-lighting": (1, 3),
    "drainage": (1, 7),
}
STATUS_SHARE = {"planned": 0.35, "in-progress": 0.15, "completed": 0.42, "cancelled": 0.08}


def _day_between(rng: Generator, first: date, last: date) -> date:
    """A day from first to last inclusive."""
    return first + timedelta(days=int(rng.integers(0, (last - first).days, endpoint=True)))


def _start_window(status: str, days: int) -> tuple[date, date]:
    """Earliest and latest start for works of `days` days, so the dates agree with the status."""
    last_start = LAST_DAY - timedelta(days=days - 1)
    return {
        "planned": (TODAY + timedelta(days=1), last_start),
        "in-progress": (TODAY - timedelta(days=days - 1), TODAY),
        "completed": (FIRST_DAY, TODAY - timedelta(days=days)),
        "cancelled": (FIRST_DAY, last_start),
    }[status]


def _pick(rng: Generator, share: dict[str, float], n: int) -> np.ndarray:
    """n codes drawn in proportion to their (relative) share, which each publisher sets."""
    weights = np.array(list(share.values()), dtype=float)
    return rng.choice(list(share), size=n, p=weights / weights.sum())


def _references(rng: Generator, records: pd.DataFrame, template: str, first: int) -> list[str]:
    """The records' references in the publisher's scheme: `template` formatted with each record's
    fields and its serial number in the publisher's register (the first serial follows `first`)."""
    serials = _serials(rng, len(records), first)
    rows = records.to_dict("records")
    return [template.format(serial=k, **row) for k, row in zip(serials, rows, strict=True)]


def _works(
    rng: Generator, n: int, type_share: dict[str, float], reference: str, first: int = 0
) -> pd.DataFrame:
    """Works records in protocol terms (reference, type, status, start/end dates), before any
    dialect; `reference` and `first` are the publisher's numbering (see _references)."""
    types, statuses = _pick(rng, type_share, n), _pick(rng, STATUS_SHARE, n)
    starts, ends = [], []
    for works_type, status in zip(types, statuses, strict=True):
        days = int(rng.integers(*WORKS_DAYS[works_type], endpoint=True))
        start = _day_between(rng, *_start_window(status, days))
        starts.append(start)
        ends.append(start + timedelta(days=days - 1))
    works = pd.DataFrame({"works_type": types, "status": statuses, "start": starts, "end": ends})
    works["reference"] = _references(rng, works, reference, first)
    return works


LAMP_WATTS = {
    "led": [18, 24, 36, 54],
    "sodium-high-pressure": [70, 100, 150, 250],
    "sodium-low-pressure": [35, 55, 90],
    "metal-halide": [45, 60, 90, 140],
}
LAMP_YEARS = {
    "led": (2014, 2025),
    "sodium-high-pressure": (2000, 2013),
    "sodium-low-pressure": (2000, 2006),
    "metal-halide": (2006, 2016),
}


def _lamps(rng: Generator, n: int, type_share: dict[str, float], unit_id: str) -> pd.DataFrame:
    """Street lights in protocol terms: unit id (numbered as _references does, from 0), lamp type,
    a wattage and install date that suit the type."""
    types = _pick(rng, type_share, n)
    watts = [int(rng.choice(LAMP_WATTS[t])) for t in types]
    installed = []
    for lamp_type in types:
        first, last = LAMP_YEARS[lamp_type]
        installed.append(_day_between(rng, date(first, 1, 1), date(last, 12, 31)))
    lamps = pd.DataFrame({"lamp_type": types, "wattage": watts, "installed": installed})
    lamps["unit_id"] = _references(rng, lamps, unit_id, 0)
    return lamps


STAMP_TIMES = {
    "start": time(8), "end": time(17), "installed": time(0), "received": time(0),
    "decided": time(0),
}  # fmt: skip
"""The protocol's date fields and the time of day each is stamped at: works sites open at 08:00
and close at 17:00, which only shows in formats with a time."""


def _stamp(day: date | None, at: time, date_format: str) -> str | None:
    """The day (at a time of day) as text, since publishers send dates as text in their format;
    None for a day not known yet (an undecided application)."""
    return None if day is None else datetime.combine(day, at).strftime(date_format)


@dataclass(frozen=True)
class Dialect:
    """How one publisher's system writes a record: its column for each protocol field (in its
    own order), its code for each protocol code value, and its date format."""

    columns: dict[str, str]
    codes: dict[str, dict[str, str]]
    date_format: str

    def encode(self, records: pd.DataFrame) -> dict[str, list]:
        """The publisher's columns for records in protocol terms."""
        return {
            column: self._values(field, records[field]) for field, column in self.columns.items()
        }

    def _values(self, field: str, values: pd.Series) -> list:
        if field in self.codes:
            return values.map(self.codes[field]).tolist()
        if field in STAMP_TIMES:
            return [_stamp(day, STAMP_TIMES[field], self.date_format) for day in values]
        return values.tolist()


def _dialects(
    publishers: Sequence[str],
    columns: dict[str, tuple[str, ...]],
    codes: dict[str, dict[str, tuple[str | None, ...]]],
    date_formats: Sequence[str],
) -> dict[str, Dialect]:
    """Each publisher's dialect of one theme, from tables with a column per publisher so the
    dialects read side by side; None where a publisher has no code for a value."""
    return {
        publisher: Dialect(
            columns={field: names[i] for field, names in columns.items()},
            codes={
                field: {ours: theirs[i] for ours, theirs in table.items() if theirs[i] is not None}
                for field, table in codes.items()
            },
            date_format=date_formats[i],
        )
        for i, publisher in enumerate(publishers)
    }


WORKS_DIALECTS = _dialects(
    ("trentvale", "soar-wreake", "belvoir-vale", "kestrel-water", "larkspur-gas"),
    columns={
        "reference": ("WORKS_REF", "worksRef", "Ref No", "permit_ref", "JobNumber"),
        "works_type": ("WORKS_TYPE", "worksCategory", "Works Type", "activity", "JobType"),
        "status": ("STATUS", "currentStatus", "Works Status", "job_status", "JobStatus"),
        "start": ("START_DT", "proposedStartDate", "Date From", "planned_start", "StartDateTime"),
        "end": ("END_DT", "proposedEndDate", "Date To", "planned_end", "EndDateTime"),
    },
    codes={
        "works_type": {
            "resurfacing": ("RESURF", "Resurfacing", "Carriageway resurfacing", None, None),
            "drainage": ("DRAIN", "Drainage", "Gully / drainage", "SEWER_REPAIR", None),
            "street-lighting": ("LIGHT", "Street lighting", "Lighting", None, None),
            "emergency": ("EMERG", "Emergency", "Emergency works", "BURST_MAIN", "Gas Escape"),
            "utility-repair": (None, "Utility repair", None, "MAINS_REPAIR", "Mains Replacement"),
            "new-connection": (None, "New connection", None, "NEW_SUPPLY", "Service Connection"),
        },
        "status": {
            "planned": ("PLN", "Planned", "Proposed", "Programmed", "SCHEDULED"),
            "in-progress": ("LIVE", "In Progress", "Started", "Active", "ON SITE"),
            "completed": ("DONE", "Completed", "Finished", "Closed", "COMPLETE"),
            "cancelled": ("CANC", "Cancelled", "Withdrawn", "Abandoned", "CANCELLED"),
        },
    },
    date_formats=("%d/%m/%Y", "%Y-%m-%d", "%d-%b-%Y", "%Y%m%d", "%m/%d/%Y %H:%M"),
)
LAMP_DIALECTS = _dialects(
    list(COUNCILS),
    columns={
        "unit_id": ("unit_no", "assetId", "UNITREF"),
        "lamp_type": ("lamp", "lampType", "LAMP_CODE"),
        "wattage": ("wattage", "lampWatts", "WATTS"),
        "installed": ("installed", "installDate", "INST_DATE"),
    },
    codes={
        "lamp_type": {
            "led": ("LED", "LED lantern", "LED"),
            "sodium-high-pressure": ("SON", "High pressure sodium", "SON-T"),
            "sodium-low-pressure": ("SOX", "Low pressure sodium", "SOX"),
            "metal-halide": ("MH", "Metal halide", "CDM"),
        },
    },
    date_formats=("%d/%m/%Y %H:%M:%S", "%Y-%m-%d", "%Y/%m/%d"),
)


Builder = Callable[[Geography, Generator], pd.DataFrame]


@dataclass(frozen=True)
class DemoSource:
    """One publisher file: how its rows are made, and its layer in formats that name one."""

    id: str
    file: str
    build: Builder
    layer: str | None = None

    def write(self, frame: pd.DataFrame, path: Path) -> None:
        """Write the rows at path in this source's format, which its file's extension names."""
        _write(frame, path, self.layer)


SOURCES: list[DemoSource] = []
"""Every demo publisher file, in the order written; each builder below adds itself."""


def _source(source_id: str, file: str, layer: str | None = None) -> Callable[[Builder], Builder]:
    """Add the decorated builder to SOURCES as the one making source_id's file."""

    def register(build: Builder) -> Builder:
        SOURCES.append(DemoSource(source_id, file, build, layer))
        return build

    return register


@_source("trentvale-roadworks", "trentvale_roadworks.zip")
def _trentvale_roadworks(geo: Geography, rng: Generator) -> gpd.GeoDataFrame:
    """The highways system's weekly export: lines, DBF-sized upper-case names, UK dates."""
    n = 160
    share = {"resurfacing": 5, "drainage": 2, "street-lighting": 2, "emergency": 1}
    works = _works(rng, n, share, "TBC-RW-{serial:06d}", first=1000)
    columns = WORKS_DIALECTS["trentvale"].encode(works)
    columns["USRN"] = rng.integers(30100000, 30199999, n)
    columns["TM_TYPE"] = rng.choice(["Road closure", "Lane closure", "Two-way signals"], n)
    lines = _lines_on(geo.pieces("trentvale", geo.roads + geo.streets), rng, n, 100, 2000)
    return gpd.GeoDataFrame(columns, geometry=lines, crs=BNG)


@_source("soar-wreake-roadworks", "soar_wreake_roadworks.geojson")
def _soar_wreake_roadworks(geo: Geography, rng: Generator) -> gpd.GeoDataFrame:
    """The council's open-data feed: points for short works, lines for resurfacing and drainage,
    including works a telecoms company (not a partner) promotes on its roads."""
    n = 200
    share = {"resurfacing": 3, "drainage": 2, "street-lighting": 1, "emergency": 1}
    share |= {"utility-repair": 2, "new-connection": 1}
    works = _works(rng, n, share, "SWDC-{start.year}-{serial:05d}", first=100)
    columns = WORKS_DIALECTS["soar-wreake"].encode(works)
    by_utility = works["works_type"].isin(["utility-repair", "new-connection"])
    columns["promoterName"] = np.where(
        by_utility, "Brookmere Telecom (fictional)", COUNCILS["soar-wreake"]
    ).tolist()
    pieces = geo.pieces("soar-wreake", geo.roads + geo.streets)
    as_line = works["works_type"].isin(["resurfacing", "drainage"]).to_numpy()
    lines = iter(_lines_on(pieces, rng, int(as_line.sum()), 100, 1500))
    points = iter(_points_on(pieces, rng, n - int(as_line.sum()), kerb=0))
    geometry = [next(lines) if line else next(points) for line in as_line]
    return gpd.GeoDataFrame(columns, geometry=geometry, crs=BNG)


@_source("belvoir-vale-roadworks", "belvoir_vale_roadworks.csv")
def _belvoir_vale_roadworks(geo: Geography, rng: Generator) -> pd.DataFrame:
    """A spreadsheet kept by the highways team: one grid reference per job, whole metres."""
    n = 90
    share = {"resurfacing": 3, "drainage": 3, "street-lighting": 1, "emergency": 1}
    works = _works(rng, n, share, "BVDC/RW/{serial:05d}")
    columns = WORKS_DIALECTS["belvoir-vale"].encode(works)
    columns["Location"] = [f"o/s No. {k}" for k in rng.integers(1, 120, n)]
    points = _points_on(geo.pieces("belvoir-vale", geo.roads + geo.streets), rng, n, kerb=0)
    return pd.DataFrame(
        columns
        | {"EASTING": [round(p.x) for p in points], "NORTHING": [round(p.y) for p in points]}
    )


@_source("kestrel-water-roadworks", "kestrel_water_streetworks.gpkg", layer="kw_streetworks")
def _kestrel_water_roadworks(geo: Geography, rng: Generator) -> gpd.GeoDataFrame:
    """The water company's permit system: short excavations across the whole region."""
    n = 240
    share = {"utility-repair": 5, "new-connection": 3, "emergency": 2, "drainage": 2}
    works = _works(rng, n, share, "KWS/{start:%y}/{serial:06d}", first=40000)
    columns = WORKS_DIALECTS["kestrel-water"].encode(works)
    columns["dma_code"] = [f"DMA{k:04d}" for k in rng.integers(100, 2000, n)]
    columns["excavation_m2"] = rng.uniform(1.5, 40, n).round(1)
    lines = _lines_on(geo.pieces("kestrel-water", geo.roads + geo.streets), rng, n, 30, 400)
    return gpd.GeoDataFrame(columns, geometry=lines, crs=BNG)


@_source("larkspur-gas-roadworks", "larkspur_gas_jobs.geojson")
def _larkspur_gas_roadworks(geo: Geography, rng: Generator) -> gpd.GeoDataFrame:
    """The gas network's work-management export: mains jobs along the roads, US-style timestamps."""
    n = 120
    share = {"utility-repair": 5, "new-connection": 3, "emergency": 2}
    works = _works(rng, n, share, "LGN-{serial:07d}", first=7700000)
    columns = WORKS_DIALECTS["larkspur-gas"].encode(works)
    columns["PipeMaterial"] = rng.choice(["PE", "Cast iron", "Ductile iron", "Steel"], n)
    lines = _lines_on(geo.pieces("larkspur-gas", geo.roads), rng, n, 100, 1500)
    return gpd.GeoDataFrame(columns, geometry=lines, crs=BNG)


@_source("trentvale-street-lighting", "trentvale_street_lighting.csv")
def _trentvale_street_lighting(geo: Geography, rng: Generator) -> pd.DataFrame:
    """The lighting contractor's inventory, exported from a spreadsheet with grid references."""
    n = 360
    share = {"led": 70, "sodium-high-pressure": 20, "metal-halide": 7, "sodium-low-pressure": 3}
    lamps = _lamps(rng, n, share, "TBC-SL-{serial:06d}")
    columns = LAMP_DIALECTS["trentvale"].encode(lamps)
    columns["column_ht"] = rng.choice([5, 6, 8, 10, 12], n).tolist()
    points = _points_on(geo.pieces("trentvale", geo.streets), rng, n, kerb=7)
    return pd.DataFrame(
        columns
        | {"easting": [round(p.x, 1) for p in points], "northing": [round(p.y, 1) for p in points]}
    )


@_source("soar-wreake-street-lighting", "soar_wreake_street_lighting.geojson")
def _soar_wreake_street_lighting(geo: Geography, rng: Generator) -> gpd.GeoDataFrame:
    """The council's asset register published on its open-data portal."""
    n = 250
    share = {"led": 55, "sodium-high-pressure": 35, "metal-halide": 10}
    lamps = _lamps(rng, n, share, "SW-{serial:05d}")
    columns = LAMP_DIALECTS["soar-wreake"].encode(lamps)
    columns["columnMaterial"] = rng.choice(["Steel", "Aluminium", "Concrete"], n)
    points = _points_on(geo.pieces("soar-wreake", geo.streets), rng, n, kerb=7)
    return gpd.GeoDataFrame(columns, geometry=points, crs=BNG)


@_source("belvoir-vale-street-lighting", "belvoir_vale_street_lighting.zip")
def _belvoir_vale_street_lighting(geo: Geography, rng: Generator) -> gpd.GeoDataFrame:
    """The lighting inventory straight out of the council's desktop GIS."""
    n = 150
    share = {"led": 35, "sodium-high-pressure": 50, "metal-halide": 10, "sodium-low-pressure": 5}
    lamps = _lamps(rng, n, share, "BV{serial:05d}")
    columns = LAMP_DIALECTS["belvoir-vale"].encode(lamps)
    points = _points_on(geo.pieces("belvoir-vale", geo.streets), rng, n, kerb=7)
    return gpd.GeoDataFrame(columns, geometry=points, crs=BNG)


APPLICATION_TYPES: dict[str, tuple[float, list[str]]] = {
    "householder": (40, [
        "Single-storey rear extension", "Two-storey side extension",
        "Loft conversion with rear dormer window", "Detached double garage",
        "Front porch and replacement roof",
    ]),
    "full": (20, [
        "Erection of {n} dwellings with access and parking",
        "Erection of a two-storey office building with {n} parking spaces",
        "Erection of an agricultural building", "Erection of {n} holiday lodges",
    ]),
    "outline": (6, ["Outline application for up to {n} dwellings (matters reserved but access)"]),
    "reserved-matters": (5, ["Reserved matters (appearance, layout and scale) for {n} dwellings"]),
    "change-of-use": (8, [
        "Change of use from shop to hot food takeaway", "Conversion of barn to a dwelling",
        "Change of use from offices to {n} flats",
    ]),
    "listed-building": (5, [
        "Replacement windows to a listed building", "Internal alterations to a listed farmhouse",
    ]),
    "advertisement": (5, ["Display of {n} illuminated fascia signs"]),
    "prior-approval": (6, [
        "Prior approval for a larger rear extension", "Prior approval for a 20m telecoms mast",
    ]),
    "tree-works": (5, [
        "Fell one ash tree protected by a tree preservation order",
        "Crown reduction of {n} oak trees in a conservation area",
    ]),
}  # fmt: skip
PLANNING_STATUS_SHARE = {"pending": 20, "approved": 60, "refused": 12, "withdrawn": 5, "appeal": 3}
STREET_NAMES = [
    "Church Street", "Main Road", "Station Road", "Mill Lane", "The Green", "High Street",
    "Park Avenue", "Chapel Lane", "Manor Road", "Queen Street", "Victoria Road", "School Lane",
]  # fmt: skip
SITE_AREA_M2 = (1200.0, 45000.0)
"""Planning sites (red-line boundaries) are 0.12 to 4.5 ha, inside the 0.1 to 5 ha of real ones."""


def _applications(rng: Generator, n: int) -> pd.DataFrame:
    """Planning applications in protocol terms; decided ones have a decision date before TODAY."""
    types = _pick(rng, {k: share for k, (share, _) in APPLICATION_TYPES.items()}, n)
    statuses = _pick(rng, PLANNING_STATUS_SHARE, n)
    received, decided, proposals = [], [], []
    for kind, status in zip(types, statuses, strict=True):
        if status == "pending":
            received.append(_day_between(rng, TODAY - timedelta(days=110), TODAY))
            decided.append(None)
        else:
            received.append(_day_between(rng, FIRST_DAY, TODAY - timedelta(days=130)))
            decided.append(received[-1] + timedelta(days=int(rng.integers(21, 120))))
        template = rng.choice(APPLICATION_TYPES[kind][1])
        proposals.append(template.format(n=int(rng.integers(2, 60))))
    return pd.DataFrame(
        {
            "application_type": types,
            "status": statuses,
            "received": received,
            "decided": decided,
            "description": proposals,
        }
    )


def _site(centre: Point, rng: Generator) -> Polygon:
    """A red-line site boundary: a slightly irregular quadrilateral of a plausible size."""
    area = np.exp(rng.uniform(*np.log(SITE_AREA_M2)))
    aspect = rng.uniform(1.0, 2.2)
    width, height = np.sqrt(area * aspect), np.sqrt(area / aspect)
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [width / 2, height / 2]
    corners += rng.uniform(-0.05, 0.05, corners.shape) * min(width, height)
    angle = rng.uniform(0, np.pi)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return Polygon(corners @ rotation.T + [centre.x, centre.y])


def _planning_sites(geo: Geography, rng: Generator, council: str, n: int) -> list[Polygon]:
    """n sites beside the council's streets, each wholly inside the council's area."""
    inner = geo.areas[council].buffer(-EDGE_MARGIN)
    centres = _points_on(geo.pieces(council, geo.streets), rng, 2 * n, kerb=60)
    sites = [site for site in (_site(c, rng) for c in centres) if inner.contains(site)]
    return sites[:n]


def _address(site: BaseGeometry, rng: Generator) -> str:
    """A house number and street in the nearest town, as a planning register writes it."""
    centre = site.centroid
    town = min(TOWNS, key=lambda t: np.hypot(TOWNS[t][0] - centre.x, TOWNS[t][1] - centre.y))
    street = STREET_NAMES[int(rng.integers(len(STREET_NAMES)))]
    return f"{int(rng.integers(1, 200))} {street}, {town.replace('-', ' ').title()}"


PLANNING_DIALECTS = _dialects(
    list(COUNCILS),
    columns={
        "reference": ("APP_REF", "Reference", "caseRef"),
        "description": ("PROPOSAL", "Proposal", "proposal"),
        "address": ("SITE_ADDR", "Site Address", "location"),
        "application_type": ("APP_TYPE", "Application Type", "caseType"),
        "status": ("DECISION", "Decision", "caseStatus"),
        "received": ("DATE_RECV", "Date Valid", "dateReceived"),
        "decided": ("DATE_DEC", "Decision Date", "decisionDate"),
    },
    codes={
        "application_type": {
            "full": ("FUL", "Full Planning", "FULL"),
            "householder": ("HH", "Householder", "HOUSEHOLDER"),
            "outline": ("OUT", "Outline", "OUTLINE"),
            "reserved-matters": ("RM", "Reserved Matters", "RESERVED MATTERS"),
            "change-of-use": ("COU", "Change of Use", "CHANGE OF USE"),
            "listed-building": ("LBC", "Listed Building Consent", "LISTED BUILDING"),
            "advertisement": ("ADV", "Advert Consent", "ADVERTISEMENT"),
            "prior-approval": ("PA", "Prior Approval", "PRIOR APPROVAL"),
            "tree-works": ("TPO", "Tree Works (TPO)", "TREES"),
        },
        "status": {
            "pending": ("PCO", "Undecided", "Registered"),
            "approved": ("GRA", "Permitted", "Approved"),
            "refused": ("REF", "Refused", "Refused"),
            "withdrawn": ("WDN", "Withdrawn", "Withdrawn"),
            "appeal": ("APL", "Appeal Lodged", "Appealed"),
        },
    },
    date_formats=("%Y-%m-%d", "%d/%m/%Y", "%d %B %Y"),
)


def _register(
    geo: Geography, rng: Generator, council: str, n: int
) -> tuple[pd.DataFrame, list[Polygon], np.ndarray]:
    """n applications to the council in protocol terms with their site addresses, their sites,
    and the serial numbers the council's references count with."""
    apps = _applications(rng, n)
    sites = _planning_sites(geo, rng, council, n)
    serials = _serials(rng, n, 0)
    apps["address"] = [_address(site, rng) for site in sites]
    return apps, sites, serials


@_source("trentvale-planning-applications", "trentvale_planning.gpkg", layer="dm_applications")
def _trentvale_planning(geo: Geography, rng: Generator) -> gpd.GeoDataFrame:
    """The planning system's GIS export: red-line site polygons, ISO dates, short codes."""
    apps, sites, serials = _register(geo, rng, "trentvale", 180)
    dialect = PLANNING_DIALECTS["trentvale"]
    suffixes = apps["application_type"].map(dialect.codes["application_type"])
    apps["reference"] = [
        f"{r:%y}/{k:05d}/{s}" for r, k, s in zip(apps["received"], serials, suffixes, strict=True)
    ]
    columns = dialect.encode(apps)
    columns["URL"] = [
        f"https://planning.trentvale.example/applications/{r.replace('/', '-')}"
        for r in apps["reference"]
    ]
    return gpd.GeoDataFrame(columns, geometry=sites, crs=BNG)


@_source("soar-wreake-planning-applications", "soar_wreake_planning_register.csv")
def _soar_wreake_planning(geo: Geography, rng: Generator) -> pd.DataFrame:
    """The planning register as a spreadsheet: the site boundary as WKT, UK dates."""
    apps, sites, serials = _register(geo, rng, "soar-wreake", 150)
    apps["reference"] = [
        f"P/{r:%Y}/{k:04d}" for r, k in zip(apps["received"], serials, strict=True)
    ]
    columns = PLANNING_DIALECTS["soar-wreake"].encode(apps)
    columns["Link"] = [f"https://www.soar-wreake.example/planning/{k}" for k in serials]
    columns["WKT"] = shapely.to_wkt(np.asarray(sites, dtype=object), rounding_precision=1)
    return pd.DataFrame(columns)


@_source("belvoir-vale-planning-applications", "belvoir_vale_planning.gml", "planning_application")
def _belvoir_vale_planning(geo: Geography, rng: Generator) -> gpd.GeoDataFrame:
    """The council's GML feed: one point per application, no site boundary, long dates."""
    apps, sites, serials = _register(geo, rng, "belvoir-vale", 90)
    apps["reference"] = [
        f"BV/{r:%Y}/{k:04d}" for r, k in zip(apps["received"], serials, strict=True)
    ]
    columns = PLANNING_DIALECTS["belvoir-vale"].encode(apps)
    return gpd.GeoDataFrame(columns, geometry=[site.centroid for site in sites], crs=BNG)


KESTREL_MATERIALS = {
    "polyethylene": ("PE100", 1985, 2025),
    "pvc": ("PVC-U", 1970, 1995),
    "ductile-iron": ("DI", 1970, 2010),
    "cast-iron": ("CI", 1890, 1970),
    "steel": ("ST", 1930, 1990),
    "asbestos-cement": ("AC", 1950, 1985),
}
"""Material: Kestrel's code and the years mains of it were laid."""
MAINS_MATERIAL_SHARE = {
    "polyethylene": 40, "pvc": 10, "ductile-iron": 15, "cast-iron": 25, "steel": 3,
    "asbestos-cement": 7,
}  # fmt: skip
TRUNK_ROADS = [("nottingham", "radcliffe"), ("radcliffe", "bingham"), ("melton", "oakham")]


def _chop(line: LineString, length: float) -> list[LineString]:
    """The line cut into near-equal pieces of about `length` metres that meet end to end."""
    count = max(1, round(line.length / length))
    cuts = np.linspace(0, line.length, count + 1)
    return [substring(line, a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


@_source("kestrel-water-water-mains", "kestrel_water_mains.fgb")
def _kestrel_water_mains(geo: Geography, rng: Generator) -> gpd.GeoDataFrame:
    """The water company's network extract: distribution mains under every town street, trunk
    mains along a few roads, joined end to end as the network is."""
    trunk_roads = [geo.roads[ROADS.index(pair)] for pair in TRUNK_ROADS]
    trunks = [m for p in geo.pieces("kestrel-water", trunk_roads) for m in _chop(p, 2500)]
    mains = [m for p in geo.pieces("kestrel-water", geo.streets) for m in _chop(p, 1200)]
    n = len(trunks) + len(mains)
    materials = _pick(rng, MAINS_MATERIAL_SHARE, n)
    diameters = np.concatenate(
        [
            rng.choice([450, 600, 750, 900], len(trunks)),
            rng.choice([63, 90, 110, 160, 180, 250], len(mains)),
        ]
    )
    years = [int(rng.integers(*KESTREL_MATERIALS[m][1:], endpoint=True)) for m in materials]
    columns = {
        "ASSET_ID": [f"KW-WM-{k:06d}" for k in _serials(rng, n, 1000)],
        "MATERIAL": [KESTREL_MATERIALS[m][0] for m in materials],
        "NOM_DIA_MM": diameters,
        "OP_PRESS": rng.uniform(2.0, 8.0, n).round(1),
        "YR_LAID": years,
    }
    return gpd.GeoDataFrame(columns, geometry=trunks + mains, crs=BNG)


SPEED_TIERS = {
    "gigabit": ([1000.0, 1600.0, 1800.0], ["fttp"]),
    "ufbb": ([330.0, 500.0, 900.0], ["cable", "fttp"]),
    "sfbb": ([40.0, 67.5, 80.0, 160.0], ["fttc", "cable"]),
    "basic": ([10.0, 17.5, 24.0], ["adsl", "fixed-wireless"]),
    "none": ([0.0], ["none"]),
}
"""Per tier: download speeds sold in it (Mbit/s) and the technologies that deliver them."""
BROOKMERE_TIERS = {"gigabit": "GIG", "ufbb": "UFBB", "sfbb": "SFBB", "basic": "BB", "none": "NIL"}
BROOKMERE_TECHNOLOGY = {
    "fttp": "FTTP", "cable": "HFC", "fttc": "VDSL2", "adsl": "ADSL2+", "fixed-wireless": "FWA",
    "none": "-",
}  # fmt: skip
HEX_RADIUS = 2200.0


def _hexagons(area: BaseGeometry) -> list[tuple[str, Polygon]]:
    """A flat-topped hexagonal grid over the area, clipped to it; cells mostly outside dropped."""
    minx, miny, maxx, maxy = area.bounds
    angles = np.radians(np.arange(0, 360, 60))
    corners = np.column_stack([np.cos(angles), np.sin(angles)]) * HEX_RADIUS
    dx, dy = 1.5 * HEX_RADIUS, np.sqrt(3) * HEX_RADIUS
    cells = []
    for col in range(int((maxx - minx) // dx) + 2):
        for row in range(int((maxy - miny) // dy) + 2):
            centre = (minx + col * dx, miny + row * dy + (dy / 2) * (col % 2))
            hexagon = Polygon(corners + centre)
            clipped = hexagon.intersection(area)
            if clipped.area > 0.25 * hexagon.area:
                parts = shapely.get_parts(clipped)
                cells.append((f"C{col:02d}R{row:02d}", max(parts, key=lambda p: p.area)))
    return cells


def _tier_near(distance_m: float, rng: Generator) -> str:
    """Faster tiers in and near towns, slower ones out in the country."""
    bands = [
        (2500, {"gigabit": 5, "ufbb": 4, "sfbb": 1}),
        (6000, {"gigabit": 2, "ufbb": 3, "sfbb": 5}),
        (11000, {"ufbb": 1, "sfbb": 6, "basic": 3}),
        (np.inf, {"sfbb": 3, "basic": 6, "none": 1}),
    ]
    share = next(s for limit, s in bands if distance_m < limit)
    return str(_pick(rng, share, 1)[0])


@_source("brookmere-telecom-broadband-coverage", "brookmere_coverage.kml", layer="coverage")
def _brookmere_broadband(geo: Geography, rng: Generator) -> gpd.GeoDataFrame:
    """The operator's coverage map for its customers: hexagon cells in KML, day-first dates."""
    cells = _hexagons(geo.areas["brookmere-telecom"].buffer(-EDGE_MARGIN))
    centres = np.array([TOWNS[t][:2] for t in TOWNS])
    tiers, speeds, techs, premises = [], [], [], []
    for _, cell in cells:
        near = np.hypot(*(centres - [cell.centroid.x, cell.centroid.y]).T).min()
        tier = _tier_near(near, rng)
        options, technologies = SPEED_TIERS[tier]
        tiers.append(BROOKMERE_TIERS[tier])
        speeds.append(float(rng.choice(options)))
        techs.append(BROOKMERE_TECHNOLOGY[str(rng.choice(technologies))])
        premises.append(int(rng.integers(5, 60) * (40 if near < 2500 else 4 if near < 6000 else 1)))
    columns = {
        "Name": [f"BMT-{cell_id}" for cell_id, _ in cells],
        "tier": tiers,
        "max_down": speeds,
        "tech": techs,
        "premises": premises,
        "as_at": [_stamp(date(2026, 10, 1), time(0), "%d.%m.%Y")] * len(cells),
    }
    return gpd.GeoDataFrame(columns, geometry=[cell for _, cell in cells], crs=BNG)


@dataclass(frozen=True)
class FileFormat:
    """How GDAL writes one kind of publisher file."""

    driver: str
    wgs84: bool = False  # the format is longitude/latitude by definition
    dataset_options: dict[str, str] | None = None
    layer_options: dict[str, str] | None = None


FORMATS = {
    # RFC 7946 GeoJSON, as web-facing systems publish it.
    ".geojson": FileFormat("GeoJSON", wgs84=True, layer_options={"RFC7946": "YES"}),
    ".gpkg": FileFormat("GPKG"),
    # GML 3.2 with its .xsd beside it, as a council's web feature service would send it.
    ".gml": FileFormat("GML", dataset_options={"FORMAT": "GML3.2"}),
    ".fgb": FileFormat("FlatGeobuf"),
    # Attributes in ExtendedData, as web mapping tools export it.
    ".kml": FileFormat("KML", wgs84=True),
}
"""The formats GDAL writes straight to a file, by extension; CSV and zipped Shapefiles aside."""


def _write_zipped_shapefile(frame: gpd.GeoDataFrame, path: Path) -> None:
    """A zipped Shapefile as councils email them: .shp, .shx, .dbf, .prj and .cpg together."""
    with TemporaryDirectory() as tmp:
        pyogrio.write_dataframe(frame, Path(tmp) / f"{path.stem}.shp", encoding="UTF-8")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for part in sorted(Path(tmp).iterdir()):
                archive.write(part, part.name)


def _write(frame: pd.DataFrame, path: Path, layer: str | None = None) -> None:
    """Write the rows at path in the format its extension names; a spreadsheet-style CSV keeps
    coordinates (or WKT polygons) as ordinary columns."""
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".zip":
        _write_zipped_shapefile(frame, path)
    else:
        form = FORMATS[path.suffix]
        path.unlink(missing_ok=True)  # GDAL would otherwise add the layer to the old file
        pyogrio.write_dataframe(
            frame.to_crs(WGS84) if form.wgs84 else frame,
            path,
            layer=layer,
            driver=form.driver,
            dataset_options=form.dataset_options,
            layer_options=form.layer_options,
        )


def _boundaries(geo: Geography) -> gpd.GeoDataFrame:
    """The council polygons the map draws under everything else."""
    return gpd.GeoDataFrame(
        {"publisher": list(COUNCILS), "name": list(COUNCILS.values())},
        geometry=[geo.areas[c] for c in COUNCILS],
        crs=BNG,
    )


def write_demo_files(out_dir: Path, seed: int = 20261125) -> dict[str, int]:
    """Write every demo publisher's files and boundaries.gpkg into out_dir.

    Returns the number of features written per source id; the same seed writes the same data.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    geo = build_geography(seed)
    _write(_boundaries(geo), out_dir / "boundaries.gpkg", layer="boundaries")
    counts = {}
    for source in SOURCES:
        frame = source.build(geo, _rng(seed, source.id))
        source.write(frame, out_dir / source.file)
        counts[source.id] = len(frame)
    return counts

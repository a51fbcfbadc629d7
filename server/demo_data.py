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


def _works(rng: Generator, n: int, type_share: dict[str, float]) -> pd.DataFrame:
    """Works records in protocol terms (type, status, start/end dates), before any dialect."""
    types, statuses = _pick(rng, type_share, n), _pick(rng, STATUS_SHARE, n)
    starts, ends = [], []
    for works_type, status in zip(types, statuses, strict=True):
        days = int(rng.integers(*WORKS_DAYS[works_type], endpoint=True))
        start = _day_between(rng, *_start_window(status, days))
        starts.append(start)
        ends.append(start + timedelta(days=days - 1))
    return pd.DataFrame({"works_type": types, "status": statuses, "start": starts, "end": ends})


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


def _lamps(rng: Generator, n: int, type_share: dict[str, float]) -> pd.DataFrame:
    """Street lights in protocol terms: lamp type, a wattage and install date that suit the type."""
    types = _pick(rng, type_share, n)
    watts = [int(rng.choice(LAMP_WATTS[t])) for t in types]
    installed = []
    for lamp_type in types:
        first, last = LAMP_YEARS[lamp_type]
        installed.append(_day_between(rng, date(first, 1, 1), date(last, 12, 31)))
    return pd.DataFrame({"lamp_type": types, "wattage": watts, "installed": installed})


@dataclass(frozen=True)
class WorksDialect:
    """How one publisher's works system writes a record: column names, codes and date format."""

    reference: str
    works_type: str
    status: str
    start: str
    end: str
    types: dict[str, str]
    statuses: dict[str, str]
    date_format: str

    def encode(self, works: pd.DataFrame, references: Sequence[str]) -> dict[str, object]:
        """The publisher's columns for `works`; sites open at 08:00 and close at 17:00, which
        only shows in formats with a time."""
        return {
            self.reference: list(references),
            self.works_type: works["works_type"].map(self.types).tolist(),
            self.status: works["status"].map(self.statuses).tolist(),
            self.start: [_stamp(d, time(8), self.date_format) for d in works["start"]],
            self.end: [_stamp(d, time(17), self.date_format) for d in works["end"]],
        }


@dataclass(frozen=True)
class LampDialect:
    """How one council's lighting inventory writes a unit: column names, codes and date format."""

    unit_id: str
    lamp_type: str
    wattage: str
    installed: str
    types: dict[str, str]
    date_format: str

    def encode(self, lamps: pd.DataFrame, unit_ids: Sequence[str]) -> dict[str, object]:
        """The council's columns for `lamps`."""
        return {
            self.unit_id: list(unit_ids),
            self.lamp_type: lamps["lamp_type"].map(self.types).tolist(),
            self.wattage: lamps["wattage"].tolist(),
            self.installed: [_stamp(d, time(0), self.date_format) for d in lamps["installed"]],
        }


def _stamp(day: date, at: time, date_format: str) -> str:
    """The day (at a time of day) as text, since publishers send dates as text in their format."""
    return datetime.combine(day, at).strftime(date_format)


TRENTVALE_WORKS = WorksDialect(
    reference="WORKS_REF",
    works_type="WORKS_TYPE",
    status="STATUS",
    start="START_DT",
    end="END_DT",
    types={
        "resurfacing": "RESURF",
        "drainage": "DRAIN",
        "street-lighting": "LIGHT",
        "emergency": "EMERG",
    },
    statuses={"planned": "PLN", "in-progress": "LIVE", "completed": "DONE", "cancelled": "CANC"},
    date_format="%d/%m/%Y",
)
SOAR_WREAKE_WORKS = WorksDialect(
    reference="worksRef",
    works_type="worksCategory",
    status="currentStatus",
    start="proposedStartDate",
    end="proposedEndDate",
    types={
        "resurfacing": "Resurfacing",
        "drainage": "Drainage",
        "street-lighting": "Street lighting",
        "emergency": "Emergency",
        "utility-repair": "Utility repair",
        "new-connection": "New connection",
    },
    statuses={
        "planned": "Planned",
        "in-progress": "In Progress",
        "completed": "Completed",
        "cancelled": "Cancelled",
    },
    date_format="%Y-%m-%d",
)
BELVOIR_VALE_WORKS = WorksDialect(
    reference="Ref No",
    works_type="Works Type",
    status="Works Status",
    start="Date From",
    end="Date To",
    types={
        "resurfacing": "Carriageway resurfacing",
        "drainage": "Gully / drainage",
        "street-lighting": "Lighting",
        "emergency": "Emergency works",
    },
    statuses={
        "planned": "Proposed",
        "in-progress": "Started",
        "completed": "Finished",
        "cancelled": "Withdrawn",
    },
    date_format="%d-%b-%Y",
)
KESTREL_WORKS = WorksDialect(
    reference="permit_ref",
    works_type="activity",
    status="job_status",
    start="planned_start",
    end="planned_end",
    types={
        "utility-repair": "MAINS_REPAIR",
        "new-connection": "NEW_SUPPLY",
        "emergency": "BURST_MAIN",
        "drainage": "SEWER_REPAIR",
    },
    statuses={
        "planned": "Programmed",
        "in-progress": "Active",
        "completed": "Closed",
        "cancelled": "Abandoned",
    },
    date_format="%Y%m%d",
)
LARKSPUR_WORKS = WorksDialect(
    reference="JobNumber",
    works_type="JobType",
    status="JobStatus",
    start="StartDateTime",
    end="EndDateTime",
    types={
        "utility-repair": "Mains Replacement",
        "new-connection": "Service Connection",
        "emergency": "Gas Escape",
    },
    statuses={
        "planned": "SCHEDULED",
        "in-progress": "ON SITE",
        "completed": "COMPLETE",
        "cancelled": "CANCELLED",
    },
    date_format="%m/%d/%Y %H:%M",
)
TRENTVALE_LAMPS = LampDialect(
    unit_id="unit_no",
    lamp_type="lamp",
    wattage="wattage",
    installed="installed",
    types={
        "led": "LED",
        "sodium-high-pressure": "SON",
        "sodium-low-pressure": "SOX",
        "metal-halide": "MH",
    },
    date_format="%d/%m/%Y %H:%M:%S",
)
SOAR_WREAKE_LAMPS = LampDialect(
    unit_id="assetId",
    lamp_type="lampType",
    wattage="lampWatts",
    installed="installDate",
    types={
        "led": "LED lantern",
        "sodium-high-pressure": "High pressure sodium",
        "sodium-low-pressure": "Low pressure sodium",
        "metal-halide": "Metal halide",
    },
    date_format="%Y-%m-%d",
)
BELVOIR_VALE_LAMPS = LampDialect(
    unit_id="UNITREF",
    lamp_type="LAMP_CODE",
    wattage="WATTS",
    installed="INST_DATE",
    types={
        "led": "LED",
        "sodium-high-pressure": "SON-T",
        "sodium-low-pressure": "SOX",
        "metal-halide": "CDM",
    },
    date_format="%Y/%m/%d",
)


def _trentvale_roadworks(geo: Geography, rng: Generator) -> gpd.GeoDataFrame:
    """The highways system's weekly export: lines, DBF-sized upper-case names, UK dates."""
    n = 160
    works = _works(rng, n, {"resurfacing": 5, "drainage": 2, "street-lighting": 2, "emergency": 1})
    columns = TRENTVALE_WORKS.encode(works, [f"TBC-RW-{k:06d}" for k in _serials(rng, n, 1000)])
    columns["USRN"] = rng.integers(30100000, 30199999, n)
    columns["TM_TYPE"] = rng.choice(["Road closure", "Lane closure", "Two-way signals"], n)
    lines = _lines_on(geo.pieces("trentvale", geo.roads + geo.streets), rng, n, 100, 2000)
    return gpd.GeoDataFrame(columns, geometry=lines, crs=BNG)


def _soar_wreake_roadworks(geo: Geography, rng: Generator) -> gpd.GeoDataFrame:
    """The council's open-data feed: points for short works, lines for resurfacing and drainage,
    including works a telecoms company (not a partner) promotes on its roads."""
    n = 200
    share = {"resurfacing": 3, "drainage": 2, "street-lighting": 1, "emergency": 1}
    works = _works(rng, n, share | {"utility-repair": 2, "new-connection": 1})
    serials = _serials(rng, n, 100)
    references = [f"SWDC-{s.year}-{k:05d}" for s, k in zip(works["start"], serials, strict=True)]
    columns = SOAR_WREAKE_WORKS.encode(works, references)
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


def _belvoir_vale_roadworks(geo: Geography, rng: Generator) -> pd.DataFrame:
    """A spreadsheet kept by the highways team: one grid reference per job, whole metres."""
    n = 90
    works = _works(rng, n, {"resurfacing": 3, "drainage": 3, "street-lighting": 1, "emergency": 1})
    columns = BELVOIR_VALE_WORKS.encode(works, [f"BVDC/RW/{k:05d}" for k in _serials(rng, n, 0)])
    columns["Location"] = [f"o/s No. {k}" for k in rng.integers(1, 120, n)]
    points = _points_on(geo.pieces("belvoir-vale", geo.roads + geo.streets), rng, n, kerb=0)
    return pd.DataFrame(
        columns
        | {"EASTING": [round(p.x) for p in points], "NORTHING": [round(p.y) for p in points]}
    )


def _kestrel_water_roadworks(geo: Geography, rng: Generator) -> gpd.GeoDataFrame:
    """The water company's permit system: short excavations across the whole region."""
    n = 240
    share = {"utility-repair": 5, "new-connection": 3, "emergency": 2, "drainage": 2}
    works = _works(rng, n, share)
    references = [
        f"KWS/{s:%y}/{k:06d}" for s, k in zip(works["start"], _serials(rng, n, 40000), strict=True)
    ]
    columns = KESTREL_WORKS.encode(works, references)
    columns["dma_code"] = [f"DMA{k:04d}" for k in rng.integers(100, 2000, n)]
    columns["excavation_m2"] = rng.uniform(1.5, 40, n).round(1)
    lines = _lines_on(geo.pieces("kestrel-water", geo.roads + geo.streets), rng, n, 30, 400)
    return gpd.GeoDataFrame(columns, geometry=lines, crs=BNG)


def _larkspur_gas_roadworks(geo: Geography, rng: Generator) -> gpd.GeoDataFrame:
    """The gas network's work-management export: mains jobs along the roads, US-style timestamps."""
    n = 120
    works = _works(rng, n, {"utility-repair": 5, "new-connection": 3, "emergency": 2})
    columns = LARKSPUR_WORKS.encode(works, [f"LGN-{k:07d}" for k in _serials(rng, n, 7700000)])
    columns["PipeMaterial"] = rng.choice(["PE", "Cast iron", "Ductile iron", "Steel"], n)
    lines = _lines_on(geo.pieces("larkspur-gas", geo.roads), rng, n, 100, 1500)
    return gpd.GeoDataFrame(columns, geometry=lines, crs=BNG)


def _trentvale_street_lighting(geo: Geography, rng: Generator) -> pd.DataFrame:
    """The lighting contractor's inventory, exported from a spreadsheet with grid references."""
    n = 360
    share = {"led": 70, "sodium-high-pressure": 20, "metal-halide": 7, "sodium-low-pressure": 3}
    columns = TRENTVALE_LAMPS.encode(
        _lamps(rng, n, share), [f"TBC-SL-{k:06d}" for k in _serials(rng, n, 0)]
    )
    columns["column_ht"] = rng.choice([5, 6, 8, 10, 12], n).tolist()
    points = _points_on(geo.pieces("trentvale", geo.streets), rng, n, kerb=7)
    return pd.DataFrame(
        columns
        | {"easting": [round(p.x, 1) for p in points], "northing": [round(p.y, 1) for p in points]}
    )


def _soar_wreake_street_lighting(geo: Geography, rng: Generator) -> gpd.GeoDataFrame:
    """The council's asset register published on its open-data portal."""
    n = 250
    share = {"led": 55, "sodium-high-pressure": 35, "metal-halide": 10}
    columns = SOAR_WREAKE_LAMPS.encode(
        _lamps(rng, n, share), [f"SW-{k:05d}" for k in _serials(rng, n, 0)]
    )
    columns["columnMaterial"] = rng.choice(["Steel", "Aluminium", "Concrete"], n)
    points = _points_on(geo.pieces("soar-wreake", geo.streets), rng, n, kerb=7)
    return gpd.GeoDataFrame(columns, geometry=points, crs=BNG)


def _belvoir_vale_street_lighting(geo: Geography, rng: Generator) -> gpd.GeoDataFrame:
    """The lighting inventory straight out of the council's desktop GIS."""
    n = 150
    share = {"led": 35, "sodium-high-pressure": 50, "metal-halide": 10, "sodium-low-pressure": 5}
    columns = BELVOIR_VALE_LAMPS.encode(
        _lamps(rng, n, share), [f"BV{k:05d}" for k in _serials(rng, n, 0)]
    )
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


def _day_text(days: Sequence[date | None], date_format: str) -> list[str | None]:
    return [d.strftime(date_format) if d else None for d in days]


TRENTVALE_APPLICATION_TYPES = {
    "full": "FUL", "householder": "HH", "outline": "OUT", "reserved-matters": "RM",
    "change-of-use": "COU", "listed-building": "LBC", "advertisement": "ADV",
    "prior-approval": "PA", "tree-works": "TPO",
}  # fmt: skip
TRENTVALE_DECISIONS = {
    "pending": "PCO", "approved": "GRA", "refused": "REF", "withdrawn": "WDN", "appeal": "APL",
}  # fmt: skip
SOAR_WREAKE_APPLICATION_TYPES = {
    "full": "Full Planning", "householder": "Householder", "outline": "Outline",
    "reserved-matters": "Reserved Matters", "change-of-use": "Change of Use",
    "listed-building": "Listed Building Consent", "advertisement": "Advert Consent",
    "prior-approval": "Prior Approval", "tree-works": "Tree Works (TPO)",
}  # fmt: skip
SOAR_WREAKE_DECISIONS = {
    "pending": "Undecided", "approved": "Permitted", "refused": "Refused",
    "withdrawn": "Withdrawn", "appeal": "Appeal Lodged",
}  # fmt: skip
BELVOIR_VALE_APPLICATION_TYPES = {
    "full": "FULL", "householder": "HOUSEHOLDER", "outline": "OUTLINE",
    "reserved-matters": "RESERVED MATTERS", "change-of-use": "CHANGE OF USE",
    "listed-building": "LISTED BUILDING", "advertisement": "ADVERTISEMENT",
    "prior-approval": "PRIOR APPROVAL", "tree-works": "TREES",
}  # fmt: skip
BELVOIR_VALE_DECISIONS = {
    "pending": "Registered", "approved": "Approved", "refused": "Refused",
    "withdrawn": "Withdrawn", "appeal": "Appealed",
}  # fmt: skip


def _trentvale_planning(geo: Geography, rng: Generator) -> gpd.GeoDataFrame:
    """The planning system's GIS export: red-line site polygons, ISO dates, short codes."""
    n = 180
    apps = _applications(rng, n)
    sites = _planning_sites(geo, rng, "trentvale", n)
    suffixes = apps["application_type"].map(TRENTVALE_APPLICATION_TYPES)
    references = [
        f"{r:%y}/{k:05d}/{s}"
        for r, k, s in zip(apps["received"], _serials(rng, n, 0), suffixes, strict=True)
    ]
    columns = {
        "APP_REF": references,
        "PROPOSAL": apps["description"].tolist(),
        "SITE_ADDR": [_address(s, rng) for s in sites],
        "APP_TYPE": suffixes.tolist(),
        "DECISION": apps["status"].map(TRENTVALE_DECISIONS).tolist(),
        "DATE_RECV": _day_text(apps["received"], "%Y-%m-%d"),
        "DATE_DEC": _day_text(apps["decided"], "%Y-%m-%d"),
        "URL": [
            f"https://planning.trentvale.example/applications/{r.replace('/', '-')}"
            for r in references
        ],
    }
    return gpd.GeoDataFrame(columns, geometry=sites, crs=BNG)


def _soar_wreake_planning(geo: Geography, rng: Generator) -> pd.DataFrame:
    """The planning register as a spreadsheet: the site boundary as WKT, UK dates."""
    n = 150
    apps = _applications(rng, n)
    sites = _planning_sites(geo, rng, "soar-wreake", n)
    serials = _serials(rng, n, 0)
    references = [f"P/{r:%Y}/{k:04d}" for r, k in zip(apps["received"], serials, strict=True)]
    return pd.DataFrame(
        {
            "Reference": references,
            "Proposal": apps["description"],
            "Site Address": [_address(s, rng) for s in sites],
            "Application Type": apps["application_type"].map(SOAR_WREAKE_APPLICATION_TYPES),
            "Decision": apps["status"].map(SOAR_WREAKE_DECISIONS),
            "Date Valid": _day_text(apps["received"], "%d/%m/%Y"),
            "Decision Date": _day_text(apps["decided"], "%d/%m/%Y"),
            "Link": [f"https://www.soar-wreake.example/planning/{k}" for k in serials],
            "WKT": shapely.to_wkt(np.asarray(sites, dtype=object), rounding_precision=1),
        }
    )


def _belvoir_vale_planning(geo: Geography, rng: Generator) -> gpd.GeoDataFrame:
    """The council's GML feed: one point per application, no site boundary, long dates."""
    n = 90
    apps = _applications(rng, n)
    points = [site.centroid for site in _planning_sites(geo, rng, "belvoir-vale", n)]
    references = [
        f"BV/{r:%Y}/{k:04d}" for r, k in zip(apps["received"], _serials(rng, n, 0), strict=True)
    ]
    columns = {
        "caseRef": references,
        "proposal": apps["description"].tolist(),
        "location": [_address(p, rng) for p in points],
        "caseType": apps["application_type"].map(BELVOIR_VALE_APPLICATION_TYPES).tolist(),
        "caseStatus": apps["status"].map(BELVOIR_VALE_DECISIONS).tolist(),
        "dateReceived": _day_text(apps["received"], "%d %B %Y"),
        "decisionDate": _day_text(apps["decided"], "%d %B %Y"),
    }
    return gpd.GeoDataFrame(columns, geometry=points, crs=BNG)


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


def _write_zipped_shapefile(frame: gpd.GeoDataFrame, path: Path) -> None:
    """A zipped Shapefile as councils email them: .shp, .shx, .dbf, .prj and .cpg together."""
    with TemporaryDirectory() as tmp:
        pyogrio.write_dataframe(frame, Path(tmp) / f"{path.stem}.shp", encoding="UTF-8")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for part in sorted(Path(tmp).iterdir()):
                archive.write(part, part.name)


def _write_geojson(frame: gpd.GeoDataFrame, path: Path) -> None:
    """RFC 7946 GeoJSON: WGS84 longitude/latitude, as web-facing systems publish it."""
    path.unlink(missing_ok=True)
    pyogrio.write_dataframe(
        frame.to_crs(WGS84), path, driver="GeoJSON", layer_options={"RFC7946": "YES"}
    )


def _write_geopackage(frame: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    """A GeoPackage holding just this layer (GDAL would otherwise add it to an old file)."""
    path.unlink(missing_ok=True)
    pyogrio.write_dataframe(frame, path, layer=layer, driver="GPKG")


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """A spreadsheet-style CSV: header row, coordinates (or WKT polygons) as ordinary columns."""
    frame.to_csv(path, index=False)


def _write_gml(frame: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    """GML 3.2 with its .xsd beside it, as a council's web feature service would send it."""
    path.unlink(missing_ok=True)
    options = {"FORMAT": "GML3.2"}
    pyogrio.write_dataframe(frame, path, layer=layer, driver="GML", dataset_options=options)


def _write_flatgeobuf(frame: gpd.GeoDataFrame, path: Path) -> None:
    path.unlink(missing_ok=True)
    pyogrio.write_dataframe(frame, path, driver="FlatGeobuf")


def _write_kml(frame: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    """KML (always WGS84 lon/lat), attributes in ExtendedData, as web mapping tools export it."""
    path.unlink(missing_ok=True)
    pyogrio.write_dataframe(frame.to_crs(WGS84), path, layer=layer, driver="KML")


@dataclass(frozen=True)
class DemoSource:
    """One publisher file: how its rows are made and how it is written."""

    id: str
    file: str
    build: Callable[[Geography, Generator], pd.DataFrame]
    write: Callable[[pd.DataFrame, Path], None]


SOURCES = [
    DemoSource(
        "trentvale-roadworks",
        "trentvale_roadworks.zip",
        _trentvale_roadworks,
        _write_zipped_shapefile,
    ),
    DemoSource(
        "soar-wreake-roadworks",
        "soar_wreake_roadworks.geojson",
        _soar_wreake_roadworks,
        _write_geojson,
    ),
    DemoSource(
        "belvoir-vale-roadworks", "belvoir_vale_roadworks.csv", _belvoir_vale_roadworks, _write_csv
    ),
    DemoSource(
        "kestrel-water-roadworks",
        "kestrel_water_streetworks.gpkg",
        _kestrel_water_roadworks,
        lambda frame, path: _write_geopackage(frame, path, layer="kw_streetworks"),
    ),
    DemoSource(
        "larkspur-gas-roadworks",
        "larkspur_gas_jobs.geojson",
        _larkspur_gas_roadworks,
        _write_geojson,
    ),
    DemoSource(
        "trentvale-street-lighting",
        "trentvale_street_lighting.csv",
        _trentvale_street_lighting,
        _write_csv,
    ),
    DemoSource(
        "soar-wreake-street-lighting",
        "soar_wreake_street_lighting.geojson",
        _soar_wreake_street_lighting,
        _write_geojson,
    ),
    DemoSource(
        "belvoir-vale-street-lighting",
        "belvoir_vale_street_lighting.zip",
        _belvoir_vale_street_lighting,
        _write_zipped_shapefile,
    ),
    DemoSource(
        "trentvale-planning-applications",
        "trentvale_planning.gpkg",
        _trentvale_planning,
        lambda frame, path: _write_geopackage(frame, path, layer="dm_applications"),
    ),
    DemoSource(
        "soar-wreake-planning-applications",
        "soar_wreake_planning_register.csv",
        _soar_wreake_planning,
        _write_csv,
    ),
    DemoSource(
        "belvoir-vale-planning-applications",
        "belvoir_vale_planning.gml",
        _belvoir_vale_planning,
        lambda frame, path: _write_gml(frame, path, layer="planning_application"),
    ),
    DemoSource(
        "kestrel-water-water-mains",
        "kestrel_water_mains.fgb",
        _kestrel_water_mains,
        _write_flatgeobuf,
    ),
    DemoSource(
        "brookmere-telecom-broadband-coverage",
        "brookmere_coverage.kml",
        _brookmere_broadband,
        lambda frame, path: _write_kml(frame, path, layer="coverage"),
    ),
]


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
    _write_geopackage(_boundaries(geo), out_dir / "boundaries.gpkg", layer="boundaries")
    counts = {}
    for source in SOURCES:
        frame = source.build(geo, _rng(seed, source.id))
        source.write(frame, out_dir / source.file)
        counts[source.id] = len(frame)
    return counts

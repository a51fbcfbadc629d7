"""Phase 3, validate: geometry rules, field constraints and keys, after harmonise.

Geometry that can be repaired is repaired and the repair recorded (severity fixed); geometry that
cannot be trusted (missing, not finite, the wrong kind, outside the region) sends its feature to
quarantine with a reason. Cross-row checks (unique values, duplicate keys) cover the frame given,
and the file's earlier batches when the caller keeps an EarlierBatches for it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ingest import issues
from ingest.coordinates import LineFrame, PointFrame, RingFrame, geometry_of
from ingest.issues import Severity
from ingest.seen import SeenValues
from protocols import FieldSpec, FieldType, ThemeSpec

DATE_TYPES = (FieldType.DATE, FieldType.DATETIME)
NUMBER_TYPES = (FieldType.INTEGER, FieldType.DECIMAL)
EARLIEST = pd.Timestamp("1900-01-01")
HORIZON_YEARS = 20
POINT_TYPE = 0  # shapely's type id
PROMOTE = {
    "Point": shapely.multipoints,
    "LineString": shapely.multilinestrings,
    "Polygon": shapely.multipolygons,
}


def absent(geoms: gpd.GeoSeries) -> pd.Series:
    """Rows with no geometry at all (None). GeoSeries.isna means the same now, but warns on every
    batch holding an empty geometry that it once counted those too."""
    return pd.Series(shapely.is_missing(np.asarray(geoms.array)), index=geoms.index)


def _allowed_types(theme: ThemeSpec) -> set[str]:
    return set(theme.geometry_types) | {f"Multi{t}" for t in theme.geometry_types}


def _flag(mask: pd.Series, kinds: pd.Series, rule: str, message: str) -> pd.DataFrame:
    return issues.issues_where(
        mask, kinds, field="geometry", rule=rule, message=message, severity=Severity.FIXED
    )


def _non_finite(geoms: gpd.GeoSeries) -> pd.Series:
    coords, at = shapely.get_coordinates(geoms.values, return_index=True)
    bad = np.unique(at[~np.isfinite(coords).all(axis=1)])
    mask = np.zeros(len(geoms), dtype=bool)
    mask[bad] = True
    return pd.Series(mask, index=geoms.index)


def _replace(geoms: gpd.GeoSeries, where: pd.Series, values: np.ndarray) -> gpd.GeoSeries:
    geoms = geoms.copy()
    geoms[where] = values
    return geoms


def _make_valid(values: np.ndarray) -> np.ndarray:
    """make_valid for all at once; if GEOS refuses one, each alone, None where it cannot."""
    try:
        return shapely.make_valid(values)
    except shapely.errors.GEOSException:
        return np.array([_make_one_valid(g) for g in values], dtype=object)


def _make_one_valid(geom: shapely.Geometry) -> shapely.Geometry | None:
    try:
        return shapely.make_valid(geom)
    except shapely.errors.GEOSException:
        return None


def _repair(geoms: gpd.GeoSeries, usable: pd.Series) -> tuple[gpd.GeoSeries, pd.DataFrame]:
    """Drop Z/M and make invalid geometry valid, recording each feature touched.

    Only usable geometry (present, finite) is touched: GEOS can throw on the rest.
    """
    found = []
    extra = usable & (geoms.has_z | geoms.has_m)
    if extra.any():
        geoms = _replace(geoms, extra, shapely.force_2d(np.asarray(geoms[extra].array)))
        message = "Z/M values dropped; nothing to fix"
        found.append(_flag(extra, geoms.geom_type, "geometry-dimension", message))
    invalid = usable & ~geoms.is_valid
    if invalid.any():
        broken = np.asarray(geoms[invalid].array)
        reasons = pd.Series(shapely.is_valid_reason(broken), index=geoms.index[invalid])
        geoms = _replace(geoms, invalid, _make_valid(broken))
        lost = invalid & absent(geoms)
        found += [
            issues.issues_where(
                invalid & ~lost,
                reasons,
                field="geometry",
                rule="geometry-repaired",
                message="invalid geometry repaired with make_valid; check the shape, and fix it "
                "at source to avoid the repair",
                severity=Severity.FIXED,
            ),
            issues.issues_where(
                lost,
                reasons,
                field="geometry",
                rule="geometry-invalid",
                message="invalid geometry that cannot be repaired; correct the shape",
            ),
        ]
    return geoms, issues.concat(found)


def _each_as_multi(make_multi, parts: np.ndarray) -> np.ndarray:
    return make_multi(parts, indices=np.arange(len(parts)))


def _as_single(single: str) -> str:
    return f"single-part Multi{single} stored as {single}, as the protocol wants"


def _settle_multi(geoms: gpd.GeoSeries, theme: ThemeSpec) -> tuple[gpd.GeoSeries, pd.DataFrame]:
    """Singles become multis where the protocol wants multis; single-part multis become singles."""
    wanted, kinds, found = set(theme.geometry_types), geoms.geom_type, []
    for single, make_multi in PROMOTE.items():
        multi = f"Multi{single}"
        if multi in wanted and single not in wanted:
            change = kinds == single
            convert = partial(_each_as_multi, make_multi)
            message = f"{single} stored as {multi}, as the protocol wants"
        elif single in wanted and multi not in wanted:
            change = (kinds == multi) & (shapely.get_num_geometries(geoms.values) == 1)
            convert = partial(shapely.get_geometry, index=0)
            message = _as_single(single)
        else:
            continue
        if change.any():
            geoms = geoms.copy()
            geoms[change] = convert(np.asarray(geoms[change].array))
            found.append(_flag(change, kinds, "geometry-multi", message))
    return geoms, issues.concat(found)


def _outside_message(geoms: gpd.GeoSeries, theme: ThemeSpec) -> pd.Series:
    """Why a feature is out of the region, guessing the CRS from its coordinate ranges."""
    b = pd.DataFrame(shapely.bounds(geoms.values), index=geoms.index)
    lon_lat = (b[0] >= -180) & (b[2] <= 180) & (b[1] >= -90) & (b[3] <= 90)
    zero = (b[0] == 0) & (b[1] == 0) & (b[2] == 0) & (b[3] == 0)
    crs = f"EPSG:{theme.storage_crs}"
    x, y = (b[i].round().astype("int64").astype(str) for i in (0, 1))
    generic = (
        "geometry lies outside the region (at " + x + ", " + y + f" in {crs}); "
        "check the coordinates and the coordinate system the file declares"
    )
    looks_lon_lat = (
        "geometry lies outside the region: its coordinates look like longitude/latitude "
        f"(EPSG:4326) but were read as {crs}; set `crs: EPSG:4326` in the source's mapping "
        "(config/sources/<source>.yaml) or fix the file's .prj"
    )
    at_zero = "geometry lies outside the region at 0,0 (a placeholder?): give the real location"
    return generic.where(~lon_lat, looks_lon_lat).where(~zero, at_zero)


def _geometry_rules(
    geoms: gpd.GeoSeries, missing: pd.Series, broken: pd.Series, theme: ThemeSpec, bbox
) -> pd.DataFrame:
    kinds = geoms.geom_type
    usable = ~missing & ~broken & ~absent(geoms)  # not lost to a failed repair
    wrong_kind = usable & ~kinds.isin(_allowed_types(theme))
    outside = usable.copy()  # GEOS predicates throw on NaN, so only usable geometry is tested
    outside[usable] = ~geoms[usable].intersects(shapely.box(*bbox))
    expected = " or ".join(theme.geometry_types)
    return issues.concat(
        [
            issues.issues_where(
                missing,
                None,
                field="geometry",
                rule="geometry-missing",
                message="feature has no geometry (null or empty); give it a location",
            ),
            issues.issues_where(
                broken,
                None,
                field="geometry",
                rule="geometry-coordinates",
                message="coordinates are not finite numbers (NaN or infinity), as sent or once "
                f"converted to EPSG:{theme.storage_crs}; correct them, or the coordinate system "
                "the file declares",
            ),
            issues.issues_where(
                wrong_kind,
                kinds,
                field="geometry",
                rule="geometry-type",
                message=f"geometry must be {expected}; send that kind of geometry",
            ),
            _out_of_region(outside, theme, lambda: geoms[outside]),
        ]
    )


def _out_of_region(
    outside: pd.Series, theme: ThemeSpec, geometry_outside: Callable[[], gpd.GeoSeries]
) -> pd.DataFrame:
    return issues.issues_where(
        outside,
        None,
        field="geometry",
        rule="out-of-region",
        # worked out only for the features outside: most batches have none
        message=_outside_message(geometry_outside(), theme) if outside.any() else "",
    )


def _first_twins(key: pd.Series) -> pd.Series:
    """For each row repeating an earlier row's value in this frame, that earlier row (worked out
    only for files with repeats: most have none)."""
    twin = key.notna() & key.duplicated(keep=False)
    if not twin.any():
        return pd.Series(dtype="int64")
    first = key[twin].index.to_series().groupby(key[twin]).transform("first")
    return first[first.index != first.to_numpy()]


def _earlier_twin(
    key: pd.Series, what: str, seen: SeenValues | None, within: pd.Series | None = None
) -> tuple[pd.Series, pd.Series]:
    """Rows repeating an earlier row's key, in this frame (within, when already worked out) or
    (given what earlier batches held) in an earlier batch, and a message naming that row."""
    first = _first_twins(key) if within is None else within
    if seen is not None:
        before = seen.first_rows(key)  # a repeat of an earlier batch names the row there
        first = pd.concat([first.drop(before.index, errors="ignore"), before]).sort_index()
    if first.empty:
        return pd.Series(False, index=key.index), pd.Series(dtype="string")
    repeated = pd.Series(key.index.isin(first.index), index=key.index)
    message = issues.REPEAT_BEFORE.format(what=what) + first.astype("string")
    return repeated, message + issues.REPEAT_AFTER


def _value_rules(
    value: pd.Series,
    spec: FieldSpec,
    seen: SeenValues | None = None,
    twins: dict[str, pd.Series] | None = None,
) -> list[pd.DataFrame]:
    """FieldSpec constraints on a harmonised column; missing values break none of them."""
    found, name = [], spec.name
    needs_text = spec.max_length or spec.pattern or spec.unique
    text = value.astype("string") if needs_text else None
    checks = []
    if spec.max_length:
        too_long = text.str.len() > spec.max_length
        checks.append((too_long, "max-length", f"longer than {spec.max_length} characters"))
    if spec.type in NUMBER_TYPES and spec.minimum is not None:
        checks.append((value < spec.minimum, "minimum", f"less than the minimum {spec.minimum:g}"))
    if spec.type in NUMBER_TYPES and spec.maximum is not None:
        checks.append((value > spec.maximum, "maximum", f"more than the maximum {spec.maximum:g}"))
    if spec.pattern:
        mismatch = ~text.str.contains(spec.pattern, regex=True)
        checks.append((mismatch, "pattern", f"does not match the pattern {spec.pattern}"))
    for mask, rule, message in checks:
        found.append(
            issues.issues_where(
                mask, value, field=name, rule=rule, message=f"{message}; correct it"
            )
        )
    if spec.unique:
        within = _first_twins(text)
        if twins is not None:
            twins[name] = within  # the natural key's rule may be this field's again
        repeated, message = _earlier_twin(text, name, seen, within)
        found.append(
            issues.issues_where(repeated, value, field=name, rule="unique", message=message)
        )
    return found


def _date_rules(frame: pd.DataFrame, theme: ThemeSpec, today: pd.Timestamp) -> list[pd.DataFrame]:
    found, dates = [], {f.name: f for f in theme.fields if f.type in DATE_TYPES}
    horizon = today + pd.DateOffset(years=HORIZON_YEARS)
    for name, spec in dates.items():
        value = frame[name]
        earliest, latest = EARLIEST, horizon
        if spec.type is FieldType.DATETIME:
            earliest, latest = EARLIEST.tz_localize("UTC"), horizon.tz_localize("UTC")
        found.append(
            issues.issues_where(
                (value < earliest) | (value > latest),
                value,
                field=name,
                rule="date-range",
                message=f"before {EARLIEST.year} or more than {HORIZON_YEARS} years ahead; "
                "check the year",
                severity=Severity.WARNING,
            )
        )
    for end, start in _end_start_pairs(dates):
        found.append(
            issues.issues_where(
                frame[end] < frame[start],
                frame[end],
                field=end,
                rule="date-order",
                message=f"{end} is before {start}; correct one of them",
            )
        )
    return found


def _start_of(name: str) -> str | None:
    if name.startswith("end"):
        return "start" + name.removeprefix("end")
    return name.removesuffix("_to") + "_from" if name.endswith("_to") else None


def _end_start_pairs(dates: dict[str, FieldSpec]) -> list[tuple[str, str]]:
    """Date fields paired by name: end_date/start_date, valid_to/valid_from."""
    return [
        (name, start)
        for name in dates
        if (start := _start_of(name)) in dates and dates[start].type is dates[name].type
    ]


def _key_rules(
    frame: pd.DataFrame, theme: ThemeSpec, seen: SeenValues | None, twins: dict[str, pd.Series]
) -> pd.DataFrame:
    key = frame[theme.natural_key[0]].astype("string")
    for name in theme.natural_key[1:]:
        key = key + "|" + frame[name].astype("string")  # a missing part leaves the key missing
    within = twins.get(theme.natural_key[0]) if len(theme.natural_key) == 1 else None
    repeated, message = _earlier_twin(key, "key", seen, within)
    field = ",".join(theme.natural_key)
    return issues.issues_where(repeated, key, field=field, rule="duplicate-key", message=message)


class EarlierBatches:
    """What a file's earlier batches held, for the rules about repeats, which validate otherwise
    applies within the frame it is given. A load leaves its natural key to the database (the
    unique index finds repeats across batches: key=False); a dry run has no database (key=True).
    A unique field that is the natural key is followed as the key only, in both."""

    def __init__(self, theme: ThemeSpec, *, key: bool) -> None:
        self.key = SeenValues() if key else None
        self.fields = {
            spec.name: SeenValues()
            for spec in theme.fields
            if spec.unique and [spec.name] != theme.natural_key
        }


def _stores(theme: ThemeSpec, kind: str) -> bool:
    """Whether the theme stores this kind as it is (not promoted to its multi kind)."""
    return kind in theme.geometry_types and f"Multi{kind}" not in theme.geometry_types


def _within(bounds: np.ndarray, bbox) -> np.ndarray:
    """Which boxes (minx, miny, maxx, maxy a row) lie within the region's box, edges included:
    the geometry inside each such box intersects the region's."""
    minx, miny, maxx, maxy = bbox
    return (
        (bounds[:, 0] >= minx)
        & (bounds[:, 1] >= miny)
        & (bounds[:, 2] <= maxx)
        & (bounds[:, 3] <= maxy)
    )


def _plain_points(geoms: gpd.GeoSeries, theme: ThemeSpec) -> np.ndarray | None:
    """The x/y of a batch of 2D points, every one present and finite, in a theme that stores
    points as points; else None. Such a batch (lamps, planning points, roadworks: most big
    files) has nothing to repair or settle, and its region test is four comparisons: the general
    rules spend most of their time making a type-name string a feature."""
    values = np.asarray(geoms.values)
    if not _stores(theme, "Point") or not (shapely.get_type_id(values) == POINT_TYPE).all():
        return None
    if shapely.has_z(values).any() or shapely.has_m(values).any():
        return None
    coords = shapely.get_coordinates(values)  # an empty point has none
    return coords if len(coords) == len(values) and np.isfinite(coords).all() else None


def _point_rules(frame: pd.DataFrame, coords: np.ndarray, theme: ThemeSpec, bbox) -> pd.DataFrame:
    """The general rules' out-of-region issues for plain points (the only rule they can break):
    a point intersects the region's box when it lies inside it or on its edge."""
    outside = pd.Series(~_within(coords[:, [0, 1, 0, 1]], bbox), frame.index)
    return _out_of_region(outside, theme, lambda: geometry_of(frame, outside))


def _geometry_issues(
    frame: pd.DataFrame, theme: ThemeSpec, bbox
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """The frame with repaired geometry, and the geometry issues: plain points by their
    coordinates (a PointFrame stays one), plain lines and one-ring polygons too when all are
    valid and inside the region (a LineFrame or RingFrame stays one: the usual batch), any
    other batch by the general rules."""
    if isinstance(frame, PointFrame):
        coords = frame.xy
        if _stores(theme, "Point") and np.isfinite(coords).all():  # PROJ may fail to move one
            return frame, [_point_rules(frame, coords, theme, bbox)]
        frame = frame.to_geodataframe()
    if isinstance(frame, LineFrame):  # or a RingFrame
        stored = _stores(theme, frame.KIND)
        if stored and frame.simple_enough() and _within(frame.bounds(), bbox).all():
            if isinstance(frame, RingFrame) and frame.multi:  # the one thing left to settle
                kinds = pd.Series("MultiPolygon", index=frame.index)
                settled = _flag(kinds.notna(), kinds, "geometry-multi", _as_single("Polygon"))
                return frame.as_polygons(), [settled]
            return frame, []  # nothing for the general rules to repair or refuse
        frame = frame.to_geodataframe()
    geoms = frame.geometry
    coords = _plain_points(geoms, theme)
    if coords is not None:
        return frame, [_point_rules(frame, coords, theme, bbox)]
    missing = absent(geoms) | geoms.is_empty
    broken = ~missing & _non_finite(geoms)
    geoms, repaired = _repair(geoms, ~missing & ~broken)
    missing |= ~broken & ~absent(geoms) & geoms.is_empty  # nothing left once repaired
    geoms, settled = _settle_multi(geoms, theme)
    rules = _geometry_rules(geoms, missing, broken, theme, bbox)
    return frame.set_geometry(geoms), [repaired, settled, rules]


def validate(
    frame: pd.DataFrame,
    theme: ThemeSpec,
    region_bbox: tuple[float, float, float, float],
    *,
    today: pd.Timestamp | None = None,
    earlier: EarlierBatches | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The frame with repaired geometry, and the geometry, field and key issues found; repeats
    are looked for in the frame, and in the earlier batches of its file when given them."""
    frame, found = _geometry_issues(frame, theme, region_bbox)
    today = today if today is not None else pd.Timestamp.now().normalize()
    fields = earlier.fields if earlier else {}
    twins: dict[str, pd.Series] = {}  # a unique field's repeats, worked out once
    for spec in theme.fields:
        found += _value_rules(frame[spec.name], spec, fields.get(spec.name), twins)
    found += _date_rules(frame, theme, today)
    found.append(_key_rules(frame, theme, earlier.key if earlier else None, twins))
    return frame, issues.concat(found)

"""Phase 2, harmonise: publisher columns, code values, formats, units and CRS onto the protocol.

Columnar throughout (pandas/shapely vectorised): a per-row Python loop costs ~10x at 500k rows.
Every value that cannot be converted becomes an issue row, never a silent null. Rows the mapping's
`where` leaves out are not dropped: they get one `filtered-out` error, so they are quarantined and
counted, and input = loaded + quarantined still holds.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import ProjError
from pyproj.transformer import TransformerGroup

from ingest import issues, units
from ingest.coordinates import LineFrame, PointFrame, X, Y, attributes
from ingest.errors import ConfigError, UnreadableInput
from ingest.issues import Severity
from ingest.region import Condition, FieldMap, Source
from protocols import CodeList, FieldSpec, FieldType, Protocols, ThemeSpec

TRUE_WORDS = {"true", "t", "yes", "y", "1"}
FALSE_WORDS = {"false", "f", "no", "n", "0"}
BIGINT = 9.2e18
NO_MAP = FieldMap(value="")
SPLIT_COORDINATES = 250_000
# Kinds rebuilt from their reprojected coordinate arrays (shapely type ids: point, line, polygon,
# multipolygon), with the fewest coordinates their innermost part can have. A part that holds
# nothing (an empty hole, an empty polygon in a multipolygon) is refused first: from_ragged_array
# mis-sizes an empty part (a multipoint) or crashes the process on one (a multipolygon).
RAGGED_KINDS = {0: 1, 1: 2, 3: 4, 6: 4}
PROJ_HELPERS = 2
_proj_helpers = ThreadPoolExecutor(PROJ_HELPERS, thread_name_prefix="regiongis-proj")


def _new_proj_helpers() -> None:
    """A forked child has no copy of the parent's helper threads: it gets helpers of its own."""
    global _proj_helpers
    _proj_helpers = ThreadPoolExecutor(PROJ_HELPERS, thread_name_prefix="regiongis-proj")


os.register_at_fork(after_in_child=_new_proj_helpers)


def _as_text(raw: pd.Series) -> pd.Series:
    """Strings with surrounding space removed and blanks as missing."""
    text = raw.astype("string").str.strip()
    return text.mask(text == "")


def _numbers_for_numbers(raw: pd.Series, spec: FieldSpec) -> bool:
    """Whether a number field takes a column the file already holds as numbers: then it is
    read as it is, not written out as text and parsed back (a fifth of a polygon file's
    harmonising went on that)."""
    numeric = pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw)
    return numeric and spec.type in (FieldType.INTEGER, FieldType.DECIMAL)


def _folded(raw: pd.Series) -> pd.Series:
    return _as_text(raw).str.casefold()


def _looked_up(text: pd.Series, lookup: dict[str, object], dtype: str) -> pd.Series:
    """lookup[value casefolded], or missing; once per distinct value, not once per row (code
    lists and yes/no columns hold a few values in many rows)."""
    codes, uniques = pd.factorize(text)
    found = pd.array([lookup.get(u.casefold()) for u in uniques], dtype=dtype)
    return pd.Series(found.take(codes, allow_fill=True), index=text.index)


def _code_values(text: pd.Series, fmap: FieldMap, codelist: CodeList) -> pd.Series:
    lookup = {k.strip().casefold(): v for k, v in fmap.values.items()}
    lookup |= {c.casefold(): c for c in codelist.codes}
    return _looked_up(text, lookup, "string")


def _parse_dates(raw: pd.Series, text: pd.Series, formats: list[str]) -> pd.Series:
    """Each format in turn on the values no earlier format could read; UTC throughout."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        aware = raw.dt.tz is not None
        return raw.dt.tz_convert("UTC") if aware else raw.dt.tz_localize("UTC")
    parsed = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us, UTC]")
    for fmt in formats or ["ISO8601"]:
        todo = parsed.isna() & text.notna()
        if not todo.any():
            break
        found = pd.to_datetime(text[todo], format=fmt, errors="coerce", utc=True)
        parsed[todo] = found.astype("datetime64[us, UTC]")
    return parsed


def _convert_date(raw: pd.Series, text: pd.Series, fmap: FieldMap, spec: FieldSpec) -> pd.Series:
    return _parse_dates(raw, text, fmap.formats).dt.tz_localize(None).dt.normalize()


def _convert_datetime(
    raw: pd.Series, text: pd.Series, fmap: FieldMap, spec: FieldSpec
) -> pd.Series:
    return _parse_dates(raw, text, fmap.formats)


def _numbers(raw: pd.Series, text: pd.Series, fmap: FieldMap, spec: FieldSpec) -> pd.Series:
    """Finite numbers in the protocol's unit; anything else is missing (and so an issue)."""
    number = pd.to_numeric(text, errors="coerce").astype("Float64")
    number = number.where(number.abs() < np.inf)
    if fmap.unit is not None:
        if spec.unit is None:
            raise ConfigError(
                f"field {spec.name!r} has no unit in the protocol; drop `unit: {fmap.unit}`"
            )
        number = number * units.factor(fmap.unit, spec.unit)
    return number


def _convert_integer(raw: pd.Series, text: pd.Series, fmap: FieldMap, spec: FieldSpec) -> pd.Series:
    number = _numbers(raw, text, fmap, spec)
    if fmap.unit is not None:  # a converted whole number need not stay whole: 2 in = 50.8 mm
        number = number.round()
    number = number.where((number == number.round()) & (number.abs() < BIGINT))
    return number.astype("Int64")


def _convert_boolean(raw: pd.Series, text: pd.Series, fmap: FieldMap, spec: FieldSpec) -> pd.Series:
    words = dict.fromkeys(TRUE_WORDS, True) | dict.fromkeys(FALSE_WORDS, False)
    return _looked_up(text, words, "boolean")


def _convert_url(raw: pd.Series, text: pd.Series, fmap: FieldMap, spec: FieldSpec) -> pd.Series:
    return text.where(text.str.match(r"^https?://\S+$", na=False))


Converter = Callable[[pd.Series, pd.Series, FieldMap, FieldSpec], pd.Series]
"""(value as sent, its text stripped with blanks missing, mapping, field) -> converted value."""

CONVERTERS: dict[FieldType, Converter] = {
    FieldType.TEXT: lambda raw, text, fmap, spec: text,
    FieldType.INTEGER: _convert_integer,
    FieldType.DECIMAL: _numbers,
    FieldType.DATE: _convert_date,
    FieldType.DATETIME: _convert_datetime,
    FieldType.BOOLEAN: _convert_boolean,
    FieldType.URL: _convert_url,
}

HINTS = {
    FieldType.INTEGER: "a whole number",
    FieldType.DECIMAL: "a number",
    FieldType.DATE: "a date",
    FieldType.DATETIME: "a date and time",
    FieldType.BOOLEAN: "yes/no",
    FieldType.URL: "an http(s) URL",
}


def _column(frame: pd.DataFrame, name: str, source: Source) -> pd.Series:
    if name not in frame.columns:
        raise UnreadableInput(
            f"source {source.id}: the file has no column {name!r} "
            f"(it has {', '.join(map(str, attributes(frame).columns))}); "
            f"correct config/sources/{source.id}.yaml or the file"
        )
    return frame[name]


def _joined(frame: pd.DataFrame, fmap: FieldMap, source: Source) -> pd.Series:
    """The columns' texts joined by sep, skipping empty ones, column by column (not row by row)."""
    parts = [_as_text(_column(frame, name, source)) for name in fmap.columns]
    joined = parts[0]
    for part in parts[1:]:
        both = joined + fmap.sep + part
        joined = both.fillna(joined).fillna(part)
    return joined


def _raw_values(frame: pd.DataFrame, fmap: FieldMap | None, source: Source) -> pd.Series:
    if fmap is None:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    if fmap.value is not None:  # text as text: converting 65,536 objects costs milliseconds
        text = isinstance(fmap.value, str)
        return pd.Series(fmap.value, index=frame.index, dtype="string" if text else "object")
    raw = _joined(frame, fmap, source) if fmap.concat else _column(frame, fmap.source, source)
    if fmap.split is not None:
        raw = _as_text(raw).str.split(fmap.split, regex=False).str[fmap.part].str.strip()
    if fmap.default is not None:
        raw = raw.astype("object").where(_as_text(raw).notna(), fmap.default)
    return raw


def _deprecated(value: pd.Series, spec: FieldSpec, codelist: CodeList) -> pd.DataFrame:
    """Deprecated codes still load, flagged with their replacement when the code list names one."""
    found = []
    for code in (v for v in codelist.values if v.deprecated):
        replacement = getattr(code, "replaced_by", None)
        advice = f"use '{replacement}'" if replacement else "use a current code"
        found.append(
            issues.issues_where(
                value == code.code,
                value,
                field=spec.name,
                rule="deprecated-code",
                message=f"'{code.code}' is deprecated in code list {codelist.id}: {advice} "
                "in new records",
                severity=Severity.WARNING,
            )
        )
    return issues.concat(found)


def _convert(
    raw: pd.Series, text: pd.Series, fmap: FieldMap, spec: FieldSpec, protocols: Protocols
) -> tuple[pd.Series, pd.DataFrame]:
    codelist = protocols.codelist_for(spec)
    if codelist is not None:
        value = _code_values(text, fmap, codelist)
        message = (
            f"not in code list {codelist.id}; correct it, or add it under "
            f"fields.{spec.name}.values in the source's mapping"
        )
        extra = _deprecated(value, spec, codelist)
    else:
        value = CONVERTERS[spec.type](raw, text, fmap, spec)
        formats = f" in format {' or '.join(fmap.formats)}" if fmap.formats else ""
        unit = f" (in {fmap.unit})" if fmap.unit else ""
        message = f"cannot read as {HINTS.get(spec.type, 'text')}{formats}{unit}; correct it"
        extra = issues.empty()
    unconverted = issues.issues_where(
        text.notna() & value.isna(),
        raw,
        field=spec.name,
        rule=f"{spec.type}-value",
        message=message,
    )
    return value, issues.concat([unconverted, extra])


def _harmonise_field(
    frame: pd.DataFrame, spec: FieldSpec, source: Source, protocols: Protocols
) -> tuple[pd.Series, pd.DataFrame]:
    fmap = source.field_map(spec.name)
    raw = _raw_values(frame, fmap, source)
    text = raw if _numbers_for_numbers(raw, spec) else _as_text(raw)
    value, found = _convert(raw, text, fmap or NO_MAP, spec, protocols)
    if spec.required:
        required = issues.issues_where(
            text.isna(),
            raw,
            field=spec.name,
            rule="required",
            message=f"required field '{spec.name}' ({spec.title}) is empty; fill it in",
        )
        found = issues.concat([found, required])
    return value, found


def _left_out(frame: pd.DataFrame, source: Source) -> pd.DataFrame:
    """One filtered-out issue for each row the mapping's `where` leaves out (its first reason)."""
    found, out = [], pd.Series(False, index=frame.index)
    for name, condition in source.where.items():
        words: list[str] = condition.is_in if condition.is_in is not None else condition.not_in
        raw = _column(frame, name, source)
        listed = _folded(raw).isin([w.strip().casefold() for w in words]).fillna(False)
        fails = ~listed if condition.is_in is not None else listed
        found.append(
            issues.issues_where(
                fails & ~out,
                raw,
                field=name,
                rule="filtered-out",
                message=_filter_message(name, condition, source),
            )
        )
        out |= fails
    return issues.concat(found)


def _filter_message(name: str, condition: Condition, source: Source) -> str:
    test = f"in {condition.is_in}" if condition.is_in is not None else f"not in {condition.not_in}"
    return (
        f"left out on purpose: the mapping loads only rows whose {name} is {test}; "
        f"nothing to fix unless it should load (then change `where` in "
        f"config/sources/{source.id}.yaml)"
    )


def _bounds(frame: pd.DataFrame) -> pd.DataFrame:
    if isinstance(frame, PointFrame):
        return pd.DataFrame(frame[[X, Y, X, Y]].to_numpy(), index=frame.index)
    if isinstance(frame, LineFrame):
        return pd.DataFrame(frame.bounds(), index=frame.index)
    return pd.DataFrame(shapely.bounds(frame.geometry.values), index=frame.index)


def _crs_mismatch(frame: pd.DataFrame, source: Source) -> pd.DataFrame:
    """Coordinates a geographic CRS cannot have: most often British National Grid called WGS84."""
    crs = frame.crs
    if crs is None or not crs.is_geographic:
        return issues.empty()
    bounds = _bounds(frame)
    minx, miny, maxx, maxy = (bounds[i] for i in range(4))
    impossible = (minx < -180) | (maxx > 180) | (miny < -90) | (maxy > 90)
    if not impossible.any():
        return issues.empty()  # the usual batch: no messages to word
    grid = (minx >= 0) & (maxx <= 700_000) & (miny >= 0) & (maxy <= 1_300_000)
    claimed = crs.to_string()
    advice = f"set `crs: EPSG:27700` in config/sources/{source.id}.yaml"
    found = [
        issues.issues_where(
            impossible & grid,
            None,
            field="geometry",
            rule="crs-mismatch",
            message=f"coordinates look like EPSG:27700 (British National Grid) but the file "
            f"says {claimed}; {advice} (or fix the file's .prj)",
        ),
        issues.issues_where(
            impossible & ~grid,
            None,
            field="geometry",
            rule="crs-mismatch",
            message=f"coordinates are not longitude/latitude, but the file says {claimed}; set "
            f"the right `crs:` in config/sources/{source.id}.yaml (or fix the file's .prj)",
        ),
    ]
    return issues.concat(found)


@cache
def _crs(epsg: int) -> CRS:
    return CRS.from_epsg(epsg)


@cache
def _transformer(source: CRS, epsg: int) -> Transformer:
    return Transformer.from_crs(source, _crs(epsg), always_xy=True)


def _transform(transformer: Transformer, coords: np.ndarray) -> np.ndarray:
    return np.column_stack(transformer.transform(coords[:, 0], coords[:, 1]))


def prepare_reprojection(crs: CRS, epsg: int) -> None:
    """Make the reprojection's PROJ objects on the helper threads now (~50 ms each: pyproj makes
    one a thread), beside the run's set-up and first read, not in the first batch's way."""
    try:
        transformer = _transformer(crs, epsg)
    except ProjError:
        return  # the first batch meets it, inside the run
    for _ in range(PROJ_HELPERS):
        _proj_helpers.submit(_transform, transformer, np.zeros((1, 2)))


def reprojection(crs: CRS, epsg: int) -> dict[str, str | None]:
    """How the file's coordinates reach the storage CRS, for the run's record and its report:
    the file's CRS, and the operation PROJ takes with its accuracy (the first thing a GIS officer
    asks of moved data: OSTN15's 0.1 m, or a Helmert fallback's metres); None if nothing moves."""
    named = ":".join(crs.to_authority() or ()) or crs.name
    target = _crs(epsg)
    if crs.equals(target, ignore_axis_order=True):
        return {"source_crs": named, "transformation": None}
    with warnings.catch_warnings():  # "best transformation not available": the text says which
        warnings.simplefilter("ignore", UserWarning)
        found = TransformerGroup(crs, target, always_xy=True).transformers
    if not found:
        return {"source_crs": named, "transformation": "none available"}
    steps = [s for s in found[0].description.split(" + ") if not s.startswith("axis order")]
    accuracy = found[0].accuracy
    text = " + ".join(steps) + (f" (accurate to {accuracy:g} m)" if accuracy > 0 else "")
    return {"source_crs": named, "transformation": text}


def _moving(transformer: Transformer, coords: np.ndarray) -> Callable[[], np.ndarray]:
    """Coordinates being reprojected on the helper threads (PROJ lets go of the GIL), so the
    caller can convert attributes meanwhile; call the result for them, moved. Many coordinates
    (long lines) go in two halves, one to each helper. The helpers live as long as the process,
    because pyproj makes each new thread its own PROJ object (~50 ms): a pool made per batch
    spent that on every batch."""
    halves = np.array_split(coords, 2) if len(coords) >= SPLIT_COORDINATES else [coords]
    moving = [_proj_helpers.submit(_transform, transformer, half) for half in halves]
    return lambda: np.concatenate([part.result() for part in moving])


def _whole(kind: int, offsets: tuple[np.ndarray, ...]) -> bool:
    """Whether every ring or part of a ragged batch holds something."""
    if not offsets:
        return True
    inner, *outer = offsets
    fewest = RAGGED_KINDS[kind]
    return np.diff(inner).min() >= fewest and all(np.diff(o).min() >= 1 for o in outer)


def _reprojecting(geoms: gpd.GeoSeries, epsg: int) -> Callable[[], gpd.GeoSeries]:
    """The geometry on its way to EPSG:epsg; call the result for it. A batch of one kind of 2D
    points, lines or polygons, none empty in whole or part (most big files), goes as one
    coordinate array to the PROJ helpers while the caller converts the attributes, and is rebuilt
    from it: a quarter of the cost of geopandas' to_crs for long lines and polygons. Any other
    batch goes through to_crs when called."""
    data = np.asarray(geoms.values)
    kinds = shapely.get_type_id(data)
    if (
        geoms.crs is not None
        and len(data)
        and kinds[0] in RAGGED_KINDS
        and (kinds == kinds[0]).all()
        and not shapely.is_empty(data).any()
        and not shapely.has_z(data).any()
    ):
        kind, coords, offsets = shapely.to_ragged_array(data)
        if _whole(kinds[0], offsets):
            moved = _moving(_transformer(geoms.crs, epsg), coords)
            return lambda: gpd.GeoSeries(
                shapely.from_ragged_array(kind, moved(), offsets), index=geoms.index, crs=epsg
            )
    return lambda: geoms.to_crs(epsg=epsg)


def harmonise(
    frame: pd.DataFrame, source: Source, theme: ThemeSpec, protocols: Protocols
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The frame (a GeoDataFrame, or a PointFrame or LineFrame, which stays one) in the
    protocol's columns and storage CRS, and the issues met on the way."""
    epsg = theme.storage_crs
    if isinstance(frame, PointFrame | LineFrame):  # while the fields convert
        vertices = frame.xy if isinstance(frame, PointFrame) else frame.coords
        moved = _moving(_transformer(frame.crs, epsg), vertices)
    else:
        geometry = _reprojecting(frame.geometry, epsg)
    columns, found = {}, []
    for spec in theme.fields:
        columns[spec.name], field_issues = _harmonise_field(frame, spec, source, protocols)
        found.append(field_issues)
    found.append(_crs_mismatch(frame, source))
    left_out = _left_out(frame, source)
    found = issues.concat(found)
    found = found[~found["row"].isin(left_out["row"])]  # a row left out has that one reason
    if isinstance(frame, PointFrame):
        values = pd.DataFrame(columns, index=frame.index)
        harmonised = PointFrame.of(values, moved(), _crs(epsg))
    elif isinstance(frame, LineFrame):
        harmonised = frame.moved(pd.DataFrame(columns, index=frame.index), moved(), _crs(epsg))
    else:
        harmonised = gpd.GeoDataFrame(columns, geometry=geometry(), index=frame.index)
    return harmonised, issues.concat([left_out, found])

"""The deployment's region: its publishers and their sources, read from config/ and validated.

Onboarding a publisher is a YAML file in config/sources/, never Python: every way a publisher's file
differs from the protocol (names, code values, date formats, CRS, CSV coordinates) is said here.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ingest import units
from ingest.errors import ConfigError
from protocols import Protocols, ThemeSpec, read_yaml

SLUG = r"^[a-z][a-z0-9-]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class PublisherKind(StrEnum):
    COUNCIL = "council"
    UTILITY = "utility"


class Publisher(Strict):
    id: str = Field(pattern=SLUG)
    name: str
    kind: PublisherKind
    website: str | None = None


class FieldMap(Strict):
    """Where one protocol field comes from: a source column, several joined, or a constant.

    The rest says how to read it: a default for empty values, code values, date formats (tried in
    order), the unit the column is in, or which part of a split value to keep.
    """

    source: str | None = Field(default=None, alias="from")
    concat: list[str] | None = Field(default=None, min_length=1)
    sep: str = " "
    split: str | None = None
    part: int = 0
    value: Any = None
    default: Any = None
    values: dict[str, str] = {}
    format: str | list[str] | None = None
    unit: str | None = None

    @property
    def formats(self) -> list[str]:
        return [self.format] if isinstance(self.format, str) else list(self.format or [])

    @property
    def columns(self) -> list[str]:
        return self.concat or ([self.source] if self.source else [])

    @model_validator(mode="after")
    def _one_origin(self) -> FieldMap:
        origins = [self.source is not None, self.value is not None, self.concat is not None]
        if sum(origins) != 1:
            raise ValueError(
                "a field mapping takes exactly one of 'from' (a column), "
                "'concat' (a list of columns) or 'value' (a constant)"
            )
        if self.split is not None and self.source is None:
            raise ValueError("'split' cuts the value of one column: give it with 'from'")
        if self.default is not None and self.value is not None:
            raise ValueError("'default' fills a column's empty values; a 'value' is never empty")
        return self


class Condition(Strict):
    """A row filter on one column, compared after trimming and case-folding, like code values."""

    is_in: list[str] | None = Field(default=None, alias="in")
    not_in: list[str] | None = None

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        if (self.is_in is None) == (self.not_in is None):
            raise ValueError("a 'where' condition takes exactly one of 'in' or 'not_in'")
        return self


class CsvGeometry(Strict):
    """How a CSV carries its geometry: x/y or lon/lat columns, or a WKT column.

    lon/lat are read as x/y and mean WGS84, so a source giving them needs no `crs`.
    """

    x: str | None = None
    y: str | None = None
    wkt: str | None = None
    geographic: bool = False

    @model_validator(mode="before")
    @classmethod
    def _lon_lat_are_wgs84_x_y(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("lon" in data or "lat" in data):
            if "x" in data or "y" in data:
                raise ValueError("csv geometry takes 'x'/'y' or 'lon'/'lat', not both")
            rest = {k: v for k, v in data.items() if k not in ("lon", "lat")}
            data = rest | {"x": data.get("lon"), "y": data.get("lat"), "geographic": True}
        return data

    @model_validator(mode="after")
    def _xy_or_wkt(self) -> CsvGeometry:
        if not ((self.x and self.y and not self.wkt) or (self.wkt and not (self.x or self.y))):
            raise ValueError("csv geometry takes 'x' and 'y' (or 'lon' and 'lat'), or 'wkt' alone")
        return self


class Source(Strict):
    id: str = Field(pattern=SLUG)
    publisher: str
    theme: str
    title: str = ""
    file: str
    layer: str | None = None
    crs: str | None = None
    encoding: str | None = None
    csv: CsvGeometry | None = None
    where: dict[str, Condition] = {}
    fields: dict[str, str | FieldMap]

    @model_validator(mode="after")
    def _lon_lat_mean_wgs84(self) -> Source:
        if self.csv and self.csv.geographic:
            if self.crs not in (None, "EPSG:4326", "OGC:CRS84"):
                raise ValueError(f"lon/lat columns are WGS84, but crs says {self.crs}; use x/y")
            object.__setattr__(self, "crs", self.crs or "EPSG:4326")
        return self

    def field_map(self, name: str) -> FieldMap | None:
        mapped = self.fields.get(name)
        return FieldMap(source=mapped) if isinstance(mapped, str) else mapped

    def check_against(self, theme: ThemeSpec) -> list[str]:
        """Every way this mapping disagrees with its theme, as sentences."""
        known = {f.name for f in theme.fields}
        problems = [f"{theme.id} has no field {n!r}" for n in self.fields if n not in known]
        problems += [
            f"required field {f.name!r} is not mapped"
            for f in theme.fields
            if f.required and f.name not in self.fields
        ]
        for spec in theme.fields:
            fmap = self.field_map(spec.name)
            if fmap is None or fmap.unit is None:
                continue
            if spec.unit is None:
                problems.append(f"field {spec.name!r} has no unit in {theme.ref}; drop `unit`")
                continue
            try:
                units.factor(fmap.unit, spec.unit)
            except ConfigError as exc:
                problems.append(f"field {spec.name!r}: {exc}")
        return [f"source {self.id}: {p}" for p in problems]


class RegionInfo(Strict):
    id: str = Field(pattern=SLUG)
    title: str
    description: str = ""
    bbox: tuple[float, float, float, float]
    bbox_crs: int = 27700


class Region(Strict):
    region: RegionInfo
    publishers: list[Publisher]
    sources: dict[str, Source]
    data_dir: Path
    boundaries_file: str | None = None

    def publisher(self, publisher_id: str) -> Publisher:
        return next(p for p in self.publishers if p.id == publisher_id)

    def check_against(self, protocols: Protocols) -> list[str]:
        """Every way the sources disagree with the publishers and protocols, as sentences."""
        problems = []
        publishers = {p.id for p in self.publishers}
        for s in self.sources.values():
            if s.publisher not in publishers:
                problems.append(f"source {s.id}: unknown publisher {s.publisher!r}")
            theme = protocols.themes.get(s.theme)
            if theme is None:
                problems.append(f"source {s.id}: unknown theme {s.theme!r}")
                continue
            problems += s.check_against(theme)
        return problems


def load_region(config_dir: Path, data_dir: Path | None = None) -> Region:
    """Read config/region.yaml and config/sources/*.yaml; data files resolve against data_dir."""
    doc = read_yaml(config_dir / "region.yaml")
    sources = [
        Source.model_validate(read_yaml(p)) for p in sorted((config_dir / "sources").glob("*.yaml"))
    ]
    default_data = config_dir / doc.pop("data_dir", "data")
    return Region.model_validate(
        {**doc, "sources": {s.id: s for s in sources}, "data_dir": data_dir or default_data}
    )

"""The deployment's region: its publishers and their sources, read from config/ and validated.

Onboarding a publisher is a YAML file in config/sources/, never Python: every way a publisher's file
differs from the protocol (names, code values, date formats, CRS, CSV coordinates) is said here.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from protocols import Protocols

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
    """Where one protocol field comes from: a source column, or a constant."""

    source: str | None = Field(default=None, alias="from")
    value: Any = None
    values: dict[str, str] = {}
    format: str | None = None

    @model_validator(mode="after")
    def _one_origin(self) -> FieldMap:
        if (self.source is None) == (self.value is None):
            raise ValueError("a field mapping takes exactly one of 'from' (a column) or 'value'")
        return self


class CsvGeometry(Strict):
    """How a CSV carries its geometry: x/y (or lon/lat) columns, or a WKT column."""

    x: str | None = None
    y: str | None = None
    wkt: str | None = None

    @model_validator(mode="after")
    def _xy_or_wkt(self) -> CsvGeometry:
        if not ((self.x and self.y and not self.wkt) or (self.wkt and not (self.x or self.y))):
            raise ValueError("csv geometry takes both 'x' and 'y', or 'wkt' alone")
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
    fields: dict[str, str | FieldMap]

    def field_map(self, name: str) -> FieldMap | None:
        mapped = self.fields.get(name)
        return FieldMap(source=mapped) if isinstance(mapped, str) else mapped


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
            known = {f.name for f in theme.fields}
            problems += [
                f"source {s.id}: {theme.id} has no field {n!r}" for n in s.fields if n not in known
            ]
            problems += [
                f"source {s.id}: required field {f.name!r} is not mapped"
                for f in theme.fields
                if f.required and f.name not in s.fields
            ]
        return problems


def load_region(config_dir: Path, data_dir: Path | None = None) -> Region:
    """Read config/region.yaml and config/sources/*.yaml; data files resolve against data_dir."""
    doc = yaml.safe_load((config_dir / "region.yaml").read_text(encoding="utf-8"))
    sources = [
        Source.model_validate(yaml.safe_load(p.read_text(encoding="utf-8")))
        for p in sorted((config_dir / "sources").glob("*.yaml"))
    ]
    default_data = config_dir / doc.pop("data_dir", "data")
    return Region.model_validate(
        {**doc, "sources": {s.id: s for s in sources}, "data_dir": data_dir or default_data}
    )

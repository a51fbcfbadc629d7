"""Pydantic models for theme specs and code lists, and the loader that cross-checks them.

A theme spec is the single source of truth for a theme: the PostGIS table, the OGC collection,
its queryables and the map styling are all derived from it, so nothing is written twice.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

PACKAGE_DIR = Path(__file__).parent
IDENTIFIER = r"^[a-z][a-z0-9_]*$"
SLUG = r"^[a-z][a-z0-9-]*$"


class FieldType(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    CODE = "code"
    URL = "url"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodeValue(Strict):
    code: str
    label: str
    deprecated: bool = False


class CodeList(Strict):
    id: str = Field(pattern=SLUG)
    version: str
    title: str
    values: list[CodeValue]

    @property
    def codes(self) -> set[str]:
        return {v.code for v in self.values}

    def label(self, code: str) -> str:
        return next((v.label for v in self.values if v.code == code), code)


class FieldSpec(Strict):
    name: str = Field(pattern=IDENTIFIER)
    type: FieldType
    title: str
    description: str = ""
    required: bool = False
    codelist: str | None = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    unique: bool = False  # unique within a publisher's source
    unit: str | None = None  # the unit values are stored in (e.g. mm, W); mappings convert to it
    sensitive: bool = False  # never shown to the public, on any route

    @model_validator(mode="after")
    def _code_fields_name_a_list(self) -> FieldSpec:
        if (self.type is FieldType.CODE) != (self.codelist is not None):
            raise ValueError(
                f"field {self.name!r}: a codelist goes with type 'code', and only there"
            )
        return self


class Style(Strict):
    """How the public map draws a theme: a colour per code value of one field."""

    colour_by: str | None = None
    colours: dict[str, str] = {}
    default_colour: str = "#3366cc"
    popup: list[str] = []


class Matching(Strict):
    """Tolerances for checks across authority boundaries, in metres of the storage CRS."""

    network: bool = False  # lines that should join across boundaries (roads, mains)
    snap_m: float = 5.0  # line ends this close to a neighbour's line are joined
    duplicate_m: float = 2.0  # features this close, alike in attributes, are one object
    out_of_area_m: float = 50.0  # how far beyond its publisher's area a feature may lie


class Access(Strict):
    """What the public may see of a theme; partners always see it exactly."""

    sensitive: bool = False
    public_grid_m: int = 100  # sensitive geometry is shown to the public as cells this size


class ThemeSpec(Strict):
    id: str = Field(pattern=SLUG)
    version: str
    title: str
    description: str
    keywords: list[str] = []
    licence: str = "OGL-UK-3.0"
    attribution: str = ""
    geometry_types: list[str] = Field(min_length=1)
    storage_crs: int = 27700
    natural_key: list[str] = Field(min_length=1)
    fields: list[FieldSpec]
    style: Style = Style()
    matching: Matching = Matching()
    access: Access = Access()
    update_frequency: str = "as required"

    @property
    def table(self) -> str:
        return self.id.replace("-", "_")

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)

    @model_validator(mode="after")
    def _names_resolve(self) -> ThemeSpec:
        names = [f.name for f in self.fields]
        if len(names) != len(set(names)):
            raise ValueError(f"theme {self.id!r}: duplicate field names")
        referenced = set(self.natural_key) | set(self.style.popup) | {self.style.colour_by} - {None}
        if unknown := referenced - set(names):
            raise ValueError(f"theme {self.id!r}: unknown fields referenced {sorted(unknown)}")
        return self


class Protocols(Strict):
    themes: dict[str, ThemeSpec]
    codelists: dict[str, CodeList]

    def codelist_for(self, field: FieldSpec) -> CodeList | None:
        return self.codelists[field.codelist] if field.codelist else None

    @model_validator(mode="after")
    def _codelists_exist(self) -> Protocols:
        for theme in self.themes.values():
            for f in theme.fields:
                if f.codelist and f.codelist not in self.codelists:
                    raise ValueError(f"{theme.id}.{f.name}: unknown codelist {f.codelist!r}")
            colour_field = theme.style.colour_by
            cl = self.codelist_for(theme.field(colour_field)) if colour_field else None
            if cl and (unknown := set(theme.style.colours) - cl.codes):
                raise ValueError(f"{theme.id}: style colours for unknown codes {sorted(unknown)}")
        return self


def _read_yaml_dir(folder: Path) -> list[dict]:
    return [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.yaml"))]


def load_protocols(root: Path = PACKAGE_DIR) -> Protocols:
    """Load every theme and code list under root, failing with the file's own complaint."""
    themes = [ThemeSpec.model_validate(d) for d in _read_yaml_dir(root / "themes")]
    codelists = [CodeList.model_validate(d) for d in _read_yaml_dir(root / "codelists")]
    return Protocols(
        themes={t.id: t for t in themes},
        codelists={c.id: c for c in codelists},
    )

"""Pydantic models for theme specs and code lists, and the loader that cross-checks them.

A theme spec is the single source of truth for a theme: the PostGIS table, the OGC collection,
its queryables, the JSON Schema, the publisher's GeoPackage template and the map styling are all
derived from it, so nothing is written twice. Every check a spec can fail runs when it is loaded,
so a mistake in a spec is refused with its file and field named, before any data meets it.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pyproj import CRS
from pyproj.exceptions import CRSError

PACKAGE_DIR = Path(__file__).parent
IDENTIFIER = r"^[a-z][a-z0-9_]*$"
SLUG = r"^[a-z][a-z0-9-]*$"
VERSION = r"^\d+\.\d+(\.\d+)?$"
COLOUR = r"^#[0-9a-fA-F]{6}$"
GeometryType = Literal[
    "Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"
]


class ProtocolError(ValueError):
    """The protocols disagree with themselves; `problems` lists every one, one sentence each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("the protocols have problems:\n  " + "\n  ".join(problems))
        self.problems = problems


class FieldType(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    CODE = "code"
    URL = "url"


NUMERIC = {FieldType.INTEGER, FieldType.DECIMAL}
STRINGS = {FieldType.TEXT, FieldType.URL}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodeValue(Strict):
    code: str = Field(min_length=1)
    label: str
    description: str = ""
    deprecated: bool = False  # still valid in data already published; not for new records
    replaced_by: str | None = None  # the code to use instead of a deprecated one


class CodeList(Strict):
    id: str = Field(pattern=SLUG)
    version: str = Field(pattern=VERSION)
    title: str
    description: str = ""
    values: list[CodeValue] = Field(min_length=1)

    @property
    def codes(self) -> set[str]:
        return {v.code for v in self.values}

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def label(self, code: str) -> str:
        return next((v.label for v in self.values if v.code == code), code)

    @model_validator(mode="after")
    def _codes_are_unique(self) -> CodeList:
        codes = [v.code for v in self.values]
        if duplicates := sorted({c for c in codes if codes.count(c) > 1}):
            raise ValueError(f"code list {self.id!r}: duplicate codes {duplicates}")
        current = {v.code for v in self.values if not v.deprecated}
        for v in self.values:
            if v.replaced_by is not None and not (v.deprecated and v.replaced_by in current):
                raise ValueError(
                    f"code list {self.id!r}: {v.code!r} may only be replaced_by a current code "
                    f"of the list, and only when deprecated"
                )
        return self


class FieldSpec(Strict):
    name: str = Field(pattern=IDENTIFIER, max_length=63)
    type: FieldType
    title: str
    description: str = ""
    required: bool = False
    codelist: str | None = None
    max_length: int | None = Field(default=None, gt=0)
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    unique: bool = False  # unique within a publisher's source
    unit: str | None = None  # the unit values are stored in (e.g. mm, W); mappings convert to it
    sensitive: bool = False  # never shown to the public, on any route

    def _misfits(self) -> list[str]:
        """Constraints set on a type they cannot apply to."""
        fits = {
            "codelist": {FieldType.CODE},
            "max_length": STRINGS,
            "pattern": STRINGS,
            "minimum": NUMERIC,
            "maximum": NUMERIC,
            "unit": NUMERIC,
        }
        return [
            f"{name} does not apply to a {self.type} field (only to {', '.join(sorted(types))})"
            for name, types in fits.items()
            if getattr(self, name) is not None and self.type not in types
        ]

    @model_validator(mode="after")
    def _constraints_make_sense(self) -> FieldSpec:
        problems = self._misfits()
        if self.type is FieldType.CODE and self.codelist is None:
            problems.append("a code field names its codelist")
        if self.type is FieldType.BOOLEAN and self.unique:
            problems.append("a yes/no field cannot be unique")
        low, high = self.minimum, self.maximum
        if low is not None and high is not None and low > high:
            problems.append(f"minimum {low:g} is greater than maximum {high:g}")
        if self.type is FieldType.INTEGER and any(v % 1 for v in (low, high) if v is not None):
            problems.append("an integer field's minimum and maximum are whole numbers")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                problems.append(f"pattern {self.pattern!r} is not a regular expression ({exc})")
        if problems:
            raise ValueError(f"field {self.name!r}: " + "; ".join(problems))
        return self


class Style(Strict):
    """How the public map draws a theme: a colour per code value of one field."""

    colour_by: str | None = None
    colours: dict[str, str] = {}
    default_colour: str = Field(default="#3366cc", pattern=COLOUR)
    popup: list[str] = []

    @model_validator(mode="after")
    def _colours_are_hex(self) -> Style:
        if bad := sorted(k for k, v in self.colours.items() if not re.match(COLOUR, v)):
            raise ValueError(f"style colours must be #rrggbb; not so for {bad}")
        if self.colours and self.colour_by is None:
            raise ValueError("style colours need colour_by, the field whose values they colour")
        return self


class Matching(Strict):
    """Tolerances for checks across authority boundaries, in metres of the storage CRS."""

    network: bool = False  # lines that should join across boundaries (roads, mains)
    snap_m: float = Field(default=5.0, ge=0)  # line ends this close to a neighbour's line join
    duplicate_m: float = Field(default=2.0, ge=0)  # this close, alike in attributes: one object
    out_of_area_m: float = Field(default=50.0, ge=0)  # how far beyond its area a feature may lie


class Access(Strict):
    """What the public may see of a theme; partners always see it exactly."""

    sensitive: bool = False
    public_grid_m: int = Field(default=100, gt=0)  # sensitive geometry shown as cells this size


class ThemeSpec(Strict):
    id: str = Field(pattern=SLUG, max_length=63)
    version: str = Field(pattern=VERSION)
    title: str
    description: str
    keywords: list[str] = []
    licence: str = "OGL-UK-3.0"
    attribution: str = ""
    geometry_types: list[GeometryType] = Field(min_length=1)
    geometry_dimension: Literal[2, 3] = 2  # coordinates per position; Z beyond it is dropped
    storage_crs: int = 27700
    natural_key: list[str] = Field(min_length=1)
    fields: list[FieldSpec] = Field(min_length=1)
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

    def _reference_problems(self) -> list[str]:
        names = [f.name for f in self.fields]
        problems = []
        if duplicates := sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"duplicate field names {duplicates}")
        referenced = set(self.natural_key) | set(self.style.popup) | {self.style.colour_by} - {None}
        if unknown := referenced - set(names):
            return [*problems, f"unknown fields referenced {sorted(unknown)}"]
        if optional := [k for k in self.natural_key if not self.field(k).required]:
            problems.append(f"natural key fields must be required: {optional}")
        shown = set(self.style.popup) | {self.style.colour_by} - {None}
        if secret := sorted(n for n in shown if self.field(n).sensitive):
            problems.append(f"sensitive fields cannot be styled or in the popup: {secret}")
        return problems

    def _geometry_problems(self) -> list[str]:
        problems = []
        lines = {"LineString", "MultiLineString"}
        if self.matching.network and not lines & set(self.geometry_types):
            problems.append("matching.network applies to line themes only")
        try:
            crs = CRS.from_epsg(self.storage_crs)
        except CRSError:
            return [*problems, f"storage_crs {self.storage_crs} is not an EPSG code"]
        if not crs.is_projected or crs.axis_info[0].unit_name != "metre":
            problems.append(
                f"storage_crs EPSG:{self.storage_crs} must be projected in metres "
                "(matching tolerances and areas are in metres)"
            )
        return problems

    @model_validator(mode="after")
    def _names_resolve(self) -> ThemeSpec:
        if problems := self._reference_problems() + self._geometry_problems():
            raise ValueError(f"theme {self.id!r}: " + "; ".join(problems))
        return self


def _cross_problems(themes: dict[str, ThemeSpec], codelists: dict[str, CodeList]) -> list[str]:
    """What no single file can know: code lists that themes name, and codes their styles colour."""
    problems = []
    for theme in themes.values():
        for f in theme.fields:
            if f.codelist and f.codelist not in codelists:
                known = ", ".join(sorted(codelists))
                problems.append(
                    f"{theme.ref}: field {f.name!r} names unknown codelist {f.codelist!r} "
                    f"(known: {known})"
                )
        colour_field = theme.style.colour_by
        codelist = codelists.get(theme.field(colour_field).codelist or "") if colour_field else None
        if codelist and (unknown := set(theme.style.colours) - codelist.codes):
            problems.append(
                f"{theme.ref}: style colours codes not in {codelist.ref}: {sorted(unknown)}"
            )
    return problems


class Protocols(Strict):
    themes: dict[str, ThemeSpec]
    codelists: dict[str, CodeList]

    def codelist_for(self, field: FieldSpec) -> CodeList | None:
        return self.codelists[field.codelist] if field.codelist else None

    @model_validator(mode="after")
    def _codelists_exist(self) -> Protocols:
        if problems := _cross_problems(self.themes, self.codelists):
            raise ProtocolError(problems)
        return self


M = TypeVar("M", ThemeSpec, CodeList)


def _error_text(error: ValidationError) -> list[str]:
    """Pydantic's complaints as `where: what` sentences, without its URLs and input dumps."""
    found = []
    for e in error.errors():
        where = ".".join(str(part) for part in e["loc"])
        message = e["msg"].removeprefix("Value error, ")
        found.append(f"{where}: {message}" if where else message)
    return found


YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # never the unsafe full loader


def read_yaml(path: Path) -> object:
    """A YAML file, parsed by libyaml where PyYAML has it (its wheels do): every command reads
    some thirty of them, ~30 ms in pure Python, ~4 ms this way."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER)


def _load_dir(folder: Path, model: type[M], problems: list[str]) -> dict[str, M]:
    """Every file in folder as a model, keyed by id; each failure is added to problems."""
    loaded: dict[str, M] = {}
    for path in sorted(folder.glob("*.yaml")):
        name = f"{folder.name}/{path.name}"
        try:
            item = model.model_validate(read_yaml(path))
        except ValidationError as exc:
            problems += [f"{name}: {text}" for text in _error_text(exc)]
            continue
        except yaml.YAMLError as exc:
            problems.append(f"{name}: not valid YAML ({exc})")
            continue
        if item.id != path.stem:
            problems.append(f"{name}: id {item.id!r} differs from the file name {path.stem!r}")
        loaded[item.id] = item
    return loaded


def load_protocols(root: Path = PACKAGE_DIR) -> Protocols:
    """Load every theme and code list under root, or raise ProtocolError listing every problem."""
    problems: list[str] = []
    themes = _load_dir(root / "themes", ThemeSpec, problems)
    codelists = _load_dir(root / "codelists", CodeList, problems)
    problems += _cross_problems(themes, codelists)
    if problems:
        raise ProtocolError(problems)
    return Protocols(themes=themes, codelists=codelists)

"""`regiongis protocols check|schema|template`: the shared protocols and what they generate."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from pydantic import ValidationError

from ingest.errors import ConfigError
from ingest.region import Region, Source, load_region
from protocols import FieldType, ProtocolError, Protocols, ThemeSpec, load_protocols
from protocols.jsonschema import feature_schema
from protocols.spec import PACKAGE_DIR
from protocols.template import codelist_rows, write_template
from server.settings import Settings

DATED = {FieldType.DATE, FieldType.DATETIME}


def _protocols() -> Protocols:
    try:
        return load_protocols()
    except ProtocolError as exc:
        raise ConfigError(str(exc)) from exc


def _theme(protocols: Protocols, theme_id: str) -> ThemeSpec:
    if theme_id not in protocols.themes:
        known = ", ".join(sorted(protocols.themes))
        raise ConfigError(f"unknown theme {theme_id!r}; the protocols define: {known}")
    return protocols.themes[theme_id]


def _value_map_problems(source: Source, protocols: Protocols) -> list[str]:
    """Mapped code values, constants and formats that the theme's fields cannot take."""
    theme = protocols.themes[source.theme]
    problems = []
    for name in source.fields:
        fmap, spec = source.field_map(name), theme.field(name)
        where = f"source {source.id}: fields.{name}"
        codelist = protocols.codelist_for(spec)
        if fmap.values and codelist is None:
            problems.append(f"{where}: values map onto a {spec.type} field, not a code list")
        targets = set(fmap.values.values()) | ({str(fmap.value)} if fmap.value else set())
        if codelist and (unknown := targets - codelist.codes):
            problems.append(f"{where}: {sorted(unknown)} are not codes of {codelist.ref}")
        if fmap.format and spec.type not in DATED:
            problems.append(f"{where}: a format applies to dates only, not {spec.type}")
    return problems


def problems_with(protocols: Protocols, region: Region) -> list[str]:
    problems = region.check_against(protocols)
    mapped = [s for s in region.sources.values() if s.theme in protocols.themes]
    for source in mapped:
        known = {f.name for f in protocols.themes[source.theme].fields}
        if set(source.fields) <= known:
            problems += _value_map_problems(source, protocols)
    return problems


def _summary(protocols: Protocols, region: Region) -> list[str]:
    """One line per theme (version, fields, geometry, access, sources) and per code list."""
    sources = Counter(s.theme for s in region.sources.values())
    refs = [t.ref for t in protocols.themes.values()] + [
        c.ref for c in protocols.codelists.values()
    ]
    width = max(map(len, refs)) + 2
    lines = ["themes:"]
    for t in protocols.themes.values():
        access = "sensitive" if t.access.sensitive else "public"
        lines.append(
            f"  {t.ref:<{width}}{len(t.fields):>2} fields  {'/'.join(t.geometry_types):<17} "
            f"{access:<9} {sources[t.id]:>2} sources"
        )
    lines.append("code lists:")
    for c in protocols.codelists.values():
        deprecated = sum(v.deprecated for v in c.values)
        note = f" ({deprecated} deprecated)" if deprecated else ""
        lines.append(f"  {c.ref:<{width}}{len(c.values):>2} codes{note}")
    return lines


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    try:
        protocols = load_protocols(args.protocols)
        region = load_region(settings.config_dir, settings.data_dir)
    except ProtocolError as exc:
        problems = exc.problems
    except ValidationError as exc:
        problems = [
            f"{settings.config_dir}: {'.'.join(map(str, e['loc']))}: {e['msg']}"
            for e in exc.errors()
        ]
    else:
        problems = problems_with(protocols, region)
        if not problems:
            print("\n".join(_summary(protocols, region)))
            print(
                f"{len(protocols.themes)} themes, {len(protocols.codelists)} code lists, "
                f"{len(region.sources)} sources: all consistent"
            )
            return 0
    print(f"{len(problems)} problems:")
    print("\n".join(f"  {p}" for p in problems))
    return 1


def cmd_schema(args: argparse.Namespace, settings: Settings) -> int:
    protocols = _protocols()
    print(json.dumps(feature_schema(_theme(protocols, args.theme), protocols), indent=2))
    return 0


def cmd_template(args: argparse.Namespace, settings: Settings) -> int:
    protocols = _protocols()
    theme = _theme(protocols, args.theme)
    path = Path(args.output or f"{theme.id}.gpkg")
    if path.suffix.lower() != ".gpkg":
        raise ConfigError(f"{path}: a template is a GeoPackage; name it with .gpkg")
    write_template(theme, protocols, path)
    codes = len(codelist_rows(theme, protocols))
    print(
        f"wrote {path}: layer {theme.table} ({theme.ref}, {len(theme.fields)} fields, "
        f"{'/'.join(theme.geometry_types)}, EPSG:{theme.storage_crs}), "
        f"codelists ({codes} codes), README"
    )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    protocols = commands.add_parser("protocols", help="the shared protocols")
    actions = protocols.add_subparsers(dest="action", required=True)
    check = actions.add_parser("check", help="check every spec, code list and mapping")
    check.add_argument(
        "--protocols",
        type=Path,
        default=PACKAGE_DIR,
        help="folder with themes/ and codelists/ (default: the installed protocols)",
    )
    check.set_defaults(run=cmd_check)
    schema = actions.add_parser("schema", help="print the JSON Schema of one theme's features")
    schema.add_argument("theme", help="theme id, e.g. roadworks")
    schema.set_defaults(run=cmd_schema)
    template = actions.add_parser("template", help="write an empty GeoPackage for a publisher")
    template.add_argument("theme", help="theme id, e.g. roadworks")
    template.add_argument("-o", "--output", help="the .gpkg to write (default: THEME.gpkg)")
    template.set_defaults(run=cmd_template)

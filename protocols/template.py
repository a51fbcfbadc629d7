"""An empty GeoPackage a publisher fills in: the theme's layer, its code lists and a README.

Generated from the ThemeSpec. GDAL (pyogrio) writes the GeoPackage itself: the CRS, the layer,
its spatial index, the two attribute tables. The feature table is then re-declared with what
pyogrio cannot say, so QGIS and GDAL enforce the protocol as the publisher types: date columns,
text widths, NOT NULL for required fields, UNIQUE keys, CHECKs for code values and ranges. The
GeoPackage schema extension (gpkg_data_columns) adds titles, descriptions and code-list domains,
which QGIS shows as drop-down lists.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from protocols.jsonschema import geometry_kinds
from protocols.spec import FieldSpec, FieldType, Protocols, ThemeSpec

SQLITE_TYPES = {
    FieldType.TEXT: "TEXT",
    FieldType.INTEGER: "INTEGER",
    FieldType.DECIMAL: "REAL",
    FieldType.DATE: "DATE",
    FieldType.DATETIME: "DATETIME",
    FieldType.BOOLEAN: "BOOLEAN",
    FieldType.CODE: "TEXT",
    FieldType.URL: "TEXT",
}
SCHEMA_EXTENSION = "http://www.geopackage.org/spec/#extension_schema"
SCHEMA_TABLES = """
CREATE TABLE IF NOT EXISTS gpkg_data_columns (
    table_name TEXT NOT NULL, column_name TEXT NOT NULL, name TEXT, title TEXT,
    description TEXT, mime_type TEXT, constraint_name TEXT,
    CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name),
    CONSTRAINT gdc_tn UNIQUE (table_name, name));
CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (
    constraint_name TEXT NOT NULL, constraint_type TEXT NOT NULL, value TEXT,
    min NUMERIC, min_is_inclusive BOOLEAN, max NUMERIC, max_is_inclusive BOOLEAN,
    description TEXT,
    CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value));
"""


def _quote(name: str) -> str:
    """An SQLite identifier; names come from validated specs, this keeps them inert anyway."""
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str | float) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(float(value))


def _checks(field: FieldSpec, protocols: Protocols) -> list[str]:
    column = _quote(field.name)
    checks = []
    if codelist := protocols.codelist_for(field):
        codes = ", ".join(_literal(v.code) for v in codelist.values)
        checks.append(f"{column} IN ({codes})")
    if field.minimum is not None:
        checks.append(f"{column} >= {_literal(field.minimum)}")
    if field.maximum is not None:
        checks.append(f"{column} <= {_literal(field.maximum)}")
    if field.max_length is not None:
        checks.append(f"length({column}) <= {field.max_length}")
    return checks


def column_ddl(field: FieldSpec, protocols: Protocols) -> str:
    declared = SQLITE_TYPES[field.type]
    if field.max_length and field.type in (FieldType.TEXT, FieldType.URL):
        declared += f"({field.max_length})"
    parts = [_quote(field.name), declared]
    parts += ["NOT NULL"] if field.required else []
    parts += ["UNIQUE"] if field.unique else []
    parts += [f"CHECK ({check})" for check in _checks(field, protocols)]
    return " ".join(parts)


def _constraints_text(field: FieldSpec) -> str:
    said = []
    if field.minimum is not None:
        said.append(f"at least {field.minimum:g}")
    if field.maximum is not None:
        said.append(f"at most {field.maximum:g}")
    if field.max_length is not None:
        said.append(f"up to {field.max_length} characters")
    if field.pattern:
        said.append(f"matches {field.pattern}")
    if field.unique:
        said.append("unique")
    return "; ".join(said)


def readme_rows(theme: ThemeSpec, protocols: Protocols) -> pd.DataFrame:
    """One row per field: what a person filling the template needs to know."""
    rows = []
    for f in theme.fields:
        codelist = protocols.codelist_for(f)
        rows.append(
            {
                "field": f.name,
                "title": f.title,
                "type": str(f.type),
                "required": "yes" if f.required else "no",
                "unit": f.unit or "",
                "codelist": codelist.ref if codelist else "",
                "constraints": _constraints_text(f),
                "sensitive": "yes" if f.sensitive else "no",
                "description": f.description,
            }
        )
    return pd.DataFrame(rows)


def codelist_rows(theme: ThemeSpec, protocols: Protocols) -> pd.DataFrame:
    """Every allowed code of every code field, with its label: the publisher's lookup table."""
    rows = [
        {
            "field": f.name,
            "codelist": codelist.ref,
            "code": value.code,
            "label": value.label,
            "deprecated": "yes" if value.deprecated else "no",
            "replaced_by": value.replaced_by or "",
        }
        for f in theme.fields
        if (codelist := protocols.codelist_for(f))
        for value in codelist.values
    ]
    return pd.DataFrame(
        rows, columns=["field", "codelist", "code", "label", "deprecated", "replaced_by"]
    )


def _layer_geometry_type(theme: ThemeSpec) -> str:
    kinds = geometry_kinds(theme)
    kind = kinds[0] if len(theme.geometry_types) == 1 else "Unknown"
    return f"{kind} Z" if theme.geometry_dimension == 3 and kind != "Unknown" else kind


def _write_layers(theme: ThemeSpec, protocols: Protocols, path: Path) -> None:
    empty = gpd.GeoDataFrame(geometry=[], crs=f"EPSG:{theme.storage_crs}")
    pyogrio.write_dataframe(
        empty,
        path,
        layer=theme.table,
        driver="GPKG",
        geometry_type=_layer_geometry_type(theme),
        dataset_options={"VERSION": "1.2"},  # readable by GDAL 2.2+ and QGIS 3.x without warnings
        layer_options={"IDENTIFIER": theme.title, "DESCRIPTION": f"{theme.description}"},
        metadata={
            "PROTOCOL": theme.ref,
            "LICENCE": theme.licence,
            "ATTRIBUTION": theme.attribution,
            "STORAGE_CRS": f"EPSG:{theme.storage_crs}",
            "NATURAL_KEY": ", ".join(theme.natural_key),
        },
    )
    pyogrio.write_dataframe(readme_rows(theme, protocols), path, layer="README", driver="GPKG")
    codes = codelist_rows(theme, protocols)
    pyogrio.write_dataframe(codes, path, layer="codelists", driver="GPKG")


def _redeclare_feature_table(
    db: sqlite3.Connection, theme: ThemeSpec, protocols: Protocols
) -> None:
    """Swap GDAL's untyped empty table for the protocol's, keeping GDAL's triggers on it."""
    table = theme.table
    (geom_column, geom_type), *_ = db.execute(
        "SELECT column_name, geometry_type_name FROM gpkg_geometry_columns WHERE table_name = ?",
        (table,),
    )
    triggers = [sql for (sql,) in db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)
    )]  # fmt: skip
    columns = [
        "fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL",
        f"{_quote(geom_column)} {geom_type}",
        *(column_ddl(f, protocols) for f in theme.fields),
    ]
    db.execute(f"DROP TABLE {_quote(table)}")
    db.execute(f"CREATE TABLE {_quote(table)} ({', '.join(columns)})")
    for sql in triggers:
        db.execute(sql)


def _describe_columns(db: sqlite3.Connection, theme: ThemeSpec, protocols: Protocols) -> None:
    """Titles, descriptions and domains in the GeoPackage schema extension."""
    db.executescript(SCHEMA_TABLES)
    db.executemany(
        "INSERT OR IGNORE INTO gpkg_extensions VALUES (?, NULL, 'gpkg_schema', ?, 'read-write')",
        [(t, SCHEMA_EXTENSION) for t in ("gpkg_data_columns", "gpkg_data_column_constraints")],
    )
    for f in theme.fields:
        codelist = protocols.codelist_for(f)
        domain = codelist.id if codelist else None
        if f.minimum is not None or f.maximum is not None:
            domain = f"{theme.table}_{f.name}_range"
            db.execute(
                "INSERT INTO gpkg_data_column_constraints VALUES (?, 'range', NULL, ?, 1, ?, 1, ?)",
                (domain, f.minimum, f.maximum, _constraints_text(f)),
            )
        db.execute(
            "INSERT INTO gpkg_data_columns VALUES (?, ?, ?, ?, ?, NULL, ?)",
            (theme.table, f.name, f.name, f.title, f.description or f.title, domain),
        )
    db.executemany(
        "INSERT OR IGNORE INTO gpkg_data_column_constraints "
        "VALUES (?, 'enum', ?, NULL, NULL, NULL, NULL, ?)",
        [
            (codelist.id, v.code, v.label)
            for f in theme.fields
            if (codelist := protocols.codelist_for(f))
            for v in codelist.values
        ],
    )


def write_template(theme: ThemeSpec, protocols: Protocols, path: Path) -> None:
    """Write the empty template to path, replacing any file there."""
    path.unlink(missing_ok=True)
    _write_layers(theme, protocols, path)
    with closing(sqlite3.connect(path)) as db, db:
        _redeclare_feature_table(db, theme, protocols)
        _describe_columns(db, theme, protocols)

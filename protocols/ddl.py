"""PostGIS DDL generated from a theme spec, so a theme's table is never written by hand."""

from __future__ import annotations

from psycopg2 import sql

from protocols.spec import FieldSpec, FieldType, ThemeSpec

PG_TYPES = {
    FieldType.TEXT: "text",
    FieldType.INTEGER: "bigint",
    FieldType.DECIMAL: "numeric",
    FieldType.DATE: "date",
    FieldType.DATETIME: "timestamptz",
    FieldType.BOOLEAN: "boolean",
    FieldType.CODE: "text",
    FieldType.URL: "text",
}

PROVENANCE = [
    ("publisher", "text NOT NULL"),
    ("source", "text NOT NULL"),
    ("run_id", "bigint NOT NULL"),
    ("source_row", "integer NOT NULL"),
    ("loaded_at", "timestamptz NOT NULL DEFAULT now()"),
]


def _column(field: FieldSpec) -> sql.Composable:
    null = " NOT NULL" if field.required else ""
    return sql.SQL("{} {}").format(sql.Identifier(field.name), sql.SQL(PG_TYPES[field.type] + null))


def theme_table_ddl(theme: ThemeSpec, schema: str = "public") -> sql.Composed:
    """CREATE TABLE and its indexes: fields, provenance, geometry and the natural key."""
    table = sql.Identifier(schema, theme.table)
    columns = [
        sql.SQL("fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
        *(_column(f) for f in theme.fields),
        *(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in PROVENANCE),
        sql.SQL("geom geometry(Geometry, {}) NOT NULL").format(sql.Literal(theme.storage_crs)),
    ]
    key = sql.SQL(", ").join(map(sql.Identifier, ["source", *theme.natural_key]))
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {table} ({columns}, UNIQUE ({key}));\n"
        "CREATE INDEX IF NOT EXISTS {gist} ON {table} USING gist (geom);\n"
        "CREATE INDEX IF NOT EXISTS {by_source} ON {table} (source);"
    ).format(
        table=table,
        columns=sql.SQL(", ").join(columns),
        key=key,
        gist=sql.Identifier(f"{theme.table}_geom_idx"),
        by_source=sql.Identifier(f"{theme.table}_source_idx"),
    )

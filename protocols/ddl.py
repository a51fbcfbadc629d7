"""PostGIS DDL generated from a theme spec, so a theme's tables are never written by hand.

Each theme has a live table and a history table of the same shape. A live row's `fid` is the
feature's identity for as long as it exists (an update keeps it); every version it replaces, and
the feature itself once retired, moves to history with `valid_to`. The state of a theme as of T is
the live rows with valid_from <= T plus the history rows with valid_from <= T < valid_to.
"""

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
    ("valid_from", "timestamptz NOT NULL DEFAULT now()"),
]


def history_table(theme: ThemeSpec) -> str:
    return f"{theme.table}_history"


def _column(field: FieldSpec) -> sql.Composable:
    null = " NOT NULL" if field.required else ""
    return sql.SQL("{} {}").format(sql.Identifier(field.name), sql.SQL(PG_TYPES[field.type] + null))


def _columns(theme: ThemeSpec, fid: str) -> list[sql.Composable]:
    return [
        sql.SQL(fid),
        *(_column(f) for f in theme.fields),
        *(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in PROVENANCE),
        sql.SQL("geom geometry(Geometry, {}) NOT NULL").format(sql.Literal(theme.storage_crs)),
    ]


def _live_ddl(theme: ThemeSpec, schema: str) -> sql.Composed:
    table = sql.Identifier(schema, theme.table)
    columns = _columns(theme, "fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {table} ({columns}, {key});\n"
        "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS valid_from timestamptz NOT NULL "
        "DEFAULT now();\n"
    ).format(
        table=table, columns=sql.SQL(", ").join(columns), key=natural_key_constraint(theme)
    ) + geometry_index_ddl(theme, schema)


def natural_key_name(theme: ThemeSpec) -> str:
    """The name PostgreSQL itself gives such a constraint, so older tables match it too."""
    return "_".join([theme.table, "source", *theme.natural_key, "key"])[:63]


def natural_key_constraint(theme: ThemeSpec) -> sql.Composed:
    """One feature per key per source; a bulk load drops it and adds it again with this."""
    key = sql.SQL(", ").join(map(sql.Identifier, ["source", *theme.natural_key]))
    return sql.SQL("CONSTRAINT {} UNIQUE ({})").format(sql.Identifier(natural_key_name(theme)), key)


def primary_key_constraint(theme: ThemeSpec) -> sql.Composed:
    """The fid key by the name PostgreSQL gives it; a first bulk load adds it again with this."""
    name = sql.Identifier(primary_key_name(theme))
    return sql.SQL("CONSTRAINT {} PRIMARY KEY (fid)").format(name)


def primary_key_name(theme: ThemeSpec) -> str:
    return f"{theme.table}_pkey"


def geometry_index_ddl(theme: ThemeSpec, schema: str = "public") -> sql.Composed:
    """The live table's spatial index; a bulk load drops it and builds it again with this."""
    return sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gist (geom);\n").format(
        sql.Identifier(geometry_index(theme)), sql.Identifier(schema, theme.table)
    )


def geometry_index(theme: ThemeSpec) -> str:
    return f"{theme.table}_geom_idx"


def _history_ddl(theme: ThemeSpec, schema: str) -> sql.Composed:
    name = history_table(theme)
    table = sql.Identifier(schema, name)
    columns = [*_columns(theme, "fid bigint NOT NULL"), sql.SQL("valid_to timestamptz NOT NULL")]
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {table} ({columns}, CHECK (valid_from <= valid_to));\n"
        "CREATE INDEX IF NOT EXISTS {gist} ON {table} USING gist (geom);\n"
        "CREATE INDEX IF NOT EXISTS {by_fid} ON {table} (fid);\n"
        "CREATE INDEX IF NOT EXISTS {by_time} ON {table} (valid_to, valid_from);"
    ).format(
        table=table,
        columns=sql.SQL(", ").join(columns),
        gist=sql.Identifier(f"{name}_geom_idx"),
        by_fid=sql.Identifier(f"{name}_fid_idx"),
        by_time=sql.Identifier(f"{name}_valid_idx"),
    )


def theme_table_ddl(theme: ThemeSpec, schema: str = "public") -> sql.Composed:
    """The live table and its history: fields, provenance, validity, geometry, natural key."""
    return sql.Composed([_live_ddl(theme, schema), _history_ddl(theme, schema)])

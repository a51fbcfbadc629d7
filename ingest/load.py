"""Phase 4, load: replace one source's contribution to its theme in a single transaction.

The live rows of a source are swapped with the new ones inside one transaction, so readers see
the old data or the new, never a half-loaded mix, and a failed or killed run changes nothing.
"""

from __future__ import annotations

import io
import json
from importlib import resources

import geopandas as gpd
import pandas as pd
import shapely
from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor

from protocols import ThemeSpec
from protocols.ddl import theme_table_ddl


def ensure_schema(cur: Cursor, themes: list[ThemeSpec]) -> None:
    """Create the bookkeeping tables and every theme's table; safe to repeat."""
    cur.execute(resources.files("ingest").joinpath("schema.sql").read_text())
    for theme in themes:
        cur.execute(theme_table_ddl(theme))


def _ewkb_hex(geoms: gpd.GeoSeries, srid: int) -> pd.Series:
    values = shapely.set_srid(geoms.values, srid)
    return pd.Series(shapely.to_wkb(values, hex=True, include_srid=True), index=geoms.index)


def _copy(cur: Cursor, table: sql.Composable, frame: pd.DataFrame) -> None:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, date_format="%Y-%m-%dT%H:%M:%S%z")
    buffer.seek(0)
    columns = sql.SQL(", ").join(map(sql.Identifier, frame.columns))
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(table, columns)
    cur.copy_expert(statement.as_string(cur), buffer)


def replace_source_rows(
    cur: Cursor,
    theme: ThemeSpec,
    frame: gpd.GeoDataFrame,
    *,
    publisher: str,
    source: str,
    run_id: int,
) -> None:
    table = sql.Identifier(theme.table)
    cur.execute(sql.SQL("DELETE FROM {} WHERE source = %s").format(table), (source,))
    rows = pd.DataFrame({f.name: frame[f.name] for f in theme.fields})
    rows["publisher"], rows["source"], rows["run_id"] = publisher, source, run_id
    rows["source_row"] = frame.index.to_numpy()
    rows["geom"] = _ewkb_hex(frame.geometry, theme.storage_crs)
    _copy(cur, table, rows)


def _attributes_json(raw: pd.DataFrame) -> list[str]:
    records = json.loads(raw.drop(columns="geometry").to_json(orient="records", date_format="iso"))
    return [json.dumps(r, ensure_ascii=False) for r in records]


def quarantine_rows(
    cur: Cursor,
    theme: ThemeSpec,
    raw: gpd.GeoDataFrame,
    geoms: gpd.GeoSeries,
    reasons: pd.Series,
    *,
    source: str,
    run_id: int,
) -> None:
    """Keep the publisher's original attributes, the geometry as we read it, and why."""
    if reasons.empty:
        return
    rows = pd.DataFrame(
        {
            "run_id": run_id,
            "source": source,
            "theme": theme.id,
            "source_row": reasons.index.to_numpy(),
            "reason": reasons.to_numpy(),
            "attributes": _attributes_json(raw.loc[reasons.index]),
            "geom": _ewkb_hex(geoms.loc[reasons.index], theme.storage_crs).to_numpy(),
        }
    )
    _copy(cur, sql.Identifier("quarantine"), rows)


def record_issues(cur: Cursor, found: pd.DataFrame, run_id: int) -> None:
    if found.empty:
        return
    rows = found.rename(columns={"row": "source_row"}).assign(run_id=run_id)
    _copy(cur, sql.Identifier("issue_log"), rows[["run_id", *rows.columns.drop("run_id")]])

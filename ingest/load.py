"""Phase 4, load: merge one source's new contribution into its theme's live table.

A run stages its features batch by batch (binary COPY into a session-private, unlogged temporary
table), then merges them by the theme's natural key in set-based statements, all in the one
transaction that holds the source's advisory lock: readers see the old data or the new, never a
mix; a failed or killed run changes nothing; two runs of one source queue, other sources go on.
A source's first load has nothing to merge, so its batches go into the live table as they come
(see begin_load), in the same one transaction.

The merge keeps history: a changed feature keeps its fid and its previous version moves to the
history table with valid_to; a feature missing from the new file (retired) moves there whole.
"""

from __future__ import annotations

import json
import math
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from importlib import resources

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg2.errors
import pyarrow as pa
import shapely
from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor

from ingest import issues, pgbinary
from ingest.coordinates import (
    RING_WKB_HEAD,
    LineFrame,
    PointFrame,
    as_geodataframe,
    attributes,
    geometry_of,
    line_wkb,
    point_wkb,
)
from ingest.db import apply_once
from protocols import FieldType, ThemeSpec
from protocols.ddl import (
    geometry_index,
    geometry_index_ddl,
    history_table,
    natural_key_constraint,
    natural_key_name,
    primary_key_constraint,
    primary_key_name,
    theme_table_ddl,
)

STAGE = sql.Identifier("ingest_stage")
STAGE_TYPES = {
    FieldType.TEXT: "text",
    FieldType.CODE: "text",
    FieldType.URL: "text",
    FieldType.INTEGER: "bigint",
    FieldType.DECIMAL: "double precision",  # cast to numeric as it leaves the staging table
    FieldType.DATE: "date",
    FieldType.DATETIME: "timestamptz",
    FieldType.BOOLEAN: "boolean",
}
LIVE_TYPES = STAGE_TYPES | {FieldType.DECIMAL: "numeric"}  # what Route.COPY writes
SOURCE_LOCK = "regiongis.ingest"
MERGE_LOCK = "regiongis.merge"
COPY_BLOCK = 1 << 20
BULK_ROWS = 50_000
LOAD_WORK_MEM = "64MB"
TEXT_ISSUE_COLUMNS = ["field", "rule", "severity", "message", "value"]


@dataclass
class Merged:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0
    duplicates: int = 0


def ensure_schema(cur: Cursor, themes: list[ThemeSpec]) -> None:
    """Create or extend the bookkeeping and theme tables, once per change of their DDL (a load's
    would otherwise queue one source behind another's: see apply_once)."""
    ddl = [resources.files("ingest").joinpath("schema.sql").read_text()]
    ddl += [theme_table_ddl(theme).as_string(cur) for theme in themes]
    tables = [name for theme in themes for name in (theme.table, history_table(theme))]
    apply_once(cur, ddl, tables)


def lock_source(cur: Cursor, source: str) -> datetime:
    """Wait for any other run of this source to finish; the time this run's changes take effect.

    The time is read after the lock, not at transaction start, so a queued run's versions always
    begin after those of the run it waited for.
    """
    cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))", (SOURCE_LOCK, source))
    cur.execute("SELECT clock_timestamp()")
    return cur.fetchone()[0]


def fail_dead_runs(cur: Cursor, source: str) -> None:
    """Runs of this source still 'running' whose loading connection is gone died mid-load."""
    cur.execute(
        "UPDATE ingest_run r SET status = 'failed', finished_at = now(), "
        "message = 'the process loading this run stopped before it finished; nothing was changed' "
        "WHERE r.source = %s AND r.status = 'running' AND NOT EXISTS "
        "(SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.backend_pid)",
        (source,),
    )


def _ids(names: list[str], prefix: str | None = None) -> sql.Composable:
    if prefix is None:
        return sql.SQL(", ").join(map(sql.Identifier, names))
    return sql.SQL(", ").join(sql.Identifier(prefix, n) for n in names)


def _stage_columns(theme: ThemeSpec, types: dict = STAGE_TYPES) -> list[tuple[str, str]]:
    fields = [(f.name, types[f.type]) for f in theme.fields]
    return [*fields, ("source_row", "integer"), ("geom", "geometry")]


def create_stage(cur: Cursor, theme: ThemeSpec) -> None:
    """The run's staging table: temporary, so unlogged, private and dropped with the transaction."""
    columns = [
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(pg_type))
        for name, pg_type in _stage_columns(theme)[:-1]
    ]
    geom = sql.SQL("geom geometry(Geometry, {})").format(sql.Literal(theme.storage_crs))
    cur.execute(
        sql.SQL("CREATE TEMPORARY TABLE {} ({}) ON COMMIT DROP").format(
            STAGE, sql.SQL(", ").join([*columns, geom])
        )
    )


class Copier:
    """Binary COPYs sent in order from one background thread, so PostgreSQL takes in one batch
    while Python checks the next; at most `depth` batches wait, so memory stays bounded.

    Only the copier's thread uses the cursor until finish(), which waits for every COPY and
    raises the first error.
    """

    def __init__(self, cur: Cursor, depth: int = 2) -> None:
        self._cur, self._depth = cur, depth
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="regiongis-copy")
        self._pending: deque[Future] = deque()

    def __call__(
        self,
        table: sql.Composable,
        columns: list[tuple[str, str, pgbinary.Values]],
        freeze: bool = False,
    ) -> None:
        """COPY (name, PostgreSQL type, values) columns into table; FREEZE for a table emptied
        in this transaction. Encoded here (Arrow's kernels let go of the GIL), so the sending
        thread, often the slowest of the load's threads, does nothing but send."""
        names = sql.SQL(", ").join(sql.Identifier(name) for name, _, _ in columns)
        options = sql.SQL(", FREEZE" if freeze else "")
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary{})").format(
            table, names, options
        )
        stream = pgbinary.encode([(pg_type, values) for _, pg_type, values in columns])
        self._pending.append(self._pool.submit(self._send, statement, stream))
        while len(self._pending) > self._depth:
            self._pending.popleft().result()

    def _send(self, statement: sql.Composable, stream: pgbinary.Stream) -> None:
        self._cur.copy_expert(statement.as_string(self._cur), stream, size=COPY_BLOCK)

    def execute(self, statement: sql.Composable, params: dict) -> None:
        """Run a statement after the COPYs before it, in the same background thread."""
        self._pending.append(self._pool.submit(self._cur.execute, statement, params))

    def finish(self) -> None:
        while self._pending:
            self._pending.popleft().result()

    def __enter__(self) -> Copier:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class Route(StrEnum):
    """How a run's features reach the live table."""

    MERGE = "merge"  # staged, then merged by key with the source's live rows
    INSERT = "insert"  # a source's first load: each batch staged, then inserted at once
    COPY = "copy"  # a source's first bulk load: COPYed straight in, the indexes dropped


@dataclass
class Load:
    """A run's way into the live table, and the provenance every row it loads carries."""

    route: Route
    publisher: str
    source: str
    run_id: int
    at: datetime
    fresh: bool = False  # Route.COPY into a theme that was empty: see _emptied
    next_fid: int = 0  # Route.COPY: the fid the next feature copied takes

    @property
    def params(self) -> dict:
        return {
            "publisher": self.publisher,
            "source": self.source,
            "run": self.run_id,
            "at": self.at,
        }


def _provenance_columns(load: Load) -> list[tuple[str, str, pa.Scalar]]:
    """The same for every row of the run: encoded once, not once a row."""
    return [
        ("publisher", "text", pa.scalar(load.publisher)),
        ("source", "text", pa.scalar(load.source)),
        ("run_id", "bigint", pa.scalar(load.run_id)),
        ("loaded_at", "timestamptz", pa.scalar(load.at)),
        ("valid_from", "timestamptz", pa.scalar(load.at)),
    ]


POINT, LINESTRING, POLYGON = 0, 1, 3  # shapely's type ids


def _wkb(frame: pd.DataFrame) -> pa.Array:
    """Plain WKB for COPY. A batch of 2D points, lines or one-ring polygons (most big files) is
    laid out by numpy at once, byte for byte what shapely's to_wkb writes in twice the time: that
    makes a Python bytes object a feature, holding the GIL the other threads want."""
    if isinstance(frame, PointFrame):
        return point_wkb(frame.xy)
    if isinstance(frame, LineFrame) and (wkb := frame.wkb()) is not None:
        return wkb
    values = np.asarray(as_geodataframe(frame).geometry.values)
    kinds = shapely.get_type_id(values)
    plain = not (
        shapely.has_z(values).any() or shapely.has_m(values).any() or shapely.is_empty(values).any()
    )
    wkb = None
    if plain and (kinds == POINT).all():
        wkb = point_wkb(shapely.get_coordinates(values))
    elif plain and (kinds == LINESTRING).all():
        wkb = line_wkb(shapely.get_coordinates(values), shapely.get_num_coordinates(values))
    elif plain and (kinds == POLYGON).all() and not shapely.get_num_interior_rings(values).any():
        counts = shapely.get_num_coordinates(values)
        wkb = line_wkb(shapely.get_coordinates(values), counts, head=RING_WKB_HEAD)
    return wkb if wkb is not None else pa.array(shapely.to_wkb(values), pa.binary())


def stage_rows(copy: Copier, theme: ThemeSpec, frame: pd.DataFrame, load: Load) -> None:
    """Copy loadable, harmonised features, geometry as plain WKB, the way the run's route says."""
    if frame.empty:
        return
    values = {f.name: pa.array(frame[f.name], from_pandas=True) for f in theme.fields}
    values["source_row"] = pa.array(frame.index.to_numpy(np.int32))
    values["geom"] = _wkb(frame)
    types = LIVE_TYPES if load.route is Route.COPY else STAGE_TYPES
    columns = [(name, pg_type, values[name]) for name, pg_type in _stage_columns(theme, types)]
    if load.route is Route.COPY:
        fids = np.arange(load.next_fid, load.next_fid + len(frame))
        load.next_fid += len(frame)
        columns = [("fid", "bigint", pa.array(fids)), *columns, *_provenance_columns(load)]
        copy(sql.Identifier(theme.table), columns, freeze=load.fresh)
        return
    copy(STAGE, columns)
    if load.route is Route.INSERT:
        copy.execute(_insert_batch_sql(theme), load.params)


def _ewkb(geoms: gpd.GeoSeries, srid: int) -> pa.Array:
    values = shapely.set_srid(geoms.values, srid)
    return pa.array(shapely.to_wkb(values, include_srid=True), pa.binary())


def _finite_or_none(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def _attributes_json(raw: pd.DataFrame) -> pa.Array:
    text = attributes(raw).to_json(orient="records", date_format="iso")
    # pandas writes non-finite floats as Infinity/NaN, which jsonb refuses: keep them as null.
    records = json.loads(text, parse_constant=lambda _: None, parse_float=_finite_or_none)
    return pa.array([json.dumps(r, ensure_ascii=False) for r in records], pa.string())


def quarantine_rows(
    copy: Copier,
    theme: ThemeSpec,
    raw: pd.DataFrame,
    clean: pd.DataFrame,
    reasons: pd.Series,
    *,
    source: str,
    run_id: int,
) -> None:
    """Keep the publisher's original attributes, the geometry as we read it (in the storage
    CRS, repaired where it could be), and why."""
    if reasons.empty:
        return
    n = len(reasons)
    copy(
        sql.Identifier("quarantine"),
        [
            ("run_id", "bigint", pa.array(np.full(n, run_id))),
            ("source", "text", pa.array([source] * n, pa.string())),
            ("theme", "text", pa.array([theme.id] * n, pa.string())),
            ("source_row", "integer", pa.array(reasons.index.to_numpy(np.int32))),
            ("reason", "text", pa.array(reasons.to_numpy(str), pa.string())),
            ("attributes", "jsonb", _attributes_json(raw.loc[reasons.index])),
            ("geom", "geometry", _ewkb(geometry_of(clean, reasons.index), theme.storage_crs)),
        ],
    )


def record_issues(copy: Copier, found: pd.DataFrame, run_id: int) -> None:
    if found.empty:
        return
    text = [(c, "text", pa.array(found[c].astype(str), pa.string())) for c in TEXT_ISSUE_COLUMNS]
    copy(
        sql.Identifier("issue_log"),
        [
            ("run_id", "bigint", pa.array(np.full(len(found), run_id))),
            ("source_row", "integer", pa.array(found["row"].to_numpy(np.int32))),
            *text,
        ],
    )


def _key_match(theme: ThemeSpec, left: str, right: str) -> sql.Composable:
    return sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(sql.Identifier(left, k), sql.Identifier(right, k))
        for k in theme.natural_key
    )


def _stage_has_repeats(cur: Cursor, theme: ThemeSpec) -> bool:
    cur.execute(
        sql.SQL("SELECT 1 FROM {} GROUP BY {} HAVING count(*) > 1 LIMIT 1").format(
            STAGE, _ids(theme.natural_key)
        )
    )
    return cur.fetchone() is not None


QUARANTINE_REPEATS = """
q AS (INSERT INTO quarantine (run_id, source, theme, source_row, reason, attributes, geom)
    SELECT %(run)s, %(source)s, %(theme)s, d.source_row, {message},
    to_jsonb(d) - 'geom' - 'first' - 'source_row', d.geom FROM d)
INSERT INTO issue_log (run_id, source_row, field, rule, severity, message, value)
SELECT %(run)s, d.source_row, %(field)s, 'duplicate-key', 'error', {message}, {key_text} FROM d
"""
"""Given d, staged features taken out with the source_row of the first feature with their key."""
REPEAT_MESSAGE = sql.SQL("%(before)s || d.first || %(after)s")  # as validate words it


def _quarantine_repeats(cur: Cursor, theme: ThemeSpec, load: Load, taken: sql.Composable) -> int:
    """Keys repeated across batches (validate catches them within one): the first one stays.

    The batch that held the later feature is gone by now, so its quarantine record keeps the
    harmonised values rather than the publisher's own column names.
    """
    key_text = sql.SQL(" || '|' || ").join(
        sql.SQL("{}::text").format(sql.Identifier("d", k)) for k in theme.natural_key
    )
    cur.execute(
        sql.SQL("WITH d AS ({taken}), ").format(taken=taken)
        + sql.SQL(QUARANTINE_REPEATS).format(key_text=key_text, message=REPEAT_MESSAGE),
        {
            **load.params,
            "theme": theme.id,
            "field": ",".join(theme.natural_key),
            "before": issues.REPEAT_BEFORE.format(what="key"),
            "after": issues.REPEAT_AFTER,
        },
    )
    return cur.rowcount


def _repeats_in_stage(theme: ThemeSpec) -> sql.Composed:
    """Staged features whose key an earlier staged feature has (a merge's stage)."""
    return sql.SQL(
        "WITH ranked AS (SELECT source_row, min(source_row) OVER (PARTITION BY {key}) AS first "
        "FROM {stage}) "
        "DELETE FROM {stage} s USING ranked r "
        "WHERE s.source_row = r.source_row AND r.source_row > r.first RETURNING s.*, r.first"
    ).format(key=_ids(theme.natural_key), stage=STAGE)


def _repeats_of_live(theme: ThemeSpec) -> sql.Composed:
    """Staged features whose key the source's live rows already have (a first load's refusals)."""
    return sql.SQL(
        "DELETE FROM {stage} s USING {live} l WHERE l.source = %(source)s AND {match} "
        "RETURNING s.*, l.source_row AS first"
    ).format(stage=STAGE, live=sql.Identifier(theme.table), match=_key_match(theme, "s", "l"))


def _repeats_copied(theme: ThemeSpec) -> sql.Composed:
    """Live rows of the source whose key an earlier row has, as staged features (a first bulk
    load's, COPYed with no unique index)."""
    fields = [f.name for f in theme.fields]
    return sql.SQL(
        "WITH ranked AS (SELECT fid, min(source_row) OVER (PARTITION BY {key}) AS first "
        "FROM {live} WHERE source = %(source)s) "
        "DELETE FROM {live} l USING ranked r WHERE l.fid = r.fid AND l.source_row > r.first "
        "RETURNING {fields}, l.source_row, l.geom, r.first"
    ).format(
        key=_ids(theme.natural_key),
        live=sql.Identifier(theme.table),
        fields=_ids(fields, "l"),
    )


def _live_columns(theme: ThemeSpec) -> list[str]:
    provenance = ["publisher", "source", "run_id", "source_row", "loaded_at", "valid_from"]
    return ["fid", *(f.name for f in theme.fields), *provenance, "geom"]


DIFF = sql.Identifier("ingest_diff")
"""What a merge changes, worked out in one pass: each live feature of the source that is gone
(source_row NULL) or changed, and each staged feature that is new (fid NULL) or changed."""


def _diff(cur: Cursor, theme: ThemeSpec, source: str) -> None:
    """One hash join of the source's live features with the staged ones, by key, where three
    (retire, update, insert) each used to join them again: an unchanged reload of 500,000 points
    spent ~1.1 s there."""
    compared = [*(f.name for f in theme.fields), "geom"]
    cur.execute(
        sql.SQL(
            "CREATE TEMPORARY TABLE {diff} ON COMMIT DROP AS "
            "SELECT l.fid, s.source_row FROM (SELECT * FROM {live} WHERE source = %(source)s) l "
            "FULL JOIN {stage} s ON {match} "
            "WHERE l.fid IS NULL OR s.source_row IS NULL OR ({old}) IS DISTINCT FROM ({new})"
        ).format(
            diff=DIFF,
            live=sql.Identifier(theme.table),
            stage=STAGE,
            match=_key_match(theme, "s", "l"),
            old=_ids(compared, "l"),
            new=_ids(compared, "s"),
        ),
        {"source": source},
    )


def _retire(cur: Cursor, theme: ThemeSpec, at: datetime) -> int:
    live = _live_columns(theme)
    cur.execute(
        sql.SQL(
            "WITH gone AS (DELETE FROM {live} l USING {diff} d "
            "WHERE d.source_row IS NULL AND l.fid = d.fid RETURNING l.*) "
            "INSERT INTO {history} ({columns}, valid_to) SELECT {columns}, %(at)s FROM gone"
        ).format(
            live=sql.Identifier(theme.table),
            diff=DIFF,
            history=sql.Identifier(history_table(theme)),
            columns=_ids(live),
        ),
        {"at": at},
    )
    return cur.rowcount


def _update(cur: Cursor, theme: ThemeSpec, run_id: int, at: datetime) -> int:
    """Changed features: the old version to history, the new one in place under the same fid."""
    fields = [f.name for f in theme.fields]
    assigned = [*fields, "geom", "source_row"]
    cur.execute(
        sql.SQL(
            "WITH changed AS (SELECT d.fid, {staged} FROM {diff} d "
            "JOIN {stage} s ON s.source_row = d.source_row WHERE d.fid IS NOT NULL), "
            "kept AS (INSERT INTO {history} ({columns}, valid_to) "
            "SELECT {live_columns}, %(at)s FROM {live} l JOIN changed c ON c.fid = l.fid) "
            "UPDATE {live} l SET ({assigned}) = ({from_changed}), run_id = %(run)s, "
            "loaded_at = %(at)s, valid_from = %(at)s FROM changed c WHERE l.fid = c.fid"
        ).format(
            staged=_ids(assigned, "s"),
            diff=DIFF,
            live=sql.Identifier(theme.table),
            stage=STAGE,
            history=sql.Identifier(history_table(theme)),
            columns=_ids(_live_columns(theme)),
            live_columns=_ids(_live_columns(theme), "l"),
            assigned=_ids(assigned),
            from_changed=_ids(assigned, "c"),
        ),
        {"run": run_id, "at": at},
    )
    return cur.rowcount


def _insert_sql(theme: ThemeSpec, tail: sql.Composable) -> sql.Composed:
    """INSERT the staged features into the live table with the run's provenance, then tail."""
    fields = [f.name for f in theme.fields]
    return sql.SQL(
        "INSERT INTO {live} ({fields}, publisher, source, run_id, source_row, loaded_at, "
        "valid_from, geom) SELECT {staged}, %(publisher)s, %(source)s, %(run)s, s.source_row, "
        "%(at)s, %(at)s, s.geom FROM {stage} s{tail}"
    ).format(
        live=sql.Identifier(theme.table),
        fields=_ids(fields),
        staged=_ids(fields, "s"),
        stage=STAGE,
        tail=tail,
    )


def _insert_batch_sql(theme: ThemeSpec) -> sql.Composed:
    """A first load's batch goes in at once; a key an earlier batch had is refused and stays
    staged (finish_load quarantines it), the rest leave the staging table."""
    refuse = sql.SQL(" ON CONFLICT ON CONSTRAINT {} DO NOTHING RETURNING source_row").format(
        sql.Identifier(natural_key_name(theme))
    )
    return sql.SQL(
        "WITH inserted AS ({insert}) "
        "DELETE FROM {stage} s USING inserted i WHERE s.source_row = i.source_row"
    ).format(insert=_insert_sql(theme, refuse), stage=STAGE)


def _insert(cur: Cursor, theme: ThemeSpec, load: Load) -> int:
    """The staged features new to the source."""
    new = sql.SQL(" WHERE s.source_row IN (SELECT source_row FROM {} WHERE fid IS NULL)").format(
        DIFF
    )
    cur.execute(_insert_sql(theme, new), load.params)
    return cur.rowcount


def _is_bulk(cur: Cursor, theme: ThemeSpec, new: int) -> bool:
    """Whether a run adds many features: at least a quarter as many as the theme holds.

    Then rebuilding the indexes after the insert costs less than updating them row by row
    (about ten times dearer a row); the price is that readers of the theme wait while the merge
    runs. The theme's size is the planner's estimate.
    """
    cur.execute(
        "SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = to_regclass(%s)", (theme.table,)
    )
    return new >= BULK_ROWS and new * 4 >= cur.fetchone()[0]


def _source_rows(cur: Cursor, theme: ThemeSpec, source: str) -> int:
    cur.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE source = %s").format(sql.Identifier(theme.table)),
        (source,),
    )
    return cur.fetchone()[0]


def _has_rows(cur: Cursor, theme: ThemeSpec, source: str) -> bool:
    cur.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE source = %s)").format(
            sql.Identifier(theme.table)
        ),
        (source,),
    )
    return cur.fetchone()[0]


def _take_merge_turn(cur: Cursor, theme: ThemeSpec) -> None:
    cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))", (MERGE_LOCK, theme.id))


def _drop_indexes(cur: Cursor, theme: ThemeSpec, *, primary_key: bool = False) -> None:
    table = sql.Identifier(theme.table)
    cur.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table))
    cur.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(geometry_index(theme))))
    keys = [natural_key_name(theme)] + ([primary_key_name(theme)] if primary_key else [])
    for key in keys:
        cur.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(
                table, sql.Identifier(key)
            )
        )


def _build_indexes(cur: Cursor, theme: ThemeSpec, *, primary_key: bool = False) -> None:
    """Built by sorting, at a fraction of the cost of the row-by-row updates they replace. The
    spatial index first: its build takes one core (the keys' builds take both), leaving the
    other to the run's checksum."""
    cur.execute(geometry_index_ddl(theme))
    table = sql.Identifier(theme.table)
    keys = ([primary_key_constraint(theme)] if primary_key else []) + [
        natural_key_constraint(theme)
    ]
    for key in keys:
        cur.execute(sql.SQL("ALTER TABLE {} ADD {}").format(table, key))


def _emptied(cur: Cursor, theme: ThemeSpec) -> bool:
    """Whether the theme holds no features; if so it is emptied again (TRUNCATE), which gives
    the table new files in this transaction. COPY then writes its rows already frozen (FREEZE:
    the first reader does not rewrite every page to set hint bits), and under wal_level=minimal
    (the embedded cluster's) PostgreSQL writes no WAL for them. Frozen rows show to a
    repeatable-read transaction begun earlier, where it would have seen the theme empty."""
    table = sql.Identifier(theme.table)
    cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(table))
    if cur.fetchone()[0]:
        return False
    cur.execute(sql.SQL("TRUNCATE {}").format(table))
    return True


def _fid_sequence(theme: ThemeSpec) -> sql.Composed:
    return sql.SQL("pg_get_serial_sequence({}, 'fid')").format(sql.Literal(theme.table))


def _take_fids(cur: Cursor, theme: ThemeSpec) -> int:
    """The first fid of a COPY route's features, which it numbers itself: PostgreSQL's identity
    default costs a sequence call a row. Safe because the run holds the table's lock, so no one
    else takes a fid until _give_back_fids moves the sequence past the ones used."""
    cur.execute(sql.SQL("SELECT nextval({})").format(_fid_sequence(theme)))
    return cur.fetchone()[0]


def _give_back_fids(cur: Cursor, theme: ThemeSpec, load: Load) -> None:
    cur.execute(
        sql.SQL("SELECT setval({}, %s, false)").format(_fid_sequence(theme)), (load.next_fid,)
    )


def merge(cur: Cursor, theme: ThemeSpec, load: Load, staged: int) -> Merged:
    """Make the staged features the source's live contribution, keeping what changed in history.

    Merges into one theme take turns (everything before them runs in parallel), so that a bulk
    merge can take its table lock without two runs each waiting on the other's.
    """
    _take_merge_turn(cur, theme)
    bulk = _is_bulk(cur, theme, staged - _source_rows(cur, theme, load.source))
    if bulk:
        _drop_indexes(cur, theme)
    merged = Merged()
    if _stage_has_repeats(cur, theme):
        merged.duplicates = _quarantine_repeats(cur, theme, load, _repeats_in_stage(theme))
    # Whole-source merges want hash joins; a table just loaded has stale statistics that
    # would make the planner pick a nested loop over every row of the source.
    cur.execute("SET LOCAL enable_nestloop = off")
    _diff(cur, theme, load.source)
    merged.retired = _retire(cur, theme, load.at)
    merged.updated = _update(cur, theme, load.run_id, load.at)
    merged.inserted = _insert(cur, theme, load)
    if bulk:
        _build_indexes(cur, theme)
    merged.unchanged = staged - merged.duplicates - merged.inserted - merged.updated
    return merged


def begin_load(
    cur: Cursor,
    theme: ThemeSpec,
    *,
    publisher: str,
    source: str,
    run_id: int,
    at: datetime,
    expected: int | None,
) -> Load:
    """The run's route into the live table, with the theme made ready for it.

    A source with live rows merges with them (Route.MERGE). A source with none has nothing to
    merge: each batch is inserted as it comes, while Python checks the next (Route.INSERT); if it
    adds at least a quarter of its theme, it is COPYed straight into the live table with the
    keys and index dropped and rebuilt at the end, numbering its features itself (Route.COPY),
    holding the theme's merge turn and table lock for the whole load, not just a merge. Either
    way it stays in the run's one transaction, so a failed or killed run changes nothing. Only
    this run can add rows of its source meanwhile: it holds the source's lock.
    """
    # Each statement of a load runs once over rows the planner has no statistics for: JIT
    # compiling costs more than it saves (~130 ms a statement), and 4 MB sorts spill to disk.
    cur.execute("SET LOCAL jit = off")
    cur.execute(sql.SQL("SET LOCAL work_mem = {}").format(sql.Literal(LOAD_WORK_MEM)))
    if _has_rows(cur, theme, source):
        route = Route.MERGE
    elif expected is None:
        route = Route.INSERT
    else:
        route = Route.COPY if _is_bulk(cur, theme, expected) else Route.INSERT
    load = Load(route, publisher, source, run_id, at)
    if route is Route.COPY:
        _take_merge_turn(cur, theme)
        _drop_indexes(cur, theme, primary_key=True)
        load.fresh, load.next_fid = _emptied(cur, theme), _take_fids(cur, theme)
    else:
        create_stage(cur, theme)
    return load


def _finish_copy(cur: Cursor, theme: ThemeSpec, load: Load, staged: int) -> Merged:
    """Build the keys and index again; keys repeated across batches are only looked for (and
    quarantined) when the unique constraint refuses them, as it almost never does."""
    _give_back_fids(cur, theme, load)
    cur.execute("SAVEPOINT regiongis_copied")
    try:
        _build_indexes(cur, theme, primary_key=True)
        return Merged(inserted=staged)
    except psycopg2.errors.UniqueViolation:
        cur.execute("ROLLBACK TO SAVEPOINT regiongis_copied")
    duplicates = _quarantine_repeats(cur, theme, load, _repeats_copied(theme))
    _build_indexes(cur, theme, primary_key=True)
    return Merged(inserted=staged - duplicates, duplicates=duplicates)


def finish_load(cur: Cursor, theme: ThemeSpec, load: Load, staged: int) -> Merged:
    """After every batch is in: merge, or finish a first load (inserted, and refused keys)."""
    if load.route is Route.MERGE:
        return merge(cur, theme, load, staged)
    if load.route is Route.COPY:
        return _finish_copy(cur, theme, load, staged)
    cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(STAGE))
    if not cur.fetchone()[0]:  # the usual case: every batch went in whole
        return Merged(inserted=staged)
    duplicates = _quarantine_repeats(cur, theme, load, _repeats_of_live(theme))
    return Merged(inserted=staged - duplicates, duplicates=duplicates)

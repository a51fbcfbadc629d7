"""Running the checks: per theme after each ingest, or all at once on demand.

A check works out again whatever the runs since its theme's last check may have changed (after an
ingest, their features only; on demand, the whole theme: scope.py), in one transaction, under a
lock per theme, so concurrent ingests of one theme never interleave their findings. Each check is
recorded in `boundary_check` with the ingest run that triggered it and the theme's counts after
it, so a run's report can say what stood after it even once later runs have changed the findings.
"""

from __future__ import annotations

import json

from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor

from ingest.boundaries.areas import (
    ensure_schema,
    load_boundaries,
    loaded_sha256,
    statement,
)
from ingest.boundaries.pairs import find_candidates
from ingest.boundaries.scope import Scope, decide, features, forget, gather, record
from ingest.db import transaction
from ingest.read import file_sha256
from ingest.region import Region
from protocols import FieldType, Protocols, ThemeSpec

KINDS = (
    "out-of-area",
    "duplicate",
    "edge-match",
    "dangling-end",
    "boundary-gap",
    "boundary-overlap",
)
BOUNDARIES = "boundaries"
"""The theme name topology findings (gaps, overlaps between members' polygons) are filed under."""
NEAR_FACTOR = 3.0
"""A line end within this many times the protocol's snap_m of a boundary is at the boundary."""
TOUCH_M = 0.01
"""Ends this close to a neighbour's line already meet it: nothing to join, nothing to report."""
MIN_AREA_M2 = 1.0
"""Gaps and overlaps smaller than this are floating-point crumbs, not digitising errors."""


def _lock(cur: Cursor, theme: str) -> None:
    cur.execute(
        "SELECT pg_advisory_xact_lock(hashtext('regiongis boundary check'), hashtext(%s))",
        (theme,),
    )


def _begin(cur: Cursor, theme: str, run_id: int | None) -> int:
    """Record the check; the caller holds the theme's lock."""
    # The spatial joins look costly to the planner, and compiling them would take longer than
    # running them on the GiST indexes.
    cur.execute("SET LOCAL jit = off")
    cur.execute(
        "INSERT INTO boundary_check (theme, run_id) VALUES (%s, %s) RETURNING id", (theme, run_id)
    )
    return cur.fetchone()[0]


def _finish(cur: Cursor, check_id: int, theme: str) -> dict[str, int]:
    """The theme's findings standing after the check, whichever check found each."""
    cur.execute(
        "SELECT kind, count(*) FROM boundary_issues WHERE theme = %s GROUP BY kind ORDER BY kind",
        (theme,),
    )
    counts = dict(cur.fetchall())
    cur.execute(
        "UPDATE boundary_check SET counts = %s WHERE id = %s", (json.dumps(counts), check_id)
    )
    return counts


def check_topology(cur: Cursor, run_id: int | None = None) -> dict[str, int]:
    """Gaps and overlaps between the members' boundary polygons, with their areas."""
    ensure_schema(cur)
    _lock(cur, BOUNDARIES)
    cur.execute("DELETE FROM boundary_issues WHERE theme = %s", (BOUNDARIES,))
    check_id = _begin(cur, BOUNDARIES, run_id)
    params = {"check_id": check_id, "run_id": run_id, "min_area_m2": MIN_AREA_M2}
    cur.execute(statement("topology"), params)
    return _finish(cur, check_id, BOUNDARIES)


def _reference(theme: ThemeSpec, alias: str) -> sql.Composed:
    """The feature's natural key as text, as publishers know their features."""
    keys = sql.SQL(", ").join(sql.Identifier(alias, k) for k in theme.natural_key)
    return sql.SQL("concat_ws(' / ', {})").format(keys)


def _compatible(theme: ThemeSpec) -> sql.Composable:
    """Two features can be one object only if their code values agree wherever both have one."""
    tests = [
        sql.SQL("({a} IS NULL OR {b} IS NULL OR {a} = {b})").format(
            a=sql.Identifier("a", f.name), b=sql.Identifier("b", f.name)
        )
        for f in theme.fields
        if f.type is FieldType.CODE
    ]
    return sql.SQL(" AND ").join(tests) if tests else sql.SQL("TRUE")


def merged_view(cur: Cursor, theme: ThemeSpec) -> str:
    """(Re)create `<table>_merged`: the theme as the public should see it, duplicates hidden and
    edge corrections applied. Rebuilt from the table's current columns on every check."""
    cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
        "AND table_name = %s AND column_name <> 'geom' ORDER BY ordinal_position",
        (theme.table,),
    )
    columns = [sql.Identifier("t", name) for (name,) in cur.fetchall()]
    view = f"{theme.table}_merged"
    cur.execute(
        sql.SQL(
            "DROP VIEW IF EXISTS {view}; CREATE VIEW {view} AS "
            "SELECT {columns}, coalesce(c.geom, t.geom) AS geom FROM {table} AS t "
            "LEFT JOIN edge_corrections AS c ON c.theme = {theme} AND c.fid = t.fid "
            "WHERE NOT EXISTS "
            "(SELECT 1 FROM duplicate_of AS d WHERE d.theme = {theme} AND d.fid = t.fid)"
        ).format(
            view=sql.Identifier(view),
            columns=sql.SQL(", ").join(columns),
            table=sql.Identifier(theme.table),
            theme=sql.Literal(theme.id),
        )
    )
    return view


def _with_areas_of_their_own(cur: Cursor, publishers: dict[str, int]) -> bool:
    """Whether any of the publishers has a boundary: only their line ends can be at one (a
    utility answers for every member's area, and its network has no ends at a boundary)."""
    cur.execute(
        "SELECT EXISTS (SELECT 1 FROM boundaries WHERE publisher = ANY(%s))", (list(publishers),)
    )
    return cur.fetchone()[0]


def check_theme(
    cur: Cursor, theme: ThemeSpec, run_id: int | None = None, *, whole: bool = True
) -> dict[str, int]:
    """Out of area, duplicates across publishers and (for networks) continuity, for one theme:
    the whole theme, or (whole=False) only the features runs changed since its last check, when
    nothing else its findings were judged by has changed (scope.py)."""
    ensure_schema(cur)
    _lock(cur, theme.id)
    scope = decide(cur, theme, whole=whole)
    check_id = _begin(cur, theme.id, run_id)
    if scope.changed:
        if not scope.whole:
            gather(cur, theme, scope)
        forget(cur, theme, scope)
        _work_out(cur, theme, scope, check_id, run_id)
    record(cur, check_id, scope)
    return _finish(cur, check_id, theme.id)


def _work_out(
    cur: Cursor, theme: ThemeSpec, scope: Scope, check_id: int, run_id: int | None
) -> None:
    """The findings on the features the check looks at, and the theme's network and view."""
    table = sql.Identifier(theme.table)
    matching = theme.matching
    params = {
        "theme": theme.id,
        "check_id": check_id,
        "run_id": run_id,
        "out_of_area_m": matching.out_of_area_m,
        "duplicate_m": matching.duplicate_m,
        "snap_m": matching.snap_m,
        "near_m": NEAR_FACTOR * matching.snap_m,
        "touch_m": TOUCH_M,
    }
    cur.execute(statement("areas", table=table))
    out_of_area = statement(
        "out_of_area", table=table, ref_t=_reference(theme, "t"), features=features(scope, "t")
    )
    cur.execute(out_of_area, params)
    find_candidates(cur, theme, scope, matching.duplicate_m)
    duplicates = statement(
        "duplicates",
        table=table,
        ref_a=_reference(theme, "a"),
        ref_b=_reference(theme, "b"),
        compatible=_compatible(theme),
    )
    cur.execute(duplicates, params)
    if matching.network and _with_areas_of_their_own(cur, scope.publishers):
        network = statement(
            "network", table=table, ref_t=_reference(theme, "t"), ref_o=_reference(theme, "o")
        )
        cur.execute(network, params)
    merged_view(cur, theme)


def sync_boundaries(cur: Cursor, region: Region, run_id: int | None = None) -> bool:
    """Load the region's boundaries file when it differs from what is loaded (by sha256), and
    check its topology; a region without one keeps whatever boundaries are loaded."""
    if region.boundaries_file is None:
        return False
    path = region.data_dir / region.boundaries_file
    if not path.exists():
        return False
    ensure_schema(cur)
    _lock(cur, BOUNDARIES)
    if loaded_sha256(cur) == file_sha256(path):
        return False
    load_boundaries(cur, path)
    check_topology(cur, run_id)
    return True


def _table_exists(cur: Cursor, theme: ThemeSpec) -> bool:
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f"public.{theme.table}",))
    return cur.fetchone()[0]


def check_after_ingest(
    url: str, region: Region, theme: ThemeSpec, run_id: int | None
) -> dict[str, int]:
    """The checks an ingest of `theme` triggers; the ingest run is recorded as their cause."""
    with transaction(url) as cur:
        sync_boundaries(cur, region, run_id)
        return check_theme(cur, theme, run_id, whole=False)


def check_region(url: str, region: Region, protocols: Protocols) -> dict[str, dict[str, int]]:
    """Every check, on demand: boundary topology, then each theme that has a table."""
    with transaction(url) as cur:
        sync_boundaries(cur, region)
        found = {BOUNDARIES: check_topology(cur)}
        for theme in protocols.themes.values():
            if _table_exists(cur, theme):
                found[theme.id] = check_theme(cur, theme)
        return found


def issue_counts(
    cur: Cursor, *, run_id: int | None = None, theme: str | None = None
) -> dict[str, int]:
    """Issues per kind: those the checks after ingest run `run_id` found (kept even once later
    checks replaced them), or those standing now, for one theme or all."""
    if run_id is not None:
        cur.execute(
            "SELECT counts FROM boundary_check WHERE run_id = %s AND (%s IS NULL OR theme = %s) "
            "ORDER BY id",
            (run_id, theme, theme),
        )
        totals: dict[str, int] = {}
        for (counts,) in cur.fetchall():
            for kind, n in counts.items():
                totals[kind] = totals.get(kind, 0) + n
        return dict(sorted(totals.items()))
    cur.execute(
        "SELECT kind, count(*) FROM boundary_issues WHERE (%s IS NULL OR theme = %s) "
        "GROUP BY kind ORDER BY kind",
        (theme, theme),
    )
    return dict(cur.fetchall())

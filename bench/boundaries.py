"""Boundary checks over a whole region: `check_theme` (out of area, duplicates, edge matching, all
on GiST indexes) on N roadworks lines across four councils, generated in SQL in a database of its
own; one line in a hundred is supplied twice. Peer: the naive way, a cross join comparing every
pair with ST_Distance and no index, on a sample of SAMPLE lines; our check runs on the same sample
for the RATIO.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager

from psycopg2 import sql

from ingest.boundaries import check_theme
from ingest.boundaries.areas import ensure_schema
from ingest.db import resolve_database_url, scratch_database, transaction
from ingest.load import ensure_schema as load_schema
from protocols import ThemeSpec, load_protocols
from server.settings import Settings

SAMPLE = 10_000
SIDE_M = 20_000
"""Four square councils of this side make the benchmark region, 40 km across."""

COUNCILS_SQL = """
INSERT INTO boundaries (publisher, name, file_sha256, geom)
SELECT 'council-' || i || j, 'Bench council ' || i || j, 'bench',
    ST_Multi(ST_MakeEnvelope(%(x0)s + i * %(side)s, %(y0)s + j * %(side)s,
        %(x0)s + (i + 1) * %(side)s, %(y0)s + (j + 1) * %(side)s, 27700))
FROM generate_series(0, 1) AS i, generate_series(0, 1) AS j
"""

LINES_SQL = """
INSERT INTO {table} (reference, works_type, status, start_date, promoter,
    publisher, source, run_id, source_row, geom)
SELECT 'B-' || n, 'resurfacing', 'planned', DATE '2027-01-01', 'Bench (fictional)',
    'council-' || floor((x - %(x0)s) / %(side)s)::int || floor((y - %(y0)s) / %(side)s)::int,
    'bench-' || floor((x - %(x0)s) / %(side)s)::int || floor((y - %(y0)s) / %(side)s)::int,
    0, n,
    ST_MakeLine(ST_SetSRID(ST_MakePoint(x, y), 27700),
        ST_SetSRID(ST_MakePoint(x + len * cos(angle), y + len * sin(angle)), 27700))
FROM (
    SELECT n, %(x0)s + random() * 2 * %(side)s AS x, %(y0)s + random() * 2 * %(side)s AS y,
        50 + random() * 450 AS len, random() * 2 * pi() AS angle
    FROM generate_series(1, %(n)s) AS n
) AS g
"""

COPIES_SQL = """
INSERT INTO {table} (reference, works_type, status, start_date, promoter,
    publisher, source, run_id, source_row, geom)
SELECT 'copy-' || reference, works_type, status, start_date, promoter,
    CASE WHEN publisher = 'council-00' THEN 'council-11' ELSE 'council-00' END, 'bench-copies',
    0, source_row, ST_Translate(geom, 0.5, 0.5)
FROM {table} WHERE source_row %% 100 = 0
"""
"""One line in a hundred supplied again by another council, half a metre off: the duplicates."""

NAIVE_SQL = """
SELECT count(*) FROM {table} AS a JOIN {table} AS b
    ON a.fid < b.fid AND a.publisher <> b.publisher AND ST_Distance(a.geom, b.geom) <= %(d)s
"""


@contextmanager
def bench_database() -> Iterator[str]:
    """A database of its own, dropped afterwards, so the benchmark touches nobody's data."""
    base = resolve_database_url(Settings().database_url, Settings().state_dir)
    with scratch_database(base, "regiongis_bench_boundaries") as url:
        yield url


def _fill(url: str, theme: ThemeSpec, n: int) -> None:
    x0, y0 = 440_000, 300_000
    params = {"x0": x0, "y0": y0, "side": SIDE_M, "n": n}
    with transaction(url) as cur:
        ensure_schema(cur)
        load_schema(cur, [theme])  # the theme's table and the runs the checks follow
        cur.execute("DELETE FROM boundaries")
        cur.execute(COUNCILS_SQL, params)
        for statement in (LINES_SQL, COPIES_SQL):
            cur.execute(sql.SQL(statement).format(table=sql.Identifier(theme.table)), params)
        cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(theme.table)))


def _time_check(url: str, theme: ThemeSpec) -> tuple[float, dict[str, int]]:
    with transaction(url) as cur:
        started = time.perf_counter()
        found = check_theme(cur, theme)
        return time.perf_counter() - started, found


def _time_naive(url: str, theme: ThemeSpec) -> float:
    with transaction(url) as cur:
        started = time.perf_counter()
        table = sql.Identifier(theme.table)
        cur.execute(sql.SQL(NAIVE_SQL).format(table=table), {"d": theme.matching.snap_m})
        return time.perf_counter() - started


def run(args: argparse.Namespace) -> None:
    roadworks = load_protocols().themes["roadworks"]
    sample = roadworks.model_copy(update={"id": "bench-sample"})
    with bench_database() as url:
        _fill(url, roadworks, args.lines)
        whole, found = _time_check(url, roadworks)
        _fill(url, sample, SAMPLE)
        ours, _ = _time_check(url, sample)
        peer = _time_naive(url, sample)
    print(f"# {args.lines} lines, four councils: {found}")
    print(f"RESULT boundary_check_lines {args.lines / whole:.0f} features/s")
    print(f"RESULT boundary_check_sample_ours {SAMPLE / ours:.0f} features/s")
    print(f"RESULT boundary_check_sample_naive_cross_join {SAMPLE / peer:.0f} features/s")
    print(f"RATIO boundary_check_sample_time {ours / peer:.4f}")

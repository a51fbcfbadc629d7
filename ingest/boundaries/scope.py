"""Which features a theme's check looks at: the whole theme, or only what ingest runs changed.

A run changes only its own source's features, so after it the findings on every other feature
still stand, as long as nothing they were judged by has changed: the theme's protocol and
tolerances, and the boundaries. Looking only at the features runs inserted or updated (they carry
the run's id) keeps a small update to a large theme cheap: a check of the whole of a 500,000-point
theme takes seconds. Findings on features a run retired go too. Network findings (edge matches,
gaps) depend on which duplicates are hidden, and are worked out again for the whole theme whenever
anything changed; they look only at line ends near a boundary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor

from ingest.boundaries.areas import loaded_sha256
from protocols import ThemeSpec

TOUCHED = sql.Identifier("_touched")
"""The temporary table of the features a scoped check looks at: fid and publisher."""


@dataclass(frozen=True)
class Scope:
    whole: bool
    runs: list[int]  # the runs whose features this check covers, recorded once it is done
    settings: dict
    publishers: dict[str, int]  # the theme's features per publisher ({} when nothing changed)
    changed: bool  # whether the runs inserted, updated or retired any feature


def settings(cur: Cursor, theme: ThemeSpec) -> dict:
    """What a theme's findings were judged by."""
    return {
        "protocol": theme.ref,
        "matching": theme.matching.model_dump(),
        "boundaries": loaded_sha256(cur),
    }


def _unchecked_runs(cur: Cursor, theme: ThemeSpec) -> list[int]:
    cur.execute(
        "SELECT r.id FROM ingest_run AS r WHERE r.theme = %s AND r.status = 'succeeded' "
        "AND NOT EXISTS (SELECT 1 FROM boundary_checked_run AS c WHERE c.run_id = r.id) "
        "ORDER BY r.id",
        (theme.id,),
    )
    return [run for (run,) in cur.fetchall()]


def _last_settings(cur: Cursor, theme: ThemeSpec) -> dict | None:
    cur.execute(
        "SELECT settings FROM boundary_check WHERE theme = %s ORDER BY id DESC LIMIT 1",
        (theme.id,),
    )
    row = cur.fetchone()
    return row[0] if row else None


def per_publisher(cur: Cursor, relation: sql.Composable) -> dict[str, int]:
    cur.execute(sql.SQL("SELECT publisher, count(*) FROM {} GROUP BY publisher").format(relation))
    return dict(cur.fetchall())


def _what_runs_did(cur: Cursor, runs: list[int]) -> tuple[int, int]:
    """How many features the runs inserted or updated, and how many they retired."""
    cur.execute(
        "SELECT coalesce(sum(coalesce(inserted, 0) + coalesce(updated, 0)), 0), "
        "coalesce(sum(retired), 0) FROM ingest_run WHERE id = ANY(%s)",
        (runs,),
    )
    return cur.fetchone()


def decide(cur: Cursor, theme: ThemeSpec, *, whole: bool) -> Scope:
    """The whole theme when asked, on its first check, when what its findings were judged by has
    changed since the last, or when the runs not yet checked inserted or updated at least half of
    it (looking at all of it then costs less than gathering what they changed); otherwise the
    features of those runs. When the runs changed nothing (an unchanged reload), not a row of the
    theme is read: every finding stands."""
    now, runs = settings(cur, theme), _unchecked_runs(cur, theme)
    moved, retired = _what_runs_did(cur, runs)
    whole = whole or _last_settings(cur, theme) != now
    if not (whole or moved or retired):
        return Scope(False, runs, now, {}, changed=False)
    publishers = per_publisher(cur, sql.Identifier(theme.table))
    whole = whole or moved * 2 >= sum(publishers.values())
    return Scope(whole, runs, now, publishers, changed=True)


def gather(cur: Cursor, theme: ThemeSpec, scope: Scope) -> None:
    """Fill the table of the features a scoped check looks at: those carrying its runs' ids
    (the features they inserted or updated)."""
    cur.execute(
        sql.SQL(
            "DROP TABLE IF EXISTS {touched}; "
            "CREATE TEMP TABLE {touched} ON COMMIT DROP AS "
            "SELECT fid, publisher FROM {table} WHERE run_id = ANY(%s); "
            "CREATE INDEX ON {touched} (fid); ANALYZE {touched}"
        ).format(touched=TOUCHED, table=sql.Identifier(theme.table)),
        (scope.runs,),
    )


def forget(cur: Cursor, theme: ThemeSpec, scope: Scope) -> None:
    """Take away the findings and decisions this check is about to work out again."""
    tables = ["edge_corrections", "duplicate_of"]
    if scope.whole:
        tables.append("boundary_issues")
    for table in tables:
        cur.execute(
            sql.SQL("DELETE FROM {} WHERE theme = %s").format(sql.Identifier(table)), (theme.id,)
        )
    if scope.whole:
        return
    cur.execute(
        "DELETE FROM boundary_issues WHERE theme = %s AND kind IN ('edge-match', 'dangling-end')",
        (theme.id,),
    )
    cur.execute(
        sql.SQL(
            "DELETE FROM boundary_issues AS i WHERE i.theme = %s "
            "AND i.kind IN ('out-of-area', 'duplicate') AND ("
            "EXISTS (SELECT 1 FROM {touched} AS u WHERE u.fid IN (i.feature_fid, i.other_fid)) "
            "OR NOT EXISTS (SELECT 1 FROM {table} AS t WHERE t.fid = i.feature_fid) "
            "OR (i.other_fid IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM {table} AS t WHERE t.fid = i.other_fid)))"
        ).format(touched=TOUCHED, table=sql.Identifier(theme.table)),
        (theme.id,),
    )


def features(scope: Scope, alias: str) -> sql.Composable:
    """A condition on `alias` true for the features this check looks at."""
    if scope.whole:
        return sql.SQL("TRUE")
    return sql.SQL("{}.fid IN (SELECT fid FROM {})").format(sql.Identifier(alias), TOUCHED)


def record(cur: Cursor, check_id: int, scope: Scope) -> None:
    cur.execute(
        "UPDATE boundary_check SET settings = %s, whole = %s WHERE id = %s",
        (json.dumps(scope.settings), scope.whole, check_id),
    )
    cur.execute(
        "INSERT INTO boundary_checked_run (run_id, check_id) "
        "SELECT unnest(%s::bigint[]), %s ON CONFLICT DO NOTHING",
        (scope.runs, check_id),
    )

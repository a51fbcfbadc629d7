"""Candidate duplicate pairs, publisher by publisher, each looked up from the fewer side.

Looking up every feature of a large theme in the spatial index costs seconds (~14 µs a feature)
even when no other publisher has anything near it; looking up the few features of the other
publishers, or the few a run changed, costs next to nothing. The sides are counted, not left to
the planner: right after a load a theme's statistics are stale or missing.
"""

from __future__ import annotations

from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor

from ingest.boundaries.areas import statement
from ingest.boundaries.scope import TOUCHED, Scope, features, per_publisher
from protocols import ThemeSpec


def _own(scope: Scope, alias: str) -> sql.Composable:
    """The publisher's features this check looks at."""
    return sql.SQL("{}.publisher = %(publisher)s AND {}").format(
        sql.Identifier(alias), features(scope, alias)
    )


def _others(scope: Scope, alias: str) -> sql.Composable:
    """Other publishers' features, each pair once: a pair of two looked-at features is found from
    the side whose publisher comes first by name."""
    if scope.whole:
        return sql.SQL("{}.publisher > %(publisher)s").format(sql.Identifier(alias))
    return sql.SQL(
        "{a}.publisher <> %(publisher)s AND ({a}.publisher > %(publisher)s "
        "OR {a}.fid NOT IN (SELECT fid FROM {touched}))"
    ).format(a=sql.Identifier(alias), touched=TOUCHED)


def find_candidates(cur: Cursor, theme: ThemeSpec, scope: Scope, duplicate_m: float) -> None:
    """Fill `_candidates` with the pairs near enough to be one object supplied twice."""
    cur.execute(
        "DROP TABLE IF EXISTS _candidates; "
        "CREATE TEMP TABLE _candidates (fid_a bigint, fid_b bigint) ON COMMIT DROP"
    )
    everyone = scope.publishers
    looked_at = everyone if scope.whole else per_publisher(cur, TOUCHED)
    for publisher, mine in sorted(looked_at.items()):
        theirs = sum(
            n
            for other, n in everyone.items()
            if other > publisher or (other != publisher and not scope.whole)
        )
        if not theirs:
            continue
        mine_first = mine <= theirs
        drive = _own(scope, "d") if mine_first else _others(scope, "d")
        probe = _others(scope, "p") if mine_first else _own(scope, "p")
        cur.execute(
            statement("pairs", table=sql.Identifier(theme.table), drive=drive, probe=probe),
            {"publisher": publisher, "duplicate_m": duplicate_m},
        )

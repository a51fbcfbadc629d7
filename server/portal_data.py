"""The portal's facts from the database, and its routes: landing page, theme pages, quality.

maps/portal.py renders; this module asks PostGIS what to show (feature counts, the latest runs,
what was quarantined) and hands it over as maps' dataclasses. Route handlers are plain functions,
which Starlette runs in its thread pool, so a slow query never blocks the event loop.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ingest.db import transaction
from ingest.region import Region
from maps.portal import (
    PortalInfo,
    PublisherInfo,
    RunRow,
    ThemeCard,
    render_landing,
    render_quality_page,
    render_theme_page,
)
from protocols import ThemeSpec
from server.access.signin import partners_only
from server.deployment import Deployment

EXACT_COUNT_LIMIT = 200_000
"""Above this many rows (by the planner's estimate) the portal shows the estimate: an exact count
of a large table costs tens of milliseconds on every page view, and nobody reads the last digit."""
HISTORY_STEPS = 50
RECENT_RUNS = 50
QUARANTINE_LIMIT = 10_000
QUARANTINE_PATH = "/quality/quarantine.geojson"
REPORT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*-\d+\.(json|html)$")

LATEST_RUNS_SQL = """
WITH latest AS (
    SELECT DISTINCT ON (source) theme, loaded, quarantined, finished_at
    FROM ingest_run WHERE status = 'succeeded' ORDER BY source, finished_at DESC
)
SELECT theme, sum(loaded)::bigint, sum(quarantined)::bigint, max(finished_at)
FROM latest GROUP BY theme
"""

# One step per minute with a successful load: a batch of sources loaded together is one step.
HISTORY_SQL = """
SELECT theme, max(finished_at) AS at FROM ingest_run
WHERE status = 'succeeded' AND finished_at IS NOT NULL
GROUP BY theme, date_trunc('minute', finished_at)
ORDER BY at
"""

RUNS_SQL = """
SELECT id, source, publisher, theme, status, finished_at, loaded, quarantined, message
FROM ingest_run ORDER BY id DESC LIMIT %s
"""

# The quarantine of each source's latest run, as GeoJSON in WGS84. Coordinates far outside any
# projected CRS (a file read in the wrong CRS) cannot be transformed and are left out.
QUARANTINE_SQL = """
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(
    json_build_object(
        'type', 'Feature', 'id', q.id,
        'geometry', ST_AsGeoJSON(ST_Transform(q.geom, 4326), 6)::json,
        'properties', json_build_object('reason', q.reason, 'theme', q.theme,
            'source', q.source, 'run_id', q.run_id, 'source_row', q.source_row)
    )), '[]'::json))::text
FROM (
    SELECT * FROM quarantine
    WHERE run_id IN (SELECT DISTINCT ON (source) id FROM ingest_run ORDER BY source, id DESC)
      AND geom IS NOT NULL AND NOT ST_IsEmpty(geom) AND ST_SRID(geom) <> 0
      AND greatest(abs(ST_XMin(geom)), abs(ST_XMax(geom)),
                   abs(ST_YMin(geom)), abs(ST_YMax(geom))) < 1e7
    ORDER BY id DESC LIMIT %s
) AS q
"""


def _exists(cur: Cursor, table: str) -> bool:
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
    return bool(cur.fetchone()[0])


def _feature_count(cur: Cursor, theme: ThemeSpec) -> int:
    cur.execute(
        "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", (theme.table,)
    )
    row = cur.fetchone()
    if row is None:
        return 0
    if row[0] > EXACT_COUNT_LIMIT:
        return int(row[0])
    cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(theme.table)))
    return int(cur.fetchone()[0])


def theme_publishers(region: Region, theme_id: str) -> tuple[str, ...]:
    """The names of the publishers with a source for the theme, each once, in config order."""
    ids = dict.fromkeys(s.publisher for s in region.sources.values() if s.theme == theme_id)
    return tuple(region.publisher(p).name for p in ids)


def portal_info(deployment: Deployment) -> PortalInfo:
    region = deployment.region
    return PortalInfo(
        title=region.region.title,
        description=region.region.description,
        base_url=deployment.settings.base_url,
        publishers=tuple(PublisherInfo(p.name, str(p.kind)) for p in region.publishers),
    )


def _run_stats(cur: Cursor) -> tuple[dict[str, tuple], dict[str, list[datetime]]]:
    if not _exists(cur, "ingest_run"):
        return {}, {}
    cur.execute(LATEST_RUNS_SQL)
    latest = {theme: rest for theme, *rest in cur.fetchall()}
    cur.execute(HISTORY_SQL)
    history: dict[str, list[datetime]] = {}
    for theme, at in cur.fetchall():
        history.setdefault(theme, []).append(at)
    return latest, history


def theme_cards(deployment: Deployment) -> list[ThemeCard]:
    """A card per protocol theme, in the protocols' order, with what the database says now."""
    with transaction(deployment.database_url) as cur:
        latest, history = _run_stats(cur)
        counts = {t.id: _feature_count(cur, t) for t in deployment.protocols.themes.values()}
    cards = []
    for theme in deployment.protocols.themes.values():
        loaded, quarantined, finished = latest.get(theme.id, (0, 0, None))
        cards.append(
            ThemeCard(
                id=theme.id,
                title=theme.title,
                description=theme.description,
                publishers=theme_publishers(deployment.region, theme.id),
                licence=theme.licence,
                update_frequency=theme.update_frequency,
                last_updated=finished,
                feature_count=counts[theme.id],
                loaded=int(loaded or 0),
                quarantined=int(quarantined or 0),
                history=tuple(history.get(theme.id, [])[-HISTORY_STEPS:]),
                sensitive=theme.access.sensitive,
            )
        )
    return cards


def _report_links(reports_dir: Path, source: str, run_id: int) -> tuple[tuple[str, str], ...]:
    names = (f"{source}-{run_id}.{fmt}" for fmt in ("html", "json"))
    return tuple(
        (name.rsplit(".", 1)[1], f"/quality/reports/{name}")
        for name in names
        if (reports_dir / name).is_file()
    )


def recent_runs(deployment: Deployment, reports_dir: Path) -> list[RunRow]:
    with transaction(deployment.database_url) as cur:
        if not _exists(cur, "ingest_run"):
            return []
        cur.execute(RUNS_SQL, (RECENT_RUNS,))
        rows = cur.fetchall()
    return [
        RunRow(*row, reports=_report_links(reports_dir, row[1], row[0]))  # type: ignore[misc]
        for row in rows
    ]


def quarantine_geojson(database_url: str) -> str:
    with transaction(database_url) as cur:
        if not _exists(cur, "quarantine"):
            return '{"type": "FeatureCollection", "features": []}'
        cur.execute(QUARANTINE_SQL, (QUARANTINE_LIMIT,))
        return cur.fetchone()[0]


def portal_routes(deployment: Deployment, has_boundary_checks: bool) -> list[Route]:
    """`/`, `/themes/{id}`, and for partners `/quality`, its quarantine GeoJSON and the run
    reports: they show every theme's exact geometry and rejected values, sensitive ones too."""
    protocols = deployment.protocols
    reports_dir = Path(deployment.settings.state_dir) / "reports"

    def landing(request: Request) -> Response:
        return HTMLResponse(render_landing(portal_info(deployment), theme_cards(deployment)))

    def theme_page(request: Request) -> Response:
        theme = protocols.themes.get(request.path_params["theme"])
        if theme is None:
            known = ", ".join(protocols.themes)
            return HTMLResponse(f"No such theme. The themes are: {known}.", status_code=404)
        card = next(c for c in theme_cards(deployment) if c.id == theme.id)
        return HTMLResponse(render_theme_page(portal_info(deployment), card, theme, protocols))

    def quality(request: Request) -> Response:
        cards, runs = theme_cards(deployment), recent_runs(deployment, reports_dir)
        who = request.state.reader.principal
        signed_in = f"{who.publisher} (token {who.token_id})"
        page = render_quality_page(
            portal_info(deployment), cards, runs, has_boundary_checks, signed_in
        )
        return HTMLResponse(page)

    def quarantine(request: Request) -> Response:
        body = quarantine_geojson(deployment.database_url)
        return Response(body, media_type="application/geo+json")

    def report(request: Request) -> Response:
        name = request.path_params["name"]
        path = reports_dir / name
        if not REPORT_NAME.match(name) or not path.is_file():
            return JSONResponse({"detail": f"no report named {name}"}, status_code=404)
        return FileResponse(path)

    handlers: list[tuple[str, Callable[[Request], Any]]] = [
        ("/", landing),
        ("/themes/{theme}", theme_page),
        ("/quality", partners_only(quality, page=True)),
        (QUARANTINE_PATH, partners_only(quarantine, page=False)),
        ("/quality/reports/{name}", partners_only(report, page=False)),
    ]
    return [Route(path, handler) for path, handler in handlers]

"""One running region: settings, protocols, region config and database, resolved once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ingest.db import resolve_database_url, transaction
from ingest.errors import ConfigError
from ingest.ostn15 import disagreement_m, use_ostn15
from ingest.region import Region, load_region
from protocols import ProtocolError, Protocols, load_protocols
from server.settings import Settings

log = logging.getLogger("regiongis")
OSTN15_TOLERANCE_M = 0.05


@dataclass(frozen=True)
class Deployment:
    """Everything one running region needs, resolved once by the CLI or a test."""

    settings: Settings
    protocols: Protocols
    region: Region
    database_url: str


def load_parts(settings: Settings, data_dir: Path | None = None) -> tuple[Protocols, Region]:
    """Protocols and region config, refused whole if they disagree; and PROJ made ready to
    transform with OSTN15 before anything transforms."""
    use_ostn15()
    try:
        protocols = load_protocols()
    except ProtocolError as exc:
        raise ConfigError(str(exc)) from exc
    region = load_region(settings.config_dir, data_dir or settings.data_dir)
    if problems := region.check_against(protocols):
        raise ConfigError("the region config disagrees with the protocols: " + "; ".join(problems))
    return protocols, region


def load_deployment(settings: Settings, data_dir: Path | None = None) -> Deployment:
    protocols, region = load_parts(settings, data_dir)
    url = resolve_database_url(settings.database_url, settings.state_dir)
    return Deployment(settings, protocols, region, url)


def check_transformations(deployment: Deployment) -> None:
    """Say so, when serving starts, if the database moves GPS coordinates onto the National Grid
    without OSTN15: features it serves in WGS84 then sit ~2 m from where ingest put them.
    (Not on every command: the database's first transformation costs it ~60 ms.)"""
    with transaction(deployment.database_url) as cur:
        cur.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgis')")
        if not cur.fetchone()[0]:
            return  # a new database: ingest makes PostGIS ready, and the next start checks
        off = disagreement_m(cur)
    if off > OSTN15_TOLERANCE_M:
        log.warning(
            "the database's PROJ has no OSTN15 grid: its WGS84 <-> EPSG:27700 transformations "
            "land %.1f m from ingest's. Copy %s into a folder on its PROJ_DATA path and "
            "restart it (the embedded cluster: regiongis db stop).",
            off,
            use_ostn15(),
        )

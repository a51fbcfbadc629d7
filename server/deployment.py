"""One running region: settings, protocols, region config and database, resolved once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest.db import resolve_database_url
from ingest.errors import ConfigError
from ingest.region import Region, load_region
from protocols import ProtocolError, Protocols, load_protocols
from server.settings import Settings


@dataclass(frozen=True)
class Deployment:
    """Everything one running region needs, resolved once by the CLI or a test."""

    settings: Settings
    protocols: Protocols
    region: Region
    database_url: str


def load_parts(settings: Settings, data_dir: Path | None = None) -> tuple[Protocols, Region]:
    """Protocols and region config, refused whole if they disagree."""
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

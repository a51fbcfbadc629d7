"""Deployment settings: config/server.yaml for the region's defaults, RGIS_* environment overrides.

DATABASE_URL (unprefixed, the convention every PostgreSQL tool follows) wins over everything; with
none, regiongis starts its embedded cluster under the state folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_DIR = PROJECT_ROOT / "config"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RGIS_", extra="ignore")

    config_dir: Path = DEFAULT_CONFIG_DIR
    state_dir: Path = Path(".regiongis")
    data_dir: Path | None = None
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "RGIS_DATABASE_URL")
    )
    host: str = "127.0.0.1"
    port: int = 5000
    public_url: str | None = None
    max_items: int = 10000
    default_items: int = 100
    # The public map's base map: a Leaflet URL template; empty for none (offline, intranets).
    basemap_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    basemap_attribution: str = "© OpenStreetMap contributors"
    upload_dir: Path | None = None
    upload_max_bytes: int = 256 * 1024**2
    upload_max_expanded_bytes: int = 2 * 1024**3
    upload_max_ratio: int = 200
    upload_rate_limit: int = 30
    upload_rate_window: int = 3600
    job_lease_seconds: int = 60
    job_max_attempts: int = 3

    @property
    def base_url(self) -> str:
        """Where clients reach us; links in every OGC response are built from it."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def uploads_folder(self) -> Path:
        """Where uploads wait for a worker; shared storage when workers run on other machines."""
        return self.upload_dir or self.state_dir / "uploads"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_dir = Path(os.environ.get("RGIS_CONFIG_DIR", DEFAULT_CONFIG_DIR))
        yaml_source = YamlConfigSettingsSource(settings_cls, yaml_file=config_dir / "server.yaml")
        return init_settings, env_settings, yaml_source

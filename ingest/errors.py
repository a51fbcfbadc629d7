"""The few ways regiongis refuses work, each carrying a sentence a person can act on."""


class RegionGISError(Exception):
    """Base for every error whose message is meant for the person running regiongis."""


class DatabaseUnavailable(RegionGISError):
    """PostgreSQL/PostGIS cannot be found, started or reached."""


class UnreadableInput(RegionGISError):
    """A publisher's file cannot be read at all; nothing was written."""


class ConfigError(RegionGISError):
    """The region config or a protocol disagrees with itself."""

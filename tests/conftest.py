"""Shared fixtures: a real PostGIS database, the demo region's files, a live server.

There is no mock of PostGIS anywhere: without DATABASE_URL the tests start the same embedded
cluster `regiongis` uses, and create a throwaway database in it. A missing PostgreSQL fails the
run with the install command; nothing is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from ingest.db import resolve_database_url, scratch_database, transaction
from ingest.ostn15 import use_ostn15
from ingest.pgcluster import free_port
from ingest.pipeline import RunResult, ingest_region
from ingest.region import Region, load_region
from protocols import Protocols, load_protocols
from server.access import Role
from server.access.tokens import create_token
from server.demo_data import write_demo_files
from server.deployment import Deployment
from server.inprocess import serving
from server.settings import DEFAULT_CONFIG_DIR, PROJECT_ROOT, Settings

ARTEFACTS = PROJECT_ROOT / "tests" / "artefacts"
# The upload fixtures (deployment, server, client, worker), so test modules need not import them.
pytest_plugins = ["uploading"]


def pytest_sessionstart(session: pytest.Session) -> None:
    """PROJ transforms with OSTN15 in the tests as in `regiongis` (see load_parts)."""
    use_ostn15()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh database with PostGIS on the configured server or the embedded cluster."""
    base = resolve_database_url(Settings().database_url, PROJECT_ROOT / ".regiongis")
    with scratch_database(base, "regiongis_test") as url:
        yield url


@pytest.fixture(scope="session")
def protocols() -> Protocols:
    return load_protocols()


@pytest.fixture(scope="session")
def demo_counts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    folder = tmp_path_factory.mktemp("demo-data")
    return folder, write_demo_files(folder)


@pytest.fixture(scope="session")
def demo_region(demo_counts: tuple[Path, dict[str, int]]) -> Region:
    return load_region(DEFAULT_CONFIG_DIR, demo_counts[0])


@pytest.fixture(scope="session")
def demo_loaded(database_url: str, demo_region: Region, protocols: Protocols) -> list[RunResult]:
    return ingest_region(database_url, demo_region, protocols)


@pytest.fixture(scope="session")
def live_server(
    database_url: str,
    demo_region: Region,
    protocols: Protocols,
    demo_loaded: list[RunResult],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The real app under uvicorn on a free loopback port, serving the loaded demo region."""
    port = free_port()
    # No base map: the browser tests block every host but this one (tests/browser.py).
    settings = Settings(port=port, state_dir=tmp_path_factory.mktemp("state"), basemap_url="")
    with serving(Deployment(settings, protocols, demo_region, database_url)) as base_url:
        yield base_url


def issue_token(database_url: str, publisher: str, role: Role) -> str:
    """A real token, made the way `regiongis tokens create` makes one."""
    with transaction(database_url) as cur:
        return create_token(cur, publisher, role, None, note="test").bearer


@pytest.fixture(scope="session")
def partner_token(live_server: str, database_url: str) -> str:
    """A partner's token (a water company's GIS team): reads sensitive themes exactly."""
    return issue_token(database_url, "kestrel-water", Role.PARTNER)


@pytest.fixture(scope="session")
def partner(partner_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {partner_token}"}


@pytest.fixture()
def db(database_url: str) -> Iterator[psycopg2.extensions.cursor]:
    conn = psycopg2.connect(database_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        conn.close()

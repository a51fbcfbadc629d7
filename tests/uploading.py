"""Helpers for the upload tests: a region with test publishers, a served app, a worker, tokens.

The test region is the configured one plus two fictional publishers (spec-north, spec-south) whose
sources nothing else in the suite reads, so uploads never change the demo data other tests count.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest
import yaml
from psycopg2 import sql

from ingest.db import transaction
from ingest.pgcluster import free_port
from server.access import Access, Role
from server.access.tokens import create_token
from server.commands.worker import upload_worker
from server.deployment import Deployment, load_parts
from server.inprocess import serving
from server.settings import DEFAULT_CONFIG_DIR, Settings

HOSTILE = '<img src=x onerror="window.__pwned=1">'
NOTTINGHAM = [-1.1505, 52.9536]
FIELDS = {
    "reference": "ref",
    "works_type": {"from": "kind", "values": {"Resurface": "resurfacing"}},
    "status": {"from": "state", "values": {"Live": "in-progress", "Plan": "planned"}},
    "start_date": {"from": "starts", "format": "%d/%m/%Y"},
    "promoter": {"value": "Spec Council (fictional)"},
}
SPEC_SOURCES = {
    "spec-north-roadworks": {"publisher": "spec-north", "title": f"{HOSTILE} North roadworks"},
    "spec-north-csv": {"publisher": "spec-north", "csv": {"x": "easting", "y": "northing"}},
    "spec-south-roadworks": {"publisher": "spec-south", "title": "South roadworks"},
}
SPEC_SOURCE_IDS = list(SPEC_SOURCES)
# Small limits so the tests can pass them; a short lease so a killed worker's job comes back soon.
LIMITS = {
    "upload_max_bytes": 2_000_000,
    "upload_max_expanded_bytes": 8_000_000,
    "upload_max_ratio": 50,
    "upload_rate_limit": 6,
    "job_lease_seconds": 2,
}


def spec_config(folder: Path) -> Path:
    """A copy of config/ with the spec publishers and their sources added."""
    config = folder / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, config)
    region = yaml.safe_load((config / "region.yaml").read_text())
    region["publishers"] += [
        {"id": "spec-north", "name": "Spec North Council (fictional)", "kind": "council"},
        {"id": "spec-south", "name": "Spec South Water (fictional)", "kind": "utility"},
    ]
    (config / "region.yaml").write_text(yaml.safe_dump(region))
    for source_id, extra in SPEC_SOURCES.items():
        doc = {"id": source_id, "theme": "roadworks", "file": f"{source_id}.geojson"}
        doc |= {"fields": FIELDS, "crs": "EPSG:27700" if "csv" in extra else None} | extra
        doc = {k: v for k, v in doc.items() if v is not None}
        (config / "sources" / f"{source_id}.yaml").write_text(yaml.safe_dump(doc))
    return config


def spec_deployment(database_url: str, folder: Path, **settings: Any) -> Deployment:
    config = spec_config(folder)
    state = folder / "state"
    values = {"config_dir": config, "state_dir": state, "basemap_url": ""} | settings
    values["port"] = values.get("port") or free_port()
    resolved = Settings(**values)
    protocols, region = load_parts(resolved, folder / "data")
    return Deployment(resolved, protocols, region, database_url)


@contextmanager
def running_worker(deployment: Deployment) -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(target=upload_worker(deployment).run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def token(
    deployment: Deployment,
    publisher: str = "spec-north",
    role: Role = Role.UPLOADER,
    expires: timedelta | None = timedelta(days=1),
) -> tuple[str, str]:
    """A fresh token: (token id, bearer)."""
    Access.open(deployment.database_url, deployment.region)
    with transaction(deployment.database_url) as cur:
        issued = create_token(cur, publisher, role, expires, note="test")
    return issued.token_id, issued.bearer


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def feature(properties: dict, coordinates: list[float] | None = NOTTINGHAM) -> dict:
    geometry = None if coordinates is None else {"type": "Point", "coordinates": coordinates}
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def good(n: int, prefix: str = "SPEC") -> list[dict]:
    return [
        feature(
            {"ref": f"{prefix}-{i}", "kind": "Resurface", "state": "Live", "starts": "03/11/2026"}
        )
        for i in range(n)
    ]


def geojson(features: list[dict]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def upload(
    client: httpx.Client,
    secret: str | None,
    name: str,
    content: bytes,
    source: str = "spec-north-roadworks",
    **fields: str,
) -> httpx.Response:
    headers = bearer(secret) if secret else {}
    return client.post(
        "/api/uploads",
        headers=headers,
        data={"source": source, **fields},
        files={"file": (name, content)},
    )


def wait_for_job(client: httpx.Client, secret: str, url: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(url, headers=bearer(secret)).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {url} did not finish within {timeout} s: {job}")


def live_rows(database_url: str, source: str) -> list[tuple]:
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT reference, status FROM roadworks WHERE source = %s ORDER BY 1", (source,)
            )
            return cur.fetchall()
    finally:
        conn.close()


def audit_rows(database_url: str, token_id: str) -> list[tuple[str, str, dict]]:
    with transaction(database_url) as cur:
        cur.execute(
            "SELECT action, target, detail FROM audit_log WHERE token_id = %s ORDER BY id",
            (token_id,),
        )
        return cur.fetchall()


def forget_spec_data(database_url: str) -> None:
    """Delete the spec sources' rows, and refresh the planner's row counts, which the feature
    API's numberMatched reads for large results: other tests count the demo through it."""
    with transaction(database_url) as cur:
        for table in ("roadworks", "roadworks_history"):
            name = sql.Identifier(table)
            cur.execute(
                sql.SQL("DELETE FROM {} WHERE source = ANY(%s)").format(name), (SPEC_SOURCE_IDS,)
            )
            cur.execute(sql.SQL("ANALYZE {}").format(name))


# Fixtures for every test module (tests/conftest.py loads this module as a plugin), module scope:
# one server per module. A module that needs the upload worker running says
# `pytestmark = pytest.mark.usefixtures("worker")`. They are named with `name=` so that modules
# still importing them do not shadow the test functions' parameters.


@pytest.fixture(scope="module", name="deployment")
def deployment_fixture(
    database_url: str, demo_loaded: object, tmp_path_factory: pytest.TempPathFactory
) -> Deployment:
    return spec_deployment(database_url, tmp_path_factory.mktemp("uploads"), **LIMITS)


@pytest.fixture(scope="module", name="server")
def server_fixture(deployment: Deployment) -> Iterator[str]:
    with serving(deployment) as url:
        yield url
    forget_spec_data(deployment.database_url)


@pytest.fixture(name="client")
def client_fixture(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as c:
        yield c


@pytest.fixture(scope="module", name="worker")
def worker_fixture(deployment: Deployment, server: str) -> Iterator[None]:
    """The upload worker, running in this process for the module's tests."""
    with running_worker(deployment):
        yield

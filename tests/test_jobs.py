"""The job queue: workers anywhere, each job run by one of them, nothing lost when one dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import geopandas as gpd
import httpx
import numpy as np
import pytest
from uploading import (  # noqa: F401
    LIMITS,
    bearer,
    client_fixture,
    geojson,
    good,
    live_rows,
    running_worker,
    server_fixture,
    spec_deployment,
    token,
    upload,
    wait_for_job,
)

from ingest.db import transaction
from server.commands.worker import upload_worker
from server.deployment import Deployment
from server.settings import PROJECT_ROOT

BIG = 200_000  # features: seconds of ingest, so it is still running when the worker dies


@pytest.fixture(scope="module", name="deployment")
def deployment_fixture(
    database_url: str, demo_loaded: object, tmp_path_factory: pytest.TempPathFactory
) -> Deployment:
    limits = LIMITS | {"upload_max_bytes": 256 * 1024**2, "upload_rate_limit": 100}
    return spec_deployment(database_url, tmp_path_factory.mktemp("jobs"), **limits)


@pytest.fixture(scope="module")
def big_gpkg(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    rng = np.random.default_rng(1)
    frame = gpd.GeoDataFrame(
        {
            "ref": [f"BIG-{i}" for i in range(BIG)],
            "kind": "Resurface",
            "state": "Live",
            "starts": "03/11/2026",
        },
        geometry=gpd.points_from_xy(rng.uniform(440e3, 500e3, BIG), rng.uniform(300e3, 370e3, BIG)),
        crs=27700,
    )
    path = tmp_path_factory.mktemp("big") / "big.gpkg"
    frame.to_file(path, driver="GPKG")
    return path.read_bytes()


@contextmanager
def worker_process(deployment: Deployment) -> Iterator[subprocess.Popen]:
    """`regiongis worker` as its own process, as it runs in production."""
    settings = deployment.settings
    env = os.environ | {
        "DATABASE_URL": deployment.database_url,
        "RGIS_CONFIG_DIR": str(settings.config_dir),
        "RGIS_STATE_DIR": str(settings.state_dir),
        "RGIS_JOB_LEASE_SECONDS": str(settings.job_lease_seconds),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "worker"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


def job_state(client: httpx.Client, secret: str, url: str) -> dict:
    return client.get(url, headers=bearer(secret)).json()


def wait_until(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_a_worker_killed_mid_ingest_loses_nothing_and_another_finishes_the_job(
    deployment: Deployment, client: httpx.Client, big_gpkg: bytes
) -> None:
    source = "spec-south-roadworks"
    _, south = token(deployment, "spec-south")
    with worker_process(deployment) as first:
        url = upload(client, south, "small.geojson", geojson(good(3, "BEFORE")), source).json()
        wait_for_job(client, south, url["url"])
        before = live_rows(deployment.database_url, source)
        url = upload(client, south, "big.gpkg", big_gpkg, source).json()["url"]
        wait_until(lambda: job_state(client, south, url)["phase"].startswith("loading"))
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert before == [(f"BEFORE-{i}", "in-progress") for i in range(3)]
    assert job_state(client, south, url)["status"] == "running"
    assert live_rows(deployment.database_url, source) == before
    with worker_process(deployment):
        job = wait_for_job(client, south, url, timeout=300)
    assert job["status"] == "succeeded" and job["attempts"] == 2
    assert len(live_rows(deployment.database_url, source)) == BIG


def test_a_job_whose_workers_keep_dying_is_failed_with_the_reason(
    deployment: Deployment, client: httpx.Client
) -> None:
    _, secret = token(deployment)
    url = upload(client, secret, "w.geojson", geojson(good(1, "DOOMED"))).json()["url"]
    job_id = int(url.rsplit("/", 1)[1])
    with transaction(deployment.database_url) as cur:  # as if three workers had died on it
        cur.execute(
            "UPDATE upload_job SET status = 'running', attempts = %s, worker = 'gone:1', "
            "lease_until = now() - interval '1 s' WHERE id = %s",
            (deployment.settings.job_max_attempts, job_id),
        )
    upload_worker(deployment).run_one()
    job = job_state(client, secret, url)
    assert job["status"] == "failed" and "stopped 3 times" in job["message"]


def test_two_workers_never_run_the_same_job(deployment: Deployment, client: httpx.Client) -> None:
    secrets = [token(deployment)[1] for _ in range(2)]
    urls = [
        (s, upload(client, s, "w.geojson", geojson(good(2, "TWICE")), dry_run="true").json()["url"])
        for s in secrets
        for _ in range(4)
    ]
    with running_worker(deployment), running_worker(deployment):
        jobs = [wait_for_job(client, s, u) for s, u in urls]
    assert all(j["status"] == "succeeded" and j["attempts"] == 1 for j in jobs)
    with transaction(deployment.database_url) as cur:
        cur.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'job-succeeded' "
            "AND (detail->>'job')::bigint = ANY(%s)",
            ([j["id"] for j in jobs],),
        )
        assert cur.fetchone()[0] == len(jobs)


def test_uploads_for_one_source_go_live_in_the_order_they_arrived(
    deployment: Deployment, client: httpx.Client, big_gpkg: bytes
) -> None:
    _, secret = token(deployment)
    first = upload(client, secret, "big.gpkg", big_gpkg).json()["url"]
    second = upload(client, secret, "w.geojson", geojson(good(2, "LATEST"))).json()["url"]
    with running_worker(deployment), running_worker(deployment):
        wait_for_job(client, secret, first, timeout=300)
        wait_for_job(client, secret, second)
    rows = live_rows(deployment.database_url, "spec-north-roadworks")
    assert [r[0] for r in rows] == ["LATEST-0", "LATEST-1"]


def test_a_worker_stops_after_the_job_in_hand_when_asked(deployment: Deployment) -> None:
    stop = threading.Event()
    worker = upload_worker(deployment)
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    stop.set()
    thread.join(timeout=15)
    assert not thread.is_alive()

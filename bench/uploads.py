"""Uploads: how long a 10,000-feature GeoPackage takes from `POST /api/uploads` to live (upload,
safety checks, queue, `regiongis worker`, ingest, report) against `ogr2ogr -f PostgreSQL -t_srs
EPSG:27700` loading the same file directly; and how many uploads per minute one worker and two
workers sustain when eight publishers upload at once, against ogr2ogr loading the eight in turn.

The server runs in this process; workers are `regiongis worker` subprocesses, as in production.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import httpx
import numpy as np
import yaml
from psycopg2 import sql

from bench.ingest import FIELDS, time_ogr2ogr
from ingest.db import resolve_database_url, scratch_database, transaction
from ingest.load import ensure_schema
from ingest.pgcluster import free_port
from protocols import load_protocols
from server.access import Access, Role
from server.access.tokens import create_token
from server.deployment import Deployment, load_parts
from server.inprocess import serving
from server.settings import DEFAULT_CONFIG_DIR, PROJECT_ROOT, Settings

FEATURES = 10_000
CONCURRENT = 8
ROUNDS = 3
PUBLISHER = "bench-uploads"
SOURCES = [f"bench-upload-{i}" for i in range(CONCURRENT)]
LAYER = "works"


def _config(folder: Path) -> Path:
    """config/ plus a fictional bench publisher with one source per concurrent upload."""
    config = folder / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, config)
    region = yaml.safe_load((config / "region.yaml").read_text())
    region["publishers"].append(
        {"id": PUBLISHER, "name": "Bench Uploads Council (fictional)", "kind": "council"}
    )
    (config / "region.yaml").write_text(yaml.safe_dump(region))
    for source in SOURCES:
        doc = {"id": source, "publisher": PUBLISHER, "theme": "roadworks", "file": "bench.gpkg"}
        (config / "sources" / f"{source}.yaml").write_text(yaml.safe_dump(doc | {"fields": FIELDS}))
    return config


def _write(path: Path) -> None:
    rng = np.random.default_rng(11)
    frame = gpd.GeoDataFrame(
        {
            "ref": [f"UPLOAD-{i:06d}" for i in range(FEATURES)],
            "kind": rng.choice(["RESURF", "REPAIR"], FEATURES),
            "state": rng.choice(["PLN", "LIVE"], FEATURES),
            "starts": "03/11/2026",
        },
        geometry=gpd.points_from_xy(
            rng.uniform(-1.4, -0.85, FEATURES), rng.uniform(52.75, 53.05, FEATURES)
        ),
        crs=4326,
    )
    frame.to_file(path, layer=LAYER, driver="GPKG")


@contextmanager
def _workers(deployment: Deployment, n: int) -> Iterator[None]:
    env = os.environ | {
        "DATABASE_URL": deployment.database_url,
        "RGIS_CONFIG_DIR": str(deployment.settings.config_dir),
        "RGIS_STATE_DIR": str(deployment.settings.state_dir),
    }
    command = [sys.executable, "-m", "server.cli", "worker"]
    processes = [
        subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )  # fmt: skip
        for _ in range(n)
    ]
    try:
        yield
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            p.wait(timeout=120)


def _upload_to_live(
    client: httpx.Client, secret: str, path: Path, source: str, dry_run: bool = False
) -> float:
    """Seconds from the first byte sent to the job reporting the data live."""
    headers = {"Authorization": f"Bearer {secret}"}
    fields = {"source": source} | ({"dry_run": "true"} if dry_run else {})
    started = time.perf_counter()
    with path.open("rb") as f:
        response = client.post("/api/uploads", headers=headers, data=fields, files={"file": f})
    response.raise_for_status()
    while (job := client.get(response.json()["url"], headers=headers).json())["status"] in (
        "queued",
        "running",
    ):
        time.sleep(0.05)
    assert job["status"] == "succeeded" and job["summary"]["loaded"] == FEATURES, job
    return time.perf_counter() - started


def _at_once(base: str, secret: str, path: Path, dry_run: bool = False) -> float:
    """Seconds until every bench source, uploaded at the same moment, is live."""
    started = time.perf_counter()

    def one(source: str) -> float:
        with httpx.Client(base_url=base, timeout=900) as client:
            return _upload_to_live(client, secret, path, source, dry_run)

    with ThreadPoolExecutor(CONCURRENT) as pool:
        list(pool.map(one, SOURCES))
    return time.perf_counter() - started


def _forget_rows(url: str) -> None:
    """Every measured upload is a first load, as ogr2ogr -overwrite's is."""
    with transaction(url) as cur:
        for table in ("roadworks", "roadworks_history"):
            statement = sql.SQL("DELETE FROM {} WHERE source = ANY(%s)")
            cur.execute(statement.format(sql.Identifier(table)), (SOURCES,))


def run(args: argparse.Namespace) -> None:
    """In a database of the benchmark's own, with the theme tables made as a deployment has them
    (every measured upload is then a first load, as ogr2ogr's into a new table is)."""
    base = resolve_database_url(Settings().database_url, Settings().state_dir)
    with scratch_database(base, "regiongis_bench_uploads") as url:
        with transaction(url) as cur:
            ensure_schema(cur, list(load_protocols().themes.values()))
        _measure(url)


def _uploads(deployment: Deployment, secret: str, path: Path) -> dict[str, float]:
    """Seconds: upload to live (median of ROUNDS), the same file again, and eight at once with
    one worker and with two."""
    with serving(deployment) as base, httpx.Client(base_url=base, timeout=600) as client:
        with _workers(deployment, 1):
            _upload_to_live(client, secret, path, SOURCES[0], dry_run=True)  # warm up
            latency = []
            for _ in range(ROUNDS):
                _forget_rows(deployment.database_url)
                latency.append(_upload_to_live(client, secret, path, SOURCES[0]))
            again = _upload_to_live(client, secret, path, SOURCES[0])
            _forget_rows(deployment.database_url)
            one_worker = _at_once(base, secret, path)
        with _workers(deployment, 2):
            _at_once(base, secret, path, dry_run=True)  # both workers warm
            _forget_rows(deployment.database_url)
            two_workers = _at_once(base, secret, path)
    return {"live": statistics.median(latency), "again": again, "one": one_worker,
            "two": two_workers}  # fmt: skip


def _measure(url: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = Settings(
            config_dir=_config(folder),
            state_dir=folder / "state",
            port=free_port(),
            basemap_url="",
            upload_rate_limit=1000,
        )
        protocols, region = load_parts(settings, folder)
        deployment = Deployment(settings, protocols, region, url)
        path = folder / "bench.gpkg"
        _write(path)
        Access.open(url, region)
        with transaction(url) as cur:
            secret = create_token(cur, PUBLISHER, Role.UPLOADER, None, "bench").bearer
        ours = _uploads(deployment, secret, path)
        peer = statistics.median(time_ogr2ogr(path, LAYER, url) for _ in range(ROUNDS))
    print(f"RESULT upload_to_live_10k {ours['live']:.2f} s")
    print(f"RESULT upload_to_live_10k_unchanged_again {ours['again']:.2f} s")
    print(f"RESULT ogr2ogr_load_10k {peer:.2f} s")
    print(f"RESULT upload_jobs_1_worker {CONCURRENT / ours['one'] * 60:.1f} jobs/min")
    print(f"RESULT upload_jobs_2_workers {CONCURRENT / ours['two'] * 60:.1f} jobs/min")
    print(f"RESULT ogr2ogr_loads_in_turn {60 / peer:.1f} jobs/min")
    print(f"RATIO upload_to_live_time {ours['live'] / peer:.2f}")
    throughput = CONCURRENT * peer / ours["two"]
    print(f"RATIO upload_jobs_2_workers_vs_ogr2ogr_throughput {throughput:.2f}")

"""Ingest throughput: `regiongis ingest` (full harmonisation, validation, reprojection) against
`ogr2ogr -f PostgreSQL -t_srs EPSG:27700` (COPY mode) of the same GeoPackage into the same database.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ingest.db import resolve_database_url, transaction, url_parts
from ingest.pipeline import ingest_file
from ingest.region import Source, load_region
from protocols import load_protocols
from server.settings import Settings

SOURCE = Source.model_validate(
    {
        "id": "bench-roadworks",
        "publisher": "trentvale",
        "theme": "roadworks",
        "file": "bench.gpkg",
        "fields": {
            "reference": "ref",
            "works_type": {
                "from": "kind",
                "values": {"RESURF": "resurfacing", "REPAIR": "utility-repair"},
            },
            "status": {"from": "state", "values": {"PLN": "planned", "LIVE": "in-progress"}},
            "start_date": {"from": "starts", "format": "%d/%m/%Y"},
            "promoter": {"value": "Bench Borough Council (fictional)"},
        },
    }
)


def write_points(path: Path, n: int) -> None:
    """n points over the East Midlands in EPSG:4326, attributes in the publisher's own codes."""
    rng = np.random.default_rng(7)
    frame = gpd.GeoDataFrame(
        {
            "ref": [f"BENCH-{i:07d}" for i in range(n)],
            "kind": rng.choice(["RESURF", "REPAIR"], n),
            "state": rng.choice(["PLN", "LIVE"], n),
            "starts": pd.Series(pd.date_range("2026-01-01", periods=365))
            .sample(n, replace=True, random_state=7)
            .dt.strftime("%d/%m/%Y")
            .to_numpy(),
        },
        geometry=gpd.points_from_xy(rng.uniform(-1.5, -0.7, n), rng.uniform(52.7, 53.1, n)),
        crs=4326,
    )
    frame.to_file(path, layer="points", driver="GPKG")


def time_ogr2ogr(path: Path, url: str) -> float:
    db = url_parts(url)
    pg = f"PG:host={db['host']} port={db['port']} dbname={db['dbname']} user={db['user']}"
    env = {**os.environ, "PGPASSWORD": str(db["password"]), "PG_USE_COPY": "YES"}
    started = time.perf_counter()
    subprocess.run(
        [
            "ogr2ogr",
            "-f",
            "PostgreSQL",
            pg,
            str(path),
            "-t_srs",
            "EPSG:27700",
            "-nln",
            "bench_ogr2ogr",
            "-overwrite",
            "-lco",
            "SPATIAL_INDEX=GIST",
            "-gt",
            "65536",
        ],
        check=True,
        env=env,
    )
    return time.perf_counter() - started


def run(args: argparse.Namespace) -> None:
    settings = Settings()
    url = resolve_database_url(settings.database_url, settings.state_dir)
    region = load_region(settings.config_dir)
    protocols = load_protocols()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.gpkg"
        write_points(path, args.points)
        started = time.perf_counter()
        result = ingest_file(url, path, SOURCE, region, protocols)
        ours = time.perf_counter() - started
        peer = time_ogr2ogr(path, url)
    with transaction(url) as cur:
        cur.execute("DELETE FROM roadworks WHERE source = %s", (SOURCE.id,))
        cur.execute("DROP TABLE IF EXISTS bench_ogr2ogr")
    assert result.loaded == args.points, result
    print(f"RESULT ingest_points_ours {args.points / ours:.0f} features/s")
    print(f"RESULT ingest_points_ogr2ogr {args.points / peer:.0f} features/s")
    print(f"RATIO ingest_points_time {ours / peer:.2f}")

"""Ingest throughput: `regiongis ingest` (full harmonisation, validation, reprojection; each layer
a first load into an emptied theme, then reloaded unchanged, which merges with history) against
`ogr2ogr -f PostgreSQL -t_srs EPSG:27700` (COPY mode, a new table per layer) of the same GeoPackage
layers into the same database (one of the benchmark's own), each including its spatial index.
The layers: 500,000 points and 100,000 lines of roadworks (the issue's), and 100,000 polygons
(hexagonal coverage cells, onto broadband-coverage), whose rings take the general rules.

Each layer's first load is timed `--repeat` times (3), ours and the peer's in turn, and the
medians compared: this machine's speed drifts by a fifth over minutes. Each of our loads runs in a
subprocess, so its peak RSS (resource.getrusage) is its own; `--rss`
adds the 5,000,000-point file, whose peak must stay under 1 GB however big the file gets, for a
load and for a dry run (`regiongis check`) alike.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
import yaml

from bench.boundaries import bench_database
from ingest.db import resolve_database_url, transaction, url_parts
from ingest.load import ensure_schema
from ingest.ostn15 import use_ostn15
from protocols import load_protocols
from server.demo_data import write_demo_files
from server.settings import Settings

FIELDS = {
    "reference": "ref",
    "works_type": {"from": "kind", "values": {"RESURF": "resurfacing", "REPAIR": "utility-repair"}},
    "status": {"from": "state", "values": {"PLN": "planned", "LIVE": "in-progress"}},
    "start_date": {"from": "starts", "format": "%d/%m/%Y"},
    "promoter": {"value": "Larkspur Gas (fictional)"},
}
COVERAGE_FIELDS = {  # the polygons: a telecom's coverage cells, onto broadband-coverage
    "area_id": "cell",
    "speed_tier": {"from": "tier", "values": {"GIG": "gigabit", "SFBB": "sfbb", "BB": "basic"}},
    "max_download_mbps": "max_down",
    "technology": {"from": "tech", "values": {"FTTP": "fttp", "VDSL2": "fttc"}},
    "premises": "premises",
    "as_at": {"from": "as_at", "format": "%d.%m.%Y"},
}
THEMES = {  # layer: the theme it loads into, its mapping, and its publisher (utilities: their
    # area is every member's, which holds the generated features, as a real publisher's area would)
    "points": ("roadworks", FIELDS, "larkspur-gas"),
    "lines": ("roadworks", FIELDS, "larkspur-gas"),
    "polygons": ("broadband-coverage", COVERAGE_FIELDS, "brookmere-telecom"),
}
LAYERS = tuple(THEMES)
CHUNK = 500_000
RSS_POINTS = 5_000_000


def source_doc(layer: str) -> dict:
    theme, fields, publisher = THEMES[layer]
    return {
        "id": f"bench-{theme}-{layer}",
        "publisher": publisher,
        "theme": theme,
        "file": "bench.gpkg",
        "layer": layer,
        "fields": fields,
    }


def _attributes(rng: np.random.Generator, start: int, n: int, prefix: str) -> dict:
    days = pd.date_range("2026-01-01", periods=365).strftime("%d/%m/%Y").to_numpy()
    return {
        "ref": np.char.add(prefix, np.arange(start, start + n).astype("U9")),
        "kind": rng.choice(["RESURF", "REPAIR"], n),
        "state": rng.choice(["PLN", "LIVE"], n),
        "starts": days[rng.integers(0, 365, n)],
    }


def _lines(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random walks of 5-30 vertices, ~10 m a step, over the East Midlands."""
    counts = rng.integers(5, 31, n)
    owner = np.repeat(np.arange(n), counts)
    starts = np.column_stack([rng.uniform(-1.4, -0.75, n), rng.uniform(52.75, 53.05, n)])
    steps = rng.normal(0, 0.0001, (counts.sum(), 2))
    first = np.r_[0, np.cumsum(counts)[:-1]]
    steps[first] = 0
    walk = np.cumsum(steps, axis=0)
    walk -= np.repeat(walk[first], counts, axis=0)
    coords = walk + starts[owner]
    return shapely.linestrings(coords, indices=owner)


def _cells(rng: np.random.Generator, n: int) -> gpd.GeoDataFrame:
    """Hexagonal coverage cells ~150 m across over the East Midlands, with their attributes."""
    centres = np.column_stack([rng.uniform(-1.4, -0.75, n), rng.uniform(52.75, 53.05, n)])
    turn = np.linspace(0, 2 * np.pi, 7)  # six corners and the first again, to close the ring
    corners = np.stack([0.0011 * np.cos(turn), 0.00068 * np.sin(turn)], axis=-1)
    rings = (centres[:, None, :] + corners[None, :, :]).reshape(-1, 2)
    cells = shapely.polygons(shapely.linearrings(rings, indices=np.repeat(np.arange(n), 7)))
    attributes = {
        "cell": np.char.add("HX-", np.arange(n).astype("U9")),
        "tier": rng.choice(["GIG", "SFBB", "BB"], n),
        "max_down": rng.uniform(5, 1000, n).round(1),
        "tech": rng.choice(["FTTP", "VDSL2"], n),
        "premises": rng.integers(0, 400, n),
        "as_at": np.full(n, "01.10.2026"),
    }
    return gpd.GeoDataFrame(attributes, geometry=cells, crs=4326)


def write_file(path: Path, points: int, lines: int, polygons: int = 0) -> None:
    """The publisher's GeoPackage in EPSG:4326, written in chunks so the writer stays small too."""
    rng = np.random.default_rng(7)
    for start in range(0, points, CHUNK):
        n = min(CHUNK, points - start)
        xy = shapely.points(rng.uniform(-1.4, -0.75, n), rng.uniform(52.75, 53.05, n))
        frame = gpd.GeoDataFrame(_attributes(rng, start, n, "PT-"), geometry=xy, crs=4326)
        pyogrio.write_dataframe(frame, path, layer="points", append=start > 0, use_arrow=True)
    if lines:
        frame = gpd.GeoDataFrame(_attributes(rng, 0, lines, "LN-"), geometry=_lines(rng, lines))
        pyogrio.write_dataframe(frame.set_crs(4326), path, layer="lines", use_arrow=True)
    if polygons:
        pyogrio.write_dataframe(_cells(rng, polygons), path, layer="polygons", use_arrow=True)


def load_in_child(path: Path, layer: str, url: str, mode: str = "ingest") -> dict:
    """Our ingest (or dry run: mode "check") of one layer in a fresh process: seconds, result,
    peak RSS in MB."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.ingest", str(path), layer, mode],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": url},
    )
    elapsed = time.perf_counter() - started
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return {**report, "wall": elapsed}


def child(path: Path, layer: str, mode: str) -> None:
    from ingest.pipeline import check_file, ingest_file
    from ingest.region import Source, load_region

    settings = Settings()
    url = resolve_database_url(settings.database_url, settings.state_dir)
    region, protocols = load_region(settings.config_dir), load_protocols()
    source = Source.model_validate(source_doc(layer))
    started = time.perf_counter()
    if mode == "check":
        result = check_file(path, source, region, protocols).result(source)
    else:
        result = ingest_file(url, path, source, region, protocols)
    seconds = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = {"seconds": seconds, "loaded": result.loaded, "input": result.input}
    print(json.dumps({**report, "rss_mb": rss_mb, "unchanged": result.unchanged}))


def cli_deployment(folder: Path) -> dict[str, str]:
    """The environment for `regiongis ingest` itself: the demo region's config with the bench's
    sources added and the demo's boundaries, so the checks after a load run as they would."""
    config = folder / "config"
    shutil.copytree(Settings().config_dir, config)
    for layer in LAYERS:
        doc = source_doc(layer)
        (config / "sources" / f"{doc['id']}.yaml").write_text(yaml.safe_dump(doc))
    write_demo_files(folder / "data")
    return {"RGIS_CONFIG_DIR": str(config), "RGIS_DATA_DIR": str(folder / "data")}


def time_cli(path: Path, layer: str, url: str, deployment: dict[str, str]) -> float:
    """`regiongis ingest FILE --source S --json`, the whole command: Python starting, the load,
    the checks across boundaries after it, and the report."""
    reports = Path(deployment["RGIS_DATA_DIR"]).parent / "reports"
    command = [sys.executable, "-m", "server.cli", "ingest", str(path), "--json"]
    started = time.perf_counter()
    proc = subprocess.run(
        [*command, "--source", source_doc(layer)["id"], "--report", str(reports)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **deployment, "DATABASE_URL": url},
    )
    elapsed = time.perf_counter() - started
    assert json.loads(proc.stdout)["loaded"] > 0, proc.stdout
    return elapsed


def time_ogr2ogr(path: Path, layer: str, url: str) -> float:
    db = url_parts(url)
    pg = f"PG:host={db['host']} port={db['port']} dbname={db['dbname']} user={db['user']}"
    env = {**os.environ, "PGPASSWORD": str(db["password"]), "PG_USE_COPY": "YES"}
    started = time.perf_counter()
    subprocess.run(
        ["ogr2ogr", "-f", "PostgreSQL", pg, str(path), layer, "-t_srs", "EPSG:27700"]
        + ["-nln", f"bench_ogr2ogr_{layer}", "-overwrite", "-lco", "SPATIAL_INDEX=GIST"]
        + ["-gt", "65536"],
        check=True,
        env=env,
    )
    return time.perf_counter() - started


def _forget(url: str) -> None:
    """Empty theme tables, as for a partnership's first load. Emptied before each layer: ogr2ogr
    loads each into a new table of its own, so each of ours is a first load into an empty theme
    too (the lines used to follow the 500,000 points into one table, a different, slower route
    than the peer's)."""
    with transaction(url) as cur:
        ensure_schema(cur, list(load_protocols().themes.values()))
        cur.execute("TRUNCATE roadworks, roadworks_history")
        cur.execute("TRUNCATE broadband_coverage, broadband_coverage_history")


def _settle(url: str) -> None:
    """A checkpoint before each timed load, so none pays for writing out the one before it
    (the reload leaves ~150 MB of changed pages; a superuser's privilege, else skipped)."""
    with transaction(url) as cur:
        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if cur.fetchone()[0]:
            cur.execute("CHECKPOINT")


def _report(layer: str, n: int, ours: list[dict], peer: list[float], again: dict, cli: list[float]):
    assert all(o["loaded"] == n for o in ours), ours
    seconds = statistics.median([o["seconds"] for o in ours])
    print(f"RESULT ingest_{layer}_ours {n / seconds:.0f} features/s")
    print(f"RESULT ingest_{layer}_ogr2ogr {n / statistics.median(peer):.0f} features/s")
    print(f"RESULT ingest_{layer}_reload_unchanged {n / again['seconds']:.0f} features/s")
    print(f"RESULT ingest_{layer}_peak_rss {max(o['rss_mb'] for o in ours):.0f} MB")
    ratios = sorted(o["seconds"] / p for o, p in zip(ours, peer, strict=True))
    print(f"RATIO ingest_{layer}_time {seconds / statistics.median(peer):.2f}")
    print(f"RESULT ingest_{layer}_time_ratio_range {ratios[0]:.2f}-{ratios[-1]:.2f}")
    # the whole command, as a one-off `regiongis ingest` pays it: Python starting and importing
    # pandas, geopandas, pyogrio and pyproj (~0.6 s), which a worker or `regiongis demo` pays once,
    # then the checks across boundaries (of every feature on a first load; of those a run changed
    # after it, none on an unchanged reload) and the report
    first, reload = cli
    print(f"RESULT ingest_{layer}_cli {n / first:.0f} features/s")
    print(f"RATIO ingest_{layer}_cli_time {first / statistics.median(peer):.2f}")
    print(f"RESULT ingest_{layer}_cli_reload_unchanged {n / reload:.0f} features/s")


def _first_loads(path: Path, layer: str, url: str, repeat: int) -> tuple[list[dict], list[float]]:
    """Our first load and the peer's, in turn, `repeat` times: this machine's speed drifts by
    a fifth over minutes, so each pair is timed close together and the medians compared."""
    ours, peer = [], []
    for _ in range(repeat):
        _forget(url)
        _settle(url)
        ours.append(load_in_child(path, layer, url))
        _settle(url)
        peer.append(time_ogr2ogr(path, layer, url))
    return ours, peer


def run(args: argparse.Namespace) -> None:
    counts = {"points": args.points, "lines": args.lines, "polygons": args.polygons}
    use_ostn15()  # for both: our loads and ogr2ogr transform with OSTN15, not Helmert
    with tempfile.TemporaryDirectory() as tmp, bench_database() as url:
        path = Path(tmp) / "bench.gpkg"
        write_file(path, args.points, args.lines, args.polygons)
        deployment = cli_deployment(Path(tmp))
        for layer in (name for name in LAYERS if counts[name]):
            ours, peer = _first_loads(path, layer, url, args.repeat)
            _settle(url)
            again = load_in_child(path, layer, url)  # onto the last first load: unchanged
            cli = []
            for forget in (True, False):  # a first load, then an unchanged reload
                if forget:
                    _forget(url)
                _settle(url)
                cli.append(time_cli(path, layer, url, deployment))
            _report(layer, counts[layer], ours, peer, again, cli)
        if args.rss:
            _forget(url)
            run_rss(url, Path(tmp))


def run_rss(url: str, folder: Path) -> None:
    path = folder / "rss.gpkg"
    write_file(path, RSS_POINTS, 0)
    ours = load_in_child(path, "points", url)
    assert ours["loaded"] == RSS_POINTS, ours
    print(f"RESULT ingest_5m_points_ours {RSS_POINTS / ours['seconds']:.0f} features/s")
    print(f"RESULT ingest_5m_points_peak_rss {ours['rss_mb']:.0f} MB")
    dry = load_in_child(path, "points", url, mode="check")  # `regiongis check`: nothing written
    assert dry["loaded"] == RSS_POINTS, dry
    print(f"RESULT check_5m_points {RSS_POINTS / dry['seconds']:.0f} features/s")
    print(f"RESULT check_5m_points_peak_rss {dry['rss_mb']:.0f} MB")


if __name__ == "__main__":
    child(Path(sys.argv[1]), sys.argv[2], sys.argv[3])

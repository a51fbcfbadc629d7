"""Vector tiles: our /tiles route against tipg on the same 500,000 points and the same tiles.

The data, the servers and their deployment are bench/serve.py's: street-lighting points made with
SQL in a database of their own, each server as two single-process uvicorn servers sharing the
port. wrk cycles every server through the same list of tiles covering the region (a Lua script),
so neither answers one hot tile from a cache: the zoom-12 tiles (a few thousand points each, built
exactly by both), then the zoom-9 tiles (up to 180,000 points each), which we thin to one point per
8-pixel cell (server/tiles.py) and tipg cuts at its first 10,000 rows (TIPG_MAX_FEATURES_PER_TILE).
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from importlib import resources
from pathlib import Path

import httpx
import mapbox_vector_tile
from pyproj import Transformer

from bench.serve import POINTS, Measured, _ms, bench_database, launchers, running
from ingest.db import resolve_database_url, transaction
from ingest.pgcluster import free_port
from server.deployment import load_parts
from server.ogc import pygeoapi_config
from server.settings import Settings

ZOOMS = (12, 9)
WRK_SECONDS = 10
ROUNDS = 3
PATHS = {
    "ours": "/ogc/collections/{theme}/tiles/WebMercatorQuad/{z}/{y}/{x}",
    "tipg": "/collections/public.{table}/tiles/WebMercatorQuad/{z}/{x}/{y}",
}
LUA = """
paths = {%s}
i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


def tiles_covering(bbox: list[float], crs: int, z: int) -> list[tuple[int, int, int]]:
    west, south, east, north = Transformer.from_crs(crs, 4326, always_xy=True).transform_bounds(
        *bbox
    )
    n = 2**z

    def column(lon: float) -> int:
        return int((lon + 180) / 360 * n)

    def row(lat: float) -> int:
        return int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)

    return [
        (z, x, y)
        for x in range(column(west), column(east) + 1)
        for y in range(row(north), row(south) + 1)
    ]


def wrk_script(paths: list[str], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "tiles.lua"
    script.write_text(LUA % ", ".join(f'"{p}"' for p in paths))
    return script


def wrk_cycling(base: str, script: Path) -> Measured:
    done = subprocess.run(
        ["wrk", "-t2", "-c10", f"-d{WRK_SECONDS}s", "--timeout", "30s", "--latency"]
        + ["-s", str(script), base],
        capture_output=True,
        text=True,
        check=True,
    )
    out = done.stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors from {base}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    # Anchored: a thread's "+/- Stdev" column may itself end in 50% or 99%.
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    return Measured(rps, p50, p99)


def warm_up(base: str, paths: list[str]) -> None:
    """Every tile once before timing, so the server timed second does not find the first's pages
    already in PostgreSQL's cache; this also proves every tile answers."""
    with httpx.Client(base_url=base, timeout=60) as client:
        for path in paths:
            client.get(path).raise_for_status()


def features_in(url: str) -> int:
    """Features in one tile, decoded: both servers must be building the same tiles."""
    response = httpx.get(url, timeout=60)
    response.raise_for_status()
    layers = mapbox_vector_tile.decode(response.content) if response.content else {}
    return sum(len(layer["features"]) for layer in layers.values())


def prepare(
    settings: Settings,
) -> tuple[str, dict[int, dict[str, list[str]]], dict[str, tuple[list[str], dict]]]:
    """The benchmark database, each zoom's tiles over the region per server, and how to start
    each server."""
    protocols, region = load_parts(settings)
    url = bench_database(
        resolve_database_url(settings.database_url, settings.state_dir),
        protocols,
        list(region.region.bbox),
    )
    with transaction(url) as cur:  # the ingest bookkeeping our tiles read their ETag from
        cur.execute(resources.files("ingest").joinpath("schema.sql").read_text())
    theme = protocols.themes[POINTS[0]]
    paths = {}
    for zoom in ZOOMS:
        tiles = tiles_covering(list(region.region.bbox), region.region.bbox_crs, zoom)
        paths[zoom] = {
            name: [
                template.format(theme=theme.id, table=theme.table, z=z, x=x, y=y)
                for z, x, y in tiles
            ]
            for name, template in PATHS.items()
        }
    config = pygeoapi_config(protocols, region, url, "http://127.0.0.1", (10, 10000))
    return url, paths, config


def start(
    servers: ExitStack, folder: Path, url: str, config: dict, paths: dict[int, dict]
) -> dict[str, str]:
    """Every server up, its busiest tiles' feature counts shown and every tile warmed."""
    commands = launchers(url, folder, config)
    bases = {}
    for name in PATHS:
        command, env = commands[name]
        port = free_port()
        bases[name] = base = f"http://127.0.0.1:{port}"
        env = env | {"RGIS_PORT": str(port)}
        ready = f"{base}{paths[ZOOMS[0]][name][0]}"
        servers.enter_context(running(name, [*command, "--port", str(port)], env, ready))
        for zoom in ZOOMS:
            middle = paths[zoom][name][len(paths[zoom][name]) // 2]
            print(f"# {name}: {features_in(base + middle)} features in {middle}", flush=True)
            warm_up(base, paths[zoom][name])
    return bases


def report(zoom: int, rounds: dict[str, list[Measured]]) -> None:
    results = {
        name: sorted(found, key=lambda m: m.rps)[ROUNDS // 2] for name, found in rounds.items()
    }
    for name, m in results.items():
        print(f"RESULT tiles_z{zoom}_{name} {m.rps:.1f} req/s")
        print(f"RESULT tiles_z{zoom}_{name}_p50 {m.p50_ms:.2f} ms")
        print(f"RESULT tiles_z{zoom}_{name}_p99 {m.p99_ms:.2f} ms")
    ratio = results["ours"].rps / results["tipg"].rps
    print(f"RATIO tiles_z{zoom}_vs_tipg {ratio:.2f} (ours/tipg req/s, higher is better)")


def run(args: argparse.Namespace) -> None:
    """Both servers up (idle costs nothing), then, zoom by zoom, their wrk runs alternate, so a
    change in the shared machine's load falls on both; each server's median round is reported."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    url, paths, config = prepare(Settings())
    rounds = {zoom: {name: [] for name in PATHS} for zoom in ZOOMS}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as servers:
        folder = Path(tmp)
        bases = start(servers, folder, url, config, paths)
        for zoom in ZOOMS:
            scripts = {
                name: wrk_script(paths[zoom][name], folder / f"{name}-{zoom}") for name in PATHS
            }
            for _ in range(ROUNDS):
                for name in PATHS:
                    rounds[zoom][name].append(wrk_cycling(bases[name], scripts[name]))
                    print(f"# {name} z{zoom}: {rounds[zoom][name][-1].rps:.0f} tiles/s", flush=True)
    for zoom in ZOOMS:
        report(zoom, rounds[zoom])

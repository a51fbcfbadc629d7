"""Serving features: our server against stock pygeoapi (its PostgreSQL provider) and tipg.

500,000 points (street-lighting) and 100,000 lines (roadworks) are generated with SQL into tables
made by protocols.ddl, in a database of their own. Each server is deployed as a user would: two
single-process uvicorn servers sharing the port (SO_REUSEPORT, server/reuseport.py), one server
under load at a time, wrk on loopback for a fixed time per case, all in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import psycopg2
import yaml
from psycopg2 import sql
from pyproj import Transformer

from ingest.db import ensure_postgis, resolve_database_url, transaction
from ingest.pgcluster import free_port
from protocols import FieldSpec, FieldType, Protocols, ThemeSpec
from protocols.ddl import theme_table_ddl
from server.deployment import load_parts
from server.ogc import pygeoapi_config
from server.settings import PROJECT_ROOT, Settings

DATABASE = "regiongis_bench_serve"
POINTS, LINES = ("street-lighting", 500_000), ("roadworks", 100_000)
FILTER = "lamp_type = 'led' AND wattage > 50"  # a CQL2 text filter every server understands
PEERS_VENV = PROJECT_ROOT / ".regiongis" / "bench-peers"
REUSEPORT = PROJECT_ROOT / "server" / "reuseport.py"
WRK_SECONDS = 10


def _value(field: FieldSpec, protocols: Protocols) -> sql.Composable:
    """A plausible value of the field for generated row i."""
    if codelist := protocols.codelist_for(field):
        codes = sql.SQL(", ").join(sql.Literal(v.code) for v in codelist.values)
        return sql.SQL("(ARRAY[{}])[1 + i % {}]").format(codes, sql.Literal(len(codelist.values)))
    return sql.SQL(
        {
            FieldType.INTEGER: "1 + i % 100",
            FieldType.DECIMAL: "(i % 1000) / 10.0",
            FieldType.DATE: "date '2024-01-01' + i % 730",
            FieldType.DATETIME: "timestamptz '2024-01-01' + (i % 730) * interval '1 day'",
            FieldType.BOOLEAN: "i % 2 = 0",
        }.get(field.type, "'BENCH-' || i")
    )


def _point(theme: ThemeSpec, bbox: list[float]) -> sql.Composable:
    minx, miny, maxx, maxy = bbox
    return sql.SQL("ST_SetSRID(ST_MakePoint({} + random() * {}, {} + random() * {}), {})").format(
        *map(sql.Literal, (minx, maxx - minx, miny, maxy - miny, theme.storage_crs))
    )


def fill(cur, theme: ThemeSpec, protocols: Protocols, n: int, lines: bool, bbox: list[float]):
    """n features of the theme: random points in the bbox, or 100 m lines starting there."""
    names = [f.name for f in theme.fields]
    columns = sql.SQL(", ").join(map(sql.Identifier, [*names, "publisher", "source", "run_id"]))
    values = sql.SQL(", ").join(_value(f, protocols) for f in theme.fields)
    shape = "ST_MakeLine(ARRAY[p, ST_Translate(p, 40, 30), ST_Translate(p, 90, 10)])"
    cur.execute("SELECT setseed(0.42)")
    cur.execute(
        sql.SQL(
            "INSERT INTO {table} ({columns}, source_row, geom) "
            "SELECT {values}, 'bench', {source}, 0, i, {shape} "
            "FROM (SELECT i, {point} AS p FROM generate_series(1, {n}) AS i) AS g"
        ).format(
            table=sql.Identifier(theme.table),
            columns=columns,
            values=values,
            source=sql.Literal(f"bench-{theme.id}"),
            shape=sql.SQL(shape if lines else "p"),
            point=_point(theme, bbox),
            n=sql.Literal(n),
        )
    )
    cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(theme.table)))


def _rows(cur, theme: ThemeSpec) -> int:
    cur.execute("SELECT to_regclass(%s)", (theme.table,))
    if cur.fetchone()[0] is None:
        return -1
    cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(theme.table)))
    return cur.fetchone()[0]


def bench_database(base_url: str, protocols: Protocols, bbox: list[float]) -> str:
    """The benchmark's own database, generated once and reused while its counts still fit."""
    url = base_url.rsplit("/", 1)[0] + "/" + DATABASE
    admin = psycopg2.connect(base_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    admin.close()
    ensure_postgis(url)
    for (theme_id, n), lines in ((POINTS, False), (LINES, True)):
        theme = protocols.themes[theme_id]
        with transaction(url) as cur:
            if _rows(cur, theme) == n:
                continue
            cur.execute(
                sql.SQL("DROP TABLE IF EXISTS {}, {}").format(
                    sql.Identifier(theme.table), sql.Identifier(f"{theme.table}_history")
                )
            )
            cur.execute(theme_table_ddl(theme))
            started = time.perf_counter()
            fill(cur, theme, protocols, n, lines, bbox)
        print(f"generated {n} {theme.id} in {time.perf_counter() - started:.1f} s", flush=True)
    return url


@contextmanager
def running(name: str, command: list[str], env: dict[str, str], ready: str) -> Iterator[None]:
    """A server in its own process group, up until ready answers 200, stopped afterwards."""
    log = Path(tempfile.gettempdir()) / f"bench-serve-{name}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=out, stderr=out, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            with suppress(httpx.HTTPError):
                if httpx.get(ready, timeout=5).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start; see {log}:\n{log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@dataclass
class Measured:
    rps: float
    p50_ms: float
    p99_ms: float


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url: str) -> Measured:
    done = subprocess.run(
        ["wrk", "-t2", "-c10", f"-d{WRK_SECONDS}s", "--timeout", "60s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    )
    out = done.stdout
    if errors := re.search(r"Socket errors:.*", out):
        print(f"# {url}: {errors.group(0)} (those requests are not counted)", flush=True)
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw errors from {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    percentiles = [
        re.search(rf"^\s+{p}(?:\.0+)?%\s+(\S+)\s*$", out, re.MULTILINE) for p in (50, 99)
    ]
    p50, p99 = (_ms(m.group(1)) if m else float("nan") for m in percentiles)
    return Measured(rps, p50, p99)


def returned(url: str) -> int:
    """Features in the response, checked before timing it: every server must answer alike."""
    response = httpx.get(url, timeout=60, headers={"Accept": "application/geo+json"})
    response.raise_for_status()
    body = response.json()
    return len(body["features"]) if "features" in body else int(body.get("type") == "Feature")


def cases(bbox_1pc: str) -> dict[str, tuple[str, dict[str, str], str | None]]:
    """name -> (theme, query, feature id or None)."""
    return {
        "items10_points": (POINTS[0], {"limit": "10"}, None),
        "items1000_points": (POINTS[0], {"limit": "1000"}, None),
        "bbox1pc1000_points": (POINTS[0], {"limit": "1000", "bbox": bbox_1pc}, None),
        "items1000_lines": (LINES[0], {"limit": "1000"}, None),
        "single_item": (POINTS[0], {}, "12345"),
        "cql2_filter100_points": (POINTS[0], {"limit": "100", "filter": FILTER}, None),
    }


class Server:
    def __init__(self, name: str, base: str, collection: str, extra: dict[str, str]) -> None:
        self.name, self.base, self.collection, self.extra = name, base, collection, extra

    def url(self, theme: ThemeSpec, query: dict[str, str], fid: str | None) -> str:
        path = f"{self.base}/collections/{self.collection.format(t=theme)}/items"
        params = self.extra | query
        if "filter" in query and self.name == "tipg":
            params["filter-lang"] = "cql2-text"
        return f"{path}/{fid}?{urlencode(self.extra)}" if fid else f"{path}?{urlencode(params)}"


def bbox_one_percent(region_bbox: list[float], crs: int) -> str:
    """A box a tenth of the region's width and height (1% of its area) around its centre."""
    minx, miny, maxx, maxy = region_bbox
    cx, cy, dx, dy = (minx + maxx) / 2, (miny + maxy) / 2, (maxx - minx) / 20, (maxy - miny) / 20
    to_wgs84 = Transformer.from_crs(crs, 4326, always_xy=True)
    box = to_wgs84.transform_bounds(cx - dx, cy - dy, cx + dx, cy + dy)
    return ",".join(f"{v:.6f}" for v in box)


def stock_pygeoapi_config(ours: dict, url: str) -> dict:
    """Our generated configuration with each collection served by pygeoapi's own provider."""
    from ingest.db import url_parts

    config = json.loads(json.dumps(ours, default=str))
    config["resources"] = {
        k: v for k, v in config["resources"].items() if k in (POINTS[0], LINES[0])
    }
    for resource in config["resources"].values():
        resource["extents"] = {"spatial": {"bbox": [-180, -90, 180, 90]}}
        provider = resource["providers"][0]
        resource["providers"] = [
            {
                "type": "feature",
                "name": "PostgreSQL",
                "data": {**url_parts(url), "search_path": ["public"]},
                "id_field": "fid",
                "table": provider["table"],
                "geom_field": "geom",
                "storage_crs": provider["storage_crs"],
                "crs": provider["crs"],
            }
        ]
    return config


def _pygeoapi_files(config: dict, folder: Path) -> dict[str, str]:
    from pygeoapi.openapi import get_oas

    config_file, openapi_file = folder / "stock.yaml", folder / "stock-openapi.json"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    openapi_file.write_text(json.dumps(get_oas(config, fail_on_invalid_collection=False)))
    return {"PYGEOAPI_CONFIG": str(config_file), "PYGEOAPI_OPENAPI": str(openapi_file)}


def ensure_peers() -> Path:
    """tipg in a virtualenv of its own (its pins differ from pygeoapi's)."""
    python = PEERS_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
        pip = [str(PEERS_VENV / "bin" / "pip"), "install", "-q", "tipg>=1.6,<1.7", "uvicorn"]
        subprocess.run(pip, check=True)
    return python


def launchers(url: str, folder: Path, ours_config: dict) -> dict[str, tuple[list[str], dict]]:
    reuseport = ["-P", str(REUSEPORT), "--workers", "2"]
    return {
        "ours": (
            [str(PROJECT_ROOT / ".venv" / "bin" / "regiongis"), "serve", "--workers", "2"],
            {"DATABASE_URL": url, "RGIS_STATE_DIR": str(folder / "ours")},
        ),
        "pygeoapi": (
            [sys.executable, *reuseport, "pygeoapi.starlette_app:APP"],
            _pygeoapi_files(stock_pygeoapi_config(ours_config, url), folder),
        ),
        "tipg": (
            [str(ensure_peers()), *reuseport, "tipg.main:app"],
            {"DATABASE_URL": url, "TIPG_DB_SCHEMAS": '["public"]'},
        ),
    }


def run(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    settings = Settings()
    protocols, region = load_parts(settings)
    base_url = resolve_database_url(settings.database_url, settings.state_dir)
    url = bench_database(base_url, protocols, list(region.region.bbox))
    ports = {name: free_port() for name in ("ours", "pygeoapi", "tipg")}
    servers = {
        "ours": Server("ours", f"http://127.0.0.1:{ports['ours']}/ogc", "{t.id}", {"f": "json"}),
        "pygeoapi": Server(
            "pygeoapi", f"http://127.0.0.1:{ports['pygeoapi']}", "{t.id}", {"f": "json"}
        ),
        "tipg": Server(
            "tipg", f"http://127.0.0.1:{ports['tipg']}", "public.{t.table}", {"f": "geojson"}
        ),
    }
    bbox = bbox_one_percent(list(region.region.bbox), region.region.bbox_crs)
    ours_config = pygeoapi_config(protocols, region, url, "http://127.0.0.1", (10, 10000))
    results: dict[str, dict[str, Measured]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (command, env) in launchers(url, Path(tmp), ours_config).items():
            server = servers[name]
            env = env | {"RGIS_PORT": str(ports[name])}
            command = [*command, "--port", str(ports[name])]
            with running(name, command, env, f"{server.base}/collections?f=json"):
                print(f"# {name}: load average before {os.getloadavg()[0]:.1f}", flush=True)
                results[name] = measure(server, protocols, bbox)
                print(f"# {name}: load average after {os.getloadavg()[0]:.1f}", flush=True)
    report(results)


def measure(server: Server, protocols: Protocols, bbox: str) -> dict[str, Measured]:
    found = {}
    for case, (theme_id, query, fid) in cases(bbox).items():
        target = server.url(protocols.themes[theme_id], query, fid)
        count = returned(target)
        found[case] = wrk(target)
        m = found[case]
        print(f"# {server.name} {case}: {count} features, {m.rps:.0f} req/s", flush=True)
    return found


def report(results: dict[str, dict[str, Measured]]) -> None:
    for server, by_case in results.items():
        for case, m in by_case.items():
            print(f"RESULT serve_{case}_{server} {m.rps:.1f} req/s")
            print(f"RESULT serve_{case}_{server}_p50 {m.p50_ms:.2f} ms")
            print(f"RESULT serve_{case}_{server}_p99 {m.p99_ms:.2f} ms")
    for case, ours in results["ours"].items():
        for peer in ("pygeoapi", "tipg"):
            theirs = results[peer][case].rps
            ratio = f"{ours.rps / theirs:.2f}" if theirs else "inf"
            print(f"RATIO serve_{case}_vs_{peer} {ratio} (ours/peer req/s, higher is better)")

"""The `regiongis` command: the demo, the server, ingest and checks, the embedded database."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from ingest.db import resolve_database_url
from ingest.errors import ConfigError, RegionGISError
from ingest.pgcluster import EmbeddedCluster, cluster_folder
from ingest.pipeline import RunResult, check_file, ingest_file
from ingest.region import Region, load_region
from protocols import Protocols, load_protocols
from server.settings import Settings


def _deployment_parts(settings: Settings, data_dir: Path | None = None) -> tuple[Protocols, Region]:
    protocols = load_protocols()
    region = load_region(settings.config_dir, data_dir or settings.data_dir)
    if problems := region.check_against(protocols):
        raise ConfigError("the region config disagrees with the protocols: " + "; ".join(problems))
    return protocols, region


def _ingest_all(url: str, region: Region, protocols: Protocols) -> list[RunResult]:
    from tqdm import tqdm

    results = []
    bar = tqdm(region.sources.values(), unit="source", disable=not sys.stderr.isatty())
    for source in bar:
        bar.set_description(source.id)
        result = ingest_file(url, region.data_dir / source.file, source, region, protocols)
        results.append(result)
        print(result.summary())
    return results


def _serve(settings: Settings, protocols: Protocols, region: Region, url: str) -> None:
    import uvicorn

    from server.app import Deployment, create_app

    app = create_app(Deployment(settings, protocols, region, url))
    base = settings.base_url
    print(f"\nPublic map:      {base}/\nOGC API:         {base}/ogc")
    print(f"QGIS / GDAL:     ogrinfo OAPIF:{base}/ogc\nPress Ctrl-C to stop.\n", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from server.demo_data import write_demo_files

    url = resolve_database_url(settings.database_url, settings.state_dir)
    data_dir = settings.state_dir / "demo-data"
    counts = write_demo_files(data_dir)
    print(f"Demo region: {sum(counts.values())} features in {len(counts)} publisher files")
    protocols, region = _deployment_parts(settings, data_dir)
    _ingest_all(url, region, protocols)
    if not args.no_serve:
        _serve(settings, protocols, region, url)
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    protocols, region = _deployment_parts(settings)
    _serve(
        settings, protocols, region, resolve_database_url(settings.database_url, settings.state_dir)
    )
    return 0


def _source_for(args: argparse.Namespace, settings: Settings) -> tuple[Protocols, Region, str]:
    protocols, region = _deployment_parts(settings)
    if args.source not in region.sources:
        known = ", ".join(sorted(region.sources))
        raise ConfigError(f"unknown source {args.source!r}; configured sources: {known}")
    return protocols, region, args.source


def _report(result: RunResult, as_json: bool) -> None:
    print(json.dumps(asdict(result)) if as_json else result.summary())
    if not as_json:
        for rule, count in sorted(result.issues.items()):
            print(f"  {rule}: {count}")


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    protocols, region, source_id = _source_for(args, settings)
    url = resolve_database_url(settings.database_url, settings.state_dir)
    result = ingest_file(url, Path(args.file), region.sources[source_id], region, protocols)
    _report(result, args.json)
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    protocols, region, source_id = _source_for(args, settings)
    source = region.sources[source_id]
    _report(check_file(Path(args.file), source, region, protocols).result(source), args.json)
    return 0


def cmd_protocols_check(args: argparse.Namespace, settings: Settings) -> int:
    protocols, region = _deployment_parts(settings)
    print(
        f"{len(protocols.themes)} themes, {len(protocols.codelists)} code lists, "
        f"{len(region.sources)} sources: all consistent"
    )
    return 0


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    cluster = EmbeddedCluster(cluster_folder(settings.state_dir))
    if args.action == "stop":
        print(
            "embedded PostgreSQL stopped"
            if cluster.stop()
            else "embedded PostgreSQL was not running"
        )
    else:
        print(resolve_database_url(settings.database_url, settings.state_dir))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="regiongis", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="build and ingest the demo region, then serve it")
    demo.add_argument("--port", type=int, help="port to serve on (default 5000)")
    demo.add_argument("--no-serve", action="store_true", help="ingest, then exit")
    demo.set_defaults(run=cmd_demo)

    serve = commands.add_parser("serve", help="serve the OGC API and the maps")
    serve.add_argument("--port", type=int, help="port to serve on (default 5000)")
    serve.set_defaults(run=cmd_serve)

    for name, run, helptext in [
        ("ingest", cmd_ingest, "load a publisher file for one source"),
        ("check", cmd_check, "dry run: validate a publisher file, write nothing"),
    ]:
        sub = commands.add_parser(name, help=helptext)
        sub.add_argument("file", help="the publisher's file (zip, gpkg, geojson, csv, ...)")
        sub.add_argument("--source", required=True, help="source id from config/sources")
        sub.add_argument("--json", action="store_true", help="print the result as JSON")
        sub.set_defaults(run=run)

    protocols = commands.add_parser("protocols", help="the shared protocols")
    protocols.add_argument("action", choices=["check"])
    protocols.set_defaults(run=cmd_protocols_check)

    db = commands.add_parser("db", help="the embedded PostgreSQL (used when DATABASE_URL is unset)")
    db.add_argument("action", choices=["start", "stop", "url"])
    db.set_defaults(run=cmd_db)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {"port": args.port} if getattr(args, "port", None) else {}
    run: Callable[[argparse.Namespace, Settings], int] = args.run
    try:
        return run(args, Settings(**overrides))
    except RegionGISError as exc:
        print(f"regiongis: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

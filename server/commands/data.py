"""`regiongis ingest` and `regiongis check`: one publisher file for one source."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from ingest.errors import ConfigError
from ingest.pipeline import RunResult, check_file, ingest_file
from ingest.region import Region, Source
from server.deployment import load_deployment, load_parts
from server.settings import Settings


def _source(region: Region, source_id: str) -> Source:
    if source_id not in region.sources:
        known = ", ".join(sorted(region.sources))
        raise ConfigError(f"unknown source {source_id!r}; configured sources: {known}")
    return region.sources[source_id]


def _report(result: RunResult, as_json: bool) -> None:
    print(json.dumps(asdict(result)) if as_json else result.summary())
    if not as_json:
        for rule, count in sorted(result.issues.items()):
            print(f"  {rule}: {count}")


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    deployment = load_deployment(settings)
    source = _source(deployment.region, args.source)
    result = ingest_file(
        deployment.database_url, Path(args.file), source, deployment.region, deployment.protocols
    )
    _report(result, args.json)
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    protocols, region = load_parts(settings)
    source = _source(region, args.source)
    _report(check_file(Path(args.file), source, region, protocols).result(source), args.json)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    for name, run, helptext in [
        ("ingest", cmd_ingest, "load a publisher file for one source"),
        ("check", cmd_check, "dry run: validate a publisher file, write nothing"),
    ]:
        sub = commands.add_parser(name, help=helptext)
        sub.add_argument("file", help="the publisher's file (zip, gpkg, geojson, csv, ...)")
        sub.add_argument("--source", required=True, help="source id from config/sources")
        sub.add_argument("--json", action="store_true", help="print the result as JSON")
        sub.set_defaults(run=run)

"""`regiongis ingest` and `regiongis check`: one publisher file for one source, and its report.

Both write a report (JSON and a self-contained HTML page) and print where; `check` writes nothing
else. A run that completes exits 0 even when features were quarantined: the report says which.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import datetime
from functools import partial
from pathlib import Path

from tqdm import tqdm

from ingest import report
from ingest.boundaries import check_after_ingest
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


def _map_bbox(region: Region, protocols, source: Source) -> tuple | None:
    """The region's outline for the report map, when it is drawn in the theme's storage CRS."""
    same_crs = region.region.bbox_crs == protocols.themes[source.theme].storage_crs
    return region.region.bbox if same_crs else None


def _write(built: report.Report, args: argparse.Namespace, settings: Settings, stem: str):
    folder = Path(args.report) if args.report else settings.state_dir / "reports"
    return built.write(folder, stem)


def _print(result: RunResult, built: report.Report, paths: tuple[Path, Path], as_json: bool):
    json_path, html_path = paths
    if as_json:
        extra = {
            "filtered": built.filtered,
            "report": {"json": str(json_path), "html": str(html_path)},
        }
        if "boundary_issues" in built.summary:  # after a load: the theme's, once checked
            extra["boundary_issues"] = built.summary["boundary_issues"]
        counts = asdict(result) | {k: built.summary[k] for k in report.MERGE_COUNTS}
        print(json.dumps(counts | extra))
        return
    print(result.summary())
    if crossings := built.summary.get("boundary_issues"):
        found = ", ".join(f"{count} {kind}" for kind, count in crossings.items())
        print(f"  across boundaries, {result.theme} now has: {found}")
    if built.filtered:
        print(
            f"  ({built.filtered} of the quarantined left out on purpose by the mapping's filter)"
        )
    for rule, count in sorted(result.issues.items()):
        print(f"  {rule}: {count}")
    print(f"report: {html_path}\n        {json_path}")


def _progress_bar(source: Source) -> tqdm:
    """Features read so far, on a terminal only."""
    return tqdm(desc=source.id, unit=" features", disable=not sys.stderr.isatty())


def _advance(bar: tqdm, done: int, total: int | None) -> None:
    bar.total = total
    bar.update(done - bar.n)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    deployment = load_deployment(settings)
    region, protocols = deployment.region, deployment.protocols
    source = _source(region, args.source)
    with _progress_bar(source) as bar:
        result = ingest_file(
            deployment.database_url,
            Path(args.file),
            source,
            region,
            protocols,
            progress=partial(_advance, bar),
        )
    if sys.stderr.isatty():
        print(f"checking {source.theme} across boundaries ...", file=sys.stderr)
    check_after_ingest(
        deployment.database_url, region, protocols.themes[source.theme], result.run_id
    )
    built = report.from_run(
        deployment.database_url, result.run_id, _map_bbox(region, protocols, source)
    )
    paths = _write(built, args, settings, f"{source.id}-{result.run_id}")
    _print(result, built, paths, args.json)
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    protocols, region = load_parts(settings)
    source = _source(region, args.source)
    path = Path(args.file)
    with _progress_bar(source) as bar:
        dry = check_file(path, source, region, protocols, progress=partial(_advance, bar))
    built = report.from_dry_run(dry, source, path.name, _map_bbox(region, protocols, source))
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    paths = _write(built, args, settings, f"{source.id}-check-{stamp}")
    _print(dry.result(source), built, paths, args.json)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    for name, run, helptext in [
        ("ingest", cmd_ingest, "load a publisher file for one source, and report on it"),
        ("check", cmd_check, "dry run: validate a publisher file and report, write nothing else"),
    ]:
        sub = commands.add_parser(name, help=helptext)
        sub.add_argument("file", help="the publisher's file (zip, gpkg, geojson, csv, ...)")
        sub.add_argument("--source", required=True, help="source id from config/sources")
        sub.add_argument("--json", action="store_true", help="print the result as JSON")
        sub.add_argument(
            "--report",
            metavar="DIR",
            help="folder for the JSON and HTML report (default: <state dir>/reports)",
        )
        sub.set_defaults(run=run)

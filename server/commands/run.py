"""`regiongis demo` and `regiongis serve`."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from ingest.boundaries import check_after_ingest
from ingest.db import transaction
from ingest.pipeline import RunResult, ingest_file
from server.deployment import Deployment, check_transformations, load_deployment
from server.settings import Settings


def ingest_all(deployment: Deployment) -> list[RunResult]:
    """Every configured source, with a progress bar on a terminal."""
    from tqdm import tqdm

    region = deployment.region
    results = []
    bar = tqdm(region.sources.values(), unit="source", disable=not sys.stderr.isatty())
    for source in bar:
        bar.set_description(source.id)
        path = region.data_dir / source.file
        result = ingest_file(deployment.database_url, path, source, region, deployment.protocols)
        theme = deployment.protocols.themes[source.theme]
        check_after_ingest(deployment.database_url, region, theme, result.run_id)
        results.append(result)
        tqdm.write(result.summary())
    return results


def serve(deployment: Deployment, workers: int = 1) -> None:
    from server.app import create_app
    from server.reuseport import serve as serve_app

    settings = deployment.settings
    base = settings.base_url
    print(f"\nPortal:          {base}/\nPublic map:      {base}/map\nOGC API:         {base}/ogc")
    print(f"QGIS / GDAL:     ogrinfo OAPIF:{base}/ogc\nPress Ctrl-C to stop.\n", flush=True)
    serve_app(lambda: create_app(deployment), settings.host, settings.port, workers)


def demo_tokens(deployment: Deployment) -> None:
    """Two tokens to try the demo with, valid for a day: a water company's partner token (the
    quality pages, the water mains exactly) and a council's uploader token (/upload)."""
    from server.access import Access, Role
    from server.access.tokens import create_token

    Access.open(deployment.database_url, deployment.region)
    day = timedelta(days=1)
    with transaction(deployment.database_url) as cur:
        partner = create_token(cur, "kestrel-water", Role.PARTNER, day, note="demo").bearer
        uploader = create_token(cur, "trentvale", Role.UPLOADER, day, note="demo").bearer
    print(f"Partner token (sign in at /signin, valid a day): {partner}")
    print(f"Uploader token for trentvale (/upload):          {uploader}")


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from server.demo_boundary_cases import add_boundary_cases
    from server.demo_data import write_demo_files

    data_dir = settings.state_dir / "demo-data"
    counts = write_demo_files(data_dir)
    counts |= {s: counts[s] + n for s, n in add_boundary_cases(data_dir).items()}
    print(f"Demo region: {sum(counts.values())} features in {len(counts)} publisher files")
    deployment = load_deployment(settings, data_dir)
    check_transformations(deployment)
    ingest_all(deployment)
    if not args.no_serve:
        from server.commands.worker import start_in_process

        start_in_process(deployment)  # one upload worker, so /upload works out of the box
        demo_tokens(deployment)
        serve(deployment)
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    deployment = load_deployment(settings)
    check_transformations(deployment)
    serve(deployment, args.workers)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser("demo", help="build and ingest the demo region, then serve it")
    demo.add_argument("--port", type=int, help="port to serve on (default 5000)")
    demo.add_argument("--no-serve", action="store_true", help="ingest, then exit")
    demo.set_defaults(run=cmd_demo)

    serve_ = commands.add_parser("serve", help="serve the OGC API and the maps")
    serve_.add_argument("--port", type=int, help="port to serve on (default 5000)")
    serve_.add_argument(
        "--workers", type=int, default=1, help="server processes sharing the port (SO_REUSEPORT)"
    )
    serve_.set_defaults(run=cmd_serve)

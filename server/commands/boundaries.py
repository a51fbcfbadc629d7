"""`regiongis boundaries check`: every check across member authorities' boundaries, on demand."""

from __future__ import annotations

import argparse
import json

from ingest.boundaries import check_region
from server.deployment import load_deployment
from server.settings import Settings


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    deployment = load_deployment(settings)
    found = check_region(deployment.database_url, deployment.region, deployment.protocols)
    if args.json:
        print(json.dumps(found))
        return 0
    for theme, counts in found.items():
        listed = ", ".join(f"{n} {kind}" for kind, n in counts.items()) or "no issues"
        print(f"{theme}: {listed}")
    print("Details: the boundary-issues collection, or the boundary_issues table.")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    boundaries = commands.add_parser(
        "boundaries", help="checks across member authorities' boundaries"
    )
    actions = boundaries.add_subparsers(dest="action", required=True)
    check = actions.add_parser(
        "check",
        help="find out-of-area features, duplicates across publishers, network gaps and "
        "gaps/overlaps between boundaries; join line ends across boundaries",
    )
    check.add_argument("--json", action="store_true", help="print counts per theme as JSON")
    check.set_defaults(run=cmd_check)

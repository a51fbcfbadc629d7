"""`regiongis protocols ...`: the shared protocols."""

from __future__ import annotations

import argparse

from server.deployment import load_parts
from server.settings import Settings


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    protocols, region = load_parts(settings)
    print(
        f"{len(protocols.themes)} themes, {len(protocols.codelists)} code lists, "
        f"{len(region.sources)} sources: all consistent"
    )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    protocols = commands.add_parser("protocols", help="the shared protocols")
    actions = protocols.add_subparsers(dest="action", required=True)
    actions.add_parser("check", help="check every spec, code list and mapping").set_defaults(
        run=cmd_check
    )

"""`regiongis db start|stop|url`: the embedded PostgreSQL used when DATABASE_URL is unset."""

from __future__ import annotations

import argparse

from ingest.db import resolve_database_url
from ingest.pgcluster import EmbeddedCluster, cluster_folder
from server.settings import Settings


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "stop":
        stopped = EmbeddedCluster(cluster_folder(settings.state_dir)).stop()
        print("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")
    else:
        print(resolve_database_url(settings.database_url, settings.state_dir))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    db = commands.add_parser("db", help="the embedded PostgreSQL (used when DATABASE_URL is unset)")
    db.add_argument("action", choices=["start", "stop", "url"])
    db.set_defaults(run=cmd_db)

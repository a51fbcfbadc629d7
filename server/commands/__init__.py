"""The `regiongis` subcommands, one module per area; each module has register(subparsers)."""

from server.commands import access, boundaries, data, db, protocols, run, worker

MODULES = [run, data, protocols, db, access, worker, boundaries]

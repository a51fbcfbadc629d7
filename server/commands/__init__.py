"""The `regiongis` subcommands, one module per area; each module has register(subparsers)."""

from server.commands import data, db, protocols, run

MODULES = [run, data, protocols, db]

"""`regiongis publishers add|list` and `regiongis tokens create|revoke|list`."""

from __future__ import annotations

import argparse
import getpass
import sys

from ingest.db import transaction
from server.access import Access, Role
from server.access.audit import record
from server.access.publishers import KINDS, add_publisher, list_publishers
from server.access.tokens import create_token, list_tokens, parse_expiry, revoke_token
from server.deployment import load_deployment
from server.settings import Settings


def _open(settings: Settings) -> Access:
    deployment = load_deployment(settings)
    return Access.open(deployment.database_url, deployment.region)


def _by_cli() -> dict[str, str]:
    return {"by": f"cli:{getpass.getuser()}"}


def _when(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


def cmd_publishers(args: argparse.Namespace, settings: Settings) -> int:
    access = _open(settings)
    with transaction(access.url) as cur:
        if args.action == "add":
            add_publisher(cur, args.id, args.name, args.kind)
            record(cur, None, "publisher-added", args.id, _by_cli() | {"kind": args.kind})
            print(f"added publisher {args.id} ({args.kind}); issue it a token with "
                  f"`regiongis tokens create --publisher {args.id} --role partner`")  # fmt: skip
            return 0
        rows = list_publishers(cur)
    print(f"{'id':<20} {'kind':<9} {'from':<7} {'tokens':>6}  name")
    for p in rows:
        origin = "config" if p.origin == "config" else "db"
        print(f"{p.id:<20} {p.kind:<9} {origin:<7} {p.live_tokens:>6}  {p.name}")
    return 0


def cmd_tokens(args: argparse.Namespace, settings: Settings) -> int:
    access = _open(settings)
    with transaction(access.url) as cur:
        if args.action == "create":
            issued = create_token(
                cur, args.publisher, Role(args.role), parse_expiry(args.expires), args.note
            )
            detail = _by_cli() | {"role": args.role, "publisher": args.publisher}
            record(cur, None, "token-created", issued.token_id, detail)
            print(issued.bearer)
            print(f"token {issued.token_id}: {args.role} for {args.publisher}, expires "
                  f"{_when(issued.expires_at)}. This is the only time it is shown.",
                  file=sys.stderr)  # fmt: skip
            return 0
        if args.action == "revoke":
            if not revoke_token(cur, args.token_id):
                print(f"no live token {args.token_id}; see `regiongis tokens list`")
                return 2
            record(cur, None, "token-revoked", args.token_id, _by_cli())
            print(f"token {args.token_id} revoked; its next request is refused")
            return 0
        rows = list_tokens(cur, args.publisher)
    print(f"{'id':<13} {'publisher':<18} {'role':<9} {'expires':<17} {'last used':<17} state")
    for t in rows:
        state = "revoked" if t.revoked_at else "live"
        print(f"{t.id:<13} {t.publisher:<18} {t.role:<9} {_when(t.expires_at):<17} "
              f"{_when(t.last_used_at):<17} {state}  {t.note}")  # fmt: skip
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    publishers = commands.add_parser("publishers", help="publishers that tokens belong to")
    actions = publishers.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="every publisher, from config and the database")
    add = actions.add_parser("add", help="add a database-only publisher (e.g. a read-only partner)")
    add.add_argument("id", help="short id: lower-case letters, digits and dashes")
    add.add_argument("--name", required=True, help="the organisation's name")
    add.add_argument("--kind", choices=KINDS, default="partner")
    publishers.set_defaults(run=cmd_publishers)

    tokens = commands.add_parser("tokens", help="API tokens for uploads and partner access")
    actions = tokens.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="issue a token (printed once)")
    create.add_argument("--publisher", required=True)
    create.add_argument("--role", choices=[str(r) for r in Role], required=True)
    create.add_argument("--expires", default="90d", help="90d, 12h or never (default 90d)")
    create.add_argument("--note", default="", help="who or what the token is for")
    revoke = actions.add_parser("revoke", help="revoke a token at once")
    revoke.add_argument("token_id")
    listing = actions.add_parser("list", help="tokens, live and revoked (never their secrets)")
    listing.add_argument("--publisher")
    tokens.set_defaults(run=cmd_tokens)

"""API tokens: shown once, stored as a salted HMAC-SHA256 of a 256-bit random secret.

A token reads `rgis_<id>_<secret>`. The id is public (listed, revoked by, written to the audit
log) and finds the row in one indexed lookup; the secret is 32 random bytes. A slow password KDF
(argon2, bcrypt) exists to make guessing low-entropy human passwords expensive; nobody can guess
2^256 secrets, so a keyed SHA-256 is as safe here and keeps authentication to microseconds on
every request. Expiry and revocation are read from the database on every request: no cache.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from psycopg2.extensions import cursor as Cursor

from ingest.errors import ConfigError
from server.access.refusals import Unauthorized

PREFIX = "rgis"
EXPIRY = re.compile(r"^(\d+)([dh])$")


class Role(StrEnum):
    UPLOADER = "uploader"  # uploads to its own publisher's sources
    PARTNER = "partner"  # reads, never writes; sees sensitive themes precisely


@dataclass(frozen=True)
class Principal:
    """Who a request speaks for: the token, its publisher and its role."""

    token_id: str
    publisher: str
    role: Role


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    bearer: str  # the only time the secret exists outside the caller's hands
    expires_at: datetime | None


@dataclass(frozen=True)
class TokenRow:
    id: str
    publisher: str
    role: str
    note: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


def parse_expiry(text: str) -> timedelta | None:
    """`90d`, `12h`, or `never`."""
    if text == "never":
        return None
    match = EXPIRY.match(text)
    if not match or int(match[1]) == 0:
        raise ConfigError(f"--expires {text!r}: give a number of days or hours (90d, 12h) or never")
    amount = int(match[1])
    return timedelta(days=amount) if match[2] == "d" else timedelta(hours=amount)


def _digest(salt: bytes, secret: str) -> bytes:
    return hmac.new(salt, secret.encode(), hashlib.sha256).digest()


def create_token(
    cur: Cursor, publisher: str, role: Role, expires: timedelta | None, note: str = ""
) -> IssuedToken:
    cur.execute("SELECT 1 FROM publisher WHERE id = %s", (publisher,))
    if cur.fetchone() is None:
        raise ConfigError(
            f"unknown publisher {publisher!r}; see `regiongis publishers list` "
            "or add one with `regiongis publishers add`"
        )
    token_id, secret, salt = (
        secrets.token_hex(6),
        secrets.token_urlsafe(32),
        secrets.token_bytes(16),
    )
    cur.execute(
        "INSERT INTO api_token (id, publisher, role, salt, digest, note, expires_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, now() + %s) RETURNING expires_at",
        (token_id, publisher, str(role), salt, _digest(salt, secret), note, expires),
    )
    return IssuedToken(token_id, f"{PREFIX}_{token_id}_{secret}", cur.fetchone()[0])


def revoke_token(cur: Cursor, token_id: str) -> bool:
    """True if the token existed and was live; a revoked token fails its very next request."""
    cur.execute(
        "UPDATE api_token SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL", (token_id,)
    )
    return cur.rowcount == 1


def list_tokens(cur: Cursor, publisher: str | None = None) -> list[TokenRow]:
    cur.execute(
        "SELECT id, publisher, role, note, created_at, expires_at, revoked_at, last_used_at "
        "FROM api_token WHERE %(p)s::text IS NULL OR publisher = %(p)s "
        "ORDER BY publisher, created_at",
        {"p": publisher},
    )
    return [TokenRow(*row) for row in cur.fetchall()]


def verify(cur: Cursor, bearer: str) -> Principal:
    """The principal a bearer token speaks for, or Unauthorized saying what is wrong with it."""
    prefix, _, rest = bearer.partition("_")
    token_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not token_id or not secret:
        raise Unauthorized("this is not a regiongis token (they start rgis_)")
    cur.execute(
        "SELECT publisher, role, salt, digest, revoked_at, expires_at, expires_at <= now() "
        "FROM api_token WHERE id = %s",
        (token_id,),
    )
    row = cur.fetchone()
    if row is None or not hmac.compare_digest(bytes(row[3]), _digest(bytes(row[2]), secret)):
        raise Unauthorized("the token is not valid; check it was copied whole")
    publisher, role, _, _, revoked_at, expires_at, expired = row
    if revoked_at is not None:
        raise Unauthorized(
            f"token {token_id} was revoked on {revoked_at:%Y-%m-%d}; ask for a new one"
        )
    if expired:
        raise Unauthorized(f"token {token_id} expired on {expires_at:%Y-%m-%d}; ask for a new one")
    cur.execute("UPDATE api_token SET last_used_at = now() WHERE id = %s", (token_id,))
    return Principal(token_id, publisher, Role(role))

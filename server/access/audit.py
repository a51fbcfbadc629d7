"""The audit log: who uploaded what and when, with the result; who read sensitive data.

Rows are only ever inserted. Actions in use: upload, upload-refused, upload-rate-limited,
job-succeeded, job-failed, token-created, token-revoked, publisher-added; read-sensitive is written
by the read routes.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from psycopg2.extensions import cursor as Cursor

from server.access.tokens import Principal

log = logging.getLogger("regiongis.audit")


def record(
    cur: Cursor, principal: Principal | None, action: str, target: str, detail: dict[str, Any]
) -> None:
    token, publisher = (principal.token_id, principal.publisher) if principal else (None, None)
    cur.execute(
        "INSERT INTO audit_log (token_id, publisher, action, target, detail) "
        "VALUES (%s, %s, %s, %s, %s)",
        (token, publisher, action, target, json.dumps(detail, default=str)),
    )
    log.info("%s %s by %s: %s", action, target, token or "-", detail)


def recent(cur: Cursor, token_id: str, actions: list[str], window: int) -> tuple[int, float]:
    """How many of these actions the token took in the last `window` seconds, and how many
    seconds until the oldest of them leaves the window."""
    cur.execute(
        "SELECT count(*), coalesce(extract(epoch FROM min(at) + make_interval(secs => %(w)s) "
        "- now()), 0) FROM audit_log WHERE token_id = %(t)s AND action = ANY(%(a)s) "
        "AND at > now() - make_interval(secs => %(w)s)",
        {"t": token_id, "a": actions, "w": window},
    )
    count, wait = cur.fetchone()
    return count, float(wait)

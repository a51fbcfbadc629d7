"""Authentication for any route: `authenticate(request)` gives the Principal or None.

The app keeps one Access in `app.state.access`; routes that need a reason for a refusal (401 with
WWW-Authenticate) call `Access.principal`, routes that only branch on who is asking call
`authenticate`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ingest.db import transaction
from ingest.region import Region
from server.access import audit as audit_log
from server.access.publishers import ensure_access_schema
from server.access.refusals import Unauthorized
from server.access.tokens import Principal, verify


class Access:
    """Token checks and the audit log against one database."""

    def __init__(self, url: str) -> None:
        self.url = url

    @classmethod
    def open(cls, url: str, region: Region) -> Access:
        """Create the access tables if need be and upsert the region's publishers."""
        with transaction(url) as cur:
            ensure_access_schema(cur, region)
        return cls(url)

    def principal(self, authorization: str | None) -> Principal:
        scheme, _, bearer = (authorization or "").partition(" ")
        if not authorization:
            raise Unauthorized("no token: send the header `Authorization: Bearer <token>`")
        if scheme.lower() != "bearer" or not bearer.strip():
            raise Unauthorized("the Authorization header must read `Bearer <token>`")
        with transaction(self.url) as cur:
            return verify(cur, bearer.strip())

    def audit(
        self,
        principal: Principal | None,
        action: str,
        target: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        with transaction(self.url) as cur:
            audit_log.record(cur, principal, action, target, detail or {})

    def recent(self, principal: Principal, actions: list[str], window: int) -> tuple[int, float]:
        with transaction(self.url) as cur:
            return audit_log.recent(cur, principal.token_id, actions, window)


def access_of(request: Request) -> Access:
    return request.app.state.access


def authenticate(request: Request) -> Principal | None:
    try:
        return access_of(request).principal(request.headers.get("authorization"))
    except Unauthorized:
        return None

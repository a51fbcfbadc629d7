"""Who is reading: the public, or a partner whose token shows sensitive themes precisely.

Read routes are open to everyone; a token only widens what they show. A request that presents a
token (the Authorization header, or the cookie the sign-in page sets for browsers) must present a
valid one: a wrong, expired or revoked token is refused with 401 and logged, never quietly served
the public view, so a partner whose token lapsed learns why, instead of reading generalised data
as if it were exact. The cookie is only ever read here, on GET routes, and is SameSite=Strict, so
another site cannot make a browser use it; the upload API takes the header alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from server.access.auth import access_of
from server.access.refusals import Forbidden, Refused, Unauthorized
from server.access.tokens import Principal, Role

log = logging.getLogger("regiongis.access")
COOKIE = "rgis_token"


@dataclass(frozen=True)
class Reader:
    principal: Principal | None = None

    @property
    def partner(self) -> bool:
        return self.principal is not None and self.principal.role == Role.PARTNER


PUBLIC = Reader()


def presented(request: Request) -> str | None:
    """The Authorization header as sent, or one made from the sign-in cookie."""
    if header := request.headers.get("authorization"):
        return header
    cookie = request.cookies.get(COOKIE)
    return f"Bearer {cookie}" if cookie else None


def reader_of(request: Request) -> Reader:
    """The public when no token is presented (no database round trip); otherwise the token's
    principal, or Unauthorized, audited, when the token is no good."""
    authorization = presented(request)
    if authorization is None:
        return PUBLIC
    access = access_of(request)
    try:
        return Reader(access.principal(authorization))
    except Unauthorized as refusal:
        client = request.client.host if request.client else "-"
        log.warning("refused read %s from %s: %s", request.url.path, client, refusal)
        access.audit(None, "read-refused", request.url.path, {"message": str(refusal)})
        raise


def refusal(refused: Refused) -> JSONResponse:
    """A refused read in the OGC API's exception shape, with its WWW-Authenticate."""
    body = {"code": refused.reason, "description": str(refused)}
    return JSONResponse(body, status_code=refused.status, headers=refused.headers())


def require_partner(request: Request) -> Reader:
    """Partner-only pages (the quality map, quarantine, boundary issues) hold exact geometry
    of every theme, sensitive ones included."""
    reader = reader_of(request)
    if reader.principal is None:
        raise Unauthorized(
            "this page is for partners: sign in at /signin, or send "
            "`Authorization: Bearer <partner token>`"
        )
    if not reader.partner:
        raise Forbidden(
            f"token {reader.principal.token_id} is an {reader.principal.role} token; "
            "this page needs a partner token"
        )
    return reader


def audit_sensitive_read(
    request: Request, reader: Reader, target: str, detail: dict[str, Any]
) -> None:
    """Every precise read of a sensitive theme is written down: who, what, which query."""
    query = dict(request.query_params)
    access_of(request).audit(reader.principal, "read-sensitive", target, detail | {"query": query})

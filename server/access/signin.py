"""Partner sign-in for browsers, and the guard on partner-only pages.

A browser cannot add an Authorization header to a page it navigates to, so a partner signs in
once: the token goes into an HttpOnly, SameSite=Strict cookie that server.access.reading reads on
GET routes. GIS clients keep sending the header (QGIS's API Header authentication, GDAL's
GDAL_HTTP_HEADERS, OWSLib's headers=).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from server.access.auth import access_of
from server.access.reading import COOKIE, refusal, require_partner
from server.access.refusals import Refused, Unauthorized
from server.access.tokens import Role

PAGE = Path(__file__).resolve().parent.parent / "templates" / "signin.html"
SESSION_S = 12 * 3600  # a browser session's longest life, however long the token lives
HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def safe_next(target: str | None) -> str:
    """Only a path on this site: never another host (`//host`, `https:`), never a backslash."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/quality"
    return target


def _page(next_path: str, error: str = "", status: int = 200) -> HTMLResponse:
    text = PAGE.read_text(encoding="utf-8")
    body = text.replace("{next}", html.escape(next_path)).replace("{error}", html.escape(error))
    return HTMLResponse(body, status_code=status, headers=HEADERS)


async def signin_page(request: Request) -> Response:
    return _page(safe_next(request.query_params.get("next")))


async def signin(request: Request, secure: bool) -> Response:
    form = await request.form()
    token, target = str(form.get("token", "")).strip(), safe_next(str(form.get("next", "")))
    access = access_of(request)
    try:
        principal = await run_in_threadpool(access.principal, f"Bearer {token}")
    except Unauthorized as refused:
        await run_in_threadpool(
            access.audit, None, "signin-refused", "/signin", {"message": str(refused)}
        )
        return _page(target, str(refused), status=401)
    if principal.role != Role.PARTNER:
        message = f"token {principal.token_id} is an {principal.role} token: use it on /upload"
        return _page(target, message, status=403)
    await run_in_threadpool(access.audit, principal, "signin", "/signin", {})
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE, token, max_age=SESSION_S, httponly=True, samesite="strict", secure=secure
    )
    return response


async def signout(request: Request) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, httponly=True, samesite="strict")
    return response


def signin_routes(base_url: str) -> list[Route]:
    """The cookie is Secure when the deployment is served over HTTPS (RGIS_BASE_URL), whatever
    scheme a TLS-terminating proxy forwards to us."""
    secure = base_url.startswith("https://")

    async def signin_secure(request: Request) -> Response:
        return await signin(request, secure)

    return [
        Route("/signin", signin_page, methods=["GET"]),
        Route("/signin", signin_secure, methods=["POST"]),
        Route("/signout", signout, methods=["POST"]),
    ]


def partners_only(handler: Callable[[Request], Response], page: bool) -> Callable:
    """A route that only partners may read (the handler finds them in request.state.reader).
    A page sends a browser with no token to sign in; anything else (and any bad token) gets the
    refusal as JSON."""

    def guarded(request: Request) -> Response:
        try:
            request.state.reader = require_partner(request)
        except Unauthorized as refused:
            if page and "authorization" not in request.headers and COOKIE not in request.cookies:
                target = f"/signin?next={quote(request.url.path)}"
                return RedirectResponse(target, status_code=303)
            return refusal(refused)
        except Refused as refused:
            return refusal(refused)
        return handler(request)

    return guarded

"""The upload API and page, as thin Starlette routes over server.upload.accept.

POST /api/uploads (multipart: file, source, dry_run) -> 202 + job URL; GET /api/jobs/{id};
GET /api/jobs/{id}/report (CSV); GET /api/me; GET /upload (the page). Every refusal is a JSON
{"detail", "reason"} with its status, logged, and audited when the caller is known.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from server.access import Access, Principal
from server.access.refusals import NotFound, RateLimited, Refused
from server.deployment import Deployment
from server.upload.accept import Uploads
from server.upload.form import receive_form
from server.upload.sniff import UPLOADABLE
from server.upload.status import REPORT_HEADERS, job_json

log = logging.getLogger("regiongis.upload")
SERVER_DIR = Path(__file__).resolve().parent.parent
PAGE = SERVER_DIR / "templates" / "upload.html"
STATIC = SERVER_DIR / "static" / "upload"
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

Handler = Callable[[Request], Awaitable[Response]]


def _refusing(access: Access, handler: Handler, refused_action: str) -> Handler:
    """Turn a Refused into its JSON response; log it, and audit it when we know who asked."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except Refused as exc:
            principal: Principal | None = getattr(request.state, "principal", None)
            client = request.client.host if request.client else "-"
            who = principal.token_id if principal else "anonymous"
            log.warning("refused %s %s from %s (%s): %s", request.method, request.url.path,
                        client, who, exc)  # fmt: skip
            if principal is not None:
                action = "upload-rate-limited" if isinstance(exc, RateLimited) else refused_action
                target = getattr(request.state, "target", None) or request.url.path
                detail = {"status": exc.status, "reason": exc.reason, "message": str(exc)}
                await run_in_threadpool(access.audit, principal, action, target, detail)
            body = {"detail": str(exc), "reason": exc.reason}
            return JSONResponse(body, status_code=exc.status, headers=exc.headers())

    return wrapped


class UploadApi:
    def __init__(self, deployment: Deployment, access: Access) -> None:
        self.deployment, self.access = deployment, access
        self.uploads = Uploads.open(deployment, access)
        self.page = PAGE.read_text(encoding="utf-8")
        self.publishers = {p.id: p.name for p in deployment.region.publishers}

    async def who(self, request: Request) -> Principal:
        header = request.headers.get("authorization")
        request.state.principal = await run_in_threadpool(self.access.principal, header)
        return request.state.principal

    async def upload_page(self, request: Request) -> Response:
        return HTMLResponse(self.page, headers=PAGE_HEADERS)

    async def me(self, request: Request) -> Response:
        principal = await self.who(request)
        sources = [
            {"id": s.id, "title": s.title or s.id, "theme": s.theme, "file": s.file}
            for s in self.uploads.sources_of(principal)
        ]
        name = self.publishers.get(principal.publisher, principal.publisher)
        return JSONResponse(
            {
                "token": principal.token_id,
                "role": str(principal.role),
                "publisher": {"id": principal.publisher, "name": name},
                "sources": sources,
                "max_bytes": self.uploads.max_bytes,
                "formats": UPLOADABLE,
            }
        )

    async def create_upload(self, request: Request) -> Response:
        principal = await self.who(request)
        uploads = self.uploads
        uploads.require_uploader(principal)
        await run_in_threadpool(uploads.check_rate, principal)

        def on_file(fields: dict[str, str]) -> None:
            if "source" in fields:
                request.state.target = fields["source"]
                uploads.source_for(principal, fields["source"])

        folder = uploads.new_folder()
        try:
            received = await receive_form(
                request.headers.get("content-type", ""),
                int(request.headers.get("content-length") or 0),
                request.stream(),
                folder,
                uploads.max_bytes,
                on_file,
            )
            received.fields.setdefault("dry_run", request.query_params.get("dry_run", ""))
            request.state.target = received.fields.get("source")
            source = uploads.source_for(principal, received.fields.get("source"))
            dataset = await run_in_threadpool(uploads.prepare, received, folder)
            job_id = await run_in_threadpool(
                uploads.enqueue, principal, source, received, dataset, folder
            )
        except BaseException:
            uploads.discard(folder)
            raise
        url = str(request.url_for("job", job_id=job_id))
        body = {"job": job_id, "url": url, "status": "queued"}
        return JSONResponse(body, status_code=202, headers={"Location": url})

    async def job(self, request: Request) -> Response:
        principal = await self.who(request)
        job_id = request.path_params["job_id"]
        row = await run_in_threadpool(self.uploads.job, principal, job_id)
        return JSONResponse(job_json(row, str(request.url_for("job-report", job_id=job_id))))

    async def job_report(self, request: Request) -> Response:
        principal = await self.who(request)
        job_id = request.path_params["job_id"]
        html = await run_in_threadpool(self.uploads.report_html, principal, job_id)
        if html is None:
            raise NotFound(f"job {job_id} has no report (yet): see GET /api/jobs/{job_id}")
        return HTMLResponse(html, headers=REPORT_HEADERS)

    def routes(self) -> list[BaseRoute]:
        def api(handler: Handler, refused_action: str) -> Handler:
            return _refusing(self.access, handler, refused_action)

        return [
            Route("/upload", self.upload_page),
            Route("/api/me", api(self.me, "read-refused")),
            Route("/api/uploads", api(self.create_upload, "upload-refused"), methods=["POST"]),
            Route("/api/jobs/{job_id:int}", api(self.job, "read-refused"), name="job"),
            Route(
                "/api/jobs/{job_id:int}/report",
                api(self.job_report, "read-refused"),
                name="job-report",
            ),
            Mount("/static/upload", StaticFiles(directory=STATIC), name="upload-assets"),
        ]


def upload_routes(deployment: Deployment, access: Access) -> list[BaseRoute]:
    return UploadApi(deployment, access).routes()

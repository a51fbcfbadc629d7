"""Taking an upload, free of HTTP: who may send it, whether it is safe, and queuing its job."""

from __future__ import annotations

import shutil
import uuid
from math import ceil
from pathlib import Path
from typing import Any

from ingest.db import transaction
from ingest.region import Source
from server.access import Access, Principal, Role, audit
from server.access.refusals import Forbidden, NotFound, RateLimited, Refused
from server.deployment import Deployment
from server.jobs import NewJob, enqueue, ensure_job_schema, job_row
from server.upload.form import Received
from server.upload.sniff import check_content, check_uploadable
from server.upload.unzip import ZipLimits, extract_dataset

RATE_COUNTED = ["upload", "upload-refused"]  # attempts that cost us disk and CPU
TRUE = {"1", "true", "yes", "on"}


def dry_run(fields: dict[str, str]) -> bool:
    return fields.get("dry_run", "").lower() in TRUE


class Uploads:
    def __init__(self, deployment: Deployment, access: Access) -> None:
        settings = deployment.settings
        self.deployment, self.access = deployment, access
        self.folder = Path(settings.uploads_folder).resolve()
        self.limits = ZipLimits(settings.upload_max_expanded_bytes, settings.upload_max_ratio)
        self.max_bytes = settings.upload_max_bytes
        self.rate = (settings.upload_rate_limit, settings.upload_rate_window)

    @classmethod
    def open(cls, deployment: Deployment, access: Access) -> Uploads:
        with transaction(deployment.database_url) as cur:
            ensure_job_schema(cur)
        deployment.settings.uploads_folder.mkdir(parents=True, exist_ok=True)
        return cls(deployment, access)

    def sources_of(self, principal: Principal) -> list[Source]:
        if principal.role != Role.UPLOADER:
            return []
        sources = self.deployment.region.sources.values()
        return [s for s in sources if s.publisher == principal.publisher]

    def require_uploader(self, principal: Principal) -> None:
        if principal.role != Role.UPLOADER:
            raise Forbidden("partner tokens are read-only; uploading needs an uploader token")

    def source_for(self, principal: Principal, source_id: str | None) -> Source:
        self.require_uploader(principal)
        yours = ", ".join(s.id for s in self.sources_of(principal)) or "none"
        if not source_id:
            raise Refused(f"say which source the file is for in the field `source` ({yours})")
        source = self.deployment.region.sources.get(source_id)
        if source is None:
            raise Refused(f"unknown source {source_id!r}; your sources are: {yours}")
        if source.publisher != principal.publisher:
            raise Forbidden(
                f"source {source_id} belongs to publisher {source.publisher}; "
                f"token {principal.token_id} uploads for {principal.publisher} ({yours})"
            )
        return source

    def check_rate(self, principal: Principal) -> None:
        limit, window = self.rate
        count, wait = self.access.recent(principal, RATE_COUNTED, window)
        if count >= limit:
            retry = max(1, ceil(wait))
            raise RateLimited(
                f"token {principal.token_id} has sent {count} uploads in the last {window} s "
                f"(the limit is {limit}); try again in {retry} s",
                retry,
            )

    def new_folder(self) -> Path:
        folder = self.folder / uuid.uuid4().hex
        folder.mkdir(parents=True)
        return folder

    def discard(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)

    def prepare(self, received: Received, folder: Path) -> Path:
        """The dataset GDAL will open, once the upload has proved safe and what it says it is."""
        if received.path is None or received.file_name is None:
            raise Refused("no file: send it in the form field `file`")
        if received.size == 0:
            raise Refused(f"{received.file_name} is empty")
        check_uploadable(received.file_name)
        check_content(received.path, received.file_name)
        if received.path.suffix.lower() != ".zip":
            return received.path
        dataset = extract_dataset(received.path, folder / "data", self.limits)
        received.path.unlink()
        return dataset

    def enqueue(
        self, principal: Principal, source: Source, received: Received, dataset: Path, folder: Path
    ) -> int:
        job = NewJob(
            kind="check" if dry_run(received.fields) else "ingest",
            source=source.id,
            publisher=principal.publisher,
            token_id=principal.token_id,
            file_name=received.file_name or "",
            file_bytes=received.size,
            file_sha256=received.sha256,
            dataset_path=str(dataset),
            folder=str(folder),
        )
        with transaction(self.deployment.database_url) as cur:
            job_id = enqueue(cur, job)
            detail = {"job": job_id, "kind": job.kind, "file": job.file_name}
            detail |= {"bytes": job.file_bytes, "sha256": job.file_sha256}
            audit.record(cur, principal, "upload", source.id, detail)
        return job_id

    def job(self, principal: Principal, job_id: int) -> dict[str, Any]:
        with transaction(self.deployment.database_url) as cur:
            row = job_row(cur, job_id)
        if row is None or row["publisher"] != principal.publisher:
            raise NotFound(f"no job {job_id} for publisher {principal.publisher}")
        return row

    def report_html(self, principal: Principal, job_id: int) -> str | None:
        self.job(principal, job_id)
        with transaction(self.deployment.database_url) as cur:
            cur.execute("SELECT report_html FROM upload_job WHERE id = %s", (job_id,))
            return cur.fetchone()[0]

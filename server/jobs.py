"""The job queue in PostgreSQL and the worker that drains it.

Any number of workers on any number of machines claim jobs with FOR UPDATE SKIP LOCKED, so each
job runs on one worker at a time. A claimed job carries a lease the worker renews every second or
so (with its progress); a worker that dies stops renewing, and once the lease lapses another worker
takes the job again, up to `max_attempts`, after which it is marked failed with the reason. The
ingest itself is one transaction, so a killed run changes no live data. Uploads for one source run
in the order they arrived (a later one waits while an earlier one is queued or running), so the
newest upload is the one left live.
"""

from __future__ import annotations

import json
import logging
import os
import select
import shutil
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg2.extensions

from ingest.db import connect, transaction
from ingest.errors import RegionGISError
from server.access import audit
from server.access.publishers import SCHEMA_LOCK
from server.access.tokens import Principal, Role

log = logging.getLogger("regiongis.jobs")
CHANNEL = "upload_job"
IDLE_WAIT = 5.0  # seconds between looks for lapsed leases when no notification arrives

SCHEMA = """
CREATE TABLE IF NOT EXISTS upload_job (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('ingest', 'check')),
    source text NOT NULL,
    publisher text NOT NULL REFERENCES publisher (id),
    token_id text NOT NULL,
    file_name text NOT NULL,
    file_bytes bigint NOT NULL,
    file_sha256 text NOT NULL,
    dataset_path text NOT NULL,
    folder text NOT NULL,
    status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    phase text NOT NULL DEFAULT 'waiting for a worker',
    progress real NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    worker text,
    lease_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    result jsonb,
    report_html text,
    message text
);
CREATE INDEX IF NOT EXISTS upload_job_open_idx ON upload_job (source, id)
    WHERE status IN ('queued', 'running');
"""

CLAIM = """
UPDATE upload_job SET status = 'running', attempts = attempts + 1, worker = %(worker)s,
    lease_until = now() + make_interval(secs => %(lease)s), phase = 'starting',
    started_at = coalesce(started_at, now())
WHERE id = (
    SELECT c.id FROM upload_job c
    WHERE (c.status = 'queued' OR (c.status = 'running' AND c.lease_until < now()))
      AND c.attempts < %(max_attempts)s
      AND (c.kind = 'check' OR NOT EXISTS (
          SELECT 1 FROM upload_job e
          WHERE e.source = c.source AND e.id < c.id AND e.kind = 'ingest'
            AND e.status IN ('queued', 'running')))
    ORDER BY c.id
    FOR UPDATE SKIP LOCKED
    LIMIT 1)
RETURNING id, kind, source, publisher, token_id, file_name, dataset_path, folder, attempts
"""

GIVE_UP = """
UPDATE upload_job SET status = 'failed', finished_at = now(), phase = 'failed',
    message = format('the worker running it stopped %%s times without finishing (last: %%s); '
                     'the file may be too large for the worker''s memory', attempts, worker)
WHERE status = 'running' AND lease_until < now() AND attempts >= %(max_attempts)s
RETURNING id, token_id, publisher, source, folder
"""


def _plain(value: Any) -> Any:
    """numpy scalars (counts from pandas) as Python numbers; anything else as text."""
    return value.item() if hasattr(value, "item") else str(value)


@dataclass(frozen=True)
class NewJob:
    kind: str
    source: str
    publisher: str
    token_id: str
    file_name: str
    file_bytes: int
    file_sha256: str
    dataset_path: str
    folder: str


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    source: str
    publisher: str
    token_id: str
    file_name: str
    dataset_path: str
    folder: str
    attempts: int

    @property
    def principal(self) -> Principal:
        return Principal(self.token_id, self.publisher, Role.UPLOADER)


def ensure_job_schema(cur: psycopg2.extensions.cursor) -> None:
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
    cur.execute(SCHEMA)


def enqueue(cur: psycopg2.extensions.cursor, job: NewJob) -> int:
    cur.execute(
        "INSERT INTO upload_job (kind, source, publisher, token_id, file_name, file_bytes, "
        "file_sha256, dataset_path, folder) VALUES (%(kind)s, %(source)s, %(publisher)s, "
        "%(token_id)s, %(file_name)s, %(file_bytes)s, %(file_sha256)s, %(dataset_path)s, "
        "%(folder)s) RETURNING id",
        job.__dict__,
    )
    job_id = cur.fetchone()[0]
    cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(job_id)))
    return job_id


def job_row(cur: psycopg2.extensions.cursor, job_id: int) -> dict[str, Any] | None:
    cur.execute(
        "SELECT id, kind, source, publisher, file_name, file_bytes, status, phase, progress, "
        "attempts, created_at, started_at, finished_at, result, message, "
        "report_html IS NOT NULL AS has_report "
        "FROM upload_job WHERE id = %s",
        (job_id,),
    )
    row = cur.fetchone()
    return dict(zip([c.name for c in cur.description], row, strict=True)) if row else None


class Progress:
    """What the running job reports; the lease keeper writes it with each renewal."""

    def __init__(self) -> None:
        self.fraction = 0.0
        self.phase = "starting"

    def update(self, fraction: float | None = None, phase: str | None = None) -> None:
        if fraction is not None:
            self.fraction = min(max(float(fraction), 0.0), 1.0)
        if phase is not None:
            self.phase = phase


class Lease(threading.Thread):
    """Renews a claimed job's lease (and writes its progress) until stopped."""

    def __init__(self, url: str, job: Job, worker: str, seconds: float) -> None:
        super().__init__(daemon=True, name=f"lease-{job.id}")
        self.url, self.job, self.worker, self.seconds = url, job, worker, seconds
        self.progress = Progress()
        self.stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        interval = min(1.0, self.seconds / 3)
        while not self.stopped.wait(interval):
            try:
                self._renew()
            except RegionGISError as exc:
                log.warning("job %s: cannot renew its lease: %s", self.job.id, exc)

    def _renew(self) -> None:
        with transaction(self.url) as cur:
            cur.execute(
                "UPDATE upload_job SET lease_until = now() + make_interval(secs => %s), "
                "progress = %s, phase = %s WHERE id = %s AND worker = %s AND attempts = %s "
                "AND status = 'running'",
                (
                    self.seconds,
                    self.progress.fraction,
                    self.progress.phase,
                    self.job.id,
                    self.worker,
                    self.job.attempts,
                ),
            )
            if cur.rowcount == 0 and not self.lost:
                self.lost = True
                log.warning("job %s: lease lost to another worker", self.job.id)


@dataclass(frozen=True)
class Outcome:
    result: dict[str, Any]  # JSON: counts and issues by rule
    report_html: str | None = None  # the ingest's own report, self-contained


Handler = Callable[[Job, Progress], Outcome]


class Worker:
    """Claims jobs one at a time and runs each through `handler`, which returns the Outcome or
    raises RegionGISError with the reason the job failed."""

    def __init__(self, url: str, handler: Handler, lease_seconds: float, max_attempts: int):
        self.url, self.handler = url, handler
        self.lease_seconds, self.max_attempts = lease_seconds, max_attempts
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    def run(self, stop: threading.Event) -> None:
        """Work until stop is set; a job in hand is finished first."""
        conn = connect(self.url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(f"LISTEN {CHANNEL}")
            log.info("worker %s waiting for jobs", self.name)
            while not stop.is_set():
                if not self.run_one():
                    self._wait(conn, stop)
        finally:
            conn.close()

    def _wait(self, conn: psycopg2.extensions.connection, stop: threading.Event) -> None:
        if select.select([conn], [], [], IDLE_WAIT)[0] and not stop.is_set():
            conn.poll()
            conn.notifies.clear()

    def run_one(self) -> bool:
        """Claim one job and run it; False when none is ready."""
        self._give_up_on_abandoned()
        job = self._claim()
        if job is None:
            return False
        lease = Lease(self.url, job, self.name, self.lease_seconds)
        lease.start()
        log.info("job %s: %s of %s, attempt %s", job.id, job.kind, job.source, job.attempts)
        try:
            status, outcome, message = "succeeded", self.handler(job, lease.progress), None
        except RegionGISError as exc:
            status, outcome, message = "failed", None, str(exc)
        except Exception as exc:  # a bug, not bad input: keep the worker alive, say what broke
            log.exception("job %s failed unexpectedly", job.id)
            status, outcome = "failed", None
            message = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            lease.stopped.set()
            lease.join()
        self._finish(job, status, outcome, message)
        log.info("job %s: %s%s", job.id, status, f" ({message})" if message else "")
        return True

    def _claim(self) -> Job | None:
        with transaction(self.url) as cur:
            cur.execute(
                CLAIM,
                {
                    "worker": self.name,
                    "lease": self.lease_seconds,
                    "max_attempts": self.max_attempts,
                },
            )
            row = cur.fetchone()
        return Job(*row) if row else None

    def _give_up_on_abandoned(self) -> None:
        with transaction(self.url) as cur:
            cur.execute(GIVE_UP, {"max_attempts": self.max_attempts})
            abandoned = cur.fetchall()
            for job_id, token_id, publisher, source, folder in abandoned:
                principal = Principal(token_id, publisher, Role.UPLOADER)
                audit.record(cur, principal, "job-failed", source, {"job": job_id})
                shutil.rmtree(folder, ignore_errors=True)
            if abandoned:
                cur.execute("SELECT pg_notify(%s, 'gave-up')", (CHANNEL,))

    def _finish(self, job: Job, status: str, outcome: Outcome | None, message: str | None) -> None:
        result = outcome.result if outcome else None
        with transaction(self.url) as cur:
            cur.execute(
                "UPDATE upload_job SET status = %s, phase = %s, progress = 1, result = %s, "
                "report_html = %s, message = %s, finished_at = now(), lease_until = NULL "
                "WHERE id = %s AND worker = %s AND attempts = %s AND status = 'running'",
                (
                    status,
                    status,
                    json.dumps(result, default=_plain) if result is not None else None,
                    outcome.report_html if outcome else None,
                    message,
                    job.id,
                    self.name,
                    job.attempts,
                ),
            )
            if cur.rowcount == 0:
                log.warning("job %s: finished after its lease went to another worker", job.id)
                return
            counts = {k: v for k, v in (result or {}).items() if k != "rules"}
            detail = {"job": job.id, "kind": job.kind, **(counts or {"message": message})}
            audit.record(cur, job.principal, f"job-{status}", job.source, detail)
            cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(job.id)))
        shutil.rmtree(job.folder, ignore_errors=True)

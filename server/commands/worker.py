"""`regiongis worker`: run upload jobs from the queue; start as many as you like, anywhere."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from functools import partial

from ingest.db import transaction
from server.access import Access
from server.deployment import Deployment, load_deployment
from server.jobs import Worker, ensure_job_schema
from server.settings import Settings
from server.upload.process import run_upload_job


def upload_worker(deployment: Deployment) -> Worker:
    Access.open(deployment.database_url, deployment.region)
    with transaction(deployment.database_url) as cur:
        ensure_job_schema(cur)
    settings = deployment.settings
    return Worker(
        deployment.database_url,
        partial(run_upload_job, deployment),
        settings.job_lease_seconds,
        settings.job_max_attempts,
    )


def start_in_process(deployment: Deployment) -> threading.Event:
    """One worker on a daemon thread (for `regiongis demo`); set the event to stop it."""
    stop = threading.Event()
    worker = upload_worker(deployment)
    threading.Thread(target=worker.run, args=(stop,), daemon=True, name="worker").start()
    return stop


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    worker = upload_worker(load_deployment(settings))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())  # finish the job in hand, then exit
    print(f"worker {worker.name} running; Ctrl-C stops it after the job in hand", flush=True)
    worker.run(stop)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    worker = commands.add_parser("worker", help="run queued upload jobs (ingests and checks)")
    worker.set_defaults(run=cmd_worker)

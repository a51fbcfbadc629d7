"""The real app served from a thread of this process: for tests and benchmarks that need a live
server beside their own code, on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from server.app import create_app
from server.deployment import Deployment


@contextmanager
def serving(deployment: Deployment) -> Iterator[str]:
    """The app under uvicorn on the deployment's port, until the block ends; yields its base URL."""
    settings = deployment.settings
    app = create_app(deployment)
    config = uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the regiongis server did not start")
        time.sleep(0.05)
    try:
        yield settings.base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)

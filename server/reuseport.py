"""Serve an ASGI app from N single-process uvicorn servers sharing one port (SO_REUSEPORT).

`uvicorn --workers N` accepts in a supervisor and, on keep-alive connections here, adds ~44 ms to
each request and lets one worker take every connection. Independent processes each bound to the
port with SO_REUSEPORT let the kernel spread connections over them instead.

Only the standard library and uvicorn are imported, so the benchmark can run this file with
another virtualenv's python to serve a peer server the same way:
`python server/reuseport.py package.module:app --port 8000 --workers 2`.
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import signal
import socket
from collections.abc import Callable
from typing import Any

import uvicorn


def reuseport_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _serve_one(make_app: Callable[[], Any], host: str, port: int, log_level: str) -> None:
    """One worker: its own socket on the shared port, its own app (built after the fork, so
    connection pools are never shared between processes)."""
    sock = reuseport_socket(host, port)
    config = uvicorn.Config(make_app(), log_level=log_level, access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def serve(
    make_app: Callable[[], Any], host: str, port: int, workers: int = 1, log_level: str = "warning"
) -> None:
    """Run until interrupted; workers > 1 forks that many servers and stops them together."""
    if workers <= 1:
        uvicorn.run(make_app(), host=host, port=port, log_level=log_level, access_log=False)
        return
    context = multiprocessing.get_context("fork")
    children = [
        context.Process(target=_serve_one, args=(make_app, host, port, log_level), daemon=True)
        for _ in range(workers)
    ]
    for child in children:
        child.start()

    def stop(signum: int, frame: Any) -> None:
        for child in children:
            if child.is_alive():
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        child.join()


def _importer(target: str) -> Callable[[], Any]:
    module, _, attribute = target.partition(":")
    return lambda: getattr(importlib.import_module(module), attribute)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", help="the ASGI app as module:attribute")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    serve(_importer(args.app), args.host, args.port, args.workers)


if __name__ == "__main__":
    main()

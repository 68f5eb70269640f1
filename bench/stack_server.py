"""The baselines of bench_soap.py, served by the gateway's own HTTP server: the same gunicorn arbiter, the same
threaded worker (``GatewayWorker``), the same threads, keep-alive and body reading (``CompleteBodies``) as
``ksz-gateway serve``, with one of two applications in place of the gateway's:

- ``/echo``: the bare spyne echo (bench/echo_service.py): what a spyne service costs per request at the least;
- ``/hello``: a bare WSGI application answering a fixed text: the ceiling of the HTTP stack itself.

Invariant: nothing but the application differs from the gateway's serving; no store is opened.

    .venv/bin/python bench/stack_server.py --port 8099 [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from echo_service import application as echo

from gateway.entrypoints.settings import Settings
from gateway.entrypoints.wsgi import CompleteBodies, GatewayServer

HELLO = b"hello"


def hello(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(HELLO)))])
    return [HELLO]


def baselines(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    if environ.get("PATH_INFO", "").startswith("/hello"):
        return hello(environ, start_response)
    return echo(environ, start_response)  # type: ignore[no-any-return]


class StackServer(GatewayServer):  # type: ignore[misc]
    def load(self) -> Any:
        return CompleteBodies(baselines, self.settings.max_body_bytes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, help="threads of each worker (the gateway's default)")
    args = parser.parse_args(argv)
    threads = {"threads": args.threads} if args.threads else {}
    StackServer(Settings(port=args.port, workers=args.workers, **threads), lambda db: None).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

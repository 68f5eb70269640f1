"""Serving the endpoint: with gunicorn, N synchronous worker processes each with its own store; with one
worker, a single process (``SingleProcessServer``).

Invariant: the arbiter process opens no store and builds no application; each worker, after the fork, opens its
own store (its own SQLite connection or PostgreSQL pool) and makes its own application, and closes the store
when it exits. Workers share nothing but the database, which is where replayed nonces are caught.
"""

from __future__ import annotations

import io
import signal
import socket
import threading
from collections.abc import Callable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer, make_server

from gunicorn.app.base import BaseApplication

from gateway.app.ports import Store
from gateway.entrypoints.compose import make_app
from gateway.entrypoints.settings import WORKER_TIMEOUT_SECONDS, Settings

__all__ = ["GatewayServer", "SingleProcessServer"]


class GatewayServer(BaseApplication):  # type: ignore[misc]
    """A gunicorn application serving ``make_app(settings, open_store(settings.db))`` in every worker."""

    def __init__(
        self, settings: Settings, open_store: Callable[[str], Store], *, timeout: int = WORKER_TIMEOUT_SECONDS
    ) -> None:
        self._settings = settings
        self._open_store = open_store
        self._store: Store | None = None
        self._options: dict[str, Any] = {
            "bind": [_bind(settings.host, settings.port)],
            "workers": max(1, settings.workers),
            "worker_class": "sync",
            "timeout": timeout,
            "graceful_timeout": 10,
            "proc_name": "ksz-gateway",
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "info",
            "worker_exit": self._worker_exit,
            # gunicorn believes X-Forwarded-Proto from 127.0.0.1 unless told otherwise: the same proxies as the app
            "forwarded_allow_ips": ",".join(settings.forwarded_allow_ips),
        }
        if "control_socket_disable" in _known_settings():
            # gunicorn >= 24 opens a control socket at one fixed path per user: servers would clash.
            self._options["control_socket_disable"] = True
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        """Called in each worker after the fork: its own store, its own application."""
        self._store = self._open_store(self._settings.db)
        return make_app(self._settings, self._store)

    def _worker_exit(self, server: Any, worker: Any) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def _known_settings() -> frozenset[str]:
    from gunicorn.config import KNOWN_SETTINGS

    return frozenset(setting.name for setting in KNOWN_SETTINGS)


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _Dechunked(io.RawIOBase):
    """A chunked request body (``Transfer-Encoding: chunked``) read as the plain bytes it carries."""

    def __init__(self, raw: io.BufferedIOBase) -> None:
        self._raw = raw
        self._left = 0  # bytes left in the current chunk
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._done:
            return 0
        if self._left == 0:
            size_line = self._raw.readline(1024)
            try:
                self._left = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise OSError(f"malformed chunk size {size_line[:40]!r}") from exc
            if self._left == 0:
                while self._raw.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailer fields
                self._done = True
                return 0
        view = memoryview(buffer)
        data = self._raw.read(min(len(view), self._left))
        if not data:
            raise OSError("the chunked body ended early")
        view[: len(data)] = data
        self._left -= len(data)
        if self._left == 0:
            self._raw.readline(16)  # the CRLF after the chunk
        return len(data)


class _Handler(WSGIRequestHandler):
    """One request a connection (HTTP/1.0 semantics, so clients know the connection closes), chunked request
    bodies decoded, no access log."""

    def handle(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.send_error(414)
            return
        if not self.parse_request():
            return
        body: Any = self.rfile
        environ = self.get_environ()
        if self.headers.get("Transfer-Encoding", "").strip().lower() == "chunked":
            body = io.BufferedReader(_Dechunked(self.rfile))
            environ["wsgi.input_terminated"] = True  # reading to the end stops at the last chunk
        wfile: Any = self.wfile
        handler = ServerHandler(body, wfile, self.get_stderr(), environ, multithread=True)
        handler.request_handler = self  # type: ignore[attr-defined]  # wsgiref's own handler sets it too
        server: Any = self.server
        handler.run(server.get_app())

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class SingleProcessServer:
    """``--workers 1``: one process, one store, a thread a connection (the store gives each thread its own
    connection; SQLite writers queue on its lock, PostgreSQL ones on the pool)."""

    def __init__(self, settings: Settings, open_store: Callable[[str], Store]) -> None:
        self._settings = settings
        self._open_store = open_store

    def run(self) -> None:
        store = self._open_store(self._settings.db)
        try:
            app = make_app(self._settings, store)
            host = self._settings.host
            server_class: type[_ThreadingServer] = _ThreadingServer
            if ":" in host:
                server_class = type("_ThreadingServer6", (_ThreadingServer,), {"address_family": socket.AF_INET6})
            with make_server(host, self._settings.port, app, server_class=server_class, handler_class=_Handler) as s:
                stop = threading.Event()

                def _stop(signum: int, frame: Any) -> None:
                    if not stop.is_set():
                        stop.set()
                        threading.Thread(target=s.shutdown, daemon=True).start()

                signal.signal(signal.SIGTERM, _stop)
                signal.signal(signal.SIGINT, _stop)
                s.serve_forever()
        finally:
            store.close()

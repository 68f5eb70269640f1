"""Serving the endpoint over HTTP/1.1 with gunicorn, whatever the number of workers: an arbiter process and N
worker processes, each handling requests on a fixed pool of threads (gunicorn's ``gthread`` worker, tightened
here by ``GatewayWorker``).

Invariants:
- the arbiter opens no store and builds no application; each worker, after the fork, opens its own store (its
  own SQLite connections or PostgreSQL pool) and makes its own application, and closes the store when it exits.
  Workers share nothing but the database, which is where replayed nonces are caught.
- everything a worker holds is bounded: ``threads`` handling threads (a fixed pool, so the store's per-thread
  connections are bounded by it too), ``worker_connections`` open connections, and a kept-alive or fresh
  connection that sends nothing is closed after ``keepalive_seconds``, waiting in the worker's poller, never on a
  thread.
- a request's head and body are read within ``request_timeout_seconds`` of its first byte: past that, reads end
  as if the client had gone, so a slow or stalled client is answered 408 (once its head has arrived) or closed,
  and holds one thread for at most that long.
- the application only ever sees a complete body of a known length: a missing length on a POST is answered 411,
  a body over ``max_body_bytes`` is never handed over (the application answers its 413 fault on an empty body),
  a body ending early or malformed chunks are answered 400, each connection then closed. gunicorn itself answers
  400 to a duplicated, non-numeric or negative Content-Length, and to Content-Length with chunked.
"""

from __future__ import annotations

import errno
import io
import logging
import math
import resource
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.http.errors import NoMoreData, ParseException
from gunicorn.workers.gthread import _DEFER, ThreadWorker

from gateway.app.ports import Store
from gateway.entrypoints.compose import make_app
from gateway.entrypoints.settings import WORKER_TIMEOUT_SECONDS, Settings

__all__ = ["CompleteBodies", "GatewayServer", "GatewayWorker", "connection_limit"]

log = logging.getLogger("gateway.http")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# Open files a worker needs besides its connections: standard streams, the listening socket, its poller, the
# heartbeat file, the wake-up pipe, a PostgreSQL pool, files Python opens; and per thread: a SQLite connection's
# database, WAL and shared-memory files and the writers' lock.
_RESERVED_FILES = 64
_FILES_PER_THREAD = 5
# How long closing a connection waits for the client's own close, so that the answer is not cut off by a reset
# over unread bytes. gunicorn closes on the worker's main loop, which this wait blocks: keep it short.
_LINGER_SECONDS = 0.25
_READ_STEP = 64 * 1024
_BODILESS_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"})


def connection_limit(settings: Settings) -> int:
    """The connections one worker may hold open: ``settings.worker_connections``, lowered where the process's
    open-files limit could not also cover the files a worker needs (an ``accept`` failing for lack of descriptors
    would stop the worker)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return settings.worker_connections
    spare = soft - _RESERVED_FILES - _FILES_PER_THREAD * settings.threads
    return max(1, min(settings.worker_connections, spare))


# -- the connection's socket ------------------------------------------------------------------------------


class _DeadlineSocket(socket.socket):
    """A client connection whose reads end at the current request's deadline: a read past it returns ``b""``, the
    end of the stream, as if the client had gone, and marks the socket ``expired``. Once the server has shut down
    its side, reads wait at most the short linger instead. A write that makes no progress for the write timeout
    counts as a connection reset (the client stopped reading)."""

    __slots__ = ("_deadline", "_linger_until", "_write_timeout", "expired")

    _deadline: float
    _linger_until: float | None
    _write_timeout: float
    expired: bool

    @classmethod
    def adopt(cls, sock: socket.socket, write_timeout: float) -> _DeadlineSocket:
        """The same connection, now read with deadlines (``sock`` is detached and must not be used again)."""
        blocking = sock.getblocking()
        adopted = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        adopted.setblocking(blocking)
        adopted._deadline = math.inf
        adopted._linger_until = None
        adopted._write_timeout = write_timeout
        adopted.expired = False
        return adopted

    def start_request(self, seconds: float) -> None:
        """A new request begins: its head and body must arrive within ``seconds``."""
        self._deadline = time.monotonic() + seconds
        self.expired = False

    def _budget(self) -> float:
        end = self._deadline if self._linger_until is None else self._linger_until
        return end - time.monotonic()

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        budget = self._budget()
        if budget <= 0:
            self.expired = self._linger_until is None
            return b""
        super().settimeout(budget)
        try:
            return super().recv(bufsize, flags)
        except TimeoutError:
            self.expired = self._linger_until is None
            return b""

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        data = self.recv(nbytes or len(buffer), flags)
        memoryview(buffer)[: len(data)] = data
        return len(data)

    def send(self, data: Any, flags: int = 0) -> int:
        super().settimeout(self._write_timeout)
        try:
            return super().send(data, flags)
        except TimeoutError as exc:
            raise self._stalled_reader() from exc

    def sendall(self, data: Any, flags: int = 0) -> None:
        super().settimeout(self._write_timeout)
        try:
            super().sendall(data, flags)
        except TimeoutError as exc:
            raise self._stalled_reader() from exc

    def _stalled_reader(self) -> ConnectionResetError:
        return ConnectionResetError(errno.ECONNRESET, f"the client read nothing for {self._write_timeout:g} s")

    def shutdown(self, how: int) -> None:
        if how != socket.SHUT_RD:
            self._linger_until = time.monotonic() + _LINGER_SECONDS
        super().shutdown(how)


# -- the worker -------------------------------------------------------------------------------------------


class GatewayWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's threaded worker, with two changes: a connection that has sent nothing yet waits in the poller
    at once (gunicorn would hold a thread on it for up to 5 s first, so a burst of idle connections would make
    every other client queue), and every request is read against the deadline of ``_DeadlineSocket``."""

    def handle(self, conn: Any) -> Any:
        settings: Settings = self.app.settings
        if not isinstance(conn.sock, _DeadlineSocket):
            conn.sock = _DeadlineSocket.adopt(conn.sock, settings.request_timeout_seconds)
        if not conn.initialized and not conn.data_ready and not conn.wait_for_data(0):
            return _DEFER
        conn.sock.start_request(settings.request_timeout_seconds)
        keep_alive = super().handle(conn)
        if keep_alive is True and conn.sock.expired:
            return False  # a read ran out of time: what follows on this connection cannot be trusted
        return keep_alive


# -- the request body -------------------------------------------------------------------------------------


class CompleteBodies:
    """WSGI middleware: reads each request's whole body before the application runs, bounded in size by
    ``max_body_bytes`` (and, through the worker's socket, in time), and hands the application a complete body of a
    known length. What it cannot hand over it answers itself, in plain text, and closes the connection."""

    def __init__(self, app: WsgiApp, max_body_bytes: int) -> None:
        self._app = app
        self._max_body = max_body_bytes
        self._discard_cap = max(64 * 1024 * 1024, 16 * max_body_bytes)  # read to answer 413 cleanly, not beyond

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        stream = environ["wsgi.input"]
        chunked = "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()
        text = str(environ.get("CONTENT_LENGTH") or "").strip()
        if not chunked and not text:
            if environ.get("REQUEST_METHOD", "GET") not in _BODILESS_METHODS:
                return self._refuse(
                    environ, start_response, "411 Length Required", "Send the body with a Content-Length (or chunked)."
                )
            return self._app(self._with_body(environ, b""), start_response)
        length = int(text) if text.isascii() and text.isdigit() else None
        if not chunked and length is None:  # gunicorn refuses these itself; another server might not
            return self._refuse(
                environ,
                start_response,
                "400 Bad Request",
                f"The Content-Length {text[:40]!r} is not a number of bytes.",
            )
        if length is not None and length > self._max_body:
            # Never handed over: the application answers its own 413 fault on an empty body. Read (and dropped)
            # when reasonable, so that the client is not reset while it sends; else the connection closes at once.
            if length <= self._discard_cap:
                self._drain(stream, length)
            _close_after(start_response)
            environ["wsgi.input"] = io.BytesIO(b"")
            return self._app(environ, start_response)
        try:
            data = self._read(stream, self._max_body + 1 if length is None else length)
        except (OSError, ParseException) as exc:
            if _expired(environ):
                return self._timed_out(environ, start_response)
            if isinstance(exc, NoMoreData):
                return self._refuse(environ, start_response, "400 Bad Request", "The body ended before its last chunk.")
            what = str(exc)[:100] if isinstance(exc, ParseException) else type(exc).__name__
            return self._refuse(environ, start_response, "400 Bad Request", f"Malformed request body ({what}).")
        if _expired(environ):
            return self._timed_out(environ, start_response)
        if length is not None and len(data) < length:
            return self._refuse(
                environ, start_response, "400 Bad Request", f"The body ended after {len(data)} of {length} bytes."
            )
        if len(data) > self._max_body:  # chunked, over the limit: the application sees the limit exceeded
            self._drain(stream, self._discard_cap)
            _close_after(start_response)
            environ.pop("CONTENT_LENGTH", None)
            environ["wsgi.input"] = io.BytesIO(data)
            return self._app(environ, start_response)
        return self._app(self._with_body(environ, data), start_response)

    @staticmethod
    def _read(stream: Any, limit: int) -> bytes:
        """Up to ``limit`` bytes, fewer where the body (or the time) ends first."""
        chunks: list[bytes] = []
        left = limit
        while left > 0:
            chunk = stream.read(min(_READ_STEP, left))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    @staticmethod
    def _drain(stream: Any, limit: int) -> None:
        """Reads and drops up to ``limit`` bytes of a body refused anyway; a broken body ends the draining."""
        left = limit
        try:
            while left > 0:
                chunk = stream.read(min(_READ_STEP, left))
                if not chunk:
                    return
                left -= len(chunk)
        except (OSError, ParseException):
            pass

    @staticmethod
    def _with_body(environ: dict[str, Any], data: bytes) -> dict[str, Any]:
        environ["wsgi.input"] = io.BytesIO(data)
        environ["CONTENT_LENGTH"] = str(len(data))
        environ.pop("HTTP_TRANSFER_ENCODING", None)  # the chunks are decoded: the body now has a length
        return environ

    def _timed_out(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return self._refuse(environ, start_response, "408 Request Timeout", "The request did not arrive in time.")

    @staticmethod
    def _refuse(environ: dict[str, Any], start_response: StartResponse, status: str, text: str) -> Iterable[bytes]:
        log.info("HTTP %s to %s: %s", status[:3], environ.get("REMOTE_ADDR", "?"), text)
        body = text.encode()
        _close_after(start_response)
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]


def _expired(environ: dict[str, Any]) -> bool:
    return bool(getattr(environ.get("gunicorn.socket"), "expired", False))


def _close_after(start_response: StartResponse) -> None:
    """Have gunicorn close the connection after this answer (``Connection: close``). A WSGI application cannot
    say so in a header (hop-by-hop headers are dropped); gunicorn's ``start_response`` belongs to its response
    object, which can. Elsewhere this does nothing."""
    force_close = getattr(getattr(start_response, "__self__", None), "force_close", None)
    if callable(force_close):
        force_close()


# -- the gunicorn application -----------------------------------------------------------------------------


class GatewayServer(BaseApplication):  # type: ignore[misc]
    """A gunicorn application serving ``make_app(settings, open_store(settings.db))`` in every worker."""

    def __init__(
        self, settings: Settings, open_store: Callable[[str], Store], *, timeout: int = WORKER_TIMEOUT_SECONDS
    ) -> None:
        self.settings = settings
        self._open_store = open_store
        self._store: Store | None = None
        self._options: dict[str, Any] = {
            "bind": [_bind(settings.host, settings.port)],
            "workers": max(1, settings.workers),
            "worker_class": GatewayWorker,
            "threads": settings.threads,
            "worker_connections": connection_limit(settings),
            "keepalive": settings.keepalive_seconds,
            "timeout": timeout,
            "graceful_timeout": 10,
            "forwarded_allow_ips": ",".join(settings.forwarded_allow_ips),
            "proc_name": "ksz-gateway",
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "info",
            "worker_exit": self._worker_exit,
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
        self._store = self._open_store(self.settings.db)
        return CompleteBodies(make_app(self.settings, self._store), self.settings.max_body_bytes)

    def _worker_exit(self, server: Any, worker: Any) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def _known_settings() -> frozenset[str]:
    from gunicorn.config import KNOWN_SETTINGS

    return frozenset(setting.name for setting in KNOWN_SETTINGS)


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

"""Serving the endpoint over HTTP/1.1 with gunicorn, whatever the number of workers: an arbiter process and N
worker processes, each handling requests on a fixed pool of threads (gunicorn's ``gthread`` worker, changed here
by ``GatewayWorker`` so that a thread is only ever given a request that has arrived).

Invariants:
- the arbiter opens no store and builds no application; each worker, after the fork, opens its own store (its
  own SQLite connections or PostgreSQL pool) and makes its own application, and closes the store when it exits.
  Workers share nothing but the database, which is where replayed nonces are caught.
- everything a worker holds is bounded: ``threads`` handling threads (a fixed pool, so the store's per-thread
  connections are bounded by it too), ``worker_connections`` open connections; a connection that sends nothing
  is closed after ``keepalive_seconds``.
- a request is read ahead by the worker's main loop, without blocking, while it arrives; a thread takes it once
  it is whole (or 64 KiB of it is there), so a slow or stalled client costs a connection, never a thread. Its
  head and body must arrive within ``request_timeout_seconds`` of its first byte: past that it is answered 408
  (once its head is in) or closed. Expect: 100-continue is answered as soon as the head is in.
- the application only ever sees a complete body of a known length: a missing length on a POST is answered 411,
  a body over ``max_body_bytes`` is never handed over (the application answers its 413 fault on an empty body),
  a body ending early or malformed chunks are answered 400, each connection then closed. gunicorn itself answers
  400 to a duplicated, non-numeric or negative Content-Length, and to Content-Length with chunked.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import gc
import io
import math
import re
import resource
import selectors
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger as GunicornLogger
from gunicorn.http.errors import NoMoreData, ParseException
from gunicorn.workers.gthread import _DEFER, ThreadWorker

from gateway.adapters.observe.workers import worker_gone
from gateway.app.observation import note_of
from gateway.app.ports import Store
from gateway.entrypoints.compose import make_app
from gateway.entrypoints.settings import WORKER_TIMEOUT_SECONDS, Settings

__all__ = ["CompleteBodies", "GatewayServer", "GatewayWorker", "connection_limit", "discard_cap", "tls_options"]

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# Open files a worker needs besides its connections: standard streams, the listening socket, its poller, the
# heartbeat file, the wake-up pipe, a PostgreSQL pool, files Python opens; and per thread: a SQLite connection's
# database, WAL and shared-memory files and the writers' lock.
_RESERVED_FILES = 64
_FILES_PER_THREAD = 5
_READ_STEP = 64 * 1024
# A request is read ahead by the worker's main loop up to this size before a thread takes it: a typical SOAP
# request arrives whole, and a larger one is well under way (the kernel's receive buffer holds more).
_PREFETCH_LIMIT = 64 * 1024
_SWEEP_SECONDS = 0.1  # how often waiting connections are checked against their time
_CONTENT_LENGTH = re.compile(rb"\ncontent-length:[ \t]*([0-9]{1,19})")
_EXPECT_CONTINUE = re.compile(rb"\r\nexpect:[ \t]*100-continue[ \t]*(?:\r|$)")
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
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


def discard_cap(max_body_bytes: int) -> int:
    """How much of a body over the limit is read (and dropped) so that its client, still sending, is not reset
    before it reads the 413; a body announced larger is refused without reading."""
    return max(64 * 1024 * 1024, 16 * max_body_bytes)


# -- the connection's socket ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Head:
    """What the main loop needs to know of a request head it has read ahead (never a parse: gunicorn's parser
    judges the request; a wrong reading here only hands it to a thread sooner, or later at its deadline)."""

    end: int  # where the body starts
    length: int  # announced by Content-Length (0 without)
    chunked: bool
    expects_continue: bool  # HTTP/1.1 with Expect: 100-continue

    @classmethod
    def of(cls, data: bytes | bytearray) -> _Head | None:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(data[:end]).lower()
        found = _CONTENT_LENGTH.search(head)
        return cls(
            end=end + 4,
            length=0 if found is None else int(found.group(1)),
            chunked=b"chunked" in head and b"\ntransfer-encoding:" in head,
            expects_continue=head.split(b"\r\n", 1)[0].endswith(b"http/1.1") and bool(_EXPECT_CONTINUE.search(head)),
        )

    def body_arrived(self, data: bytes | bytearray) -> bool:
        if self.chunked and self.length:
            return True  # both framings: refused by gunicorn at once, whatever follows
        if self.chunked:  # the last chunk (without trailer fields, which SOAP clients never send)
            return b"0\r\n\r\n" in data[self.end :]
        return len(data) - self.end >= self.length


def _drop_expect(data: bytearray) -> None:
    """Removes the Expect field from the head in ``data``: the 100 Continue has been answered here."""
    head = bytes(data[: data.find(b"\r\n\r\n")]).lower()
    start = head.find(b"\r\nexpect:")
    stop = head.find(b"\r\n", start + 2)
    del data[start : len(head) if stop < 0 else stop]


class _DeadlineSocket(socket.socket):
    """A client connection that is read ahead without blocking (``prefetch``) until a whole request has arrived,
    and whose reads then end at the request's deadline, counted from its first byte: a read past it returns
    ``b""``, the end of the stream, as if the client had gone, and marks the socket ``expired``. Once the server
    has shut down its side, reads take what has arrived and never wait. A write that makes no progress for the
    write timeout counts as a connection reset (the client stopped reading)."""

    __slots__ = (
        "_closing",
        "_continued",
        "_deadline",
        "_eof",
        "_prefetched",
        "_write_timeout",
        "awaiting_continue",
        "expired",
    )

    _continued: bool  # this request's 100 Continue has been sent (from the main loop)
    _deadline: float
    _closing: bool  # the server has shut its side: the connection is being closed
    _eof: bool
    _prefetched: bytearray
    _write_timeout: float
    awaiting_continue: bool  # the client expects 100-continue, which it will not get: its body will not come
    expired: bool

    @classmethod
    def adopt(cls, sock: socket.socket, write_timeout: float) -> _DeadlineSocket:
        """The same connection, now read with deadlines (``sock`` is detached and must not be used again)."""
        blocking = sock.getblocking()
        adopted = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        adopted.setblocking(blocking)
        adopted._continued = adopted.awaiting_continue = False
        adopted._deadline = math.inf
        adopted._eof = False
        adopted._closing = False
        adopted._prefetched = bytearray()
        adopted._write_timeout = write_timeout
        adopted.expired = False
        return adopted

    @property
    def started(self) -> bool:
        """Whether a request has begun: its deadline runs."""
        return self._deadline != math.inf

    @property
    def deadline(self) -> float:
        return self._deadline

    def start_request(self, seconds: float) -> None:
        """A request begins (its first bytes are here): its head and body must arrive within ``seconds``."""
        self._deadline = time.monotonic() + seconds
        self.expired = False

    def end_request(self) -> bytes:
        """The request is answered: no deadline runs until the next one begins. Returns the bytes read ahead
        beyond it (a pipelined next request), which the caller must give back to the parser."""
        self._deadline = math.inf
        self.expired = False
        self._continued = self.awaiting_continue = False
        leftover = bytes(self._prefetched)
        self._prefetched.clear()
        return leftover

    def prefetch(self, request_seconds: float, max_body: int, refused_above: int) -> bool:
        """Reads what has arrived, without waiting; whether the request is now worth a thread (``_ready``)."""
        super().settimeout(0.0)
        while not self._eof and len(self._prefetched) < _PREFETCH_LIMIT:
            try:
                data = super().recv(_PREFETCH_LIMIT - len(self._prefetched))
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                data = b""  # reset: the thread finds the end of the stream
            if not data:
                self._eof = True
                break
            if not self.started:
                self.start_request(request_seconds)
            self._prefetched += data
        return self._ready(max_body, refused_above)

    def _ready(self, max_body: int, refused_above: int) -> bool:
        """A request is worth a thread once it has arrived whole, or announces a body it will not be sent (over
        ``max_body`` with Expect: 100-continue, which is then refused without a 100) or that is refused unread
        (over ``refused_above``), or is too large to wait for in memory, or the client has closed, or its time is
        up. A client expecting 100-continue for a body that may come is answered 100 from here."""
        if self._eof or len(self._prefetched) >= _PREFETCH_LIMIT or time.monotonic() >= self._deadline:
            return True
        head = _Head.of(self._prefetched)
        if head is None:
            return False
        if head.expects_continue and not self._continued:
            if head.length > max_body:
                _drop_expect(self._prefetched)
                self.awaiting_continue = True  # the client holds its body back: nothing to read, nothing to drain
                return True
            if not head.body_arrived(self._prefetched):
                if not self._answer_continue():
                    return True  # not now: gunicorn answers it in the thread, as it does
                _drop_expect(self._prefetched)
                self._continued = True
                return False
        return head.length > refused_above or head.body_arrived(self._prefetched)

    def _answer_continue(self) -> bool:
        try:
            return super().send(_CONTINUE, socket.MSG_DONTWAIT) == len(_CONTINUE)
        except OSError:
            return False

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        if self._prefetched:
            data = bytes(self._prefetched[:bufsize])
            del self._prefetched[:bufsize]
            return data
        if self._eof:
            return b""
        if self._closing:
            # gunicorn lingers on a closing connection for the client's own close, up to 2 s, on the worker's
            # main loop: a client that never closes would stop the loop that long. What has arrived is drained
            # (so that the close sends no reset over unread bytes); nothing is waited for.
            super().settimeout(0.0)
            try:
                return super().recv(bufsize, flags)
            except OSError:
                return b""
        budget = self._deadline - time.monotonic()
        if budget <= 0:
            self.expired = True
            return b""
        super().settimeout(budget)
        try:
            return super().recv(bufsize, flags)
        except TimeoutError:
            self.expired = True
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
            self._closing = True
        super().shutdown(how)


# -- the worker -------------------------------------------------------------------------------------------


class GatewayWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's threaded worker, where a thread is only given a request that has arrived.

    The worker's main loop reads each connection ahead (``_DeadlineSocket.prefetch``) as its bytes come, and hands
    the connection to a thread once a whole request is there (or 64 KiB of it, or the client closed); until then
    it waits in the poller with gunicorn's pending connections, at most until its deadline, when a thread answers
    it (408 once the head is in) or it is closed. So slow and stalled clients cost a connection each, never a
    thread; a thread reads only what has arrived, or, for a large body, against the deadline. gunicorn itself
    would hold a thread for up to 5 s on a connection that has sent nothing, and then read without any limit.
    """

    _next_sweep = 0.0

    # Served over TLS (``serve --certfile``), the bytes on the socket are TLS records, not HTTP: the read-ahead
    # cannot find a request in them, and a socket it has adopted can no longer be wrapped. Such connections are
    # read by gunicorn's own threaded worker, as it is (the request deadlines apply to plain HTTP, e.g. behind a
    # TLS-terminating proxy).

    def _arrived(self, conn: Any) -> bool:
        settings: Settings = self.app.settings
        if not isinstance(conn.sock, _DeadlineSocket):
            conn.sock = _DeadlineSocket.adopt(conn.sock, settings.request_timeout_seconds)
        max_body = settings.max_body_bytes
        return conn.sock.prefetch(settings.request_timeout_seconds, max_body, discard_cap(max_body))

    def handle(self, conn: Any) -> Any:
        """In a thread: a connection given by the main loop, or just accepted."""
        if self.cfg.is_ssl:
            return super().handle(conn)
        pipelined = conn.initialized and bool(conn.parser.unreader.buf.getvalue())  # already read by its parser
        if not pipelined and not self._arrived(conn):
            return _DEFER  # back to the poller: gunicorn's finish_request parks it with the pending ones
        sock: _DeadlineSocket = conn.sock
        if not sock.started:
            sock.start_request(self.app.settings.request_timeout_seconds)
        conn.data_ready = True  # what has arrived is read ahead: gunicorn must not wait for more on the socket
        keep_alive = super().handle(conn)
        expired = sock.expired
        leftover = sock.end_request()
        if keep_alive is True:
            if expired:
                return False  # a read ran out of time: what follows on this connection cannot be trusted
            if leftover:  # the parser reads it first; gunicorn then serves it at once, not from the poller
                unreader = conn.parser.unreader
                unreader.unread(unreader.take_buffered() + leftover)
        return keep_alive

    def on_pending_socket_readable(self, conn: Any, client: Any) -> None:
        """On the main loop: more bytes of a request still arriving (or the first ones)."""
        if self.cfg.is_ssl or self._arrived(conn):
            super().on_pending_socket_readable(conn, client)

    def on_client_socket_readable(self, conn: Any, client: Any) -> None:
        """On the main loop: a kept-alive connection's next request begins."""
        if self.cfg.is_ssl or self._arrived(conn):
            super().on_client_socket_readable(conn, client)
        elif conn.sock.started:  # part of it is here: it waits for the rest with the pending ones
            self.keepalived_conns.remove(conn)
            self.pending_conns.append(conn)
            self.poller.modify(client, selectors.EVENT_READ, functools.partial(self.on_pending_socket_readable, conn))

    def murder_pending(self) -> None:
        """On the main loop: a waiting connection whose time is up (the keep-alive time for one that has sent
        nothing, its deadline for a request under way) is closed, or given to a thread to be answered 408."""
        if self.cfg.is_ssl:
            super().murder_pending()
            return
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_SECONDS
        for conn in [c for c in self.pending_conns if (c.sock.deadline if c.sock.started else c.timeout) <= now]:
            self.pending_conns.remove(conn)
            with contextlib.suppress(OSError, KeyError, ValueError):
                self.poller.unregister(conn.sock)
            if conn.sock.started:
                self.enqueue_req(conn)
            else:
                self.nr_conns -= 1
                conn.close()


# -- the request body -------------------------------------------------------------------------------------


class CompleteBodies:
    """WSGI middleware: reads each request's whole body before the application runs, bounded in size by
    ``max_body_bytes`` (and, through the worker's socket, in time), and hands the application a complete body of a
    known length. What it cannot hand over it answers itself, in plain text, and closes the connection."""

    def __init__(self, app: WsgiApp, max_body_bytes: int) -> None:
        self._app = app
        self._max_body = max_body_bytes
        self._discard_cap = discard_cap(max_body_bytes)

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
            if length <= self._discard_cap and not getattr(environ.get("gunicorn.socket"), "awaiting_continue", False):
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
        note_of(environ).detail = text  # the request log writes it, redacted, with the status
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
    """A gunicorn application serving ``make_app(settings, open_store(settings.db))`` in every worker, the body
    reader inside its observation point; with ``metrics_dir`` (made by ``serve`` before the fork) every worker counts
    its metrics there, and the arbiter marks each worker that exits dead in it."""

    def __init__(
        self,
        settings: Settings,
        open_store: Callable[[str], Store],
        *,
        timeout: int = WORKER_TIMEOUT_SECONDS,
        metrics_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self._open_store = open_store
        self._store: Store | None = None
        self._metrics_dir = metrics_dir
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
            "post_worker_init": _settle,
            "worker_exit": self._worker_exit,
            "child_exit": self._child_exit,
            "logger_class": _GatewayLog,
        }
        if "control_socket_disable" in _known_settings():
            # gunicorn >= 24 opens a control socket at one fixed path per user: servers would clash.
            self._options["control_socket_disable"] = True
        self._options.update(tls_options(settings))
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        """Called in each worker after the fork: its own store, its own application."""
        self._store = self._open_store(self.settings.db)
        max_body = self.settings.max_body_bytes
        return make_app(
            self.settings,
            self._store,
            reader=lambda app: CompleteBodies(app, max_body),
            metrics_dir=self._metrics_dir,
        )

    def _worker_exit(self, server: Any, worker: Any) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _child_exit(self, server: Any, worker: Any) -> None:
        """In the arbiter, once a worker has exited (however): its live gauge no longer counts."""
        if self._metrics_dir is not None:
            worker_gone(worker.pid, self._metrics_dir)


def _settle(worker: Any) -> None:
    """In each worker once its application is loaded: what it holds for good (the compiled schemas, the spyne
    application, the catalogue, the modules) is moved out of the garbage collector's sight, so that a collection
    scans only what requests make (the long-lived objects are about 50,000)."""
    gc.freeze()


class _GatewayLog(GunicornLogger):  # type: ignore[misc]
    """gunicorn's own records (booting, exiting, timeouts) go through the gateway's log, in its format (text or
    one JSON object a line), rather than through a handler and a format of gunicorn's."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in list(self.error_log.handlers):
            self.error_log.removeHandler(handler)
        self.error_log.propagate = True


def tls_options(settings: Settings) -> dict[str, Any]:
    """gunicorn's HTTPS settings for ``serve --certfile --keyfile [--client-ca]``: a client certificate is optional
    in the handshake (UsernameToken callers still connect), and one that is presented must verify against the CA
    bundle; the application reads it as ``environ["gunicorn.socket"].getpeercert(binary_form=True)``."""
    if settings.certfile is None:
        return {}
    options: dict[str, Any] = {"certfile": str(settings.certfile), "keyfile": str(settings.keyfile)}
    if settings.client_ca is not None:
        options.update(ca_certs=str(settings.client_ca), cert_reqs=ssl.CERT_OPTIONAL)
    return options


def _known_settings() -> frozenset[str]:
    from gunicorn.config import KNOWN_SETTINGS

    return frozenset(setting.name for setting in KNOWN_SETTINGS)


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

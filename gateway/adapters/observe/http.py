"""The operator's view over HTTP: the one observation point of every request (``ObservedRequests``), and the
probes ``GET /health``, ``GET /ready`` and the metrics (``Probes``).

Invariants:
- every request the application answers is told to the observer exactly once, when the application returns,
  with its HTTP status and its duration; an observer that fails is logged and never fails the request. The
  probes' own requests are not told (a scraper or a load balancer polling every second would drown the rest).
- ``/health`` says the process answers; ``/ready`` answers 200 only when every readiness check passes within its
  time (the database answers a trivial query, its schema is the newest migration, the message schemas are
  compiled), else 503 with the first reason, in words that name no path, host or secret (anyone may ask). Both are
  small JSON, never cached, without authentication. A database that hangs costs one waiting check per process,
  never a thread per probe.
- the metrics answer only ``GET``/``HEAD``, with the bearer token when one is configured, compared in constant
  time; without it, 401 and nothing else.
"""

from __future__ import annotations

import hmac
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from gateway.app.observation import NOTE_KEY, Observer, RequestNote, note_of
from gateway.app.redaction import shown
from gateway.errors import GatewayError, StorageError

__all__ = ["HEALTH_PATH", "READY_PATH", "ObservedRequests", "Probes", "Readiness", "database_check"]

HEALTH_PATH = "/health"
READY_PATH = "/ready"

log = logging.getLogger("gateway.observe")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Check = Callable[[], str | None]  # None when all is well, else why not (public words)


class _StatusOf:
    """``start_response`` as given, remembering the status. It keeps the original's ``__self__`` (gunicorn's
    response object), through which the body reader asks gunicorn to close a connection."""

    def __init__(self, start_response: StartResponse) -> None:
        self._start_response = start_response
        self.__self__ = getattr(start_response, "__self__", None)
        self.status = 0

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        code = status[:3]
        self.status = int(code) if code.isdigit() else 0
        if exc_info is None:
            return self._start_response(status, headers)
        return self._start_response(status, headers, exc_info)


class ObservedRequests:
    """WSGI middleware: gives each request a ``RequestNote`` (``environ[NOTE_KEY]``) for the fronts to fill, and
    tells the observer its event once the application has answered."""

    def __init__(
        self,
        app: WsgiApp,
        observer: Observer,
        front_of: Callable[[str], str],
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._app = app
        self._observer = observer
        self._front_of = front_of
        self._clock = clock

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", "") or "/")
        query = str(environ.get("QUERY_STRING", "") or "")
        note = RequestNote(
            front=self._front_of(path),
            method=str(environ.get("REQUEST_METHOD", "GET")),
            path=f"{path}?{query}" if query else path,
            peer=str(environ.get("REMOTE_ADDR", "")),
        )
        environ[NOTE_KEY] = note
        start = _StatusOf(start_response)
        begun = self._clock()
        try:
            answer = self._app(environ, start)
        except BaseException:
            self._tell(note, start.status or 500, self._clock() - begun)
            raise
        self._tell(note, start.status, self._clock() - begun)
        return answer

    def _tell(self, note: RequestNote, status: int, seconds: float) -> None:
        if not note.observed:
            return
        try:
            self._observer.request(note.event(status, seconds))
        except Exception:
            log.exception("the observer failed on a request to %s", shown(note.path))


class Readiness:
    """Whether this process can serve: ``checks`` run in order on one thread of their own, within ``timeout``."""

    def __init__(self, checks: Sequence[Check], *, timeout: float = 2.0) -> None:
        self._checks = tuple(checks)
        self._timeout = timeout
        self._lock = threading.Lock()
        self._busy = False
        self._thread: threading.Thread | None = None
        self._asked: queue.SimpleQueue[tuple[threading.Event, list[str | None]]] = queue.SimpleQueue()

    def check(self) -> str | None:
        """None when ready, else the reason (the first check that failed, or the time that ran out)."""
        done = threading.Event()
        box: list[str | None] = []
        with self._lock:
            if self._busy:
                return "the previous readiness check is still waiting for the database"
            self._busy = True
            if self._thread is None or not self._thread.is_alive():
                # One thread for the process's life: a store keeps a connection per thread.
                self._thread = threading.Thread(target=self._serve, name="ksz-gateway-readiness", daemon=True)
                self._thread.start()
            self._asked.put((done, box))
        if not done.wait(self._timeout):
            return f"the checks did not finish within {self._timeout:g} s (the database does not answer)"
        return box[0] if box else "the readiness check failed"

    def _serve(self) -> None:
        while True:
            done, box = self._asked.get()
            try:
                box.append(self._run())
            finally:
                with self._lock:
                    self._busy = False
                done.set()

    def _run(self) -> str | None:
        for check in self._checks:
            try:
                reason = check()
            except Exception:
                log.exception("a readiness check failed")
                return "a readiness check failed unexpectedly"
            if reason is not None:
                return reason
        return None


def database_check(schema_version: Callable[[], int], newest: int, observer: Observer | None = None) -> Check:
    """The database answers a trivial query (its schema version) and that version is ``newest``."""

    def check() -> str | None:
        try:
            version = schema_version()
        except StorageError as error:
            cause = error.__cause__
            kind = type(cause).__name__ if cause is not None else "StorageError"
            log.warning("readiness: the database does not answer: %s", shown(error.message, 400))
            if observer is not None:
                observer.database_error(kind)
            return f"the database does not answer ({kind})"
        except GatewayError as error:
            log.warning("readiness: the database failed: %s", shown(error.message, 400))
            return f"the database failed ({error.code})"
        if version != newest:
            return f"the database schema is at version {version}; this gateway needs {newest} (ksz-gateway db upgrade)"
        return None

    return check


_JSON = "application/json"
_NO_STORE = ("Cache-Control", "no-store")


def _json(start_response: StartResponse, status: str, value: dict[str, str], head: bool) -> list[bytes]:
    body = json.dumps(value).encode()
    start_response(status, [("Content-Type", _JSON), ("Content-Length", str(len(body))), _NO_STORE])
    return [] if head else [body]


class Probes:
    """WSGI middleware: answers ``/health``, ``/ready`` and the metrics path itself; every other request goes on to
    ``app``."""

    def __init__(
        self,
        app: WsgiApp,
        *,
        readiness: Readiness,
        metrics: Callable[[], bytes] | None,
        metrics_content_type: str,
        metrics_path: str = "/metrics",
        metrics_token: bytes | None = None,
    ) -> None:
        self._app = app
        self._readiness = readiness
        self._metrics = metrics
        self._metrics_type = metrics_content_type
        self._metrics_path = metrics_path
        self._token = metrics_token
        self._paths = frozenset({HEALTH_PATH, READY_PATH, *((metrics_path,) if metrics is not None else ())})

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if path not in self._paths:
            return self._app(environ, start_response)
        note: RequestNote = note_of(environ)
        note.observed = False
        method = str(environ.get("REQUEST_METHOD", "GET"))
        head = method == "HEAD"
        if method not in ("GET", "HEAD"):
            body = b"Only GET and HEAD.\n"
            start_response(
                "405 Method Not Allowed",
                [
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Length", str(len(body))),
                    ("Allow", "GET, HEAD"),
                    _NO_STORE,
                ],
            )
            return [body]
        if path == HEALTH_PATH:
            return _json(start_response, "200 OK", {"status": "ok"}, head)
        if path == READY_PATH:
            reason = self._readiness.check()
            if reason is None:
                return _json(start_response, "200 OK", {"status": "ok"}, head)
            return _json(start_response, "503 Service Unavailable", {"status": "unavailable", "reason": reason}, head)
        return self._scrape(environ, start_response, head)

    def _scrape(self, environ: dict[str, Any], start_response: StartResponse, head: bool) -> Iterable[bytes]:
        assert self._metrics is not None
        if self._token is not None and not self._authorized(environ):
            body = b"The metrics need the bearer token (Authorization: Bearer ...).\n"
            start_response(
                "401 Unauthorized",
                [
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Length", str(len(body))),
                    ("WWW-Authenticate", 'Bearer realm="metrics"'),
                    _NO_STORE,
                ],
            )
            return [body]
        body = self._metrics()
        start_response("200 OK", [("Content-Type", self._metrics_type), ("Content-Length", str(len(body))), _NO_STORE])
        return [] if head else [body]

    def _authorized(self, environ: dict[str, Any]) -> bool:
        assert self._token is not None
        scheme, _, given = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"), self._token)

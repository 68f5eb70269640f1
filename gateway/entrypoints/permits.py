"""How many of a worker's threads do the gateway's own work at once (``serve --active-threads``).

A worker process runs Python on one core at a time (its GIL), and on SQLite its writers take turns on one lock.
Eight threads all working at once do not finish more requests than two: they take the GIL from each other in the
middle of a request, and a thread that holds the writers' lock waits for the GIL while every other writer, in
this worker and the others, waits for it. Measured on 2 cores (docs/performance.md), two threads at work a worker
served about a quarter more requests a second than eight, on SQLite and on PostgreSQL.

So a worker keeps its pool of threads (``--threads``), which read requests, write answers and wait on slow
providers, and ``Permits`` lets only ``size`` of them into the application at once; the rest wait for a permit
(without the GIL). A thread that waits for a flow's provider gives its permit back while it waits (``waived``),
so a slow provider holds a thread, never the worker's capacity to answer.

Invariants: at most ``size`` threads hold a permit at any moment; a thread holds at most one (entering again
while holding one takes none); a permit is always given back, however the block ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from gateway.app.access_service import Provider
from gateway.domain.access import Flow

__all__ = ["Permits", "Permitted", "WaivingProvider"]

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Permits:
    """``size`` permits to do the gateway's own work, shared by the threads of one process."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"a worker needs at least one permit, not {size}")
        self.size = size
        self._slots = threading.Semaphore(size)
        self._mine = threading.local()

    def holding(self) -> bool:
        """Whether the calling thread holds a permit."""
        return bool(getattr(self._mine, "held", False))

    @contextmanager
    def held(self) -> Iterator[None]:
        """The block runs holding a permit (waiting for one first when all are taken)."""
        if self.holding():
            yield
            return
        self._slots.acquire()
        self._mine.held = True
        try:
            yield
        finally:
            if self._mine.held:
                self._mine.held = False
                self._slots.release()

    @contextmanager
    def waived(self) -> Iterator[None]:
        """The block runs without this thread's permit, given back for another thread while the block waits on
        something outside the worker; the permit is taken again (waiting if need be) when the block ends."""
        if not self.holding():
            yield
            return
        self._mine.held = False
        self._slots.release()
        try:
            yield
        finally:
            self._slots.acquire()
            self._mine.held = True


class Permitted:
    """WSGI middleware: ``app`` runs holding a permit. Only the call is bounded: the answer (a list of bytes) is
    written to the client after the permit is given back."""

    def __init__(self, app: WsgiApp, permits: Permits) -> None:
        self._app = app
        self._permits = permits

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        with self._permits.held():
            return self._app(environ, start_response)


class WaivingProvider:
    """A flow's ``Provider`` called without the calling thread's permit: the wait for the provider is no work."""

    def __init__(self, provider: Provider, permits: Permits) -> None:
        self._provider = provider
        self._permits = permits

    def __call__(self, flow: Flow, payload: bytes | None, ticket: str) -> bytes | None:
        if flow.provider_url is None:
            return self._provider(flow, payload, ticket)  # answered by the gateway itself: no wait
        with self._permits.waived():
            return self._provider(flow, payload, ticket)

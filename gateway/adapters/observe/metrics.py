"""The gateway's metrics in the Prometheus text format (``prometheus-client``), summed over every worker process.

Invariant: the metric names and labels are the operators' contract (README, "Metrics and logs") and every label
value is bounded (``gateway.app.observation``). Served by ``serve``, the counts live in a private directory made
before gunicorn forks (``PROMETHEUS_MULTIPROC_DIR``, set before this module first imports ``prometheus_client``,
which reads it once), so a scrape answered by any worker sums them all, those of workers that have exited included;
a worker's exit removes only its gauge. Without that directory (an application built in one process) the counts
are this process's. The directory's size is counted at most once every ``gauge_seconds`` per process, at a
scrape, never per request: a COUNT over millions of rows is not paid on every scrape.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

from gateway.adapters.observe.workers import MULTIPROCESS_ENV
from gateway.app.observation import Outcome, RequestEvent
from gateway.errors import ConfigurationError, StorageError

__all__ = ["CONTENT_TYPE", "LATENCY_BUCKETS", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The ``Observer`` that counts: requests, refusals, latencies, authentication failures, database errors,
    provider calls, and the directory's size as a gauge."""

    def __init__(
        self,
        *,
        multiprocess_dir: str | Path | None = None,
        directory_size: Callable[[], int] | None = None,
        gauge_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dir = None if multiprocess_dir is None else str(multiprocess_dir)
        if self._dir is not None and (
            os.environ.get(MULTIPROCESS_ENV) != self._dir or values.ValueClass is values.MutexValue
        ):
            raise ConfigurationError(
                f"metrics summed over processes need {MULTIPROCESS_ENV}={self._dir} set before prometheus_client is "
                "first imported"
            )
        # Counts from one process live in a registry of their own (several applications in one process, as in
        # tests, do not clash); counts from many are read back from the directory at each scrape.
        self._registry = CollectorRegistry() if self._dir is None else None
        registry = self._registry
        self.requests = Counter(
            "ksz_gateway_requests",
            "Requests answered, by front, operation and outcome.",
            ["front", "operation", "outcome"],
            registry=registry,
        )
        self.refusals = Counter(
            "ksz_gateway_refusals",
            "Reason codes of refused requests and persons (ERROR details, fault codes), by front and operation.",
            ["front", "operation", "reason"],
            registry=registry,
        )
        self.duration = Histogram(
            "ksz_gateway_request_duration_seconds",
            "Time from a request's arrival at the application to its answer, by front and operation.",
            ["front", "operation"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.auth_failures = Counter(
            "ksz_gateway_auth_failures",
            "Failed authentications, by front and kind.",
            ["front", "kind"],
            registry=registry,
        )
        self.database_errors = Counter(
            "ksz_gateway_database_errors",
            "Database failures met (by the driver's error class).",
            ["kind"],
            registry=registry,
        )
        self.provider_calls = Counter(
            "ksz_gateway_provider_calls",
            "Calls of a flow's provider, by flow and outcome (ok, failed).",
            ["flow", "outcome"],
            registry=registry,
        )
        self.directory = Gauge(
            "ksz_gateway_directory_integrations",
            f"Integration periods in the directory (counted at most every {gauge_seconds:g} s).",
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self._directory_size = directory_size
        self._gauge_seconds = gauge_seconds
        self._clock = clock
        self._counted_at: float | None = None
        self._lock = threading.Lock()

    # -- the observer ---------------------------------------------------------------------------------------

    def request(self, event: RequestEvent) -> None:
        self.requests.labels(event.front, event.operation, str(event.outcome)).inc()
        self.duration.labels(event.front, event.operation).observe(event.duration_seconds)
        for reason in event.refusals:
            self.refusals.labels(event.front, event.operation, reason).inc()
        if event.outcome is Outcome.AUTH_FAILED and event.auth_failure:
            self.auth_failures.labels(event.front, event.auth_failure).inc()
        if event.database_error:
            self.database_errors.labels(event.database_error).inc()

    def provider_call(self, flow: str, outcome: str) -> None:
        self.provider_calls.labels(flow, outcome).inc()

    def database_error(self, kind: str) -> None:
        self.database_errors.labels(kind).inc()

    # -- the scrape -----------------------------------------------------------------------------------------

    def render(self) -> bytes:
        """The metrics in the Prometheus text format (the directory's size counted first, when it is due)."""
        self._refresh_directory()
        if self._registry is not None:
            return bytes(generate_latest(self._registry))
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self._dir)  # type: ignore[no-untyped-call]
        return bytes(generate_latest(registry))

    def _refresh_directory(self) -> None:
        if self._directory_size is None:
            return
        with self._lock:
            now = self._clock()
            if self._counted_at is not None and now - self._counted_at < self._gauge_seconds:
                return
            self._counted_at = now  # a failing count is not retried at every scrape either
            try:
                size = self._directory_size()
            except StorageError as error:
                cause = error.__cause__
                self.database_error(type(cause).__name__ if cause is not None else "StorageError")
                return
            self.directory.set(size)

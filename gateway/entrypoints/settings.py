"""The gateway's settings: one typed, immutable object, built by the CLI and passed explicitly.

Invariant: nothing reads the environment or opens a database at import time; whoever needs a setting is given
this object.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from gateway.contract.limits import DEFAULT_LIMITS

__all__ = ["DEFAULT_DB", "WORKER_TIMEOUT_SECONDS", "Settings"]

DEFAULT_DB = "ksz-gateway.db"
# gunicorn's heartbeat: a worker whose main loop is silent this long is killed and replaced. The main loop only
# accepts and dispatches, so a request taking long (a slow provider) never trips it (gateway.entrypoints.wsgi).
WORKER_TIMEOUT_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Settings:
    db: str = DEFAULT_DB  # a SQLite file path or a postgresql:// URL
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1  # worker processes under gunicorn's arbiter
    # Serving (gateway.entrypoints.wsgi): each worker handles requests on a fixed pool of ``threads`` threads,
    # holds at most ``worker_connections`` connections open, closes a kept-alive connection idle for
    # ``keepalive_seconds``, and cuts off a client that has not sent a request's head and body within
    # ``request_timeout_seconds`` of its first byte.
    threads: int = 8
    # Of those, how many do the gateway's own work at once (gateway.entrypoints.permits); 0: all of them.
    active_threads: int = 2
    worker_connections: int = 500
    keepalive_seconds: int = 5
    request_timeout_seconds: float = 15.0
    demo: bool = False
    today: date | None = None  # fixes the gateway's day (test harnesses, sample replays)
    allow_password_text: bool = False
    max_body_bytes: int = 4 * 1024 * 1024
    timestamp_window_seconds: int = 300
    flow_catalogue: str | Path | None = None  # None: the default flow catalogue shipped in gateway/data
    provider_timeout_seconds: float = 10.0
    # Reverse proxies whose X-Forwarded-* / Forwarded headers are believed (``serve --forwarded-allow-ips``, as
    # gunicorn names it): each an IP address, a CIDR network, or "*" for every peer; from any other address those
    # headers are ignored. None is trusted by default. gunicorn applies it to ``wsgi.url_scheme``
    # (X-Forwarded-Proto); whoever reads other forwarded headers must apply the same list.
    forwarded_allow_ips: tuple[str, ...] = ()
    # Bounds on the XML of one request, checked once it is parsed, before authentication and validation
    # (gateway.contract.limits.XmlLimits says what each bounds).
    xml_max_depth: int = DEFAULT_LIMITS.max_depth
    xml_max_elements: int = DEFAULT_LIMITS.max_elements
    xml_max_attributes: int = DEFAULT_LIMITS.max_attributes
    xml_max_namespaces: int = DEFAULT_LIMITS.max_namespaces
    xml_max_namespaces_total: int = DEFAULT_LIMITS.max_namespaces_total
    xml_max_text_chars: int = DEFAULT_LIMITS.max_text_chars
    # HTTPS (``serve --certfile --keyfile``), and the CA bundle client certificates must verify against
    # (``--client-ca``): in the gateway's own handshake (optional there, so UsernameToken callers still connect)
    # and for a certificate a trusted proxy forwards.
    certfile: Path | None = None
    keyfile: Path | None = None
    client_ca: Path | None = None
    # The brake on guessing credentials, on every front (gateway.app.auth_guard.ThrottlePolicy says what each does;
    # ``serve --auth-failures-...``).
    auth_failures_window_seconds: int = 15 * 60
    auth_failures_soft: int = 5
    auth_failures_hard: int = 10
    auth_failures_lockout_seconds: int = 15 * 60
    auth_failures_address_limit: int = 20
    auth_failures_delay_seconds: float = 2.0
    auth_failures_retention_days: int = 30
    auth_failures_refresh_seconds: float = 1.0
    # Secrets at rest and a lost database: the key file that seals institution secrets in the database (None:
    # stored in clear), how long a request waits for a PostgreSQL connection before it fails with "directory
    # unavailable", and how long ``serve`` waits at start for a database that does not answer (0: not at all).
    secret_key_file: Path | None = None
    db_timeout_seconds: float = 1.0
    wait_for_db_seconds: float = 0.0
    # The configuration file the settings were read from (``serve --config``), under the environment's
    # KSZ_GATEWAY_* variables and the options (gateway.entrypoints.configuration); None: options alone.
    config: Path | None = None
    # The key that signs the console's session cookies: random for each server started (made before its workers
    # fork, so they all share it), so a restart ends every console session.
    console_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    # The audit chain's checkpoint key (``serve --audit-key-file``, kept outside the database): with it, a signed
    # checkpoint is made every ``audit_checkpoint_every`` records (gateway.app.audit_chain).
    audit_key_file: Path | None = None
    audit_checkpoint_every: int = 1000
    # Operating (gateway.adapters.observe): the log's format ("text" or "json", one object a line), where the
    # Prometheus metrics are served and the file holding the bearer token they need (none: open, like /health),
    # and how long a count of the directory's size is reused by the metrics.
    log_format: str = "text"
    metrics_path: str = "/metrics"
    metrics_token_file: Path | None = None
    directory_gauge_seconds: float = 30.0

"""The operator's commands for the SOAP service: ``serve`` and ``institutions`` (add, list, rotate-secret, disable,
add-certificate, remove-certificate).

Invariant: ``serve`` checks its flow catalogue and upgrades the schema before it answers anything, says aloud when
it runs with public demo secrets, a fixed day or an operator's flow catalogue, and never leaves the demo identities
usable on a server started without ``--demo``; an institution's secret is generated here, strong, and printed
exactly once.
"""

from __future__ import annotations

import argparse
import io
import logging
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.entrypoints.commands.argtypes import (
    address_list,
    day,
    enterprise_number,
    metrics_path,
    seconds,
    tcp_port,
    whole_number,
)
from gateway.entrypoints.settings import DEFAULT_DB, Settings

if TYPE_CHECKING:
    from gateway.app.ports import Store
    from gateway.domain.access import FlowCatalogue

__all__ = ["check_flow_catalogue", "register"]

_DEFAULTS = Settings()
# A SendFlow holds one of its worker's threads while it waits for the provider: never for long.
_MAX_PROVIDER_TIMEOUT = 30.0


def register(subparsers: Any) -> None:
    def db_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--db", default=DEFAULT_DB, metavar="PATH-OR-URL", help=f"SQLite file or postgresql:// URL ({DEFAULT_DB})"
        )

    serve = subparsers.add_parser(
        "serve",
        help="serve the repertorium over SOAP 1.1 at /soap/repertorium",
        description="Serve the repertorium (SOAP 1.1) at http://HOST:PORT/soap/repertorium, its WSDL at ?wsdl.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=tcp_port(), default=8080, help="TCP port (8080)")
    db_option(serve)
    bounded: list[tuple[str, Callable[[str], Any], float, str, str]] = [
        (
            "--workers",
            whole_number(1),
            _DEFAULTS.workers,
            "N",
            "worker processes under gunicorn's arbiter, each with its own store",
        ),
        (
            "--threads",
            whole_number(1, 256),
            _DEFAULTS.threads,
            "N",
            "request-handling threads of each worker, a fixed pool",
        ),
        (
            "--worker-connections",
            whole_number(1),
            _DEFAULTS.worker_connections,
            "N",
            "open connections a worker holds at most, lowered to fit the open-files limit",
        ),
        (
            "--keep-alive",
            whole_number(1, 3600),
            _DEFAULTS.keepalive_seconds,
            "SECONDS",
            "how long an idle connection stays open for a next request",
        ),
        (
            "--request-timeout",
            seconds(0, 3600, above_low=True),
            _DEFAULTS.request_timeout_seconds,
            "SECONDS",
            "a request's head and body must arrive within this time of its first byte, or the client is cut off",
        ),
        ("--max-body-bytes", whole_number(1), _DEFAULTS.max_body_bytes, "N", "largest request body accepted"),
        (
            "--provider-timeout",
            seconds(0, _MAX_PROVIDER_TIMEOUT, above_low=True),
            _DEFAULTS.provider_timeout_seconds,
            "SECONDS",
            f"how long SendFlow waits for a flow's provider, at most {_MAX_PROVIDER_TIMEOUT:g}",
        ),
    ]
    for flag, parse, default, metavar, text in bounded:
        shown = default if isinstance(default, int) else f"{default:g}"
        serve.add_argument(flag, type=parse, default=default, metavar=metavar, help=f"{text} ({shown})")
    serve.add_argument(
        "--forwarded-allow-ips",
        type=address_list,
        default=_DEFAULTS.forwarded_allow_ips,
        metavar="ADDRESSES",
        help="reverse proxies (comma-separated addresses or networks, * for any) whose X-Forwarded-Proto and "
        "forwarded headers (X-SSL-Client-Cert included) are believed (none)",
    )
    serve.add_argument("--certfile", type=Path, metavar="PEM", help="serve HTTPS with this certificate (chain)")
    serve.add_argument("--keyfile", type=Path, metavar="PEM", help="the private key of --certfile")
    serve.add_argument(
        "--client-ca",
        type=Path,
        metavar="PEM",
        help="CA bundle that client certificates must verify against (optional in the handshake; also checked "
        "for a certificate a trusted proxy forwards)",
    )
    serve.add_argument(
        "--demo", action="store_true", help="add the contract's demo institutions and codes (public test secrets)"
    )
    serve.add_argument("--today", type=day, metavar="YYYY-MM-DD", help="fix the gateway's day (tests, replays)")
    serve.add_argument(
        "--allow-password-text", action="store_true", help="accept WS-Security #PasswordText (digest only by default)"
    )
    serve.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=_DEFAULTS.log_format,
        help="the log on standard error: readable text, or one JSON object a line (json also sends the start-up "
        "lines there, as records) (text)",
    )
    serve.add_argument(
        "--metrics-path",
        type=metrics_path,
        default=_DEFAULTS.metrics_path,
        metavar="PATH",
        help=f"where the Prometheus metrics are served ({_DEFAULTS.metrics_path})",
    )
    serve.add_argument(
        "--metrics-token-file",
        type=Path,
        metavar="FILE",
        help="a file holding the bearer token the metrics ask for (none: the metrics are open, as /health is)",
    )
    serve.add_argument(
        "--directory-gauge-seconds",
        type=seconds(0, 86400),
        default=_DEFAULTS.directory_gauge_seconds,
        metavar="SECONDS",
        help="how long the metrics reuse a count of the directory's integrations before counting again "
        f"({_DEFAULTS.directory_gauge_seconds:g})",
    )
    serve.add_argument(
        "--flows",
        type=Path,
        metavar="FILE",
        help="an operator's flow catalogue (JSON, as gateway/data/flows.json) replacing the default one",
    )
    serve.set_defaults(handler=handle_serve_logged)

    institutions = subparsers.add_parser("institutions", help="manage the institutions that may call the gateway")
    actions = institutions.add_subparsers(dest="institutions_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add an institution; its new secret is printed once")
    add.add_argument("id", type=enterprise_number, metavar="ID", help="enterprise number, 10 digits")
    add.add_argument("name", metavar="NAME")
    add.add_argument("sector", type=int, metavar="SECTOR", help="sector number (17 for an OCMW)")
    db_option(add)
    add.set_defaults(handler=handle_add)
    listing = actions.add_parser("list", help="list the institutions (never their secrets)")
    db_option(listing)
    listing.set_defaults(handler=handle_list)
    rotate = actions.add_parser("rotate-secret", help="give an institution a new secret, printed once")
    rotate.add_argument("id", type=enterprise_number, metavar="ID")
    db_option(rotate)
    rotate.set_defaults(handler=handle_rotate)
    disable = actions.add_parser("disable", help="refuse every request of an institution from now on")
    disable.add_argument("id", type=enterprise_number, metavar="ID")
    db_option(disable)
    disable.set_defaults(handler=handle_disable)
    from gateway.entrypoints.commands.certificates import register_institution_actions

    register_institution_actions(actions, db_option, enterprise_number)


# -- serve ----------------------------------------------------------------------------------------------


def handle_serve_logged(args: argparse.Namespace) -> int:
    """``serve``; with ``--log-format json`` its start-up lines on standard output become log records too."""
    if args.log_format != "json":
        return handle_serve(args)
    with _stdout_as_log():
        return handle_serve(args)


def handle_serve(args: argparse.Namespace) -> int:
    from gateway.adapters.storage import open_store
    from gateway.app.demo import DEMO_INSTITUTIONS, ensure_demo

    flows_file = args.flows.resolve() if args.flows is not None else None
    flows = check_flow_catalogue(flows_file)
    if flows is None:
        return 2
    settings = Settings(
        db=args.db,
        host=args.host,
        port=args.port,
        workers=args.workers,
        threads=args.threads,
        worker_connections=args.worker_connections,
        keepalive_seconds=args.keep_alive,
        request_timeout_seconds=args.request_timeout,
        forwarded_allow_ips=args.forwarded_allow_ips,
        demo=args.demo,
        today=args.today,
        allow_password_text=args.allow_password_text,
        max_body_bytes=args.max_body_bytes,
        flow_catalogue=flows_file,
        provider_timeout_seconds=args.provider_timeout,
        certfile=args.certfile,
        keyfile=args.keyfile,
        client_ca=args.client_ca,
        log_format=args.log_format,
        metrics_path=args.metrics_path,
        metrics_token_file=args.metrics_token_file,
        directory_gauge_seconds=args.directory_gauge_seconds,
    )
    problem = _tls_problem(settings.certfile, settings.keyfile, settings.client_ca) or _metrics_problem(settings)
    if problem is not None:
        print(f"ksz-gateway serve: {problem}.", file=sys.stderr)
        return 2
    from gateway.adapters.observe.logs import configure_logging

    configure_logging(settings.log_format)

    store = open_store(settings.db)
    try:
        version = store.upgrade()
        if settings.demo:
            ensure_demo(store)
        else:
            _retire_demo_identities(store, DEMO_INSTITUTIONS)
    finally:
        store.close()  # each worker opens its own after the fork

    scheme = "http" if settings.certfile is None else "https"
    endpoint = f"{scheme}://{_url_host(settings.host)}:{settings.port}/soap/repertorium"
    print(f"Directory: {store!r}, schema version {version}.")
    if settings.demo:
        print(
            "Demo mode: the demo institutions 0212345668, 0212345767, 0212345866 and 0212345965 are enabled with "
            "the contract's demo secrets. These secrets are PUBLIC TEST VALUES: never use this server for real data."
        )
    if settings.today is not None:
        print(
            f"The gateway's day is fixed at {settings.today.isoformat()} (--today): every rule that speaks of "
            "today uses this day, not the calendar."
        )
    if settings.allow_password_text:
        print("WS-Security #PasswordText is accepted (--allow-password-text): secrets travel in clear text.")
    if flows_file is not None:
        forwarded = sorted(f.id for f in flows.flows.values() if f.provider_url is not None)
        print(
            f"Flow catalogue: {flows_file} ({len(flows.flows)} flows; "
            f"forwarded to a provider: {', '.join(forwarded) or 'none'}; provider timeout "
            f"{settings.provider_timeout_seconds:g} s)."
        )
    from gateway.entrypoints.wsgi import GatewayServer, connection_limit

    connections = connection_limit(settings)
    if connections < settings.worker_connections:
        print(
            f"The open-files limit allows {connections} connections per worker: --worker-connections lowered "
            f"from {settings.worker_connections}."
        )
    if settings.forwarded_allow_ips:
        proxies = ", ".join(settings.forwarded_allow_ips)
        print(f"Forwarded headers (X-SSL-Client-Cert included) are believed from {proxies} only.")
    print(
        f"Serving the repertorium at {endpoint} with {settings.workers} worker process(es) of {settings.threads} "
        f"threads (request timeout {settings.request_timeout_seconds:g} s, keep-alive {settings.keepalive_seconds} s)."
    )
    print(f"WSDL: {endpoint}?wsdl")
    from gateway.contract.ssdn import CONNECTOR_PATH

    print(f"Legacy connector (sendXML): {scheme}://{_url_host(settings.host)}:{settings.port}{CONNECTOR_PATH}")
    if settings.certfile is not None:
        verified = f"verified against {settings.client_ca}" if settings.client_ca else "not asked for (no --client-ca)"
        print(f"HTTPS with {settings.certfile}; client certificates are optional and {verified}.")
    print(f"Operator console: {scheme}://{_url_host(settings.host)}:{settings.port}/console/")
    if settings.metrics_token_file is not None:
        print(f"Metrics: {settings.metrics_path} (bearer token of {settings.metrics_token_file}); /health, /ready.")
    else:
        print(f"Metrics: {settings.metrics_path} (no token); /health, /ready.")
    sys.stdout.flush()
    from gateway.adapters.observe.workers import metrics_directory

    # Made before gunicorn forks and before prometheus_client is imported, so that every worker counts into it.
    with metrics_directory() as metrics_dir:
        GatewayServer(settings, open_store, metrics_dir=metrics_dir).run()
    return 0


@contextmanager
def _stdout_as_log() -> Iterator[None]:
    """Standard output's lines become log records (logger ``gateway.serve``): with ``--log-format json`` the
    start-up lines join the one stream of JSON objects instead of interleaving plain text with it."""
    saved = sys.stdout
    sys.stdout = _LogLines(logging.getLogger("gateway.serve"))
    try:
        yield
    finally:
        sys.stdout = saved


class _LogLines(io.TextIOBase):
    """A text stream whose every line is logged at info."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        for line in lines:
            if line:
                self._logger.info("%s", line)
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._logger.info("%s", self._pending)
            self._pending = ""


def _metrics_problem(settings: Settings) -> str | None:
    """What is wrong with the metrics' token file, or None."""
    from gateway.entrypoints.compose import metrics_token
    from gateway.errors import ConfigurationError

    try:
        metrics_token(settings)
    except ConfigurationError as exc:
        return exc.message
    return None


def _tls_problem(certfile: Path | None, keyfile: Path | None, client_ca: Path | None) -> str | None:
    """What is wrong with the HTTPS options, or None."""
    import ssl

    if (certfile is None) != (keyfile is None):
        return "--certfile and --keyfile go together"
    if certfile is not None and keyfile is not None:
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
        except (OSError, ssl.SSLError) as exc:
            return f"the server certificate {certfile} with key {keyfile} cannot be used: {exc}"
    if client_ca is not None:
        try:
            ssl.create_default_context(cafile=str(client_ca))
        except (OSError, ssl.SSLError) as exc:
            return f"the client CA bundle {client_ca} cannot be used: {exc}"
    return None


def check_flow_catalogue(path: Path | None) -> FlowCatalogue | None:
    """The flow catalogue ``serve`` will use, checked; on a problem, says what is wrong and returns None."""
    from gateway.domain.access import load_flow_catalogue
    from gateway.domain.catalogue import CatalogueError

    try:
        flows = load_flow_catalogue(path)
    except OSError as exc:
        print(f"Cannot read the flow catalogue {path}: {exc.strerror or exc}.", file=sys.stderr)
        return None
    except (CatalogueError, ValueError) as exc:  # ValueError: not UTF-8 text
        print(f"The flow catalogue {path} cannot be used: {exc}", file=sys.stderr)
        return None
    for flow in flows.flows.values():
        url = flow.provider_url
        if url is not None and not url.startswith(("http://", "https://")):
            print(
                f"The flow catalogue {path} cannot be used: flow {flow.id} names provider {url!r}; "
                "a provider is an http:// or https:// URL.",
                file=sys.stderr,
            )
            return None
    return flows


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _retire_demo_identities(store: Store, demo: tuple[Any, ...]) -> None:
    """A server without ``--demo`` disables any institution still holding a published demo secret."""
    published = {d.id: d.secret for d in demo}
    for record in store.institutions():
        if record.enabled and published.get(record.id) == record.secret:
            store.set_enabled(record.id, False)
            print(f"Disabled demo institution {record.id}: its secret is public and this server runs without --demo.")


# -- institutions ---------------------------------------------------------------------------------------


@contextmanager
def _opened(db: str) -> Iterator[Store]:
    """The store at ``db``, upgraded, closed when the command is done with it."""
    from gateway.adapters.storage import open_store

    store = open_store(db)
    try:
        store.upgrade()
        yield store
    finally:
        store.close()


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def handle_add(args: argparse.Namespace) -> int:
    from gateway.app.ports import InstitutionRecord
    from gateway.errors import InstitutionExists, StorageError

    secret = _new_secret()
    with _opened(args.db) as store:
        try:
            store.add_institution(InstitutionRecord(args.id, args.name, args.sector, secret))
        except (InstitutionExists, StorageError) as exc:
            print(f"Cannot add institution {args.id}: {exc.message}", file=sys.stderr)
            return 1
    print(f"Added institution {args.id} ({args.name}, sector {args.sector}).")
    print(f"Its secret, shown only now: {secret}")
    return 0


def handle_list(args: argparse.Namespace) -> int:
    from gateway.entrypoints.commands.certificates import describe

    with _opened(args.db) as store:
        records = store.institutions()
        certificates = store.certificates()
    for record in records:
        state = "enabled" if record.enabled else "disabled"
        print(f"{record.id}  sector {record.sector:>3}  {state:<8}  {record.name}")
        for certificate in (c for c in certificates if c.institution_id == record.id):
            print(f"            {describe(certificate)}")
    print(f"{len(records)} institution(s).")
    return 0


def handle_rotate(args: argparse.Namespace) -> int:
    secret = _new_secret()
    with _opened(args.db) as store:
        found = store.set_secret(args.id, secret)
    if not found:
        print(f"No institution {args.id}.", file=sys.stderr)
        return 1
    print(f"New secret of institution {args.id}, shown only now: {secret}")
    print("The old secret no longer works.")
    return 0


def handle_disable(args: argparse.Namespace) -> int:
    with _opened(args.db) as store:
        found = store.set_enabled(args.id, False)
    if not found:
        print(f"No institution {args.id}.", file=sys.stderr)
        return 1
    print(f"Institution {args.id} is disabled: its requests are refused from now on.")
    return 0

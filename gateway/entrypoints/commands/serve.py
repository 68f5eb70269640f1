"""The operator's commands for the SOAP service: ``serve`` and ``institutions`` (add, list, rotate-secret, disable,
add-certificate, remove-certificate).

Invariant: ``serve`` checks its flow catalogue and its audit key file and upgrades the schema before it answers
anything, says aloud when it runs with public demo secrets, a fixed day, an operator's flow catalogue, no audit key
or secrets stored in clear, and never leaves the demo identities usable on a server started without ``--demo``; it
starts only on a database that answers and whose every secret it can read (else one line and exit code 2); an
institution's secret is generated here, strong, and printed exactly once.
"""

from __future__ import annotations

import argparse
import io
import logging
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
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
from gateway.entrypoints.configuration import database_options
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
        database_options(p, DEFAULT_DB)

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
            "--active-threads",
            whole_number(0, 256),
            _DEFAULTS.active_threads,
            "N",
            "of those, how many do the gateway's work at once; the rest wait for a turn, and one waiting for a "
            "flow's provider gives its turn up (0: all of them)",
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
    from gateway.entrypoints.commands.security import add_throttle_options

    add_throttle_options(serve)
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
        "--audit-key-file",
        type=Path,
        metavar="FILE",
        help="the audit chain's checkpoint key (`ksz-gateway audit new-key`), kept outside the database; without "
        "it no signed checkpoints are made",
    )
    serve.add_argument(
        "--audit-checkpoint-every",
        type=whole_number(1),
        default=_DEFAULTS.audit_checkpoint_every,
        metavar="N",
        help=f"records between two signed checkpoints of the audit chain ({_DEFAULTS.audit_checkpoint_every})",
    )
    serve.add_argument(
        "--demo", action="store_true", help="add the contract's demo institutions and codes (public test secrets)"
    )
    serve.add_argument("--today", type=day, metavar="YYYY-MM-DD", help="fix the gateway's day (tests, replays)")
    serve.add_argument(
        "--allow-password-text", action="store_true", help="accept WS-Security #PasswordText (digest only by default)"
    )
    from gateway.entrypoints.commands.keys import add_key_file_option

    add_key_file_option(serve)
    serve.add_argument(
        "--db-timeout",
        type=seconds(0, 60, above_low=True),
        default=_DEFAULTS.db_timeout_seconds,
        metavar="SECONDS",
        help="how long a request waits for a PostgreSQL connection before it fails with 'directory unavailable' "
        f"({_DEFAULTS.db_timeout_seconds:g})",
    )
    serve.add_argument(
        "--wait-for-db",
        type=seconds(0, 86400),
        default=_DEFAULTS.wait_for_db_seconds,
        metavar="SECONDS",
        help="at start, wait this long for a database that does not answer (0: say so and exit at once)",
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
    add_key_file_option(add)
    add.set_defaults(handler=handle_add)
    listing = actions.add_parser("list", help="list the institutions (never their secrets)")
    db_option(listing)
    add_key_file_option(listing)
    listing.set_defaults(handler=handle_list)
    rotate = actions.add_parser("rotate-secret", help="give an institution a new secret, printed once")
    rotate.add_argument("id", type=enterprise_number, metavar="ID")
    db_option(rotate)
    add_key_file_option(rotate)
    rotate.set_defaults(handler=handle_rotate)
    disable = actions.add_parser("disable", help="refuse every request of an institution from now on")
    disable.add_argument("id", type=enterprise_number, metavar="ID")
    db_option(disable)
    disable.set_defaults(handler=handle_disable)
    from gateway.entrypoints.commands.certificates import register_institution_actions

    register_institution_actions(actions, db_option, enterprise_number)
    from gateway.entrypoints.commands.keys import register_institution_actions as register_key_actions

    register_key_actions(actions, db_option)


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
    from gateway.entrypoints.commands.security import throttle_settings

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
        active_threads=args.active_threads,
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
        audit_key_file=args.audit_key_file,
        audit_checkpoint_every=args.audit_checkpoint_every,
        **throttle_settings(args),
        secret_key_file=args.secret_key_file,
        db_timeout_seconds=args.db_timeout,
        wait_for_db_seconds=args.wait_for_db,
        config=args.config,
        log_format=args.log_format,
        metrics_path=args.metrics_path,
        metrics_token_file=args.metrics_token_file,
        directory_gauge_seconds=args.directory_gauge_seconds,
    )
    from gateway.entrypoints.compose import throttle_policy

    try:
        policy = throttle_policy(settings)
    except ValueError as exc:
        print(f"ksz-gateway serve: the --auth-failures-... options contradict each other: {exc}.", file=sys.stderr)
        return 2
    problem = _tls_problem(settings.certfile, settings.keyfile, settings.client_ca) or _metrics_problem(settings)
    if problem is not None:
        print(f"ksz-gateway serve: {problem}.", file=sys.stderr)
        return 2
    from gateway.entrypoints.commands.audit import AuditKeyError, signer_from

    try:
        signer = signer_from(settings.audit_key_file, settings.audit_checkpoint_every)
    except AuditKeyError as exc:
        print(f"ksz-gateway serve: {exc}.", file=sys.stderr)
        return 2
    from gateway.adapters.observe.logs import configure_logging

    configure_logging(settings.log_format)

    from gateway.entrypoints.commands.keys import cipher_of, secrets_at_rest, wait_for_directory
    from gateway.errors import GatewayError

    try:
        # A connection for each request-handling thread: a request waits for one only when the database is away.
        opener = partial(
            open_store,
            cipher=cipher_of(settings.secret_key_file),
            timeout=settings.db_timeout_seconds,
            connections=settings.threads,
            audit_signer=signer,
        )
        store = opener(settings.db)
    except GatewayError as exc:
        print(f"ksz-gateway serve: {exc.message}", file=sys.stderr)
        return 2
    try:
        wait_for_directory(store, settings.wait_for_db_seconds, lambda line: print(line, file=sys.stderr))
        version = store.upgrade()
        notes, warnings = secrets_at_rest(store, settings.secret_key_file)
        if settings.demo:
            ensure_demo(store)
        else:
            _retire_demo_identities(store, DEMO_INSTITUTIONS)
    except GatewayError as exc:  # a database away, a secret no key opens: one line, and no server
        print(f"ksz-gateway serve: {exc.message}", file=sys.stderr)
        return 2
    finally:
        store.close()  # each worker opens its own after the fork

    scheme = "http" if settings.certfile is None else "https"
    endpoint = f"{scheme}://{_url_host(settings.host)}:{settings.port}/soap/repertorium"
    if settings.config is not None:
        print(f"Configuration: {settings.config} (under KSZ_GATEWAY_* variables and options).")
    print(f"Directory: {store!r}, schema version {version}.")
    for line in notes:
        print(line)
    for line in warnings:
        print(line, file=sys.stderr)
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
    if signer is None:
        print(
            "Audit trail: hash-chained, without signed checkpoints (no --audit-key-file): "
            "a rewrite of the whole chain would go unseen."
        )
    else:
        print(
            f"Audit trail: hash-chained, a checkpoint signed with {settings.audit_key_file} "
            f"every {signer.every} records."
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
        f"threads, {settings.active_threads or settings.threads} at work at once (request timeout "
        f"{settings.request_timeout_seconds:g} s, keep-alive {settings.keepalive_seconds} s)."
    )
    print(f"WSDL: {endpoint}?wsdl")
    from gateway.contract.ssdn import CONNECTOR_PATH

    print(f"Legacy connector (sendXML): {scheme}://{_url_host(settings.host)}:{settings.port}{CONNECTOR_PATH}")
    if settings.certfile is not None:
        verified = f"verified against {settings.client_ca}" if settings.client_ca else "not asked for (no --client-ca)"
        print(f"HTTPS with {settings.certfile}; client certificates are optional and {verified}.")
    print(f"Operator console: {scheme}://{_url_host(settings.host)}:{settings.port}/console/")
    print(
        f"Failed authentications are recorded; one institution from one address is slowed after {policy.soft} and "
        f"locked out for {policy.lockout_seconds} s after {policy.hard} within {policy.window_seconds} s, an "
        f"address after {policy.address_limit} (ksz-gateway security blocked)."
    )
    if settings.metrics_token_file is not None:
        print(f"Metrics: {settings.metrics_path} (bearer token of {settings.metrics_token_file}); /health, /ready.")
    else:
        print(f"Metrics: {settings.metrics_path} (no token); /health, /ready.")
    sys.stdout.flush()
    from gateway.adapters.observe.workers import metrics_directory

    # Made before gunicorn forks and before prometheus_client is imported, so that every worker counts into it.
    with metrics_directory() as metrics_dir:
        GatewayServer(settings, opener, metrics_dir=metrics_dir).run()
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
def _opened(db: str, key_file: Path | None = None) -> Iterator[Store]:
    """The store at ``db`` (its secrets sealed with ``key_file``'s key), upgraded, closed when the command is
    done with it."""
    from gateway.adapters.storage import open_store
    from gateway.entrypoints.commands.keys import cipher_of

    store = open_store(db, cipher=cipher_of(key_file))
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
    with _opened(args.db, args.secret_key_file) as store:
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

    with _opened(args.db, args.secret_key_file) as store:
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
    with _opened(args.db, args.secret_key_file) as store:
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

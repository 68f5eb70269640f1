"""The one factory of the gateway's WSGI application: settings and a store in, the SOAP fronts and the operator
console out, each at its own path.

Invariant: everything a request needs that does not change per request — the served documents, the compiled
schemas, the spyne application, the catalogue, the use cases, the console's templates — is built here, once per
process, and nothing is built at import time; the store is the caller's (one per worker process, opened after the
fork). The v1 repertorium, the legacy connector and the console share the same use cases, so all audit alike, and
both SOAP fronts the same authentication; all three share one brake on guessing credentials (``AuthGuard``), so
the console's logins and the SOAP calls are counted, recorded and throttled alike. Every request passes one
observation point (``ObservedRequests``), whose events feed both the request log and the metrics; the probes
(/health, /ready, the metrics path) answer before any front.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from gateway.adapters.console import Console
from gateway.adapters.observe.http import ObservedRequests, Probes, Readiness, database_check
from gateway.adapters.observe.logs import RequestLog
from gateway.adapters.provider import SoapProvider
from gateway.adapters.soap.application import Dispatcher, build_application
from gateway.adapters.soap.callers import CertificateOrToken, ClientCertificates, GuardedCaller
from gateway.adapters.soap.documents import XSD_FILE, ContractDocuments, TrustedProxies
from gateway.adapters.soap.edge import SoapEndpoint
from gateway.adapters.soap.http import StartResponse
from gateway.adapters.soap.wssecurity import Authenticator
from gateway.adapters.ssdn.documents import DocumentAnswerer
from gateway.adapters.ssdn.endpoint import ConnectorEndpoint
from gateway.adapters.storage.migrations import latest_version
from gateway.app.access_service import AccessService, Provider
from gateway.app.auth_guard import AuthGuard, ThrottlePolicy
from gateway.app.directory_service import DirectoryService, brussels_today
from gateway.app.manage_access_service import ManageAccessService
from gateway.app.observation import ObservedProvider, Observer, Observers
from gateway.app.ports import Store
from gateway.contract.certificates import Certificate, load_certificates
from gateway.contract.limits import XmlLimits
from gateway.contract.resources import xsd_path
from gateway.contract.schema import MessageSchema
from gateway.contract.ssdn import CONNECTOR_PATH, CONNECTOR_WSDL_FILE, SSDN_XSD_FILE
from gateway.domain.access import load_flow_catalogue
from gateway.entrypoints.permits import Permits, Permitted, WaivingProvider
from gateway.entrypoints.settings import Settings
from gateway.errors import ConfigurationError

__all__ = [
    "CONSOLE_PATH",
    "Fronts",
    "GatewayApp",
    "Mounted",
    "client_authorities",
    "front_of",
    "gateway_day",
    "make_app",
    "metrics_token",
    "throttle_policy",
]

CONSOLE_PATH = "/console"


def gateway_day(settings: Settings) -> Callable[[], date]:
    """The gateway's calendar day: the day fixed by ``--today``, else today in Europe/Brussels."""
    fixed = settings.today
    if fixed is None:
        return brussels_today
    return lambda: fixed


def client_authorities(settings: Settings) -> tuple[Certificate, ...]:
    """The CA certificates of ``--client-ca`` (none when it is not given)."""
    if settings.client_ca is None:
        return ()
    try:
        return load_certificates(settings.client_ca.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"the client CA bundle {settings.client_ca} cannot be read: {exc}") from exc


def throttle_policy(settings: Settings) -> ThrottlePolicy:
    """The brake on guessing credentials that ``settings`` ask for (``ValueError`` if its numbers contradict)."""
    return ThrottlePolicy(
        window_seconds=settings.auth_failures_window_seconds,
        soft=settings.auth_failures_soft,
        hard=settings.auth_failures_hard,
        lockout_seconds=settings.auth_failures_lockout_seconds,
        address_limit=settings.auth_failures_address_limit,
        base_delay_seconds=settings.auth_failures_delay_seconds,
        retention_seconds=settings.auth_failures_retention_days * 24 * 3600,
        refresh_seconds=settings.auth_failures_refresh_seconds,
    )


def metrics_token(settings: Settings) -> bytes | None:
    """The bearer token of ``--metrics-token-file`` (None when the metrics need none)."""
    if settings.metrics_token_file is None:
        return None
    try:
        token = settings.metrics_token_file.read_bytes().strip()
    except OSError as exc:
        raise ConfigurationError(f"the metrics token file {settings.metrics_token_file} cannot be read: {exc}") from exc
    if not token:
        raise ConfigurationError(f"the metrics token file {settings.metrics_token_file} is empty")
    return token


def front_of(path: str) -> str:
    """Which front a request path belongs to (the metrics' and the log's ``front``)."""
    if path == CONSOLE_PATH or path.startswith(CONSOLE_PATH + "/"):
        return "console"
    if path.rstrip("/") == CONNECTOR_PATH:
        return "connector"
    return "repertorium"


class Fronts:
    """The gateway's WSGI application: the legacy connector at its path, the v1 endpoint for every other path
    (which answers the wrong ones with 404)."""

    def __init__(self, repertorium: SoapEndpoint, connector: ConnectorEndpoint) -> None:
        self.repertorium = repertorium
        self.connector = connector

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if str(environ.get("PATH_INFO", "")).rstrip("/") == CONNECTOR_PATH:
            return self.connector(environ, start_response)
        return self.repertorium(environ, start_response)


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Mounted:
    """Path-prefix dispatch: a request under a mounted prefix goes to its application, with the prefix moved from
    ``PATH_INFO`` to ``SCRIPT_NAME`` (as WSGI mounts do); every other request goes to ``default``."""

    def __init__(self, default: WsgiApp, mounts: Mapping[str, WsgiApp]) -> None:
        self.default = default
        self.mounts = dict(mounts)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        for prefix, app in self.mounts.items():
            if path == prefix or path.startswith(prefix + "/"):
                environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "").rstrip("/") + prefix
                environ["PATH_INFO"] = path[len(prefix) :]
                if not environ["PATH_INFO"]:  # "/console" itself: on to "/console/", where relative links work
                    start_response("308 Permanent Redirect", [("Location", prefix + "/"), ("Content-Length", "0")])
                    return []
                return app(environ, start_response)
        return self.default(environ, start_response)


class GatewayApp:
    """The gateway's WSGI application: every request through the observation point; ``fronts`` is what lies
    behind it and the probes, for a benchmark that times one front alone."""

    def __init__(self, observed: WsgiApp, fronts: Mounted) -> None:
        self._observed = observed
        self.fronts = fronts

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self._observed(environ, start_response)


def make_app(
    settings: Settings,
    store: Store,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    reader: Callable[[WsgiApp], WsgiApp] | None = None,
    metrics_dir: Path | None = None,
) -> GatewayApp:
    """Both SOAP fronts on ``store`` with the console at ``/console/``, and the probes (``/health``, ``/ready``, the
    metrics), every request observed once by the request log and the metrics; ``clock`` is the wall clock
    WS-Security timestamps are checked against. ``reader`` wraps what lies inside the observation point (the
    server's body reader, so that what it refuses is observed too); ``metrics_dir`` is where the worker processes
    of one server sum their metrics (None: this process's own)."""
    from gateway.adapters.observe.metrics import CONTENT_TYPE, Metrics  # imports prometheus_client: not before

    # One process's permits (serve --active-threads): each worker builds its own application, so its own permits.
    permits = Permits(settings.active_threads) if settings.active_threads else None
    provider: Provider = SoapProvider(settings.provider_timeout_seconds)
    if permits is not None:
        provider = WaivingProvider(provider, permits)
    metrics = Metrics(
        multiprocess_dir=metrics_dir,
        directory_size=store.count_integrations,
        gauge_seconds=settings.directory_gauge_seconds,
    )
    observer: Observer = Observers(RequestLog(), metrics)
    documents = ContractDocuments()
    schema = MessageSchema(documents.originals[XSD_FILE], XSD_FILE, base_url=str(xsd_path(XSD_FILE)))
    ssdn_schema = MessageSchema(
        documents.originals[SSDN_XSD_FILE], SSDN_XSD_FILE, base_url=str(xsd_path(SSDN_XSD_FILE))
    )
    catalogue = store.catalogue()
    directory = DirectoryService(store, catalogue, today=gateway_day(settings))
    access = AccessService(
        store,
        catalogue,
        load_flow_catalogue(settings.flow_catalogue),
        provider=ObservedProvider(provider, observer),
        today=gateway_day(settings),
    )
    authenticator = Authenticator(
        store,
        window_seconds=settings.timestamp_window_seconds,
        allow_password_text=settings.allow_password_text,
        clock=clock,
    )
    proxies = TrustedProxies.parse(settings.forwarded_allow_ips)
    limits = XmlLimits(
        max_depth=settings.xml_max_depth,
        max_elements=settings.xml_max_elements,
        max_attributes=settings.xml_max_attributes,
        max_namespaces=settings.xml_max_namespaces,
        max_namespaces_total=settings.xml_max_namespaces_total,
        max_text_chars=settings.xml_max_text_chars,
    )
    certificates = ClientCertificates(proxies, client_authorities(settings))
    caller = CertificateOrToken(authenticator, certificates, store, clock=clock)
    guard = AuthGuard(store, throttle_policy(settings), clock=clock)  # one per process, shared by every front
    repertorium = SoapEndpoint(
        documents=documents,
        schema=schema,
        dispatcher=Dispatcher(build_application()),
        authenticator=authenticator,
        directory=directory,
        access=access,
        max_body_bytes=settings.max_body_bytes,
        trusted_proxies=proxies,
        caller=GuardedCaller(caller, guard, "repertorium", certificates),
        xml_limits=limits,
    )
    connector = ConnectorEndpoint(
        documents=ContractDocuments(CONNECTOR_WSDL_FILE),
        answerer=DocumentAnswerer(ssdn_schema, ManageAccessService(directory), clock, limits),
        caller=GuardedCaller(caller, guard, "connector", certificates),
        max_body_bytes=settings.max_body_bytes,
        trusted_proxies=proxies,
        xml_limits=limits,
    )
    console = Console(
        store=store, directory=directory, access=access, key=settings.console_key, guard=guard, certificates=caller
    )
    fronts = Mounted(Fronts(repertorium, connector), {CONSOLE_PATH: console})
    # The message schemas are compiled above, when this application is built: a schema that does not compile
    # stops it there, so a process that answers /ready holds them; what can change after start is the database.
    readiness = Readiness([database_check(store.schema_version, latest_version(), observer)])
    probes = Probes(
        fronts if permits is None else Permitted(fronts, permits),  # the probes answer without a permit
        readiness=readiness,
        metrics=metrics.render,
        metrics_content_type=CONTENT_TYPE,
        metrics_path=settings.metrics_path,
        metrics_token=metrics_token(settings),
    )
    inner: WsgiApp = probes if reader is None else reader(probes)
    return GatewayApp(ObservedRequests(inner, observer, front_of), fronts)

"""The real gateway over real HTTP: ``ksz-gateway serve`` started as a subprocess on a free loopback port.

Each server fixture runs once per engine — a SQLite file, and, when ``KSZ_TEST_POSTGRES_URL`` is set, a fresh
PostgreSQL schema dropped afterwards — and is terminated when the session ends. ``wire`` speaks SOAP as a legacy
client would (hand-written envelopes, a digest computed by hand) and checks every message it sends or receives
against xsd/; ``client_for`` gives the client library acting as a demo institution, whose envelopes are checked
the same way.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import itertools
import os
import resource
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from lxml import etree

from gateway.client import RepertoriumClient
from gateway.domain.periods import Period

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_ENV = "KSZ_TEST_POSTGRES_URL"
TODAY = "2015-01-10"

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
REP = "urn:ksz-gateway:repertorium:v1"
GW = "urn:ksz-gateway:fault:v1"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
TEXT = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
NS = {"soap": SOAP_ENV, "rep": REP, "gw": GW}

DEMO = {
    "ocmw_a": ("0212345668", "demo-ocmw-a"),
    "ocmw_b": ("0212345767", "demo-ocmw-b"),
    "family": ("0212345866", "demo-family-c"),
    "employment": ("0212345965", "demo-employment-d"),
}


# -- the servers ----------------------------------------------------------------------------------------


@dataclass
class Server:
    """A running ``ksz-gateway serve``: its endpoint URL, database and output."""

    endpoint: str
    host: str
    port: int
    db: str
    process: subprocess.Popen[bytes]
    output: Path

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run another ``ksz-gateway`` command on this server's database."""
        return subprocess.run([_command(), *args, "--db", self.db], capture_output=True, text=True, timeout=60)


def _command() -> str:
    script = Path(sys.executable).with_name("ksz-gateway")
    return str(script if script.exists() else ROOT / ".venv" / "bin" / "ksz-gateway")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# The suite's shared servers take many deliberate wrong secrets from one loopback address; the brake on guessing
# is tested by test_auth_throttle.py with numbers of its own, so elsewhere it is set out of reach.
UNBRAKED = ("--auth-failures-soft", "1000", "--auth-failures-hard", "1000", "--auth-failures-address-limit", "100000")


def start_server(
    db: str, output: Path, *options: str, workers: int = 1, demo: bool = True, open_files: int | None = None
) -> Server:
    """``ksz-gateway serve`` on a free port, once it answers; ``open_files`` limits its descriptors (ulimit -n)."""
    port = _free_port()
    command = [_command(), "serve", *(["--demo"] if demo else []), "--today", TODAY, "--port", str(port)]
    command += ["--db", db, "--workers", str(workers), *options]
    if not any(str(option).startswith("--auth-failures-") for option in options):
        command += UNBRAKED

    def limit_open_files() -> None:
        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    log = output.open("wb")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, cwd=output.parent, preexec_fn=limit_open_files
    )
    log.close()
    endpoint = f"http://127.0.0.1:{port}/soap/repertorium"
    server = Server(endpoint, "127.0.0.1", port, db, process, output)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the gateway exited with {process.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(endpoint + "?wsdl", timeout=2) as answer:
                if answer.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    stop_server(server)
    raise RuntimeError(f"the gateway did not answer within 60 s:\n{server.log()}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres" and not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"{POSTGRES_ENV} is not set")
    return str(request.param)


@pytest.fixture(scope="session")
def new_database(engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], str]]:
    """Makes fresh, empty databases of the session's engine (a SQLite file, or a PostgreSQL schema)."""
    schemas: list[str] = []
    base = os.environ.get(POSTGRES_ENV, "")

    def make() -> str:
        if engine == "sqlite":
            return str(tmp_path_factory.mktemp("db") / "directory.db")
        from gateway.adapters.storage.postgres import with_schema

        schema = f"ksz_e2e_{os.getpid()}_{secrets.token_hex(4)}"
        schemas.append(schema)
        return with_schema(base, schema)

    yield make
    if schemas:
        import psycopg

        with psycopg.connect(base, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session")
def launch(
    new_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Server]]:
    """Starts servers on fresh databases; all are stopped when the session ends."""
    started: list[Server] = []

    def run(
        *options: str, workers: int = 1, demo: bool = True, db: str | None = None, open_files: int | None = None
    ) -> Server:
        folder = tmp_path_factory.mktemp("server")
        server = start_server(
            db or new_database(), folder / "server.log", *options, workers=workers, demo=demo, open_files=open_files
        )
        started.append(server)
        return server

    yield run
    for server in started:
        stop_server(server)


@pytest.fixture(scope="session")
def gateway(launch: Callable[..., Server]) -> Server:
    """The gateway as the tests mostly use it: demo identities, day fixed at 2015-01-10, one worker."""
    return launch()


@pytest.fixture(scope="session")
def console_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A demo gateway on a SQLite file of its own, for the browser: the console is blind to the engine, and a
    browser run costs too much to repeat on each one."""
    folder = tmp_path_factory.mktemp("console")
    server = start_server(str(folder / "directory.db"), folder / "server.log")
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def gateway_two_workers(launch: Callable[..., Server]) -> Server:
    return launch(workers=2)


@pytest.fixture(scope="session")
def gateway_password_text(launch: Callable[..., Server]) -> Server:
    return launch("--allow-password-text")


# -- persons --------------------------------------------------------------------------------------------

_serial = itertools.count(1)
_base = secrets.randbelow(400) * 1000


def new_ssin() -> str:
    """A valid SSIN no other test of the session uses (born in the 1970s, distinct sequence numbers)."""
    n = _base + next(_serial)
    birth = date(1970, 1, 1) + timedelta(days=n // 997)
    body = f"{birth:%y%m%d}{n % 997 + 1:03d}"
    return f"{body}{97 - int(body) % 97:02d}"


@pytest.fixture
def ssin() -> Callable[[], str]:
    return new_ssin


# -- the schema and captured messages ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def schema() -> Any:
    return etree.XMLSchema(etree.parse(str(ROOT / "gateway" / "contract" / "xsd" / "repertorium-v1.xsd")))


@dataclass
class Capture:
    """Every SOAP Body the tests exchanged with a gateway, and whether each validated."""

    checked: list[tuple[str, str]] = field(default_factory=list)  # (direction, element)

    def check(self, schema: Any, data: bytes, direction: str) -> etree._Element:
        root = etree.fromstring(data)
        body = root.find(f"{{{SOAP_ENV}}}Body")
        assert body is not None and len(body) == 1, f"{direction}: not a SOAP envelope with one Body element"
        element = body[0]
        if element.tag != f"{{{SOAP_ENV}}}Fault":
            assert schema.validate(element), f"{direction} does not validate: {schema.error_log.last_error}"
            self.checked.append((direction, etree.QName(element).localname))
        return root


@pytest.fixture(scope="session")
def capture() -> Capture:
    return Capture()


class CheckingPlugin:
    """A zeep plugin checking every envelope the client library sends and receives against xsd/."""

    def __init__(self, capture: Capture, schema: Any) -> None:
        self._capture, self._schema = capture, schema

    def egress(self, envelope: Any, http_headers: Any, operation: Any, binding_options: Any) -> Any:
        self._capture.check(self._schema, etree.tostring(envelope), "request")
        return envelope, http_headers

    def ingress(self, envelope: Any, http_headers: Any, operation: Any) -> Any:
        self._capture.check(self._schema, etree.tostring(envelope), "response")
        return envelope, http_headers


@pytest.fixture
def client_for(gateway: Server, capture: Capture, schema: Any) -> Iterator[Callable[..., RepertoriumClient]]:
    """The client library acting as a demo institution (``ocmw_a``, ``ocmw_b``, ``family``, ``employment``)."""
    made: list[RepertoriumClient] = []

    def make(who: str = "ocmw_a", *, secret: str | None = None, server: Server | None = None) -> RepertoriumClient:
        institution, demo_secret = DEMO[who]
        client = RepertoriumClient(
            (server or gateway).endpoint,
            institution,
            secret if secret is not None else demo_secret,
            timeout=30,
            plugins=[CheckingPlugin(capture, schema)],
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


# -- SOAP as a legacy client writes it ------------------------------------------------------------------


def digest(nonce: bytes, created: str, secret: str) -> str:
    return base64.b64encode(hashlib.sha1(nonce + created.encode() + secret.encode()).digest()).decode()


def security_header(
    who: str = "ocmw_a",
    *,
    username: str | None = None,
    secret: str | None = None,
    created: datetime | None = None,
    nonce: bytes | None = None,
    password_text: bool = False,
) -> str:
    """A ``wsse:Security`` header with a UsernameToken, digest computed by hand (fresh nonce, Created now)."""
    institution, demo_secret = DEMO[who]
    user = username if username is not None else institution
    key = secret if secret is not None else demo_secret
    stamp = (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    raw_nonce = nonce if nonce is not None else os.urandom(16)
    if password_text:
        password = f'<wsse:Password Type="{TEXT}">{escape(key)}</wsse:Password>'
    else:
        password = f'<wsse:Password Type="{DIGEST}">{digest(raw_nonce, stamp, key)}</wsse:Password>'
    return (
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}" soapenv:mustUnderstand="1">'
        f"<wsse:UsernameToken><wsse:Username>{escape(user)}</wsse:Username>{password}"
        f"<wsse:Nonce>{base64.b64encode(raw_nonce).decode()}</wsse:Nonce>"
        f"<wsu:Created>{stamp}</wsu:Created></wsse:UsernameToken></wsse:Security>"
    )


def envelope(body: str, header: str | None = None, **security: Any) -> bytes:
    """A SOAP 1.1 envelope around ``body`` (written with the ``rep:`` prefix) with a fresh security header."""
    head = security_header(**security) if header is None else header
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:rep="{REP}">\n'
        f"  <soapenv:Header>{head}</soapenv:Header>\n"
        f"  <soapenv:Body>{body}</soapenv:Body>\n"
        "</soapenv:Envelope>\n"
    ).encode()


def period_xml(start: str, end: str | None = None) -> str:
    end_xml = f"<rep:EndDate>{end}</rep:EndDate>" if end else ""
    return f"<rep:Period><rep:StartDate>{start}</rep:StartDate>{end_xml}</rep:Period>"


def change_xml(
    operation: str, ssins: list[str], code: int, start: str, end: str | None = None, reference: str | None = None
) -> str:
    ref = f"<rep:Reference>{escape(reference)}</rep:Reference>" if reference is not None else ""
    persons = "".join(f"<rep:Person><rep:SSIN>{s}</rep:SSIN></rep:Person>" for s in ssins)
    return (
        f"<rep:{operation}Request>{ref}<rep:QualityCode>{code}</rep:QualityCode>"
        f"{period_xml(start, end)}{persons}</rep:{operation}Request>"
    )


def consult_xml(
    ssin: str,
    start: str,
    end: str | None = None,
    code: int | None = None,
    sector: int | None = None,
    reference: str | None = None,
) -> str:
    ref = f"<rep:Reference>{escape(reference)}</rep:Reference>" if reference is not None else ""
    extra = f"<rep:QualityCode>{code}</rep:QualityCode>" if code is not None else ""
    extra += f"<rep:Sector>{sector}</rep:Sector>" if sector is not None else ""
    return f"<rep:ConsultRequest>{ref}<rep:SSIN>{ssin}</rep:SSIN>{period_xml(start, end)}{extra}</rep:ConsultRequest>"


@dataclass(frozen=True)
class PersonView:
    ssin: str
    status: str
    reasons: tuple[str, ...]
    severities: tuple[str, ...]
    periods: tuple[Period, ...] | None
    information: dict[str, str]


@dataclass
class Reply:
    """One HTTP answer of the gateway, parsed."""

    status: int
    content_type: str
    data: bytes
    root: etree._Element

    @property
    def element(self) -> etree._Element:
        return self.root.find("soap:Body", NS)[0]

    # faults
    @property
    def is_fault(self) -> bool:
        return bool(self.element.tag == f"{{{SOAP_ENV}}}Fault")

    @property
    def faultcode(self) -> str:
        return str(self.element.findtext("faultcode")).strip()

    @property
    def faultcode_qname(self) -> tuple[str | None, str]:
        """The faultcode resolved as a QName: (namespace bound to its prefix, local name)."""
        code = self.element.find("faultcode")
        prefix, _, local = str(code.text).strip().rpartition(":")
        return code.nsmap.get(prefix or None), local

    @property
    def faultstring(self) -> str:
        return str(self.element.findtext("faultstring"))

    @property
    def fault_reason(self) -> str | None:
        found = self.root.find(".//gw:FaultDetail/gw:ReasonCode", NS)
        return None if found is None else str(found.text)

    # answers
    @property
    def ok(self) -> str:
        return str(self.element.find("rep:ResultSummary", NS).get("ok"))

    @property
    def return_code(self) -> int:
        return int(self.element.findtext("rep:ResultSummary/rep:ReturnCode", namespaces=NS))

    @property
    def ticket(self) -> str:
        return str(self.element.findtext("rep:Ticket", namespaces=NS))

    @property
    def summary_reasons(self) -> tuple[str, ...]:
        return tuple(e.text for e in self.element.findall("rep:ResultSummary/rep:Detail/rep:ReasonCode", NS))

    @property
    def persons(self) -> list[PersonView]:
        views = []
        for p in self.element.findall("rep:PersonResult", NS):
            periods_el = p.find("rep:Periods", NS)
            periods = None if periods_el is None else tuple(_period(x) for x in periods_el.findall("rep:Period", NS))
            views.append(
                PersonView(
                    str(p.findtext("rep:SSIN", namespaces=NS)),
                    str(p.findtext("rep:Status", namespaces=NS)),
                    tuple(d.findtext("rep:ReasonCode", namespaces=NS) for d in p.findall("rep:Detail", NS)),
                    tuple(d.findtext("rep:Severity", namespaces=NS) for d in p.findall("rep:Detail", NS)),
                    periods,
                    {
                        str(i.findtext("rep:FieldName", namespaces=NS)): str(
                            i.findtext("rep:FieldValue", namespaces=NS)
                        )
                        for i in p.findall("rep:Detail/rep:Information", NS)
                    },
                )
            )
        return views

    @property
    def integrations(self) -> list[tuple[str, str, int, int, Period]]:
        """(institution id, name, sector, code, period) of a ConsultResponse, in answer order."""
        return [
            (
                str(i.findtext("rep:Institution/rep:Id", namespaces=NS)),
                str(i.findtext("rep:Institution/rep:Name", namespaces=NS)),
                int(i.findtext("rep:Institution/rep:Sector", namespaces=NS)),
                int(i.findtext("rep:QualityCode", namespaces=NS)),
                _period(i.find("rep:Period", NS)),
            )
            for i in self.element.findall("rep:Integration", NS)
        ]


def _period(element: etree._Element) -> Period:
    end = element.findtext("rep:EndDate", namespaces=NS)
    start = str(element.findtext("rep:StartDate", namespaces=NS))
    return Period(date.fromisoformat(start[:10]), date.fromisoformat(end[:10]) if end else None)


class Wire:
    """Raw HTTP to one gateway, checking each request (unless told it is invalid on purpose) and each answer."""

    def __init__(self, server: Server, capture: Capture, schema: Any) -> None:
        self.server, self._capture, self._schema = server, capture, schema

    def post(
        self,
        data: bytes,
        *,
        action: str | None = '""',
        content_type: str = "text/xml; charset=utf-8",
        valid: bool = True,
        server: Server | None = None,
    ) -> Reply:
        if valid:
            self._capture.check(self._schema, data, "request")
        target = server or self.server
        headers = {"Content-Type": content_type}
        if action is not None:
            headers["SOAPAction"] = action
        status, answer_type, body = http_post(target, data, headers)
        root = self._capture.check(self._schema, body, "response")
        reply = Reply(status, answer_type, body, root)
        assert answer_type.startswith("text/xml"), answer_type
        if reply.is_fault:
            assert status in (413, 415, 500), status
            assert reply.faultcode and reply.faultstring
            assert "Traceback" not in reply.faultstring
        else:
            assert status == 200, (status, body)
        return reply

    def call(self, body: str, *, action: str | None = '""', server: Server | None = None, **security: Any) -> Reply:
        return self.post(envelope(body, **security), action=action, server=server)


def http_post(server: Server, data: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
    try:
        connection.request("POST", "/soap/repertorium", body=data, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


@pytest.fixture
def wire(gateway: Server, capture: Capture, schema: Any) -> Wire:
    return Wire(gateway, capture, schema)


@pytest.fixture(scope="session")
def soap() -> Any:
    """The envelope builders, for test modules (conftest functions are not importable with importlib mode)."""

    class Builders:
        envelope = staticmethod(envelope)
        security_header = staticmethod(security_header)
        change = staticmethod(change_xml)
        consult = staticmethod(consult_xml)
        period = staticmethod(period_xml)
        digest = staticmethod(digest)
        http_post = staticmethod(http_post)
        new_ssin = staticmethod(new_ssin)
        Reply = Reply

    return Builders

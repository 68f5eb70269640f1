"""The request edge of both fronts, fuzzed in process: mutated and generated envelopes thrown at the real WSGI
application (``make_app``) on each store, as many as the Hypothesis profile says (``quick`` by default,
``thorough`` in CI; tests/conftest.py).

Every example starts from a valid, freshly signed request (an Integrate, a Desintegrate, a Consult or a
CheckAccess on the v1 front; a REGISTER, UNREGISTER or LIST in ``xmlString``, escaped or in CDATA, on the
legacy front) and mutates it: markup and bytes an attacker would try (DOCTYPEs, entities, processing
instructions, CDATA ends, NUL, byte-order marks, stray Body and Header tags, SQL, dates past the calendar's
ends) inserted, spans deleted or doubled, and element texts replaced, inside the SSDN document and around it.
Whatever comes out, the answer is a well-formed SOAP envelope: a fault that is never ``soap:Server`` and logs
no incident, or a response that validates against the contract's schema (on the legacy front, an SSDNReply
that validates against the project's SSDN schema); no exception leaves the application; and the directory
changes only when the request was answered as a valid, authenticated one.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from ssdn_documents import Proof, Request, manage_access

from gateway.app.demo import ensure_demo
from gateway.app.ports import Store
from gateway.contract.resources import xsd_path
from gateway.entrypoints.compose import make_app
from gateway.entrypoints.settings import Settings

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
REP = "urn:ksz-gateway:repertorium:v1"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
CONNECTOR_NS = "http://ksz-bcss.fgov.be/connectors/WebServiceConnector"
V1_PATH = "/soap/repertorium"
CONNECTOR_PATH = "/connectors/webservice/KSZBCSSWebServiceConnectorPort"
INSTITUTION, SECRET = "0212345668", "demo-ocmw-a"
TODAY = date(2015, 1, 10)


def _ssin(serial: int) -> str:
    body = f"7{serial % 10}0101{serial:03d}"
    return f"{body}{97 - int(body) % 97:02d}"


PERSONS = [_ssin(n) for n in range(1, 6)]

# -- the seeds: valid requests, built afresh for each example --------------------------------------------------


def _security() -> str:
    nonce, created = os.urandom(16), datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + SECRET.encode()).digest()).decode()
    return (
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}" soapenv:mustUnderstand="1"><wsse:UsernameToken>'
        f'<wsse:Username>{INSTITUTION}</wsse:Username><wsse:Password Type="{DIGEST}">{digest}</wsse:Password>'
        f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce><wsu:Created>{created}</wsu:Created>"
        "</wsse:UsernameToken></wsse:Security>"
    )


def _v1_envelope(body: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:rep="{REP}">'
        f"<soapenv:Header>{_security()}</soapenv:Header><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    )


def _legacy_envelope(document: str, cdata: bool) -> str:
    text = f"<![CDATA[{document}]]>" if cdata else escape(document, {"'": "&apos;", '"': "&quot;"})
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" '
        f'xmlns:ns0="{CONNECTOR_NS}"><soapenv:Header>{_security()}</soapenv:Header>'
        f"<soapenv:Body><ns0:xmlString>{text}</ns0:xmlString></soapenv:Body></soapenv:Envelope>"
    )


def _change(operation: str, person: str, code: str, start: str, end: str | None) -> str:
    end_xml = f"<rep:EndDate>{end}</rep:EndDate>" if end else ""
    return (
        f"<rep:{operation}Request><rep:Reference>fuzz-{os.urandom(6).hex()}</rep:Reference>"
        f"<rep:QualityCode>{code}</rep:QualityCode><rep:Period><rep:StartDate>{start}</rep:StartDate>{end_xml}"
        f"</rep:Period><rep:Person><rep:SSIN>{person}</rep:SSIN></rep:Person></rep:{operation}Request>"
    )


def _ssdn(action: str, person: str, code: str, start: str, end: str | None, sector: str) -> str:
    proof = Proof(last_name="DEMO", first_name="JAN", birth_date=f"19{person[:2]}-{person[2:4]}-{person[4:6]}")
    request = Request(action, ssin=person, purpose=code, start=start, end=end, sector=sector, proof=proof)
    return manage_access(request)


@dataclass(frozen=True)
class Seed:
    """A valid request: its inner document (a v1 Body, or the SSDN text) and how it is wrapped and signed."""

    front: str  # "v1" or "legacy"
    inner: str
    cdata: bool = False

    @property
    def path(self) -> str:
        return V1_PATH if self.front == "v1" else CONNECTOR_PATH

    def envelope(self, inner: str) -> bytes:
        text = _v1_envelope(inner) if self.front == "v1" else _legacy_envelope(inner, self.cdata)
        return text.encode("utf-8", "surrogatepass")


# Each field of a seed is valid, or one of the values an attacker tries first.
_DAYS = st.sampled_from(["2015-01-05", "2014-12-01", "2015-01-10+14:00", "0001-01-01", "9999-12-01", "9999-12-31"])
_BAD_DAYS = st.sampled_from(["10000-01-01", "-0001-01-01", "0000-01-01", "2015-02-30", "2015-01-05+14:01", "x"])
_CODES = st.sampled_from(["1", "2", "7", "40"])
_BAD_NUMBERS = st.sampled_from(
    ["0", "-1", "+1", "2147483647", "2147483648", "99999999999999999999", "1.0", "9" * 5_000]
)


@st.composite
def seeds(draw: st.DrawFn) -> Seed:
    person = draw(st.sampled_from(PERSONS))
    code = draw(_CODES | _BAD_NUMBERS)
    start = draw(_DAYS | _BAD_DAYS)
    end = draw(st.none() | st.sampled_from(["2015-01-31", "9999-12-31-14:00"]) | _BAD_DAYS)
    kind = draw(st.sampled_from(["Integrate", "Desintegrate", "Consult", "CheckAccess", "legacy"]))
    if kind in ("Integrate", "Desintegrate"):
        return Seed("v1", _change(kind, person, code, start, end))
    if kind == "Consult":
        end_xml = f"<rep:EndDate>{end}</rep:EndDate>" if end else ""
        period = f"<rep:Period><rep:StartDate>{start}</rep:StartDate>{end_xml}</rep:Period>"
        return Seed("v1", f"<rep:ConsultRequest><rep:SSIN>{person}</rep:SSIN>{period}</rep:ConsultRequest>")
    if kind == "CheckAccess":
        return Seed(
            "v1",
            f"<rep:CheckAccessRequest><rep:Flow>consult.generic</rep:Flow><rep:Person><rep:SSIN>{person}</rep:SSIN>"
            "<rep:Role>SUBJECT</rep:Role></rep:Person></rep:CheckAccessRequest>",
        )
    action = draw(st.sampled_from(["REGISTER", "UNREGISTER", "LIST"]))
    sector = draw(st.sampled_from(["17", "7"]) | _BAD_NUMBERS)
    return Seed("legacy", _ssdn(action, person, code, start, end, sector), cdata=draw(st.booleans()))


# -- the mutations ------------------------------------------------------------------------------------------------

MARKUP = [
    '<!DOCTYPE s [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE s SYSTEM "file:///dev/zero">',
    '<!DOCTYPE s [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>',
    "&e;",
    "&b;",
    "&amp;",
    "&#0;",
    "&#xD800;",
    "<?pi x?>",
    "<?xml-stylesheet href='file:///etc/passwd'?>",
    '<?xml version="1.0" encoding="UTF-16"?>',
    "<![CDATA[",
    "]]>",
    "<!-- -->",
    "<x>",
    "</x>",
    "<x/>",
    "<soapenv:Body>",
    "</soapenv:Body>",
    "<soapenv:Header/>",
    '<x:H xmlns:x="urn:x" soapenv:mustUnderstand="1"/>',
    ' xmlns:n="urn:n"',
    ' a="1"',
    "<rep:Person><rep:SSIN>70010100197</rep:SSIN></rep:Person>",
    "&lt;!DOCTYPE r [&lt;!ENTITY a 'x'&gt;]&gt;",
    "&lt;?pi?&gt;",
    "'; DROP TABLE periods; --",
    '" OR 1=1 --',
    "\x00",
    "\ufeff",
    "\ud800",
    "é",
]
TEXTS = [
    "",
    " ",
    "0",
    "-1",
    "+1",
    "2147483647",
    "2147483648",
    "-2147483649",
    "99999999999999999999",
    "9" * 5_000,
    "0" * 5_000 + "1",
    "0001-01-01",
    "9999-12-31",
    "9999-12-31-14:00",
    "0001-01-01+14:00",
    "10000-01-01",
    "-0001-01-01",
    "0000-01-01",
    "2015-02-30",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "'; DROP TABLE periods; --",
    '" OR 1=1 --',
    "١٢٣٤٥٦٧٨٩٠١",
    "x" * 70,
    "LIST",
    "UNREGISTER",
]


@dataclass(frozen=True)
class Mutation:
    where: str  # "inner" (the Body or the SSDN document, before wrapping) or "outer" (the signed envelope)
    kind: str  # "insert", "delete", "double" or "text"
    at: int
    span: int
    piece: str

    def apply(self, text: str) -> str:
        if self.kind == "text":
            found = list(re.finditer(r">([^<>]+)<", text))
            if not found:
                return text
            match = found[self.at % len(found)]
            return text[: match.start(1)] + self.piece + text[match.end(1) :]
        at = self.at % (len(text) + 1)
        if self.kind == "insert":
            return text[:at] + self.piece + text[at:]
        if self.kind == "delete":
            return text[:at] + text[at + self.span :]
        return text[:at] + text[at : at + self.span] * 2 + text[at + self.span :]


mutations = st.builds(
    Mutation,
    where=st.sampled_from(["inner", "outer"]),
    kind=st.sampled_from(["insert", "delete", "double", "text"]),
    at=st.integers(min_value=0, max_value=1 << 20),
    span=st.integers(min_value=1, max_value=200),
    piece=st.sampled_from(MARKUP + TEXTS) | st.text(max_size=12),
)


def _wrapped(seed: Seed, changes: list[Mutation]) -> bytes:
    inner = seed.inner
    for change in changes:
        if change.where == "inner":
            piece = change.piece if seed.front == "v1" or change.kind != "text" else escape(change.piece)
            inner = replace(change, piece=piece).apply(inner)
    text = seed.envelope(inner).decode("utf-8", "surrogatepass")
    for change in changes:
        if change.where == "outer":
            text = change.apply(text)
    return text.encode("utf-8", "surrogatepass")


# -- the application -------------------------------------------------------------------------------------------


class Incidents(logging.Handler):
    """Counts what the gateway logs at ERROR or above (an incident, an unexpected exception)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Edge:
    app: Any
    store: Store
    incidents: Incidents
    v1: etree.XMLSchema
    ssdn: etree.XMLSchema

    def post(self, path: str, data: bytes) -> tuple[str, str, bytes]:
        started: list[tuple[str, list[tuple[str, str]]]] = []
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "CONTENT_TYPE": "text/xml; charset=utf-8",
            "CONTENT_LENGTH": str(len(data)),
            "HTTP_SOAPACTION": '""',
            "wsgi.input": io.BytesIO(data),
            "wsgi.url_scheme": "http",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8080",
            "REMOTE_ADDR": "127.0.0.1",
        }
        body = b"".join(self.app(environ, lambda status, headers: started.append((status, headers))))
        (status, headers), *_ = started
        return status, dict(headers)["Content-Type"], body

    def directory(self) -> list[Any]:
        return sorted(self.store.export_integrations(), key=repr)


@pytest.fixture
def edge(store: Store) -> Iterator[Edge]:
    ensure_demo(store)
    app = make_app(Settings(db="unused", today=TODAY), store)
    incidents = Incidents()
    logger = logging.getLogger("gateway")
    logger.addHandler(incidents)
    try:
        yield Edge(
            app,
            store,
            incidents,
            etree.XMLSchema(etree.parse(str(xsd_path("repertorium-v1.xsd")))),
            etree.XMLSchema(etree.parse(str(xsd_path("ssdn-service.xsd")))),
        )
    finally:
        logger.removeHandler(incidents)


def _check_answer(edge: Edge, seed: Seed, status: str, content_type: str, body: bytes) -> etree._Element | None:
    """Checks one answer: the Body's element of a response, or None for a fault."""
    assert content_type.startswith("text/xml"), (status, content_type, body[:200])
    root = etree.fromstring(body)
    assert root.tag == f"{{{SOAP_ENV}}}Envelope"
    soap_body = root.find(f"{{{SOAP_ENV}}}Body")
    assert soap_body is not None and len(soap_body) == 1
    answer = soap_body[0]
    if answer.tag == f"{{{SOAP_ENV}}}Fault":
        code = answer.find("faultcode")
        assert code is not None and code.text
        prefix, _, local = code.text.strip().rpartition(":")
        assert (code.nsmap.get(prefix or None), local) != (SOAP_ENV, "Server"), answer.findtext("faultstring")
        assert status.split()[0] in ("413", "415", "500"), status
        assert "Traceback" not in (answer.findtext("faultstring") or "")
        return None
    assert status.startswith("200"), status
    if seed.front == "v1":
        assert edge.v1.validate(answer), edge.v1.error_log
    else:
        assert answer.tag == f"{{{CONNECTOR_NS}}}xmlString"
        reply = etree.fromstring((answer.text or "").encode())
        assert edge.ssdn.validate(reply), edge.ssdn.error_log
    return answer


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=seeds(), changes=st.lists(mutations, max_size=3))
def test_no_mutated_request_gets_a_server_fault_an_exception_or_an_unwarranted_change(
    edge: Edge, seed: Seed, changes: list[Mutation]
) -> None:
    data = _wrapped(seed, changes)
    before = edge.directory()
    logged = len(edge.incidents.records)
    status, content_type, body = edge.post(seed.path, data)
    answer = _check_answer(edge, seed, status, content_type, body)
    assert edge.incidents.records[logged:] == [], [r.getMessage() for r in edge.incidents.records[logged:]]
    if edge.directory() != before:  # only an authenticated, valid change request may change it
        assert answer is not None, "a refused request changed the directory"
        if seed.front == "v1":
            assert etree.QName(answer).localname in ("IntegrateResponse", "DesintegrateResponse")


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.binary(max_size=2_000) | st.text(max_size=500).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_no_generated_body_gets_a_server_fault_or_an_exception(edge: Edge, data: bytes) -> None:
    for path in (V1_PATH, CONNECTOR_PATH):
        logged = len(edge.incidents.records)
        status, content_type, body = edge.post(path, data)
        assert _check_answer(edge, Seed("v1" if path == V1_PATH else "legacy", ""), status, content_type, body) is None
        assert edge.incidents.records[logged:] == []

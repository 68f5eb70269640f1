"""The requests the benchmarks send: every gateway operation as the bytes a client posts, each signed with its own
WS-Security UsernameToken digest (a fresh nonce, Created now), made before any timed part begins.

Invariant: a body is valid for the demo gateway (``serve --demo --today 2015-01-10``) and, given a new serial,
names a person nobody named before; the signing cost is the client's and is paid here, never while measured.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from xml.sax.saxutils import escape

__all__ = [
    "CONNECTOR_PATH",
    "INSTITUTION",
    "OPERATIONS",
    "REPERTORIUM_PATH",
    "SECRET",
    "Operation",
    "make_ssin",
]

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
REP = "urn:ksz-gateway:repertorium:v1"
CONNECTOR_NS = "http://ksz-bcss.fgov.be/connectors/WebServiceConnector"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
INSTITUTION, SECRET = "0212345668", "demo-ocmw-a"
REPERTORIUM_PATH = "/soap/repertorium"
CONNECTOR_PATH = "/connectors/webservice/KSZBCSSWebServiceConnectorPort"
SEND_XML = f'"{CONNECTOR_NS}/sendXML"'


def make_ssin(n: int) -> str:
    """The ``n``-th of a series of distinct valid SSINs (born from 1950 on, 990 a day)."""
    birth = date(1950, 1, 1) + timedelta(days=n // 990)
    body = f"{birth:%y%m%d}{n % 990 + 1:03d}"
    return f"{body}{97 - int(body) % 97:02d}"


def security_header(username: str = INSTITUTION, secret: str = SECRET) -> str:
    nonce = os.urandom(16)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + secret.encode()).digest()).decode()
    return (
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"><wsse:UsernameToken>'
        f"<wsse:Username>{username}</wsse:Username>"
        f'<wsse:Password Type="{DIGEST}">{digest}</wsse:Password>'
        f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce>"
        f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
    )


def envelope(body: str) -> bytes:
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:rep="{REP}"><soapenv:Header>{security_header()}'
        f"</soapenv:Header><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    ).encode()


def integrate(ssin: str) -> bytes:
    """Code 01 from 2015-01-05 (open-ended): what consult.generic needs on the demo's today, 2015-01-10."""
    return envelope(
        "<rep:IntegrateRequest><rep:QualityCode>1</rep:QualityCode><rep:Period><rep:StartDate>2015-01-05"
        "</rep:StartDate></rep:Period>"
        f"<rep:Person><rep:SSIN>{ssin}</rep:SSIN></rep:Person></rep:IntegrateRequest>"
    )


def desintegrate(ssin: str) -> bytes:
    """Removes code 01 from 2015-01-05 on: everything ``integrate`` made."""
    return envelope(
        "<rep:DesintegrateRequest><rep:QualityCode>1</rep:QualityCode><rep:Period><rep:StartDate>2015-01-05"
        "</rep:StartDate></rep:Period>"
        f"<rep:Person><rep:SSIN>{ssin}</rep:SSIN></rep:Person></rep:DesintegrateRequest>"
    )


def consult(ssin: str) -> bytes:
    return envelope(
        f"<rep:ConsultRequest><rep:SSIN>{ssin}</rep:SSIN><rep:Period><rep:StartDate>2015-01-01</rep:StartDate>"
        "</rep:Period></rep:ConsultRequest>"
    )


def check_access(ssin: str) -> bytes:
    return envelope(
        "<rep:CheckAccessRequest><rep:Flow>consult.generic</rep:Flow>"
        f"<rep:Person><rep:SSIN>{ssin}</rep:SSIN><rep:Role>SUBJECT</rep:Role></rep:Person></rep:CheckAccessRequest>"
    )


def send_flow(ssin: str) -> bytes:
    """consult.generic has no provider: decided, recorded and answered by the gateway alone."""
    return envelope(
        "<rep:SendFlowRequest><rep:Flow>consult.generic</rep:Flow>"
        f"<rep:Person><rep:SSIN>{ssin}</rep:SSIN><rep:Role>SUBJECT</rep:Role></rep:Person>"
        '<rep:Payload><q:PersonQuery xmlns:q="urn:example:ocmw:queries"><q:Purpose>file review</q:Purpose>'
        "</q:PersonQuery></rep:Payload></rep:SendFlowRequest>"
    )


def _ssdn(inner: str) -> bytes:
    """A sendXML envelope as OCMW software posts it (escaped xmlString), with a UsernameToken in its Header."""
    ssdn = "http://www.ksz-bcss.fgov.be/XSD/SSDN/Service"
    mar = "http://www.ksz-bcss.fgov.be/XSD/SSDN/OCMW_CPAS/ManageAccess"
    common = "http://www.ksz-bcss.fgov.be/XSD/SSDN/Common"
    document = (
        f'<ssdn:SSDNRequest xmlns:ssdn="{ssdn}"><ssdn:RequestContext><ssdn:AuthorizedUser>'
        f"<ssdn:UserID>00901234567</ssdn:UserID><ssdn:Email>ocmw@demostad.example</ssdn:Email>"
        f"<ssdn:OrgUnit>{INSTITUTION}</ssdn:OrgUnit><ssdn:MatrixID>17</ssdn:MatrixID>"
        "<ssdn:MatrixSubID>1</ssdn:MatrixSubID></ssdn:AuthorizedUser><ssdn:Message>"
        "<ssdn:Reference>bench</ssdn:Reference><ssdn:TimeRequest>20150110T101500</ssdn:TimeRequest>"
        "</ssdn:Message></ssdn:RequestContext><ssdn:ServiceRequest><ssdn:ServiceId>OCMWCPASManageAccess"
        "</ssdn:ServiceId><ssdn:Version>20050930</ssdn:Version>"
        f'<mar:ManageAccessRequest xmlns:mar="{mar}" xmlns:common="{common}">{inner}</mar:ManageAccessRequest>'
        "</ssdn:ServiceRequest></ssdn:SSDNRequest>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<SOAP-ENV:Envelope xmlns:ns0="{CONNECTOR_NS}" xmlns:SOAP-ENV="{SOAP_ENV}">'
        f"<SOAP-ENV:Header>{security_header()}</SOAP-ENV:Header>"
        f"<SOAP-ENV:Body><ns0:xmlString>{escape(document)}</ns0:xmlString></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    ).encode()


def register(ssin: str) -> bytes:
    return _ssdn(
        f"<mar:SSIN>{ssin}</mar:SSIN><mar:Purpose>1</mar:Purpose><mar:Period>"
        "<common:StartDate>2015-01-05</common:StartDate></mar:Period><mar:Action>REGISTER</mar:Action>"
        "<mar:Sector>17</mar:Sector><mar:QueryRegister>ALL</mar:QueryRegister><mar:ProofOfAuthentication>"
        "<mar:SISCardNumber>1234567890</mar:SISCardNumber></mar:ProofOfAuthentication>"
    )


def list_(ssin: str) -> bytes:
    return _ssdn(
        f"<mar:SSIN>{ssin}</mar:SSIN><mar:Period><common:StartDate>2015-01-01</common:StartDate></mar:Period>"
        "<mar:Action>LIST</mar:Action><mar:Sector>17</mar:Sector><mar:QueryRegister>ALL</mar:QueryRegister>"
        "<mar:ProofOfAuthentication/>"
    )


class Operation:
    """One operation of the benchmark: its name, where it is posted, how its body is made for a person, and
    whose persons it works on: new persons of its own (``after`` None: an integration each) or the persons an
    earlier operation (``after``) wrote, read again and again, or each once (``consumes``: it undoes them)."""

    def __init__(
        self,
        name: str,
        path: str,
        action: str,
        body: Callable[[str], bytes],
        after: str | None = None,
        *,
        consumes: bool = False,
    ) -> None:
        self.name, self.path, self.action, self.body = name, path, action, body
        self.after, self.consumes = after, consumes

    def __repr__(self) -> str:
        return f"Operation({self.name})"


# In the order they are measured: every reading operation comes after the writing one whose persons it reads;
# Desintegrate removes what Integrate made, so it comes last of the v1 operations.
OPERATIONS = (
    Operation("Integrate", REPERTORIUM_PATH, '""', integrate),
    Operation("Consult", REPERTORIUM_PATH, '""', consult, after="Integrate"),
    Operation("CheckAccess", REPERTORIUM_PATH, '""', check_access, after="Integrate"),
    Operation("SendFlow", REPERTORIUM_PATH, '""', send_flow, after="Integrate"),
    Operation("Desintegrate", REPERTORIUM_PATH, '""', desintegrate, after="Integrate", consumes=True),
    Operation("REGISTER", CONNECTOR_PATH, SEND_XML, register),
    Operation("LIST", CONNECTOR_PATH, SEND_XML, list_, after="REGISTER"),
)

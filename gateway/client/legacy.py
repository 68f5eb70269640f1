"""The legacy front's client, for testing old integrations: ManageAccess documents sent to ``sendXML`` in the
form OCMW software posts them, authenticated by a TLS client certificate (or, for test harnesses, a
WS-Security UsernameToken).

Invariant: a call either returns the ``SsdnAnswer`` read from the SSDNReply the gateway sent, or raises a
``ClientError`` — ``FaultError`` (``AuthenticationFailed`` for refusals of the caller) when the gateway answered
with a SOAP fault, ``TransportError`` when no readable answer came back (a refused TLS handshake included),
``InvalidRequest`` when the document does not validate against the packaged xsd/ssdn-service.xsd (nothing is
sent then). The envelope is the one real clients post: ``SOAP-ENV`` prefixes, an empty Header (unless a
UsernameToken is asked for), the document escaped in ``xmlString`` (or in CDATA), a quoted SOAPAction.

Example::

    from datetime import date
    from gateway.client import LegacyClient

    url = "https://127.0.0.1:8443/connectors/webservice/KSZBCSSWebServiceConnectorPort"
    with LegacyClient(url, "0212345668", cert=("demo/0212345668.pem", "demo/0212345668.key"), ca="demo/ca.pem") as c:
        answer = c.register("85073003328", 1, date(2015, 1, 10), sis_card="1234567890")
        print(answer.ok, answer.services[0].registrations)
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from datetime import UTC, date, datetime
from functools import cache
from types import TracebackType
from typing import TypedDict, Unpack

import requests
from lxml import etree

from gateway.contract import safexml
from gateway.contract.answers import read_fault
from gateway.contract.names import CONNECTOR_NS, SEND_XML_ACTION, SOAP_ENV, WSSE, WSSE_PASSWORD_DIGEST, WSU, qname
from gateway.contract.resources import xsd_path
from gateway.contract.schema import MessageSchema
from gateway.contract.ssdn import SSDN_XSD_FILE, brussels_time, request_envelope
from gateway.contract.ssdn_client import SsdnAnswer, read_reply, write_request
from gateway.contract.wssecurity import password_digest
from gateway.domain.manage_access import (
    Action,
    AuthorizedUser,
    ManageAccessRequest,
    PersonData,
    Proof,
    Register,
)
from gateway.errors import AuthenticationFailed, ClientError, FaultError, InvalidRequest, SchemaViolation
from gateway.errors import ClientTransportError as TransportError

__all__ = ["LegacyClient", "ProofArguments"]

_AUTHENTICATION_FAULTS = ("FailedAuthentication", "InvalidSecurity")


class ProofArguments(TypedDict, total=False):
    """A proof of authentication of the person: a SIS card number (10 digits), an identity card number (12
    digits), or ``person`` = (last name, first name, birth date ``yyyy-mm-dd``, month or day ``00`` unknown)."""

    sis_card: str
    id_card: str
    person: tuple[str, str, str]


@cache
def _schema() -> MessageSchema:
    return MessageSchema(xsd_path(SSDN_XSD_FILE).read_bytes(), SSDN_XSD_FILE, base_url=str(xsd_path(SSDN_XSD_FILE)))


class LegacyClient:
    """Speaks ``sendXML`` to one connector as one institution (an OCMW of sector 17 unless told otherwise)."""

    def __init__(
        self,
        url: str,
        institution_id: str,
        *,
        cert: tuple[str, str] | None = None,
        ca: str | bool = True,
        username_token: tuple[str, str] | None = None,
        sector: int = 17,
        user_id: str = "00000000097",
        email: str = "ksz@ocmw.example",
        cdata: bool = False,
        timeout: float = 30.0,
    ) -> None:
        """``cert`` is (certificate PEM, key PEM) for the TLS handshake, ``ca`` the CA bundle the server's
        certificate is checked against (True: the system's), ``username_token`` (user, secret) adds a WS-Security
        UsernameToken digest instead of (or beside) the certificate; ``user_id`` and ``email`` fill the
        AuthorizedUser as an OCMW's software does."""
        self.url = url
        self._user = AuthorizedUser(user_id, email, institution_id, sector, 1 if sector == 17 else None)
        self._token = username_token
        self._cdata = cdata
        self._timeout = timeout
        self._session = requests.Session()
        self._verify = ca  # given with every request: requests lets REQUESTS_CA_BUNDLE override a session's own
        self._cert = cert
        self._sent = 0

    def __enter__(self) -> LegacyClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    # -- the actions ----------------------------------------------------------------------------------------

    def register(
        self, ssin: str, purpose: int, start: date, end: date | None = None, **proof: Unpack[ProofArguments]
    ) -> SsdnAnswer:
        """REGISTER the person for ``purpose`` (the quality code); a proof (``ProofArguments``) is needed."""
        return self.send([_request(Action.REGISTER, ssin, purpose, start, end, None, None, proof)])

    def unregister(
        self, ssin: str, purpose: int, start: date, end: date | None = None, **proof: Unpack[ProofArguments]
    ) -> SsdnAnswer:
        """UNREGISTER ``[start, end]`` (without ``end``: everything from ``start`` on); a proof is needed."""
        return self.send([_request(Action.UNREGISTER, ssin, purpose, start, end, None, None, proof)])

    def list(
        self,
        ssin: str,
        start: date,
        end: date | None = None,
        *,
        purpose: int | None = None,
        register: str = "ALL",
        sector: int | None = None,
    ) -> SsdnAnswer:
        """LIST the registrations of ``register`` (PRIMARY, SECONDARY or ALL) overlapping ``[start, end]``."""
        request = _request(Action.LIST, ssin, purpose, start, end, sector or self._user.matrix_id, register, {})
        return self.send([request])

    def send(self, requests_: Sequence[ManageAccessRequest]) -> SsdnAnswer:
        """One document holding these service requests."""
        self._sent += 1
        document = write_request(
            self._user,
            requests_,
            reference=f"ManageAccessRequest # {self._sent}",
            time_request=brussels_time(datetime.now(UTC)),
        )
        try:
            _schema().check_request(safexml.fromstring(document.encode("utf-8")))
        except SchemaViolation as exc:
            raise InvalidRequest(exc.message) from exc
        return self.send_document(document)

    # -- one exchange ---------------------------------------------------------------------------------------

    def send_document(self, document: str) -> SsdnAnswer:
        """Post ``document`` (an SSDNRequest's text, sent as it is) and read the reply."""
        data = request_envelope(document, cdata=self._cdata)
        if self._token is not None:
            data = _with_token(data, *self._token)
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{SEND_XML_ACTION}"'}
        try:
            response = self._session.post(
                self.url, data=data, headers=headers, timeout=self._timeout, verify=self._verify, cert=self._cert
            )
        except requests.Timeout as exc:
            raise TransportError(f"no answer from {self.url} in time: {exc}") from exc
        except requests.RequestException as exc:
            raise TransportError(f"cannot reach {self.url}: {exc}") from exc
        try:
            envelope = safexml.fromstring(response.content)
        except (etree.XMLSyntaxError, ValueError) as exc:
            raise TransportError(f"HTTP {response.status_code} from {self.url}, not XML: {exc}") from exc
        fault = read_fault(envelope)
        if fault is not None:
            local = fault.code.rpartition(":")[2]
            kind = AuthenticationFailed if local in _AUTHENTICATION_FAULTS else FaultError
            raise kind(fault.code, fault.string, fault.reason)
        carrier = envelope.find(f"{qname(SOAP_ENV, 'Body')}/{qname(CONNECTOR_NS, 'xmlString')}")
        if response.status_code != 200 or carrier is None:
            raise TransportError(f"HTTP {response.status_code} from {self.url} is not an xmlString answer")
        try:
            return read_reply(carrier.text or "")
        except (ValueError, ClientError) as exc:
            raise TransportError(f"the reply from {self.url} cannot be read: {exc}") from exc


def _request(
    action: Action,
    ssin: str,
    purpose: int | None,
    start: date,
    end: date | None,
    sector: int | None,
    register: str | None,
    proof: ProofArguments,
) -> ManageAccessRequest:
    try:
        query = None if register is None else Register(register)
    except ValueError as exc:
        raise InvalidRequest(f"register {register!r} is not PRIMARY, SECONDARY or ALL") from exc
    person = proof.get("person")
    data = None if person is None else PersonData(*person)
    given = Proof(proof.get("sis_card"), proof.get("id_card"), data)
    return ManageAccessRequest(ssin, purpose, start, end, action, sector, query, given)


def _with_token(envelope: bytes, username: str, secret: str) -> bytes:
    """The envelope with a fresh WS-Security UsernameToken digest in its Header."""
    root = safexml.fromstring(envelope)
    header = root.find(qname(SOAP_ENV, "Header"))
    assert header is not None
    nonce, created = os.urandom(16), datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    security = etree.SubElement(header, qname(WSSE, "Security"), nsmap={"wsse": WSSE, "wsu": WSU})
    token = etree.SubElement(security, qname(WSSE, "UsernameToken"))
    etree.SubElement(token, qname(WSSE, "Username")).text = username
    password = etree.SubElement(token, qname(WSSE, "Password"), Type=WSSE_PASSWORD_DIGEST)
    password.text = password_digest(nonce, created, secret)
    etree.SubElement(token, qname(WSSE, "Nonce")).text = base64.b64encode(nonce).decode("ascii")
    etree.SubElement(token, qname(WSU, "Created")).text = created
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return data

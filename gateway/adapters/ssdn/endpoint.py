"""The network's web service connector as a WSGI application: ``sendXML`` at
``/connectors/webservice/KSZBCSSWebServiceConnectorPort``, behind the same edge as the v1 front.

Invariant: a document reaches the ManageAccess use case only after, in this order, the path and method are the
connector's, the whole body was read within the size limit, the Content-Type is text/xml, the body parsed safely
as a SOAP 1.1 envelope (within the XML limits) whose Body holds exactly one ``xmlString`` of the connector's
namespace with text only, the SOAPAction is empty or sendXML's (quoted or not), and the caller proved an
institution. Up to there every refusal is a SOAP fault, as on the v1 front; from there on the answer is always an
``xmlString`` holding an SSDNReply that validated against xsd/ssdn-service.xsd (``DocumentAnswerer``), whatever
the document holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from lxml import etree

from gateway.adapters.soap.callers import Caller
from gateway.adapters.soap.documents import ContractDocuments, TrustedProxies, endpoint_url
from gateway.adapters.soap.envelope import parse_envelope
from gateway.adapters.soap.http import (
    XML_CONTENT_TYPE,
    StartResponse,
    answer_or_fault,
    check_content_type,
    discard,
    plain,
    read_body,
    soap_action,
)
from gateway.adapters.soap.wssecurity import SECURITY
from gateway.adapters.ssdn.documents import DocumentAnswerer
from gateway.app.observation import note_of
from gateway.contract.limits import DEFAULT_LIMITS, XmlLimits
from gateway.contract.names import CONNECTOR_NS, SEND_XML_ACTION, qname
from gateway.contract.ssdn import CONNECTOR_PATH, reply_envelope
from gateway.errors import MalformedMessage, SoapActionMismatch, UnknownOperation

__all__ = ["ConnectorEndpoint"]

_XML_STRING = qname(CONNECTOR_NS, "xmlString")
_UNDERSTOOD = frozenset({SECURITY})

log = logging.getLogger("gateway.adapters.ssdn")


class ConnectorEndpoint:
    """``GET ?wsdl`` (the connector WSDL with its absolute address) and SOAP 1.1 ``POST``s of ``sendXML``."""

    def __init__(
        self,
        *,
        documents: ContractDocuments,
        answerer: DocumentAnswerer,
        caller: Caller,
        max_body_bytes: int,
        trusted_proxies: TrustedProxies | None = None,
        xml_limits: XmlLimits = DEFAULT_LIMITS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._proxies = trusted_proxies or TrustedProxies()
        self._xml_limits = xml_limits
        self._documents = documents
        self._answerer = answerer
        self._caller = caller
        self._max_body = max_body_bytes
        self._clock = clock

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "") or "/"
        if path.rstrip("/") != CONNECTOR_PATH:
            discard(environ, self._max_body)
            return plain(
                start_response, "404 Not Found", f"No endpoint at {path}; the connector is at {CONNECTOR_PATH}."
            )
        if method in ("GET", "HEAD"):
            discard(environ, self._max_body)
            note_of(environ).operation = "documents"
            keys = {key.lower() for key, _ in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)}
            if "wsdl" not in keys:
                return plain(
                    start_response,
                    "400 Bad Request",
                    "This is the SOAP 1.1 connector of the legacy front: GET ?wsdl for its description, POST sendXML.",
                )
            body = self._documents.wsdl(endpoint_url(environ, self._proxies))
            start_response("200 OK", [("Content-Type", XML_CONTENT_TYPE), ("Content-Length", str(len(body)))])
            return [] if method == "HEAD" else [body]
        if method != "POST":
            discard(environ, self._max_body)
            return plain(
                start_response,
                "405 Method Not Allowed",
                "Send sendXML requests with POST; GET serves ?wsdl.",
                [("Allow", "GET, HEAD, POST")],
            )
        received = self._clock()
        status, body, extra = answer_or_fault(
            environ,
            log,
            lambda: self._send_xml(environ, read_body(environ, self._max_body), received),
            refused=self._caller.refused,
        )
        start_response(status, [("Content-Type", XML_CONTENT_TYPE), ("Content-Length", str(len(body))), *extra])
        return [body]

    def _send_xml(self, environ: dict[str, Any], data: bytes, received: datetime) -> bytes:
        note = note_of(environ)
        check_content_type(environ)
        envelope = parse_envelope(data, _UNDERSTOOD, self._xml_limits)
        carrier = envelope.body
        if carrier.tag != _XML_STRING:
            name = etree.QName(carrier)
            raise UnknownOperation(
                f"This connector's only operation is sendXML, whose Body holds one {{{CONNECTOR_NS}}}xmlString; "
                f"the Body holds {{{name.namespace}}}{name.localname}.",
                operation=name.localname,
            )
        note.operation = "sendXML"
        if len(carrier):
            raise MalformedMessage(
                "xmlString holds elements: the SSDN document must be its text, entity-escaped or in CDATA."
            )
        action = soap_action(environ)
        if action not in ("", SEND_XML_ACTION):
            raise SoapActionMismatch(
                f'The SOAPAction {action!r} is not this connector\'s: send SOAPAction "{SEND_XML_ACTION}" or "".'
            )
        institution, nonce = self._caller.verify(envelope.headers, environ)
        note.institution = institution.id
        reply = self._answerer.answer(institution, carrier.text or "", nonce=nonce, received=received, note=note)
        return reply_envelope(reply)

"""The legacy front over real HTTP(S), as OCMW software posts to it: the envelope suds writes around an escaped
(or CDATA) ``xmlString``, ``SOAP-ENV`` prefixes, an empty Header, a quoted SOAPAction.

``post`` sends one envelope and returns the parsed answer: a fault, or the SSDNReply read out of ``xmlString``.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from lxml import etree

__all__ = ["CONNECTOR_NS", "CONNECTOR_PATH", "SEND_XML", "Answer", "envelope", "post", "token"]

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
CONNECTOR_NS = "http://ksz-bcss.fgov.be/connectors/WebServiceConnector"
CONNECTOR_PATH = "/connectors/webservice/KSZBCSSWebServiceConnectorPort"
SEND_XML = CONNECTOR_NS + "/sendXML"
GW = "urn:ksz-gateway:fault:v1"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"


def token(username: str = "0212345668", secret: str = "demo-ocmw-a") -> str:
    """A WS-Security UsernameToken digest header entry, as test harnesses add it (fresh nonce, Created now)."""
    nonce, created = os.urandom(16), datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + secret.encode()).digest()).decode()
    return (
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}" SOAP-ENV:mustUnderstand="1"><wsse:UsernameToken>'
        f'<wsse:Username>{username}</wsse:Username><wsse:Password Type="{DIGEST}">{digest}</wsse:Password>'
        f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce><wsu:Created>{created}</wsu:Created>"
        "</wsse:UsernameToken></wsse:Security>"
    )


def envelope(document: str, *, cdata: bool = False, header: str = "") -> bytes:
    """What suds posts for ``client.service.sendXML(document)``: ns0 the connector, ns1 and SOAP-ENV the envelope."""
    text = f"<![CDATA[{document}]]>" if cdata else escape(document, {"'": "&apos;", '"': "&quot;"})
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<SOAP-ENV:Envelope xmlns:ns0="{CONNECTOR_NS}" xmlns:ns1="{SOAP_ENV}" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:SOAP-ENV="{SOAP_ENV}">'
        f"<SOAP-ENV:Header>{header}</SOAP-ENV:Header>"
        f"<ns1:Body><ns0:xmlString>{text}</ns0:xmlString></ns1:Body>"
        "</SOAP-ENV:Envelope>"
    ).encode()


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    data: bytes
    root: etree._Element

    @property
    def body(self) -> etree._Element:
        return self.root.find(f"{{{SOAP_ENV}}}Body")[0]

    @property
    def is_fault(self) -> bool:
        return bool(self.body.tag == f"{{{SOAP_ENV}}}Fault")

    @property
    def faultcode(self) -> str:
        return str(self.body.findtext("faultcode")).strip()

    @property
    def fault_reason(self) -> str | None:
        found = self.root.find(f".//{{{GW}}}FaultDetail/{{{GW}}}ReasonCode")
        return None if found is None else str(found.text)

    @property
    def text(self) -> str:
        """The SSDNReply as the client reads it: the text of xmlString."""
        assert self.body.tag == f"{{{CONNECTOR_NS}}}xmlString", self.body.tag
        return str(self.body.text)

    @property
    def document(self) -> etree._Element:
        return etree.fromstring(self.text.encode("utf-8"))


def post(
    host: str,
    port: int,
    data: bytes,
    *,
    action: str | None = f'"{SEND_XML}"',
    content_type: str = "text/xml; charset=utf-8",
    context: ssl.SSLContext | None = None,
    headers: dict[str, str] | None = None,
    path: str = CONNECTOR_PATH,
) -> Answer:
    sent = {"Content-Type": content_type, **(headers or {})}
    if action is not None:
        sent["SOAPAction"] = action
    connection: http.client.HTTPConnection
    if context is None:
        connection = http.client.HTTPConnection(host, port, timeout=60)
    else:
        connection = http.client.HTTPSConnection(host, port, timeout=60, context=context)
    try:
        connection.request("POST", path, body=data, headers=sent)
        response = connection.getresponse()
        body = response.read()
        return Answer(response.status, response.getheader("Content-Type", ""), body, etree.fromstring(body))
    finally:
        connection.close()

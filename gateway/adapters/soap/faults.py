"""SOAP 1.1 faults from the gateway's errors: fault code, fault string, the reason code, the HTTP status.

Invariant: every ``GatewayError`` maps to exactly one fault code — ``soap:Client`` for a wrong message,
``soap:MustUnderstand`` / ``soap:VersionMismatch`` where SOAP 1.1 names one, ``wsse:FailedAuthentication`` /
``wsse:InvalidSecurity`` (prefix bound to the WS-Security namespace) for authentication, ``soap:Server`` for the
rest — and the fault string never shows a stack trace or an internal message, and never tells an unknown
institution, a wrong digest and a disabled institution apart (an authentication error shows only its ``public``
sentence). The gateway's reason code travels in ``detail`` (``gw:FaultDetail``) or, for faults about a header entry,
in a ``gw:FaultDetail`` header entry, as SOAP 1.1 section 4.4 requires.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus

from lxml import etree

from gateway.contract.names import FAULT_NS, SOAP_ENV, WSSE, qname
from gateway.errors import (
    AuthenticationError,
    ConfigurationError,
    GatewayError,
    InvalidSecurity,
    MustUnderstandFault,
    RequestError,
    SchemaViolation,
    StorageError,
    VersionMismatch,
)

__all__ = ["Fault", "fault_code", "fault_for", "fault_string"]

_INTERNAL = (
    "The gateway could not process the request because of an internal error; "
    "it has been logged under the incident in the fault detail."
)
_STORAGE = "The directory database is unavailable; the request was not applied. Try again later."
_CONFIGURATION = "The gateway is misconfigured and cannot process requests; the incident has been logged."


def fault_code(error: GatewayError) -> tuple[str, str]:
    """The fault code of ``error`` as (namespace, local name)."""
    if isinstance(error, AuthenticationError):
        return WSSE, "InvalidSecurity" if isinstance(error, InvalidSecurity) else "FailedAuthentication"
    if isinstance(error, MustUnderstandFault):
        return SOAP_ENV, "MustUnderstand"
    if isinstance(error, VersionMismatch):
        return SOAP_ENV, "VersionMismatch"
    if isinstance(error, RequestError):
        return SOAP_ENV, "Client"
    return SOAP_ENV, "Server"


def fault_string(error: GatewayError) -> str:
    """What the caller reads: the error's own sentence for message errors, fixed sentences otherwise."""
    if isinstance(error, AuthenticationError):
        return error.public
    if isinstance(error, RequestError):
        return error.message
    if isinstance(error, StorageError):
        return _STORAGE
    if isinstance(error, ConfigurationError):
        return _CONFIGURATION
    return _INTERNAL


def _about_header(error: GatewayError) -> bool:
    return isinstance(error, (AuthenticationError, MustUnderstandFault))


@dataclass(frozen=True, slots=True)
class Fault:
    """A rendered fault: HTTP status line and the envelope's bytes."""

    status: str
    body: bytes


def _fault_detail(parent: etree._Element, tag: str, error: GatewayError, incident: str | None) -> None:
    detail = etree.SubElement(parent, tag, nsmap={"gw": FAULT_NS})
    etree.SubElement(detail, qname(FAULT_NS, "ReasonCode")).text = error.code
    if isinstance(error, SchemaViolation):
        if error.path:
            etree.SubElement(detail, qname(FAULT_NS, "Path")).text = error.path
        if error.line:
            etree.SubElement(detail, qname(FAULT_NS, "Line")).text = str(error.line)
    if incident is not None:
        etree.SubElement(detail, qname(FAULT_NS, "Incident")).text = incident


def fault_for(error: GatewayError, incident: str | None = None) -> Fault:
    """The fault answering ``error``; ``incident`` (the log's id) is shown for server faults only."""
    namespace, local = fault_code(error)
    prefix = "wsse" if namespace == WSSE else "soap"
    nsmap = {"soap": SOAP_ENV}
    if prefix == "wsse":
        nsmap["wsse"] = WSSE
    envelope = etree.Element(qname(SOAP_ENV, "Envelope"), nsmap=nsmap)
    shown_incident = incident if local == "Server" else None
    if _about_header(error):
        header = etree.SubElement(envelope, qname(SOAP_ENV, "Header"))
        _fault_detail(header, qname(FAULT_NS, "FaultDetail"), error, None)
    body = etree.SubElement(envelope, qname(SOAP_ENV, "Body"))
    fault = etree.SubElement(body, qname(SOAP_ENV, "Fault"))
    etree.SubElement(fault, "faultcode").text = f"{prefix}:{local}"
    etree.SubElement(fault, "faultstring").text = fault_string(error)
    if not _about_header(error):
        detail = etree.SubElement(fault, "detail")
        _fault_detail(detail, qname(FAULT_NS, "FaultDetail"), error, shown_incident)
    status = HTTPStatus(error.http_status)
    return Fault(f"{status.value} {status.phrase}", etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))

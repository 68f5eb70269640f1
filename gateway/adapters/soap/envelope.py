"""Reading a SOAP 1.1 request safely: hardened XML parsing and the envelope's shape.

Invariant: a request leaves this module either as an ``Envelope`` (well-formed UTF-8 XML without a DOCTYPE or
a processing instruction, within the bounds of its ``XmlLimits``, a SOAP 1.1 ``Envelope`` holding an optional
``Header`` and a ``Body`` with exactly one element, no header that must be understood and is not) or as a
``RequestError`` that says what is wrong. No DTD is loaded, no entity expanded, no file, device or URL opened,
no huge tree built (``gateway.contract.safexml``), and nothing costlier than one parse is done.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from lxml import etree

from gateway.contract import safexml
from gateway.contract.limits import DEFAULT_LIMITS, XmlLimits
from gateway.contract.names import SOAP12_ENV, SOAP_ENV, qname
from gateway.errors import EmptyBody, MalformedMessage, MustUnderstandFault, VersionMismatch

__all__ = ["Envelope", "parse_envelope", "parse_xml"]

_ENVELOPE = qname(SOAP_ENV, "Envelope")
_HEADER = qname(SOAP_ENV, "Header")
_BODY = qname(SOAP_ENV, "Body")
_MUST_UNDERSTAND = qname(SOAP_ENV, "mustUnderstand")
_ACTOR = qname(SOAP_ENV, "actor")
_ACTOR_NEXT = "http://schemas.xmlsoap.org/soap/actor/next"


def parse_xml(data: bytes, limits: XmlLimits = DEFAULT_LIMITS) -> etree._Element:
    """Parse a request body strictly (UTF-8, no DOCTYPE, no processing instruction, within ``limits``)."""
    if not data.strip():
        raise MalformedMessage("The request has no content: a SOAP 1.1 envelope was expected.")
    return safexml.read_message(data, limits, subject="The request")


@dataclass(frozen=True, slots=True)
class Envelope:
    """A SOAP 1.1 request: the envelope, its header entries (maybe none) and the one element of its Body."""

    root: etree._Element
    headers: tuple[etree._Element, ...]
    body: etree._Element


def _no_text(element: etree._Element, what: str) -> None:
    # Text that is not all whitespace (str.isspace: what str.strip removes), before or between the children.
    text = element.text
    if text and not text.isspace():
        raise MalformedMessage(f"{what} holds text outside elements; only elements are allowed there.")
    for child in element:
        tail = child.tail
        if tail and not tail.isspace():
            raise MalformedMessage(f"{what} holds text outside elements; only elements are allowed there.")


def parse_envelope(data: bytes, understood: Collection[str] = (), limits: XmlLimits = DEFAULT_LIMITS) -> Envelope:
    """Parse ``data`` as a SOAP 1.1 request whose header entries named in ``understood`` are processed later;
    ``limits`` bound the document (checked once it is parsed, before anything validates the Body)."""
    root = parse_xml(data, limits)
    if root.tag != _ENVELOPE:
        name = etree.QName(root)
        if name.localname == "Envelope" and name.namespace == SOAP12_ENV:
            raise VersionMismatch(
                f"The request is a SOAP 1.2 envelope; this endpoint speaks SOAP 1.1 (envelope namespace {SOAP_ENV})."
            )
        if name.localname == "Envelope":
            raise VersionMismatch(f"The envelope namespace {name.namespace!r} is not SOAP 1.1's {SOAP_ENV}.")
        raise MalformedMessage(f"The request is not a SOAP 1.1 envelope: its root element is {root.tag}.")
    _no_text(root, "soap:Envelope")
    header: etree._Element | None = None
    body: etree._Element | None = None
    for child in root:
        if child.tag == _HEADER and header is None and body is None:
            header = child
        elif child.tag == _BODY and body is None:
            body = child
        else:
            raise MalformedMessage(
                f"soap:Envelope may hold one optional soap:Header then one soap:Body, not {child.tag} here."
            )
    if body is None:
        raise MalformedMessage("The SOAP envelope has no soap:Body.")
    headers: tuple[etree._Element, ...] = ()
    if header is not None:
        _no_text(header, "soap:Header")
        headers = tuple(header)
        _check_must_understand(headers, understood)
    _no_text(body, "soap:Body")
    if len(body) == 0:
        raise EmptyBody("The soap:Body is empty: it must hold one request element such as rep:IntegrateRequest.")
    if len(body) > 1:
        raise MalformedMessage(f"The soap:Body must hold exactly one request element, not {len(body)}.")
    return Envelope(root, headers, body[0])


def _check_must_understand(headers: tuple[etree._Element, ...], understood: Collection[str]) -> None:
    for entry in headers:
        raw = entry.get(_MUST_UNDERSTAND)
        flag = "0" if raw is None else raw.strip()
        if flag not in ("0", "1", "false", "true"):  # "yes" must not pass for "0": the header would be ignored
            raise MalformedMessage(
                f'The header {entry.tag} has mustUnderstand="{flag[:20]}"; SOAP 1.1 allows "1" and "0" only.'
            )
        if flag in ("0", "false"):
            continue
        actor = entry.get(_ACTOR)
        if actor not in (None, "", _ACTOR_NEXT):
            continue  # addressed to another node: not ours to understand
        if entry.tag not in understood:
            raise MustUnderstandFault(
                f'The header {entry.tag} is marked mustUnderstand="1" and this gateway does not understand it.'
            )

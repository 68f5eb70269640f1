"""Forwarding a flow's payload to its provider over SOAP 1.1 (the application's ``Provider`` port).

Invariant: ``SoapProvider`` either returns the provider's answer (the first element of its SOAP Body, as bytes) or
raises ``ProviderError`` with a sentence that says what failed (unreachable, timed out, cut off, a fault, an answer
that is not SOAP); it never blocks longer than its timeout. Every exception urllib, http.client, socket and ssl
raise on a request is translated once, here, from ``FAILURES`` (a test walks their exception classes).
"""

from __future__ import annotations

import copy
import http.client
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from gateway.contract import safexml
from gateway.contract.names import SOAP_ENV, qname
from gateway.domain.access import Flow
from gateway.errors import ProviderError

__all__ = ["FAILURES", "SoapProvider", "translate"]

_FAULT = qname(SOAP_ENV, "Fault")


def _envelope(payload: bytes | None) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'.encode()
        + (payload or b"")
        + b"</soap:Body></soap:Envelope>"
    )


def _body_child(answer: bytes) -> etree._Element | None:
    """The first element of a SOAP answer's Body; raises ProviderError when the answer is no envelope."""
    try:
        root = safexml.fromstring(answer)
    except etree.XMLSyntaxError as exc:
        raise ProviderError(f"the provider's answer is not XML ({exc})") from exc
    body = root.find(qname(SOAP_ENV, "Body"))
    if root.tag != qname(SOAP_ENV, "Envelope") or body is None:
        raise ProviderError("the provider's answer is not a SOAP 1.1 envelope")
    child = next(iter(body), None)
    if child is None:
        return None
    detached = copy.deepcopy(child)  # without the envelope's namespace declarations
    etree.cleanup_namespaces(detached)
    return detached


def _fault(child: etree._Element | None) -> str | None:
    """What the provider's SOAP fault says, as a sentence; None for an answer that is no fault."""
    if child is None or child.tag != _FAULT:
        return None
    return f"the provider answered a fault: {child.findtext('faultstring') or ''}"


# -- what each failure of a request means ------------------------------------------------------------------
# Sentences formatted with the exception (``exc``), its class name (``kind``) and the timeout in seconds.

UNREACHABLE = "the provider could not be reached ({exc})"
UNKNOWN_HOST = "the provider could not be reached: its host name is unknown ({exc})"
LATE = "the provider did not answer within {timeout:g} s"
DROPPED = "the provider closed the connection before its answer was complete ({kind}: {exc})"
NOT_HTTP = "the provider's answer is not HTTP ({kind}: {exc})"
NO_TLS = "the provider could not be reached over TLS ({exc})"
UNUSABLE_URL = "the provider's URL cannot be used ({exc})"
URLLIB_REFUSED = "the provider's URL cannot be used ({exc.reason})"  # urllib's own sentence about the URL
NOT_2XX = "the provider answered HTTP {exc.code}"  # unless its answer is a SOAP fault, which says why

FAILURES: Mapping[type[BaseException], str] = {
    ValueError: UNUSABLE_URL,  # urllib.request.Request and http.client refuse the URL itself
    OSError: UNREACHABLE,
    BlockingIOError: UNREACHABLE,
    InterruptedError: UNREACHABLE,
    PermissionError: UNREACHABLE,
    ConnectionError: UNREACHABLE,
    ConnectionRefusedError: UNREACHABLE,
    BrokenPipeError: DROPPED,
    ConnectionAbortedError: DROPPED,
    ConnectionResetError: DROPPED,
    TimeoutError: LATE,
    socket.herror: UNKNOWN_HOST,
    socket.gaierror: UNKNOWN_HOST,
    ssl.SSLError: NO_TLS,
    ssl.SSLCertVerificationError: NO_TLS,
    ssl.SSLSyscallError: NO_TLS,
    ssl.SSLWantReadError: NO_TLS,
    ssl.SSLWantWriteError: NO_TLS,
    ssl.SSLZeroReturnError: DROPPED,
    ssl.SSLEOFError: DROPPED,
    urllib.error.URLError: URLLIB_REFUSED,  # when it wraps the socket's own failure, that one is translated
    urllib.error.HTTPError: NOT_2XX,
    urllib.error.ContentTooShortError: DROPPED,
    http.client.HTTPException: NOT_HTTP,
    http.client.BadStatusLine: NOT_HTTP,
    http.client.LineTooLong: NOT_HTTP,
    http.client.UnknownProtocol: NOT_HTTP,
    http.client.UnknownTransferEncoding: NOT_HTTP,
    http.client.UnimplementedFileMode: NOT_HTTP,
    http.client.InvalidURL: UNUSABLE_URL,
    http.client.RemoteDisconnected: DROPPED,
    http.client.IncompleteRead: DROPPED,
    http.client.NotConnected: DROPPED,
    http.client.ImproperConnectionState: DROPPED,
    http.client.CannotSendRequest: DROPPED,
    http.client.CannotSendHeader: DROPPED,
    http.client.ResponseNotReady: DROPPED,
}


def _answered_fault(exc: urllib.error.HTTPError) -> str | None:
    try:
        return _fault(_body_child(exc.read()))
    except (ProviderError, OSError, http.client.HTTPException):
        return None  # an error answer that is no SOAP envelope, or that broke off: its status says enough


def translate(exc: BaseException, timeout: float) -> ProviderError:
    """The ``ProviderError`` that says what ``exc`` means: the sentence of its most specific class in ``FAILURES``
    (the socket's own failure where urllib wraps one, the provider's fault where it answered one). An exception
    no entry covers is no failure of the provider: it is raised again."""
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        return translate(exc.reason, timeout)
    if isinstance(exc, urllib.error.HTTPError) and (fault := _answered_fault(exc)) is not None:
        return ProviderError(fault)
    for kind in type(exc).__mro__:
        sentence = FAILURES.get(kind)
        if sentence is not None:
            return ProviderError(sentence.format(exc=exc, kind=type(exc).__name__, timeout=timeout))
    raise exc


@dataclass(frozen=True)
class SoapProvider:
    """Posts the payload in a SOAP 1.1 envelope to the flow's provider URL, with the flow's SOAPAction."""

    timeout: float = 10.0

    def __call__(self, flow: Flow, payload: bytes | None, ticket: str) -> bytes | None:
        if flow.provider_url is None:
            return None
        try:
            request = urllib.request.Request(
                flow.provider_url,
                data=_envelope(payload),
                method="POST",
                headers={
                    "Content-Type": "text/xml; charset=utf-8",
                    "SOAPAction": f'"{flow.provider_action or ""}"',
                    "X-Gateway-Ticket": ticket,
                },
            )
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = response.read()
        except tuple(FAILURES) as exc:
            raise translate(exc, self.timeout) from exc
        child = _body_child(answer)
        fault = _fault(child)
        if fault is not None:
            raise ProviderError(fault)
        return None if child is None else etree.tostring(child)

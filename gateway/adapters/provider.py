"""Forwarding a flow's payload to its provider over SOAP 1.1, and a small provider for tests and demos.

Invariant: ``SoapProvider`` either returns the provider's answer (the first element of its SOAP Body, as
bytes) or raises ``ProviderError`` with a sentence that says what failed (unreachable, timed out, a fault,
an answer that is not SOAP); it never blocks longer than its timeout.
"""

from __future__ import annotations

import copy
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from xml.sax.saxutils import escape

from lxml import etree

from gateway.contract import safexml
from gateway.contract.names import SOAP_ENV
from gateway.domain.access import Flow
from gateway.errors import ProviderError

__all__ = ["DemoProvider", "SoapProvider"]

DEMO_NS = "urn:ksz-gateway:demo-provider"


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
    body = root.find(f"{{{SOAP_ENV}}}Body")
    if root.tag != f"{{{SOAP_ENV}}}Envelope" or body is None:
        raise ProviderError("the provider's answer is not a SOAP 1.1 envelope")
    child = next(iter(body), None)
    if child is None:
        return None
    detached = copy.deepcopy(child)  # without the envelope's namespace declarations
    etree.cleanup_namespaces(detached)
    return detached


@dataclass(frozen=True)
class SoapProvider:
    """Posts the payload in a SOAP 1.1 envelope to the flow's provider URL, with the flow's SOAPAction."""

    timeout: float = 10.0

    def __call__(self, flow: Flow, payload: bytes | None, ticket: str) -> bytes | None:
        if flow.provider_url is None:
            return None
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
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = response.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()
            child = _body_child(body) if body else None
            if child is not None and child.tag == f"{{{SOAP_ENV}}}Fault":
                raise ProviderError(f"the provider answered a fault: {child.findtext('faultstring') or ''}") from exc
            raise ProviderError(f"the provider answered HTTP {exc.code}") from exc
        except TimeoutError as exc:
            raise ProviderError(f"the provider did not answer within {self.timeout:g} s") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError | socket.timeout):
                raise ProviderError(f"the provider did not answer within {self.timeout:g} s") from exc
            raise ProviderError(f"the provider could not be reached ({reason})") from exc
        child = _body_child(answer)
        if child is not None and child.tag == f"{{{SOAP_ENV}}}Fault":
            raise ProviderError(f"the provider answered a fault: {child.findtext('faultstring') or ''}")
        return None if child is None else etree.tostring(child)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class DemoProvider:
    """A real SOAP server on loopback that acknowledges what it receives, for tests and demos.

    ``mode`` is ``ok`` (acknowledge), ``fault`` (answer a SOAP fault) or ``slow`` (wait ``delay`` seconds,
    then acknowledge). ``received`` keeps the payloads it acknowledged, in order.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, mode: str = "ok", delay: float = 0.0) -> None:
        self.mode = mode
        self.delay = delay
        self.received: list[bytes] = []
        self._lock = threading.Lock()
        self._server: WSGIServer = make_server(host, port, self._app, handler_class=_QuietHandler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/provider"

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        if self.mode == "slow":
            time.sleep(self.delay)
        headers = [("Content-Type", "text/xml; charset=utf-8")]
        if self.mode == "fault":
            fault = (
                "<soap:Fault><faultcode>soap:Server</faultcode>"
                "<faultstring>The demo provider refuses this message.</faultstring></soap:Fault>"
            )
            start_response("500 Internal Server Error", headers)
            return [f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>{fault}</soap:Body></soap:Envelope>'.encode()]
        try:
            child = _body_child(body)
        except ProviderError:
            start_response("400 Bad Request", headers)
            return [b""]
        received = b"" if child is None else etree.tostring(child)
        with self._lock:
            self.received.append(received)
        ticket = escape(environ.get("HTTP_X_GATEWAY_TICKET", ""))
        ack = (
            f'<prov:Acknowledgement xmlns:prov="{DEMO_NS}"><prov:Ticket>{ticket}</prov:Ticket>'
            f"<prov:Accepted>true</prov:Accepted></prov:Acknowledgement>"
        )
        start_response("200 OK", headers)
        return [f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>{ack}</soap:Body></soap:Envelope>'.encode()]

    def start(self) -> DemoProvider:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> DemoProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""A demo SOAP provider that flows can be forwarded to: a real server on loopback, for tests and demonstrations.

Invariant: it answers every POST with a SOAP 1.1 envelope (an acknowledgement naming the gateway's Ticket, or a
fault in mode ``fault``), or with ``400`` when what it received is no SOAP envelope; it keeps what it acknowledged
in memory only (``received``, the payloads as canonical XML, in order), never on disk.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from xml.sax.saxutils import escape

from lxml import etree

from gateway.contract import safexml
from gateway.contract.names import SOAP_ENV, qname

__all__ = ["DEMO_NS", "DemoProvider"]

DEMO_NS = "urn:ksz-gateway:demo-provider"
_XML = ("Content-Type", "text/xml; charset=utf-8")  # in a new list each time: wsgiref adds Content-Length to it


def _envelope(body: str) -> list[bytes]:
    return [f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>{body}</soap:Body></soap:Envelope>'.encode()]


def _payload(body: bytes) -> str | None:
    """What a SOAP request carries in its Body, as canonical XML (``""``: nothing); None for no SOAP envelope."""
    try:
        root = safexml.fromstring(body)
    except etree.XMLSyntaxError:
        return None
    if root.tag != qname(SOAP_ENV, "Envelope") or root.find(qname(SOAP_ENV, "Body")) is None:
        return None
    child = root.find(f"{qname(SOAP_ENV, 'Body')}/*")
    return "" if child is None else str(etree.canonicalize(child))


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class DemoProvider:
    """A real SOAP server on loopback that acknowledges what it receives.

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
        if self.mode == "fault":
            start_response("500 Internal Server Error", [_XML])
            return _envelope(
                "<soap:Fault><faultcode>soap:Server</faultcode>"
                "<faultstring>The demo provider refuses this message.</faultstring></soap:Fault>"
            )
        payload = _payload(body)
        if payload is None:
            start_response("400 Bad Request", [_XML])
            return [b""]
        with self._lock:
            self.received.append(payload.encode())
        ticket = escape(environ.get("HTTP_X_GATEWAY_TICKET", ""))
        start_response("200 OK", [_XML])
        return _envelope(
            f'<prov:Acknowledgement xmlns:prov="{DEMO_NS}"><prov:Ticket>{ticket}</prov:Ticket>'
            "<prov:Accepted>true</prov:Accepted></prov:Acknowledgement>"
        )

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

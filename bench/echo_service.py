"""The baseline of bench_soap.py: a bare spyne echo over SOAP 1.1, the least a spyne service can do per request.

Invariant: nothing but spyne's own WSGI server, Soap11 in and out, one string in and the same string out; no
validation, no authentication, no database. Served by the gateway's own HTTP server (bench/stack_server.py),
so that it and the gateway differ in the application only.
"""

from __future__ import annotations

from typing import Any

# spyne 2.14 imports on Python 3.12 and 3.13 only with the gateway's shim installed first.
import gateway.adapters.soap._spyne_compat  # noqa: F401

# isort: split
from spyne import Application, Service, Unicode, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

__all__ = ["ECHO_NS", "application", "request_body"]

ECHO_NS = "urn:ksz-gateway:bench:echo"


class EchoService(Service):  # type: ignore[misc]
    @rpc(Unicode, _returns=Unicode)  # type: ignore[untyped-decorator]
    def echo(ctx: Any, text: str) -> str:
        return text


application = WsgiApplication(
    Application([EchoService], tns=ECHO_NS, name="Echo", in_protocol=Soap11(), out_protocol=Soap11())
)


def request_body(text: str = "hello") -> bytes:
    return (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:e="{ECHO_NS}"><soapenv:Body><e:echo><e:text>{text}</e:text></e:echo>'
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()

"""The repertorium endpoint as a WSGI application: HTTP and SOAP edge checks in front of the spyne service.

Invariant: a request reaches an operation only after, in this order, its path and method are the endpoint's,
its whole body was read within the size limit, its Content-Type is text/xml, it parsed safely as a SOAP 1.1
envelope (within the XML limits) with one Body element naming an operation of the service, its SOAPAction is
empty or that operation's, its UsernameToken proved an institution, and its Body validated against the schema
(last, as it costs the most: nobody unauthenticated makes the gateway validate). Every answer is either a
response whose Body validated against the schema or a fault; nothing else (no stack trace, no bare 500) leaves.
The body is always read or discarded completely before the answer is sent. The documents it serves name the
endpoint as the client reached it, through a reverse proxy only when that proxy is trusted.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from lxml import etree

from gateway.adapters.soap.application import Dispatcher
from gateway.adapters.soap.documents import ContractDocuments, TrustedProxies, endpoint_url
from gateway.adapters.soap.envelope import parse_envelope
from gateway.adapters.soap.faults import fault_for
from gateway.adapters.soap.service import CallScope
from gateway.adapters.soap.wssecurity import SECURITY, Authenticator
from gateway.app.access_service import AccessService
from gateway.app.directory_service import DirectoryService
from gateway.contract.limits import DEFAULT_LIMITS, XmlLimits
from gateway.contract.names import ACTION_PREFIX, action_of
from gateway.contract.schema import MessageSchema
from gateway.errors import (
    AuthenticationError,
    GatewayError,
    InternalError,
    MessageTooLarge,
    RequestError,
    SoapActionMismatch,
    UnknownOperation,
    UnsupportedMediaType,
)

__all__ = ["ENDPOINT_PATH", "SoapEndpoint"]

ENDPOINT_PATH = "/soap/repertorium"
_XML = "text/xml; charset=utf-8"
_CHUNK = 64 * 1024
_UNDERSTOOD = frozenset({SECURITY})

log = logging.getLogger("gateway.adapters.soap")
StartResponse = Callable[..., Any]


class SoapEndpoint:
    """``/soap/repertorium``: ``GET ?wsdl``, ``GET ?xsd=NAME`` and SOAP 1.1 ``POST``s."""

    def __init__(
        self,
        *,
        documents: ContractDocuments,
        schema: MessageSchema,
        dispatcher: Dispatcher,
        authenticator: Authenticator,
        directory: DirectoryService,
        access: AccessService,
        max_body_bytes: int,
        trusted_proxies: TrustedProxies | None = None,
        xml_limits: XmlLimits = DEFAULT_LIMITS,
    ) -> None:
        self._documents = documents
        self._schema = schema
        self._dispatcher = dispatcher
        self._authenticator = authenticator
        self._directory = directory
        self._access = access
        self._max_body = max_body_bytes
        self._proxies = trusted_proxies or TrustedProxies()
        self._discard_cap = max(64 * 1024 * 1024, 16 * max_body_bytes)
        self._xml_limits = xml_limits

    # -- WSGI ----------------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "") or "/"
        if path.rstrip("/") != ENDPOINT_PATH:
            self._discard(environ)
            return _plain(start_response, "404 Not Found", f"No endpoint at {path}; the service is at {ENDPOINT_PATH}.")
        if method in ("GET", "HEAD"):
            self._discard(environ)
            status, content_type, body = self._document(environ)
            start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
            return [] if method == "HEAD" else [body]
        if method != "POST":
            self._discard(environ)
            return _plain(
                start_response,
                "405 Method Not Allowed",
                "Send SOAP requests with POST; GET serves ?wsdl and ?xsd=<file name>.",
                [("Allow", "GET, HEAD, POST")],
            )
        status, body = self._soap(environ)
        start_response(status, [("Content-Type", _XML), ("Content-Length", str(len(body)))])
        return [body]

    # -- documents -----------------------------------------------------------------------------------------

    def _document(self, environ: dict[str, Any]) -> tuple[str, str, bytes]:
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        keys = {key.lower(): value for key, value in query}
        if "wsdl" in keys:
            return "200 OK", _XML, self._documents.wsdl(endpoint_url(environ, self._proxies))
        if "xsd" in keys:
            schema = self._documents.schema(keys["xsd"], endpoint_url(environ, self._proxies))
            if schema is not None:
                return "200 OK", _XML, schema
            known = ", ".join(self._documents.schema_names)
            return "404 Not Found", "text/plain; charset=utf-8", f"No schema {keys['xsd']!r}; known: {known}.".encode()
        return (
            "400 Bad Request",
            "text/plain; charset=utf-8",
            b"This is a SOAP 1.1 endpoint: GET ?wsdl for its description, ?xsd=<file name> for a schema, "
            b"POST for requests.",
        )

    # -- SOAP ----------------------------------------------------------------------------------------------

    def _soap(self, environ: dict[str, Any]) -> tuple[str, bytes]:
        try:
            data = self._read_body(environ)
            return "200 OK", self._handle(environ, data)
        except AuthenticationError as error:
            log.warning("authentication refused (%s) from %s: %s", error.code, _peer(environ), error.message)
            fault = fault_for(error)
        except RequestError as error:
            log.info("request refused (%s) from %s: %s", error.code, _peer(environ), error.message)
            fault = fault_for(error)
        except GatewayError as error:
            incident = uuid.uuid4().hex
            log.error("incident %s: %s: %s", incident, error.code, error.message, exc_info=error)
            fault = fault_for(error, incident)
        except Exception as exc:
            incident = uuid.uuid4().hex
            log.exception("incident %s: unexpected error", incident)
            fault = fault_for(InternalError(f"{type(exc).__name__}: {exc}"), incident)
        return fault.status, fault.body

    def _handle(self, environ: dict[str, Any], data: bytes) -> bytes:
        _check_content_type(environ)
        envelope = parse_envelope(data, _UNDERSTOOD, self._xml_limits)
        operation = self._dispatcher.operation_of(envelope.body.tag)
        if operation is None:
            name = etree.QName(envelope.body)
            raise UnknownOperation(
                f"This endpoint has no operation for the request element {{{name.namespace}}}{name.localname}; "
                f"it offers {', '.join(sorted(self._dispatcher.operations.values()))}.",
                operation=name.localname,
            )
        _check_action(environ, operation)
        institution, nonce = self._authenticator.verify(envelope.headers)
        self._schema.check_request(envelope.body)
        dispatched = self._dispatcher.dispatch(envelope, CallScope(institution, self._directory, self._access, nonce))
        self._schema.check_response(dispatched.response)
        answer: bytes = etree.tostring(dispatched.document, xml_declaration=True, encoding="UTF-8")
        return answer

    # -- the request body ----------------------------------------------------------------------------------

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        """The whole body; over the limit, the rest is discarded and ``MessageTooLarge`` raised."""
        stream = environ["wsgi.input"]
        length = _content_length(environ)
        if length is not None and length <= self._max_body:
            return bytes(stream.read(length)) if length else b""
        if length is not None:
            self._drain(stream, length)
            raise MessageTooLarge(f"The request body has {length} bytes; the limit is {self._max_body} bytes.")
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self._max_body:
                self._drain(stream, None)
                raise MessageTooLarge(f"The request body is over the limit of {self._max_body} bytes.")
            chunks.append(chunk)

    def _drain(self, stream: Any, length: int | None) -> None:
        left = self._discard_cap if length is None else min(length, self._discard_cap)
        while left > 0:
            chunk = stream.read(min(_CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)

    def _discard(self, environ: dict[str, Any]) -> None:
        stream = environ.get("wsgi.input")
        if stream is None:
            return
        length = _content_length(environ)
        if length == 0:
            return
        if length is None and not environ.get("wsgi.input_terminated"):
            return  # no length and no end marker: reading would block
        self._drain(stream, length)


def _content_length(environ: dict[str, Any]) -> int | None:
    text = str(environ.get("CONTENT_LENGTH") or "").strip()
    if not text:
        return None
    try:
        return max(int(text), 0)
    except ValueError:
        return None


def _check_content_type(environ: dict[str, Any]) -> None:
    raw = str(environ.get("CONTENT_TYPE") or "")
    media, _, params = raw.partition(";")
    if media.strip().lower() != "text/xml":
        raise UnsupportedMediaType(
            f"The Content-Type {raw or '(none)'!r} is not accepted: send text/xml; charset=utf-8 (SOAP 1.1)."
        )
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(f"The charset {value.strip()!r} is not accepted: send UTF-8.")


def _check_action(environ: dict[str, Any], operation: str) -> None:
    raw = environ.get("HTTP_SOAPACTION")
    action = "" if raw is None else str(raw).strip()
    if len(action) >= 2 and action[0] == action[-1] == '"':
        action = action[1:-1]
    if action in ("", action_of(operation)):
        return
    named = action[len(ACTION_PREFIX) :] if action.startswith(ACTION_PREFIX) else None
    what = f"names the operation {named}" if named else "is not an action of this service"
    raise SoapActionMismatch(
        f"The SOAPAction {action!r} {what}, but the Body holds rep:{operation}Request: "
        f'send SOAPAction "{action_of(operation)}" or "".'
    )


def _peer(environ: dict[str, Any]) -> str:
    return str(environ.get("REMOTE_ADDR", "?"))


def _plain(
    start_response: StartResponse, status: str, text: str, extra: list[tuple[str, str]] | None = None
) -> list[bytes]:
    body = text.encode()
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), *(extra or [])]
    start_response(status, headers)
    return [body]

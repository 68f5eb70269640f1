"""The repertorium endpoint as a WSGI application: HTTP and SOAP edge checks in front of the spyne service.

Invariant: a request reaches an operation only after, in this order, its path and method are the endpoint's,
its whole body was read within the size limit, its Content-Type is text/xml, it parsed safely as a SOAP 1.1
envelope (within the XML limits) with one Body element naming an operation of the service, its SOAPAction is
empty or that operation's, its caller (a registered client certificate or a UsernameToken) proved an institution,
and its Body validated against the schema (last, as it costs the most: nobody unauthenticated makes the gateway
validate). Every answer is either a response whose Body validated against the schema or a fault; nothing else
(no stack trace, no bare 500) leaves.
Every refused authentication, wherever in the request it came (a replayed nonce is found in the use case's
transaction), is handed once to the caller's ``refused``, which records it for the brake on guessing.
The body is always read or discarded completely before the answer is sent. The documents it serves name the
endpoint as the client reached it, through a reverse proxy only when that proxy is trusted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from lxml import etree

from gateway.adapters.soap.application import Dispatcher
from gateway.adapters.soap.callers import Caller, TokenCaller
from gateway.adapters.soap.documents import ContractDocuments, TrustedProxies, endpoint_url
from gateway.adapters.soap.envelope import parse_envelope
from gateway.adapters.soap.http import (
    XML_CONTENT_TYPE,
    Answered,
    StartResponse,
    answer_or_fault,
    check_content_type,
    discard,
    plain,
    read_body,
    soap_action,
)
from gateway.adapters.soap.service import CallScope
from gateway.adapters.soap.wssecurity import SECURITY, Authenticator
from gateway.app.access_service import AccessService
from gateway.app.directory_service import DirectoryService
from gateway.app.observation import note_of
from gateway.contract.limits import DEFAULT_LIMITS, XmlLimits
from gateway.contract.names import ACTION_PREFIX, action_of
from gateway.contract.schema import MessageSchema
from gateway.errors import SoapActionMismatch, UnknownOperation

__all__ = ["ENDPOINT_PATH", "SoapEndpoint"]

ENDPOINT_PATH = "/soap/repertorium"
_XML = XML_CONTENT_TYPE
_UNDERSTOOD = frozenset({SECURITY})

log = logging.getLogger("gateway.adapters.soap")


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
        caller: Caller | None = None,
        xml_limits: XmlLimits = DEFAULT_LIMITS,
    ) -> None:
        self._documents = documents
        self._schema = schema
        self._dispatcher = dispatcher
        self._authenticator = authenticator
        self._caller: Caller = caller or TokenCaller(authenticator)
        self._directory = directory
        self._access = access
        self._max_body = max_body_bytes
        self._proxies = trusted_proxies or TrustedProxies()
        self._xml_limits = xml_limits

    # -- WSGI ----------------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "") or "/"
        if path.rstrip("/") != ENDPOINT_PATH:
            discard(environ, self._max_body)
            return plain(start_response, "404 Not Found", f"No endpoint at {path}; the service is at {ENDPOINT_PATH}.")
        if method in ("GET", "HEAD"):
            discard(environ, self._max_body)
            note_of(environ).operation = "documents"
            status, content_type, body = self._document(environ)
            start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
            return [] if method == "HEAD" else [body]
        if method != "POST":
            discard(environ, self._max_body)
            return plain(
                start_response,
                "405 Method Not Allowed",
                "Send SOAP requests with POST; GET serves ?wsdl and ?xsd=<file name>.",
                [("Allow", "GET, HEAD, POST")],
            )
        status, body, extra = self._soap(environ)
        start_response(status, [("Content-Type", _XML), ("Content-Length", str(len(body))), *extra])
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

    def _soap(self, environ: dict[str, Any]) -> Answered:
        def work() -> bytes:
            return self._handle(environ, read_body(environ, self._max_body))

        return answer_or_fault(environ, log, work, refused=self._caller.refused)

    def _handle(self, environ: dict[str, Any], data: bytes) -> bytes:
        note = note_of(environ)
        check_content_type(environ)
        envelope = parse_envelope(data, _UNDERSTOOD, self._xml_limits)
        operation = self._dispatcher.operation_of(envelope.body.tag)
        if operation is None:
            name = etree.QName(envelope.body)
            raise UnknownOperation(
                f"This endpoint has no operation for the request element {{{name.namespace}}}{name.localname}; "
                f"it offers {', '.join(sorted(self._dispatcher.operations.values()))}.",
                operation=name.localname,
            )
        note.operation = operation
        _check_action(environ, operation)
        institution, nonce = self._caller.verify(envelope.headers, environ)
        note.institution = institution.id
        self._schema.check_request(envelope.body)
        dispatched = self._dispatcher.dispatch(envelope, CallScope(institution, self._directory, self._access, nonce))
        self._schema.check_response(dispatched.response)
        if dispatched.result is not None:
            note.answered_with(dispatched.result)
        answer: bytes = etree.tostring(dispatched.document, xml_declaration=True, encoding="UTF-8")
        return answer


def _check_action(environ: dict[str, Any], operation: str) -> None:
    action = soap_action(environ)
    if action in ("", action_of(operation)):
        return
    named = action[len(ACTION_PREFIX) :] if action.startswith(ACTION_PREFIX) else None
    what = f"names the operation {named}" if named else "is not an action of this service"
    raise SoapActionMismatch(
        f"The SOAPAction {action!r} {what}, but the Body holds rep:{operation}Request: "
        f'send SOAPAction "{action_of(operation)}" or "".'
    )

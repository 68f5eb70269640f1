"""The spyne application and how the edge drives it: method lookup, call, and the response tree.

Invariant: the edge hands spyne only envelopes it has already parsed, validated and authenticated; spyne finds
the ``@rpc`` method by the Body element, the protocol reads that (validated) element into a command and writes
the use case's result as the response element with the method's ``Operation`` of the contract, and ``dispatch``
returns that tree unserialised, for the edge to validate before a byte of it is sent. Spyne's own XML
(de)serialisers are never used: they cost more than the whole rest of a request (see bench/).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree
from spyne import Application, MethodContext
from spyne.protocol import ProtocolBase
from spyne.protocol.soap import Soap11
from spyne.server import ServerBase

from gateway.adapters.soap.envelope import Envelope
from gateway.adapters.soap.service import CallScope, OperationFault, RepertoriumService
from gateway.contract.codec import OPERATIONS, Operation
from gateway.contract.names import SOAP_ENV, TNS, qname
from gateway.errors import ConfigurationError, InternalError

__all__ = ["RESPONSE_NSMAP", "CodecSoap11", "Dispatched", "Dispatcher", "build_application"]

RESPONSE_NSMAP = {"soap": SOAP_ENV, "rep": TNS}
_ENVELOPE = qname(SOAP_ENV, "Envelope")
_BODY = qname(SOAP_ENV, "Body")


class CodecSoap11(Soap11):  # type: ignore[misc]
    """SOAP 1.1 for spyne whose messages are read and written by the contract's operations (``codec.OPERATIONS``)."""

    def __init__(self, operations: Mapping[str, Operation[Any, Any, Any]]) -> None:
        super().__init__(cleanup_namespaces=False)
        self._operations = operations

    def _operation(self, ctx: Any) -> Operation[Any, Any, Any]:
        return self._operations[ctx.descriptor.operation_name]

    def deserialize(self, ctx: Any, message: Any) -> None:
        self.event_manager.fire_event("before_deserialize", ctx)
        ctx.in_object = self._operation(ctx).read_request(ctx.in_body_doc)
        self.event_manager.fire_event("after_deserialize", ctx)

    def serialize(self, ctx: Any, message: Any) -> None:
        self.event_manager.fire_event("before_serialize", ctx)
        envelope = etree.Element(_ENVELOPE, nsmap=RESPONSE_NSMAP)
        body = etree.SubElement(envelope, _BODY)
        ctx.out_body_doc = self._operation(ctx).write_response(body, ctx.out_object[0])
        ctx.out_document = envelope
        self.event_manager.fire_event("after_serialize", ctx)

    def create_out_string(self, ctx: Any, charset: Any = None) -> None:
        ctx.out_string = [etree.tostring(ctx.out_document, xml_declaration=True, encoding="UTF-8")]


def build_application() -> Any:
    """The spyne ``Application`` of the repertorium (SOAP 1.1, document/literal, tns of the contract)."""
    app = Application(
        [RepertoriumService],
        tns=TNS,
        name="Repertorium",
        in_protocol=CodecSoap11(OPERATIONS),
        out_protocol=CodecSoap11(OPERATIONS),
    )
    served = {d.operation_name for descriptors in app.interface.service_method_map.values() for d in descriptors}
    if served != set(OPERATIONS):
        raise ConfigurationError(f"the service dispatches {sorted(served)}, the contract has {sorted(OPERATIONS)}")
    return app


@dataclass(frozen=True, slots=True)
class Dispatched:
    """An operation's answer: the response envelope and its Body element (not yet validated or serialised)."""

    operation: str
    document: etree._Element
    response: etree._Element
    result: Any = None  # the use case's result the response was written from


class Dispatcher(ServerBase):  # type: ignore[misc]
    """Runs checked envelopes through the spyne application, as spyne's own servers do with raw bytes."""

    transport = "http://schemas.xmlsoap.org/soap/http"

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        operations: dict[str, str] = {}
        for element, descriptors in app.interface.service_method_map.items():
            operations[element] = descriptors[0].operation_name
        self.operations: Mapping[str, str] = operations

    def operation_of(self, element_tag: str) -> str | None:
        """The operation whose request element is ``element_tag`` (Clark notation), if the service has one."""
        return self.operations.get(element_tag)

    def dispatch(self, envelope: Envelope, scope: CallScope) -> Dispatched:
        ctx = MethodContext(self, MethodContext.SERVER)
        ctx.in_document = envelope.root
        ctx.in_header_doc = list(envelope.headers)
        ctx.in_body_doc = envelope.body
        ctx.method_request_string = envelope.body.tag
        ctx.udc = scope
        call = self.app.in_protocol.generate_method_contexts(ctx)[0]
        self.app.in_protocol.deserialize(call, message=ProtocolBase.REQUEST)
        self.app.process_request(call)
        operation = str(call.descriptor.operation_name)
        error = call.out_error
        if error is not None:
            if isinstance(error, OperationFault):
                raise error.error
            raise InternalError(f"operation {operation} failed: {getattr(error, 'faultstring', error)}")
        self.app.out_protocol.serialize(call, message=ProtocolBase.RESPONSE)
        result = call.out_object[0] if call.out_object else None
        return Dispatched(operation, call.out_document, call.out_body_doc, result)

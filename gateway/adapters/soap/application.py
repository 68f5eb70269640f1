"""The spyne application and how the edge drives it: method lookup, call, and the response tree.

Invariant: the edge hands spyne only envelopes it has already parsed, validated and authenticated; the ``@rpc``
method is the one spyne's interface maps the Body element to (exactly one each), the protocol reads that
(validated) element into a command and writes the use case's result as the response element with the method's
``Operation`` of the contract, and ``dispatch`` returns that tree unserialised, for the edge to validate before a
byte of it is sent. Spyne's own XML (de)serialisers are never used: they cost more than the whole rest of a
request (see bench/).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from time import time
from typing import Any, ClassVar

from lxml import etree
from spyne import Application, EventManager, MethodContext
from spyne.context import EventContext
from spyne.protocol import ProtocolBase
from spyne.protocol.soap import Soap11
from spyne.server import ServerBase

from gateway.adapters.soap.envelope import Envelope
from gateway.adapters.soap.service import CallScope, OperationFault, RepertoriumService
from gateway.contract.codec import OPERATIONS, Operation
from gateway.contract.names import SOAP_ENV, TNS, qname
from gateway.contract.skeletons import Skeleton
from gateway.errors import ConfigurationError, InternalError

__all__ = [
    "RESPONSE_NSMAP",
    "CallContext",
    "CodecSoap11",
    "Dispatched",
    "Dispatcher",
    "QuietEventManager",
    "build_application",
]

RESPONSE_NSMAP = {"soap": SOAP_ENV, "rep": TNS}
_ENVELOPE = qname(SOAP_ENV, "Envelope")
_BODY = qname(SOAP_ENV, "Body")


def _make_envelope() -> etree._Element:
    envelope = etree.Element(_ENVELOPE, nsmap=RESPONSE_NSMAP)
    etree.SubElement(envelope, _BODY)
    return envelope


_ENVELOPES = Skeleton(_make_envelope)


def _response_envelope() -> tuple[etree._Element, etree._Element]:
    """A new response envelope and its empty Body."""
    envelope = _ENVELOPES.new()
    return envelope, envelope[0]


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
        envelope, body = _response_envelope()
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
    descriptors = [d for found in app.interface.service_method_map.values() for d in found]
    served = {d.operation_name for d in descriptors}
    if served != set(OPERATIONS):
        raise ConfigurationError(f"the service dispatches {sorted(served)}, the contract has {sorted(OPERATIONS)}")
    managers = [app.event_manager, app.in_protocol.event_manager, app.out_protocol.event_manager]
    for manager in [*managers, *(m for d in descriptors for m in d.event_managers)]:
        if type(manager) is EventManager:
            manager.__class__ = QuietEventManager
    return app


class QuietEventManager(EventManager):  # type: ignore[misc]
    """Spyne's ``EventManager``, as the application's, its protocols' and its service's become: it fires the same
    handlers in the same order, without making an empty ordered set for each event that has none, as spyne's
    does for every event it fires (nine a request, to none of which the gateway listens)."""

    def fire_event(self, event_name: str, ctx: Any, *args: Any, **kwargs: Any) -> None:
        handlers = self.handlers.get(event_name)
        if handlers:
            for handler in handlers:
                handler(ctx, *args, **kwargs)


# What a server-side MethodContext holds beyond values that are None, booleans or text: each made for one call.
_PER_CALL = frozenset(
    {"call_start", "app", "transport", "outprot_ctx", "inprot_ctx", "protocol", "event", "files", "pusher_stack"}
    | {"_in_protocol", "_out_protocol"}
)
_PLAIN = (type(None), bool, str)


class CallContext(MethodContext):  # type: ignore[misc]
    """Spyne's server-side ``MethodContext`` for one call of ``envelope``, its attributes those of
    ``MethodContext(server, MethodContext.SERVER)`` (``same_as_spyne`` checks it once, at start-up) with the
    request's set as spyne's servers set them, all at once rather than through spyne's ``__setattr__`` one
    attribute at a time (about 40 a context); frozen afterwards, as spyne's. It fires the same event."""

    _defaults: ClassVar[dict[str, Any]] = {}

    @classmethod
    def same_as_spyne(cls, server: Any) -> None:
        """Learn the constant attributes from a context spyne makes for ``server``; ``ConfigurationError`` when it
        holds anything this class would not make afresh for each call."""
        model = vars(MethodContext(server, MethodContext.SERVER))
        unknown = sorted(k for k, v in model.items() if not isinstance(v, _PLAIN) and k not in _PER_CALL)
        if unknown or not model.keys() >= _PER_CALL:
            raise ConfigurationError(f"spyne's MethodContext is not the one this gateway knows: {unknown}")
        cls._defaults = {k: v for k, v in model.items() if k not in _PER_CALL}

    def __init__(self, server: Any, envelope: Envelope, scope: CallScope) -> None:
        fields = self.__dict__
        fields.update(self._defaults)
        app = server.app
        fields["call_start"] = time()
        fields["app"] = app
        fields["transport"] = self.TransportContext(self, server)
        fields["outprot_ctx"] = app.out_protocol.get_context(self, server)
        fields["inprot_ctx"] = fields["protocol"] = app.in_protocol.get_context(self, server)
        fields["event"] = EventContext(self)
        fields["files"] = []
        fields["pusher_stack"] = []
        fields["_in_protocol"] = app.in_protocol
        fields["_out_protocol"] = app.out_protocol
        fields["in_document"] = envelope.root
        fields["in_header_doc"] = list(envelope.headers)
        fields["in_body_doc"] = envelope.body
        fields["method_request_string"] = envelope.body.tag
        fields["udc"] = scope
        fields["frozen"] = True
        self.fire_event("method_context_created")


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
        descriptors: dict[str, Any] = {}
        for element, found in app.interface.service_method_map.items():
            if len(found) != 1:
                raise ConfigurationError(f"the request element {element} names {len(found)} methods, not one")
            operations[element] = found[0].operation_name
            descriptors[element] = found[0]
        self.operations: Mapping[str, str] = operations
        self._descriptors: Mapping[str, Any] = descriptors
        CallContext.same_as_spyne(self)

    def operation_of(self, element_tag: str) -> str | None:
        """The operation whose request element is ``element_tag`` (Clark notation), if the service has one."""
        return self.operations.get(element_tag)

    def dispatch(self, envelope: Envelope, scope: CallScope) -> Dispatched:
        # One method context, given its method at once: every request element names exactly one method (checked
        # above), so spyne's lookup and the copy it makes of the context for each method it finds add nothing.
        descriptor = self._descriptors.get(envelope.body.tag)
        if descriptor is None:
            raise InternalError(f"no operation for the request element {envelope.body.tag}")
        call = CallContext(self, envelope, scope)
        call.descriptor = descriptor
        app = self.app
        app.in_protocol.deserialize(call, message=ProtocolBase.REQUEST)
        app.process_request(call)
        error = call.out_error
        if error is not None:
            if isinstance(error, OperationFault):
                raise error.error
            operation = str(descriptor.operation_name)
            raise InternalError(f"operation {operation} failed: {getattr(error, 'faultstring', error)}")
        app.out_protocol.serialize(call, message=ProtocolBase.RESPONSE)
        result = call.out_object[0] if call.out_object else None
        return Dispatched(str(descriptor.operation_name), call.out_document, call.out_body_doc, result)

"""The repertorium's spyne service: one ``@rpc`` per contract operation, each calling its use case.

Invariant: an operation acts for the authenticated institution of its call scope only (never one named in the
message), and a ``GatewayError`` it raises leaves spyne as an ``OperationFault`` that still carries it, so the
edge answers with that error's fault; any other exception becomes a ``soap:Server`` fault without its text.

To add an operation: its models in ``models``, a reader and writer in ``codec.CODECS``, an ``@rpc`` here named
as the WSDL names it (``_in_message_name`` / ``_out_message_name`` as the schema's elements).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spyne import Fault, Service, rpc

from gateway.adapters.soap import models
from gateway.app.access_service import AccessService
from gateway.app.directory_service import DirectoryService
from gateway.app.ports import InstitutionRecord, NonceClaim
from gateway.contract.codec import ChangeCommand, ConsultCommand, FlowCommand
from gateway.domain.results import ConsultResult, FlowResult, OperationResult
from gateway.errors import GatewayError

__all__ = ["CallScope", "OperationFault", "RepertoriumService"]


@dataclass(frozen=True, slots=True)
class CallScope:
    """What one request's operation may use: the authenticated institution, the use cases, and the request's
    WS-Security nonce, which the use case claims in its own transaction."""

    institution: InstitutionRecord
    directory: DirectoryService
    access: AccessService
    nonce: NonceClaim | None = None


class OperationFault(Fault):  # type: ignore[misc]
    """A ``GatewayError`` raised inside an operation, carried through spyne's fault handling."""

    def __init__(self, error: GatewayError) -> None:
        super().__init__("Server", error.message)
        self.error = error


def _scope(ctx: Any) -> CallScope:
    scope = ctx.udc
    assert isinstance(scope, CallScope), "the edge sets the call scope before dispatching"
    return scope


class RepertoriumService(Service):  # type: ignore[misc]
    """Integrate, Desintegrate, Consult, CheckAccess and SendFlow (contract v1)."""

    @rpc(  # type: ignore[untyped-decorator]
        models.IntegrationRequest,
        _body_style="bare",
        _in_message_name="IntegrateRequest",
        _out_message_name="IntegrateResponse",
        _returns=models.IntegrateResponse,
    )
    def Integrate(ctx: Any, command: ChangeCommand) -> OperationResult:
        scope = _scope(ctx)
        return scope.directory.integrate(scope.institution, command.request, command.reference, nonce=scope.nonce)

    @rpc(  # type: ignore[untyped-decorator]
        models.IntegrationRequest,
        _body_style="bare",
        _in_message_name="DesintegrateRequest",
        _out_message_name="DesintegrateResponse",
        _returns=models.DesintegrateResponse,
    )
    def Desintegrate(ctx: Any, command: ChangeCommand) -> OperationResult:
        scope = _scope(ctx)
        return scope.directory.desintegrate(scope.institution, command.request, command.reference, nonce=scope.nonce)

    @rpc(  # type: ignore[untyped-decorator]
        models.ConsultRequest,
        _body_style="bare",
        _in_message_name="ConsultRequest",
        _out_message_name="ConsultResponse",
        _returns=models.ConsultResponse,
    )
    def Consult(ctx: Any, command: ConsultCommand) -> ConsultResult:
        scope = _scope(ctx)
        return scope.directory.consult(
            scope.institution,
            command.ssin,
            command.window,
            command.code,
            command.sector,
            command.reference,
            nonce=scope.nonce,
        )

    @rpc(  # type: ignore[untyped-decorator]
        models.CheckAccessRequest,
        _body_style="bare",
        _in_message_name="CheckAccessRequest",
        _out_message_name="CheckAccessResponse",
        _returns=models.CheckAccessResponse,
    )
    def CheckAccess(ctx: Any, command: FlowCommand) -> FlowResult:
        scope = _scope(ctx)
        return scope.access.check_access(scope.institution, command.request, command.reference, nonce=scope.nonce)

    @rpc(  # type: ignore[untyped-decorator]
        models.SendFlowRequest,
        _body_style="bare",
        _in_message_name="SendFlowRequest",
        _out_message_name="SendFlowResponse",
        _returns=models.SendFlowResponse,
    )
    def SendFlow(ctx: Any, command: FlowCommand) -> FlowResult:
        scope = _scope(ctx)
        return scope.access.send_flow(scope.institution, command.request, command.reference, nonce=scope.nonce)

    @classmethod
    def call_wrapper(cls, ctx: Any, args: Any = None) -> Any:
        try:
            return super().call_wrapper(ctx, args)
        except GatewayError as exc:
            raise OperationFault(exc) from exc

"""The repertorium's spyne service: one ``@rpc`` per contract operation, each calling its use case.

Invariant: an operation acts for the authenticated institution of its call scope only (never one named in the
message), and a ``GatewayError`` it raises leaves spyne as an ``OperationFault`` that still carries it, so the
edge answers with that error's fault; any other exception becomes a ``soap:Server`` fault without its text.

To add an operation: its messages in ``gateway.contract`` (an ``Operation`` of ``codec.OPERATIONS``) and its use
case in ``_USE_CASES`` here; the ``@rpc`` is declared from the two.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from spyne import Fault, Service

from gateway.adapters.soap import models
from gateway.app.access_service import AccessService
from gateway.app.directory_service import DirectoryService
from gateway.app.ports import InstitutionRecord, NonceClaim
from gateway.contract.codec import OPERATIONS
from gateway.contract.commands import ChangeCommand, ConsultCommand, FlowCommand
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


def _integrate(scope: CallScope, command: ChangeCommand) -> OperationResult:
    return scope.directory.integrate(scope.institution, command.request, command.reference, nonce=scope.nonce)


def _desintegrate(scope: CallScope, command: ChangeCommand) -> OperationResult:
    return scope.directory.desintegrate(scope.institution, command.request, command.reference, nonce=scope.nonce)


def _consult(scope: CallScope, command: ConsultCommand) -> ConsultResult:
    return scope.directory.consult(
        scope.institution,
        command.ssin,
        command.window,
        command.code,
        command.sector,
        command.reference,
        nonce=scope.nonce,
    )


def _check_access(scope: CallScope, command: FlowCommand) -> FlowResult:
    return scope.access.check_access(scope.institution, command.request, command.reference, nonce=scope.nonce)


def _send_flow(scope: CallScope, command: FlowCommand) -> FlowResult:
    return scope.access.send_flow(scope.institution, command.request, command.reference, nonce=scope.nonce)


_USE_CASES: Mapping[str, Callable[[CallScope, Any], Any]] = {
    "Integrate": _integrate,
    "Desintegrate": _desintegrate,
    "Consult": _consult,
    "CheckAccess": _check_access,
    "SendFlow": _send_flow,
}


def _scope(ctx: Any) -> CallScope:
    scope = ctx.udc
    assert isinstance(scope, CallScope), "the edge sets the call scope before dispatching"
    return scope


def _method(use_case: Callable[[CallScope, Any], Any]) -> Callable[[Any, Any], Any]:
    def call(ctx: Any, command: Any) -> Any:
        return use_case(_scope(ctx), command)

    return call


class _RepertoriumService(Service):  # type: ignore[misc]
    @classmethod
    def call_wrapper(cls, ctx: Any, args: Any = None) -> Any:
        try:
            return super().call_wrapper(ctx, args)
        except GatewayError as exc:
            raise OperationFault(exc) from exc


RepertoriumService: type[Any] = type(
    "RepertoriumService",
    (_RepertoriumService,),
    {
        "__module__": __name__,
        "__doc__": "Integrate, Desintegrate, Consult, CheckAccess and SendFlow (contract v1).",
        **{name: models.declare(OPERATIONS[name], _method(use_case)) for name, use_case in _USE_CASES.items()},
    },
)

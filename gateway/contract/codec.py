"""The contract's operations: for each, its names and the one reader and one writer of each of its messages.

Invariant: the server (spyne's protocol) reads a request and writes its answer with an ``Operation``'s
functions, and the client library writes that request and reads that answer with the same ``Operation``, so
the five operations' messages are read and written by one set of functions (``commands`` for requests,
``answers`` for responses) whichever side speaks. Names follow the WSDL: operation ``X`` takes the element
``XRequest`` and answers ``XResponse`` with the SOAPAction ``urn:ksz-gateway:repertorium:v1/X``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from lxml import etree

from gateway.contract import answers, commands
from gateway.contract.answers import AccessAnswer, ConsultAnswer, FlowAnswer, OperationAnswer
from gateway.contract.commands import ChangeCommand, ConsultCommand, FlowCommand
from gateway.contract.names import action_of
from gateway.contract.parts import tag
from gateway.domain.results import ConsultResult, FlowResult, OperationResult

__all__ = [
    "CHECK_ACCESS",
    "CONSULT",
    "DESINTEGRATE",
    "INTEGRATE",
    "OPERATIONS",
    "SEND_FLOW",
    "Operation",
]

_Command = TypeVar("_Command")
_Result = TypeVar("_Result")
_Answer = TypeVar("_Answer")


@dataclass(frozen=True, slots=True)
class Operation(Generic[_Command, _Result, _Answer]):
    """One operation: a command travels in its request, a use case's result goes out as its answer."""

    name: str
    write_command: Callable[[etree._Element, str, _Command], etree._Element]
    read_command: Callable[[etree._Element], _Command]
    write_result: Callable[[etree._Element, str, _Result], etree._Element]
    read_answer: Callable[[etree._Element], _Answer]

    @property
    def request(self) -> str:
        """The request element's local name (``IntegrateRequest``)."""
        return self.name + "Request"

    @property
    def response(self) -> str:
        """The response element's local name (``IntegrateResponse``)."""
        return self.name + "Response"

    @property
    def action(self) -> str:
        return action_of(self.name)

    def write_request(self, parent: etree._Element, command: _Command) -> etree._Element:
        return self.write_command(parent, self.request, command)

    def read_request(self, element: etree._Element) -> _Command:
        return self.read_command(element)

    def write_response(self, parent: etree._Element, result: _Result) -> etree._Element:
        return self.write_result(parent, self.response, result)

    def read_response(self, element: etree._Element) -> _Answer:
        """The answer in a response element; raises ``ValueError`` when it is not this operation's."""
        if element.tag != tag(self.response):
            raise ValueError(f"{element.tag} is not the answer to {self.name}")
        return self.read_answer(element)


_CHANGE = (commands.write_change, commands.read_change, answers.write_operation_answer, answers.read_operation_answer)
INTEGRATE: Operation[ChangeCommand, OperationResult, OperationAnswer] = Operation("Integrate", *_CHANGE)
DESINTEGRATE: Operation[ChangeCommand, OperationResult, OperationAnswer] = Operation("Desintegrate", *_CHANGE)
CONSULT: Operation[ConsultCommand, ConsultResult, ConsultAnswer] = Operation(
    "Consult", commands.write_consult, commands.read_consult, answers.write_consult_answer, answers.read_consult_answer
)
CHECK_ACCESS: Operation[FlowCommand, FlowResult, AccessAnswer] = Operation(
    "CheckAccess", commands.write_flow, commands.read_flow, answers.write_access_answer, answers.read_access_answer
)
SEND_FLOW: Operation[FlowCommand, FlowResult, FlowAnswer] = Operation(
    "SendFlow", commands.write_flow, commands.read_flow, answers.write_flow_answer, answers.read_flow_answer
)

OPERATIONS: Mapping[str, Operation[Any, Any, Any]] = {
    op.name: op for op in (INTEGRATE, DESINTEGRATE, CONSULT, CHECK_ACCESS, SEND_FLOW)
}
"""The contract's operations by name, in the WSDL's order."""

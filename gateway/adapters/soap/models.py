"""The service's declared interface as spyne needs it to dispatch: per operation, one element in and one out.

Invariant: spyne knows an operation only by its name and the names of its request and response elements, which
are the contract's (``gateway.contract.codec.Operation``); it never (de)serialises a message itself. The WSDL
served is the hand-written one, the contract's readers and writers read and write every message, and xsd/
checks them both ways, so the message types are declared once, in xsd/ and the contract, not again as spyne
models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spyne import AnyXml, rpc

from gateway.contract.codec import Operation

__all__ = ["declare"]


def declare(operation: Operation[Any, Any, Any], method: Callable[[Any, Any], Any]) -> Any:
    """``method`` as the spyne ``@rpc`` of ``operation``: document/literal bare, the contract's element names."""
    method.__name__ = method.__qualname__ = operation.name
    decorate = rpc(
        AnyXml,
        _body_style="bare",
        _in_message_name=operation.request,
        _out_message_name=operation.response,
        _returns=AnyXml,
    )
    return decorate(method)

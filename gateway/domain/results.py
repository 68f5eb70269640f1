"""What an operation answers, as plain values, and their JSON form for the audit trail and stored answers.

Invariant: ``decode(type(x), encode(x)) == x`` for every result, so an answer replayed for a Reference is the
very answer first given (same Ticket, same details). The JSON form is derived from the frozen dataclasses'
fields and types by one table of rules, not written per type: a dataclass is an object of its fields, except
the few kept as arrays (``POSITIONAL``); a tuple is an array; a date is ISO text; an enum is its value; bytes
are UTF-8 text. Answers stored by earlier releases have exactly this form and still decode.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import Enum
from functools import cache
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from gateway.domain.access import PersonDecision, PlannedIntegration
from gateway.domain.directory import Detail, Institution, Integration, PersonOutcome, Summary
from gateway.domain.periods import Period

__all__ = [
    "POSITIONAL",
    "ConsultResult",
    "FlowResult",
    "OperationResult",
    "Result",
    "decode",
    "decode_consult",
    "decode_flow",
    "decode_operation",
    "encode",
    "encode_consult",
    "encode_flow",
    "encode_operation",
    "encode_period",
]


@dataclass(frozen=True, slots=True)
class Result:
    """What every answer has: the exchange's ticket and the summary (``ok`` and its return code)."""

    ticket: str
    summary: Summary


@dataclass(frozen=True, slots=True)
class OperationResult(Result):
    """The answer to Integrate or Desintegrate: one outcome a person, in order, and request-level details."""

    persons: tuple[PersonOutcome, ...]
    details: tuple[Detail, ...] = ()


@dataclass(frozen=True, slots=True)
class ConsultResult(Result):
    integrations: tuple[Integration, ...]
    details: tuple[Detail, ...] = ()


@dataclass(frozen=True, slots=True)
class FlowResult(Result):
    """The answer to CheckAccess or SendFlow: the decision per person, what the flow integrated, the provider's
    answer (SendFlow only, as XML bytes)."""

    allowed: bool
    persons: tuple[PersonDecision, ...]
    details: tuple[Detail, ...] = ()
    integrations_made: tuple[PlannedIntegration, ...] = ()
    provider_response: bytes | None = None


# -- the JSON form ---------------------------------------------------------------------------------------

POSITIONAL: tuple[type, ...] = (Period, Institution)
"""The dataclasses kept as arrays of their fields (``["2015-01-01", null]``), the others as objects."""

_T = TypeVar("_T")
_Coder = Callable[[Any], Any]
_Coders = tuple[_Coder, _Coder]


def _same(value: Any) -> Any:
    return value


_LEAVES: Mapping[Any, _Coders] = {
    date: (date.isoformat, date.fromisoformat),
    bytes: (lambda v: v.decode("utf-8"), lambda v: str(v).encode("utf-8")),
    str: (str, str),  # a reason code may be an enum member of a str field: its value is what is kept
    int: (_same, int),
    bool: (_same, bool),
}
"""The values kept as they are in JSON, or as text: how each is encoded and decoded."""


def _optional(hint: Any) -> Any | None:
    """``X`` of ``X | None``, else None."""
    if get_origin(hint) in (Union, types.UnionType):
        rest = [a for a in get_args(hint) if a is not type(None)]
        if len(rest) == 1 and len(get_args(hint)) == 2:
            return rest[0]
        raise TypeError(f"no JSON form for the union {hint}")
    return None


@cache
def _coders(hint: Any) -> _Coders:
    """The encoder and the decoder of values of type ``hint``, made from the rules above once per type."""
    inner = _optional(hint)
    if inner is not None:
        encode_inner, decode_inner = _coders(inner)
        return (lambda v: None if v is None else encode_inner(v)), (lambda v: None if v is None else decode_inner(v))
    if get_origin(hint) is tuple:
        args = get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            encode_item, decode_item = _coders(args[0])
            return (lambda v: [encode_item(x) for x in v]), (lambda v: tuple(decode_item(x) for x in v))
        items = tuple(_coders(a) for a in args)
        return (
            lambda v: [e(x) for (e, _), x in zip(items, v, strict=True)],
            lambda v: tuple(d(x) for (_, d), x in zip(items, v, strict=True)),
        )
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass_coders(hint)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return (lambda v: v.value), hint
    if hint in _LEAVES:
        return _LEAVES[hint]
    raise TypeError(f"no JSON form for {hint}")


def _dataclass_coders(kind: type) -> _Coders:
    hints = get_type_hints(kind)
    fields = tuple((f.name, *_coders(hints[f.name])) for f in dataclasses.fields(kind))
    if kind in POSITIONAL:
        return (
            lambda v: [e(getattr(v, name)) for name, e, _ in fields],
            lambda v: kind(*(d(x) for (_, _, d), x in zip(fields, v, strict=True))),
        )
    return (
        lambda v: {name: e(getattr(v, name)) for name, e, _ in fields},
        lambda v: kind(**{name: d(v[name]) for name, _, d in fields if name in v}),
    )


def encode(value: Any) -> Any:
    """The JSON value of a frozen domain value (a result, a period, a detail, ...)."""
    kind: Any = type(value)
    return _coders(kind)[0](value)


def decode(kind: type[_T], data: Any) -> _T:
    """The value of type ``kind`` whose JSON value ``encode`` gave as ``data``; a field missing from ``data``
    takes its default (a value stored before the field existed)."""
    hint: Any = kind
    value: _T = _coders(hint)[1](data)
    return value


# The names the use cases store and replay answers with.
encode_operation: Callable[[OperationResult], Any] = encode
encode_consult: Callable[[ConsultResult], Any] = encode
encode_flow: Callable[[FlowResult], Any] = encode
encode_period: Callable[[Period], Any] = encode


def decode_operation(data: Any) -> OperationResult:
    return decode(OperationResult, data)


def decode_consult(data: Any) -> ConsultResult:
    return decode(ConsultResult, data)


def decode_flow(data: Any) -> FlowResult:
    return decode(FlowResult, data)

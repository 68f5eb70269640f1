"""The request messages: a writer (the client's) and a reader (the server's) per request, around one command.

Invariant: ``read_X(write_X(parent, command)) == command`` for every command a request can carry, so what the
client library sends is what the server's operation receives. A reader is given only a request element that
validated against xsd/ (so it trusts the shape and converts values); a writer's element is checked against
xsd/ by its caller before it is sent. Neither knows HTTP, spyne, zeep or the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from lxml import etree

from gateway.contract.parts import (
    REP,
    read_any,
    read_date,
    read_int,
    read_raw_period,
    tag,
    text,
    token,
    write_any,
    write_period,
    write_text,
)
from gateway.domain.access import REQUEST_DATES, FlowPerson, FlowRequest, Role
from gateway.domain.directory import DirectoryRequest
from gateway.domain.periods import Period
from gateway.errors import InvalidPeriod

__all__ = [
    "ChangeCommand",
    "ConsultCommand",
    "FlowCommand",
    "read_change",
    "read_consult",
    "read_flow",
    "write_change",
    "write_consult",
    "write_flow",
]


@dataclass(frozen=True, slots=True)
class ChangeCommand:
    """An Integrate or Desintegrate request as the use case takes it."""

    request: DirectoryRequest
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class ConsultCommand:
    """A Consult request: the person, the window ``start`` .. ``end`` (``end`` None: open) and the filters. The
    server refuses a window that ends before it starts when it reads one."""

    ssin: str
    start: date
    end: date | None = None
    code: int | None = None
    sector: int | None = None
    reference: str | None = None

    @property
    def window(self) -> Period:
        return Period(self.start, self.end)


@dataclass(frozen=True, slots=True)
class FlowCommand:
    """A CheckAccess or SendFlow request as the use case takes it."""

    request: FlowRequest
    reference: str | None = None


def _write_reference(element: etree._Element, reference: str | None) -> None:
    if reference is not None:
        write_text(element, "Reference", reference)


# -- Integrate, Desintegrate -----------------------------------------------------------------------------


def read_change(element: etree._Element) -> ChangeCommand:
    """rep:IntegrateRequest or rep:DesintegrateRequest (validated) as a command."""
    reference: str | None = None
    code = 0
    start: date | None = None
    end: date | None = None
    ssins: list[str] = []
    for child in element:
        kind = child.tag
        if kind == REP.Person:
            ssins.append(text(child[0]))
        elif kind == REP.Period:
            start, end = read_raw_period(child)
        elif kind == REP.QualityCode:
            code = read_int(child)
        elif kind == REP.Reference:
            reference = text(child)
    assert start is not None, "a validated request has a Period"
    return ChangeCommand(DirectoryRequest(code, start, end, tuple(ssins)), reference)


def write_change(parent: etree._Element, local: str, command: ChangeCommand) -> etree._Element:
    """rep:IntegrateRequest or rep:DesintegrateRequest (``local``) of ``command``."""
    element = etree.SubElement(parent, tag(local))
    _write_reference(element, command.reference)
    request = command.request
    write_text(element, "QualityCode", str(request.code))
    write_period(element, "Period", request.start, request.end)
    for ssin in request.ssins:
        write_text(etree.SubElement(element, REP.Person), "SSIN", ssin)
    return element


# -- Consult ---------------------------------------------------------------------------------------------


def read_consult(element: etree._Element) -> ConsultCommand:
    """rep:ConsultRequest (validated) as a command; an inverted period is the caller's error."""
    reference: str | None = None
    ssin = ""
    code: int | None = None
    sector: int | None = None
    window: tuple[date, date | None] | None = None
    for child in element:
        kind = child.tag
        if kind == REP.SSIN:
            ssin = text(child)
        elif kind == REP.Period:
            window = read_raw_period(child)
        elif kind == REP.QualityCode:
            code = read_int(child)
        elif kind == REP.Sector:
            sector = read_int(child)
        elif kind == REP.Reference:
            reference = text(child)
    assert window is not None, "a validated request has a Period"
    start, end = window
    if end is not None and end < start:
        raise InvalidPeriod(
            f"The consultation period ends ({end.isoformat()}) before it starts ({start.isoformat()}): "
            "rep:Period/rep:EndDate must not lie before rep:StartDate."
        )
    return ConsultCommand(ssin, start, end, code, sector, reference)


def write_consult(parent: etree._Element, local: str, command: ConsultCommand) -> etree._Element:
    """rep:ConsultRequest (``local``) of ``command``."""
    element = etree.SubElement(parent, tag(local))
    _write_reference(element, command.reference)
    write_text(element, "SSIN", command.ssin)
    write_period(element, "Period", command.start, command.end)
    if command.code is not None:
        write_text(element, "QualityCode", str(command.code))
    if command.sector is not None:
        write_text(element, "Sector", str(command.sector))
    return element


# -- CheckAccess, SendFlow -------------------------------------------------------------------------------

# How each kind of request date (``RequestDate.kind``) is read and written.
_READ_DATE: Mapping[type, Callable[[etree._Element], Any]] = {
    tuple: read_raw_period,
    date: read_date,
    int: read_int,
    str: token,
}
_WRITE_DATE: Mapping[type, Callable[[etree._Element, str, Any], None]] = {
    tuple: lambda parent, local, value: write_period(parent, local, *value),
    date: lambda parent, local, value: write_text(parent, local, value.isoformat()),
    int: lambda parent, local, value: write_text(parent, local, str(value)),
    str: write_text,
}
_DATE_OF_TAG = {tag(d.name): (d.attribute, _READ_DATE[d.kind]) for d in REQUEST_DATES}


def read_flow(element: etree._Element) -> FlowCommand:
    """rep:CheckAccessRequest or rep:SendFlowRequest (validated) as a command.

    Periods stay raw ``(start, end)`` pairs, so that one ending before it starts reaches the access decision,
    which refuses it with END_BEFORE_START like any other flow date it cannot use.
    """
    reference: str | None = None
    flow = ""
    persons: list[FlowPerson] = []
    dates: dict[str, Any] = {}
    payload: bytes | None = None
    for child in element:
        kind = child.tag
        if kind == REP.Person:
            persons.append(FlowPerson(token(child[0]), Role(token(child[1]))))
        elif kind in _DATE_OF_TAG:
            attribute, read = _DATE_OF_TAG[kind]
            dates[attribute] = read(child)
        elif kind == REP.Flow:
            flow = text(child)
        elif kind == REP.Payload:
            payload = read_any(child) or None  # an empty Payload carries no message
        elif kind == REP.Reference:
            reference = text(child)
    return FlowCommand(FlowRequest(flow=flow, persons=tuple(persons), payload=payload, **dates), reference)


def write_flow(parent: etree._Element, local: str, command: FlowCommand) -> etree._Element:
    """rep:CheckAccessRequest or rep:SendFlowRequest (``local``) of ``command``; the payload's elements go into
    rep:Payload (a payload that is not XML raises ``etree.XMLSyntaxError``)."""
    element = etree.SubElement(parent, tag(local))
    _write_reference(element, command.reference)
    request = command.request
    write_text(element, "Flow", request.flow)
    for person in request.persons:
        named = etree.SubElement(element, REP.Person)
        write_text(named, "SSIN", person.ssin)
        write_text(named, "Role", str(person.role))
    for d in REQUEST_DATES:
        value = getattr(request, d.attribute)
        if value is not None:
            _WRITE_DATE[d.kind](element, d.name, value)
    if request.payload is not None:
        write_any(element, "Payload", request.payload)
    return element

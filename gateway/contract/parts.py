"""The types every message shares, read and written once: dates, PeriodType, DetailType, any-XML content.

Invariant: a writer appends the schema's children in the schema's order; a reader is given only an element that
validated against xsd/ (requests on the server, answers in the client), so it converts values and trusts the
shape. A value the schema admits but Python cannot hold (the year 10000) is a ``SchemaViolation`` naming the
element. Text of ``xs:string`` elements is kept as sent; tokens (codes, enumerations, numbers) are stripped.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from datetime import date

from lxml import etree

from gateway.contract import safexml
from gateway.contract.names import TNS
from gateway.domain.directory import Detail, Severity
from gateway.domain.periods import Period
from gateway.errors import SchemaViolation

__all__ = [
    "REP",
    "child",
    "first_child",
    "read_any",
    "read_date",
    "read_details",
    "read_int",
    "read_period",
    "read_raw_period",
    "tag",
    "text",
    "token",
    "write_any",
    "write_details",
    "write_period",
    "write_text",
]


def tag(local: str) -> str:
    """The Clark name of the contract's element ``local``: ``{urn:ksz-gateway:repertorium:v1}local``."""
    return f"{{{TNS}}}{local}"


class _Names:
    """The contract's element names as attributes: ``REP.Period`` is ``{urn:ksz-gateway:repertorium:v1}Period``
    (each made once, then an ordinary attribute)."""

    def __getattr__(self, local: str) -> str:
        if local.startswith("_"):
            raise AttributeError(local)
        name = tag(local)
        self.__dict__[local] = name
        return name


REP = _Names()


_SubElement = etree.SubElement
_DATE = re.compile(r"\s*(-?\d{4,})-(\d\d)-(\d\d)(?:Z|[+-]\d\d:\d\d)?\s*")


def first_child(parent: etree._Element, clark: str) -> etree._Element | None:
    """The first child element ``clark`` (a tag in Clark notation) of ``parent``, as ``parent.find(clark)`` gives
    it, at a third of the cost."""
    return next(parent.iterchildren(clark), None)


def child(parent: etree._Element, local: str) -> etree._Element:
    """The child ``local`` the schema requires of ``parent``."""
    found = first_child(parent, tag(local))
    if found is None:
        raise ValueError(f"{parent.tag} has no {local}")
    return found


def text(element: etree._Element) -> str:
    """An ``xs:string``'s value, as sent."""
    return element.text or ""


def token(element: etree._Element) -> str:
    """A code, an enumeration's value or an identifier: the text without surrounding whitespace."""
    return (element.text or "").strip()


def read_int(element: etree._Element) -> int:
    return int(token(element))


def read_date(element: etree._Element) -> date:
    """An xs:date's calendar day; a timezone suffix is ignored (contract: the calendar day is what counts)."""
    value = element.text or ""
    match = _DATE.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as exc:
        path = element.getroottree().getpath(element)
        raise SchemaViolation(
            f"The date {value.strip()!r} in {path} is outside the years 1 to 9999 this gateway handles.",
            path=path,
            line=element.sourceline,
        ) from exc


def read_raw_period(element: etree._Element) -> tuple[date, date | None]:
    """A PeriodType as ``(start, end)``, not checked for order (a flow's reversed period is the decision's)."""
    start = read_date(element[0])
    end = read_date(element[1]) if len(element) > 1 else None
    return start, end


def read_period(element: etree._Element) -> Period:
    return Period(*read_raw_period(element))


def write_period(parent: etree._Element, local: str, start: date, end: date | None) -> None:
    element = _SubElement(parent, tag(local))
    _SubElement(element, REP.StartDate).text = start.isoformat()
    if end is not None:
        _SubElement(element, REP.EndDate).text = end.isoformat()


def write_text(parent: etree._Element, local: str, value: str) -> None:
    _SubElement(parent, tag(local)).text = value


def read_details(parent: etree._Element) -> tuple[Detail, ...]:
    """The rep:Detail children of ``parent``, in order."""
    return tuple(
        Detail(
            Severity(token(d[0])),
            token(d[1]),
            text(d[2]),
            tuple((text(i[0]), text(i[1])) for i in d.iterchildren(REP.Information)),
        )
        for d in parent.iterchildren(REP.Detail)
    )


def write_details(parent: etree._Element, details: Iterable[Detail]) -> None:
    for detail in details:
        element = _SubElement(parent, REP.Detail)
        _SubElement(element, REP.Severity).text = detail.severity.value
        _SubElement(element, REP.ReasonCode).text = str(detail.reason)
        _SubElement(element, REP.Diagnostic).text = detail.diagnostic
        for name, value in detail.information:
            information = _SubElement(element, REP.Information)
            _SubElement(information, REP.FieldName).text = name
            _SubElement(information, REP.FieldValue).text = value


def _declared_within(element: etree._Element) -> list[str]:
    """The namespace prefixes declared on ``element`` or inside it (not merely inherited from the envelope)."""
    prefixes: set[str] = set()
    for node in element.iter(etree.Element):
        parent = node.getparent()
        inherited = {} if parent is None else parent.nsmap
        prefixes.update(p for p, uri in node.nsmap.items() if p is not None and inherited.get(p) != uri)
    return sorted(prefixes)


def read_any(element: etree._Element) -> bytes:
    """The elements inside an any-XML wrapper (rep:Payload, rep:ProviderResponse), each serialised on its own and
    concatenated, as UTF-8 without a declaration. The envelope's declarations a child does not use are dropped;
    those the content makes itself stay, even when only attribute values or text use them (``xsi:type="f:B"``)."""
    parts = []
    for item in element.iterchildren(etree.Element):
        detached = copy.deepcopy(item)
        etree.cleanup_namespaces(detached, keep_ns_prefixes=_declared_within(item))
        parts.append(etree.tostring(detached, encoding="UTF-8", xml_declaration=False, with_tail=False))
    return b"".join(parts)


def write_any(parent: etree._Element, local: str, content: bytes) -> None:
    """An any-XML wrapper holding the elements of ``content`` (what ``read_any`` gives: one or more elements, each
    declaring its namespaces); raises ``etree.XMLSyntaxError`` when ``content`` is not such XML."""
    holder = safexml.fromstring(b"<content>" + content + b"</content>")
    wrapper = _SubElement(parent, tag(local))
    for item in holder.iterchildren(etree.Element):
        wrapper.append(item)

"""The messages of the operations, read from and written to lxml trees on the hot path.

Invariant: a reader is given only a request element that already validated against xsd/ (so it trusts the
shape and converts values), and returns a plain command; a writer turns a use case's plain result into the
response element the schema describes, children in schema order. Neither knows HTTP, spyne or the database.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from lxml import etree

from gateway.contract import safexml
from gateway.contract.names import TNS
from gateway.contract.values import calendar_day as _date
from gateway.domain.access import FlowPerson, FlowRequest, Role
from gateway.domain.directory import Detail, DirectoryRequest, Summary
from gateway.domain.periods import Period
from gateway.domain.results import ConsultResult, FlowResult, OperationResult
from gateway.errors import InternalError, InvalidPeriod

__all__ = [
    "CODECS",
    "ChangeCommand",
    "Codec",
    "ConsultCommand",
    "FlowCommand",
    "read_change",
    "read_consult",
    "read_flow",
    "write_check_access",
    "write_consult",
    "write_desintegrate",
    "write_integrate",
    "write_send_flow",
]


def _t(local: str) -> str:
    return f"{{{TNS}}}{local}"


_REFERENCE = _t("Reference")
_QUALITY_CODE = _t("QualityCode")
_PERIOD = _t("Period")
_PERSON = _t("Person")
_SSIN = _t("SSIN")
_SECTOR = _t("Sector")
_START = _t("StartDate")
_END = _t("EndDate")
_SUMMARY = _t("ResultSummary")
_RETURN_CODE = _t("ReturnCode")
_DETAIL = _t("Detail")
_SEVERITY = _t("Severity")
_REASON = _t("ReasonCode")
_DIAGNOSTIC = _t("Diagnostic")
_INFORMATION = _t("Information")
_FIELD_NAME = _t("FieldName")
_FIELD_VALUE = _t("FieldValue")
_TICKET = _t("Ticket")
_PERSON_RESULT = _t("PersonResult")
_STATUS = _t("Status")
_PERIODS = _t("Periods")
_INTEGRATION = _t("Integration")
_INSTITUTION = _t("Institution")
_ID = _t("Id")
_NAME = _t("Name")
_FLOW = _t("Flow")
_ROLE = _t("Role")
_CONSULTATION_PERIOD = _t("ConsultationPeriod")
_EFFECTIVE_DATE = _t("EffectiveDate")
_VALIDITY_PERIOD = _t("ValidityPeriod")
_DECISION_PERIOD = _t("DecisionPeriod")
_DELIVERY_YEAR = _t("DeliveryYear")
_AID = _t("Aid")
_PAYLOAD = _t("Payload")
_DECISION = _t("Decision")
_PERSON_DECISION = _t("PersonDecision")
_ALLOWED = _t("Allowed")
_RULE = _t("Rule")
_SATISFIED_BY = _t("SatisfiedBy")
_MISSING_DAYS = _t("MissingDays")
_INTEGRATION_MADE = _t("IntegrationMade")
_PROVIDER_RESPONSE = _t("ProviderResponse")


_SubElement = etree.SubElement


# -- reading --------------------------------------------------------------------------------------------


def _period(element: etree._Element) -> tuple[date, date | None]:
    start = _date(element[0])
    end = _date(element[1]) if len(element) > 1 else None
    return start, end


def _int(element: etree._Element) -> int:
    return int(element.text)


@dataclass(frozen=True, slots=True)
class ChangeCommand:
    """An Integrate or Desintegrate request as the use case takes it."""

    request: DirectoryRequest
    reference: str | None


@dataclass(frozen=True, slots=True)
class ConsultCommand:
    ssin: str
    window: Period
    code: int | None
    sector: int | None
    reference: str | None


def read_change(element: etree._Element) -> ChangeCommand:
    """rep:IntegrateRequest or rep:DesintegrateRequest (validated) as a command."""
    reference: str | None = None
    code = 0
    start: date | None = None
    end: date | None = None
    ssins: list[str] = []
    for child in element:
        tag = child.tag
        if tag == _PERSON:
            ssins.append(child[0].text or "")
        elif tag == _PERIOD:
            start, end = _period(child)
        elif tag == _QUALITY_CODE:
            code = _int(child)
        elif tag == _REFERENCE:
            reference = child.text or ""
    assert start is not None, "a validated request has a Period"
    return ChangeCommand(DirectoryRequest(code, start, end, tuple(ssins)), reference)


def read_consult(element: etree._Element) -> ConsultCommand:
    """rep:ConsultRequest (validated) as a command; an inverted period is the caller's error."""
    reference: str | None = None
    ssin = ""
    code: int | None = None
    sector: int | None = None
    start: date | None = None
    end: date | None = None
    for child in element:
        tag = child.tag
        if tag == _SSIN:
            ssin = child.text or ""
        elif tag == _PERIOD:
            start, end = _period(child)
        elif tag == _QUALITY_CODE:
            code = _int(child)
        elif tag == _SECTOR:
            sector = _int(child)
        elif tag == _REFERENCE:
            reference = child.text or ""
    assert start is not None, "a validated request has a Period"
    if end is not None and end < start:
        raise InvalidPeriod(
            f"The consultation period ends ({end.isoformat()}) before it starts ({start.isoformat()}): "
            "rep:Period/rep:EndDate must not lie before rep:StartDate."
        )
    return ConsultCommand(ssin, Period(start, end), code, sector, reference)


@dataclass(frozen=True, slots=True)
class FlowCommand:
    """A CheckAccess or SendFlow request as the use case takes it."""

    request: FlowRequest
    reference: str | None


def _declared_within(element: etree._Element) -> list[str]:
    """The namespace prefixes declared on ``element`` or inside it (not merely inherited from the envelope)."""
    prefixes: set[str] = set()
    for node in element.iter(etree.Element):
        parent = node.getparent()
        inherited = {} if parent is None else parent.nsmap
        prefixes.update(p for p, uri in node.nsmap.items() if p is not None and inherited.get(p) != uri)
    return sorted(prefixes)


def _payload(element: etree._Element) -> bytes:
    """The children of rep:Payload, each serialised on its own and concatenated: the message the flow's provider
    receives. The envelope's declarations a child does not use are dropped; those the payload makes itself stay,
    even when only attribute values or text use them (``xsi:type="f:FormB"``)."""
    parts = []
    for child in element.iterchildren(etree.Element):
        detached = copy.deepcopy(child)
        etree.cleanup_namespaces(detached, keep_ns_prefixes=_declared_within(child))
        parts.append(etree.tostring(detached, encoding="UTF-8", xml_declaration=False, with_tail=False))
    return b"".join(parts)


def read_flow(element: etree._Element) -> FlowCommand:
    """rep:CheckAccessRequest or rep:SendFlowRequest (validated) as a command.

    Periods stay raw ``(start, end)`` pairs, so that one ending before it starts reaches the access decision,
    which refuses it with END_BEFORE_START like any other flow date it cannot use.
    """
    reference: str | None = None
    flow = ""
    persons: list[FlowPerson] = []
    consultation: tuple[date, date | None] | None = None
    effective: date | None = None
    validity: tuple[date, date | None] | None = None
    decision: tuple[date, date | None] | None = None
    year: int | None = None
    aid: str | None = None
    payload: bytes | None = None
    for child in element:
        tag = child.tag
        if tag == _PERSON:
            persons.append(FlowPerson((child[0].text or "").strip(), Role((child[1].text or "").strip())))
        elif tag == _FLOW:
            flow = child.text or ""
        elif tag == _CONSULTATION_PERIOD:
            consultation = _period(child)
        elif tag == _EFFECTIVE_DATE:
            effective = _date(child)
        elif tag == _VALIDITY_PERIOD:
            validity = _period(child)
        elif tag == _DECISION_PERIOD:
            decision = _period(child)
        elif tag == _DELIVERY_YEAR:
            year = _int(child)
        elif tag == _AID:
            aid = (child.text or "").strip()
        elif tag == _PAYLOAD:
            payload = _payload(child) or None  # an empty Payload carries no message
        elif tag == _REFERENCE:
            reference = child.text or ""
    request = FlowRequest(
        flow=flow,
        persons=tuple(persons),
        consultation_period=consultation,
        effective_date=effective,
        validity_period=validity,
        decision_period=decision,
        delivery_year=year,
        aid=aid,
        payload=payload,
    )
    return FlowCommand(request, reference)


# -- writing --------------------------------------------------------------------------------------------


def _write_period(parent: etree._Element, tag: str, period: Period) -> None:
    element = _SubElement(parent, tag)
    _SubElement(element, _START).text = period.start.isoformat()
    if period.end is not None:
        _SubElement(element, _END).text = period.end.isoformat()


def _write_detail(parent: etree._Element, detail: Detail) -> None:
    element = _SubElement(parent, _DETAIL)
    _SubElement(element, _SEVERITY).text = detail.severity.value
    _SubElement(element, _REASON).text = str(detail.reason)
    _SubElement(element, _DIAGNOSTIC).text = detail.diagnostic
    for name, value in detail.information:
        information = _SubElement(element, _INFORMATION)
        _SubElement(information, _FIELD_NAME).text = name
        _SubElement(information, _FIELD_VALUE).text = value


def _write_head(parent: etree._Element, tag: str, summary: Summary, details: tuple[Detail, ...], ticket: str) -> Any:
    response = _SubElement(parent, tag)
    element = _SubElement(response, _SUMMARY, ok=summary.ok.value)
    _SubElement(element, _RETURN_CODE).text = str(summary.return_code)
    for detail in details:
        _write_detail(element, detail)
    _SubElement(response, _TICKET).text = ticket
    return response


def _writer_of_change(tag: str) -> Callable[[etree._Element, OperationResult], etree._Element]:
    def write(parent: etree._Element, result: OperationResult) -> etree._Element:
        response = _write_head(parent, tag, result.summary, result.details, result.ticket)
        for outcome in result.persons:
            element = _SubElement(response, _PERSON_RESULT)
            _SubElement(element, _SSIN).text = outcome.ssin
            _SubElement(element, _STATUS).text = outcome.status.value
            for detail in outcome.details:
                _write_detail(element, detail)
            if outcome.periods is not None:
                periods = _SubElement(element, _PERIODS)
                for period in outcome.periods:
                    _write_period(periods, _PERIOD, period)
        return response

    return write


write_integrate = _writer_of_change(_t("IntegrateResponse"))
write_desintegrate = _writer_of_change(_t("DesintegrateResponse"))


def write_consult(parent: etree._Element, result: ConsultResult) -> etree._Element:
    response = _write_head(parent, _t("ConsultResponse"), result.summary, result.details, result.ticket)
    for integration in result.integrations:
        element = _SubElement(response, _INTEGRATION)
        institution = _SubElement(element, _INSTITUTION)
        _SubElement(institution, _ID).text = integration.institution.id
        _SubElement(institution, _NAME).text = integration.institution.name
        _SubElement(institution, _SECTOR).text = str(integration.institution.sector)
        _SubElement(element, _QUALITY_CODE).text = str(integration.code)
        _write_period(element, _PERIOD, integration.period)
    return response


def _write_flow_head(parent: etree._Element, tag: str, result: FlowResult) -> Any:
    response = _write_head(parent, tag, result.summary, result.details, result.ticket)
    _SubElement(response, _DECISION).text = "ALLOWED" if result.allowed else "REFUSED"
    for person in result.persons:
        element = _SubElement(response, _PERSON_DECISION)
        _SubElement(element, _SSIN).text = person.ssin
        _SubElement(element, _ROLE).text = person.role.value
        _SubElement(element, _ALLOWED).text = "true" if person.allowed else "false"
        _SubElement(element, _RULE).text = person.rule
        for detail in person.details:
            _write_detail(element, detail)
        for period in person.satisfied_by:
            _write_period(element, _SATISFIED_BY, period)
        for period in person.missing_days:
            _write_period(element, _MISSING_DAYS, period)
    return response


def write_check_access(parent: etree._Element, result: FlowResult) -> etree._Element:
    response: etree._Element = _write_flow_head(parent, _t("CheckAccessResponse"), result)
    return response


def write_send_flow(parent: etree._Element, result: FlowResult) -> etree._Element:
    response: etree._Element = _write_flow_head(parent, _t("SendFlowResponse"), result)
    for made in result.integrations_made:
        element = _SubElement(response, _INTEGRATION_MADE)
        _SubElement(element, _SSIN).text = made.ssin
        _SubElement(element, _QUALITY_CODE).text = str(made.code)
        _write_period(element, _PERIOD, made.period)
    if result.provider_response is not None:
        try:
            answer = safexml.fromstring(result.provider_response, strip=True)  # not ours: parsed as a request
        except etree.XMLSyntaxError as exc:
            raise InternalError(f"the provider's answer kept for ticket {result.ticket} is not XML: {exc}") from exc
        _SubElement(response, _PROVIDER_RESPONSE).append(answer)
    return response


@dataclass(frozen=True, slots=True)
class Codec:
    """How one operation's request is read and its answer written."""

    read: Callable[[etree._Element], Any]
    write: Callable[[etree._Element, Any], etree._Element]


CODECS: Mapping[str, Codec] = {
    "Integrate": Codec(read_change, write_integrate),
    "Desintegrate": Codec(read_change, write_desintegrate),
    "Consult": Codec(read_consult, write_consult),
    "CheckAccess": Codec(read_flow, write_check_access),
    "SendFlow": Codec(read_flow, write_send_flow),
}

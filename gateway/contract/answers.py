"""The response messages: a writer (the server's) and a reader (the client's) per answer, and the answer values.

Invariant: a writer turns a use case's result into the response element the schema describes, children in
schema order; the reader of the same message turns that element back into an answer value holding everything
the element says and nothing it does not (the server's bookkeeping, such as whether storage wrote a person's
periods, never reaches the wire). So ``read(write(result))`` is the result as the wire shows it, and the client
library decodes answers with the code next to the one the server writes them with. Readers are given only
elements that validated against xsd/.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

from gateway.contract import safexml
from gateway.contract.names import FAULT_NS, SOAP_ENV, qname
from gateway.contract.parts import (
    REP,
    child,
    read_any,
    read_details,
    read_int,
    read_period,
    tag,
    text,
    token,
    write_details,
    write_period,
    write_text,
)
from gateway.domain.access import PersonDecision, Role
from gateway.domain.directory import Detail, Institution, Ok, Status, Summary
from gateway.domain.periods import Period
from gateway.domain.results import ConsultResult, FlowResult, OperationResult
from gateway.errors import InternalError

__all__ = [
    "AccessAnswer",
    "Answer",
    "ConsultAnswer",
    "Fault",
    "FlowAnswer",
    "Integration",
    "IntegrationMade",
    "OperationAnswer",
    "PersonResult",
    "read_access_answer",
    "read_consult_answer",
    "read_fault",
    "read_flow_answer",
    "read_operation_answer",
    "write_access_answer",
    "write_consult_answer",
    "write_flow_answer",
    "write_operation_answer",
]

_SubElement = etree.SubElement


# -- the answers -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """What every answer carries: the exchange's Ticket, the ResultSummary (``ok`` is YES, WARNING or NO,
    ``return_code`` 0, 1 or 10000) and the details about the request as a whole."""

    ticket: str
    ok: Ok
    return_code: int
    details: tuple[Detail, ...]


@dataclass(frozen=True, slots=True)
class PersonResult:
    """One person's outcome; ``periods`` (date order, after the operation) is None only for an invalid SSIN."""

    ssin: str
    status: Status
    details: tuple[Detail, ...]
    periods: tuple[Period, ...] | None


@dataclass(frozen=True, slots=True)
class OperationAnswer(Answer):
    """The answer to Integrate or Desintegrate: one result per person, in request order."""

    persons: tuple[PersonResult, ...]


@dataclass(frozen=True, slots=True)
class Integration:
    """One integration found by Consult: the institution that integrated the person consulted, in quality code
    ``code``, for ``period`` (``period.end`` None: open-ended)."""

    institution: Institution
    code: int
    period: Period


@dataclass(frozen=True, slots=True)
class ConsultAnswer(Answer):
    integrations: tuple[Integration, ...]


@dataclass(frozen=True, slots=True)
class AccessAnswer(Answer):
    """The answer to CheckAccess: ``decision`` is ALLOWED or REFUSED; ``persons`` is empty when the request was
    refused as a whole (the reason is then in ``details``)."""

    decision: str
    persons: tuple[PersonDecision, ...]

    @property
    def allowed(self) -> bool:
        return self.decision == "ALLOWED"


@dataclass(frozen=True, slots=True)
class IntegrationMade:
    """An automatic integration a flow made (a form B's decision period, a new request's 30 days)."""

    ssin: str
    code: int
    period: Period


@dataclass(frozen=True, slots=True)
class FlowAnswer(AccessAnswer):
    """The answer to SendFlow: the decision as CheckAccess gives it, the integrations the flow made and the
    provider's answer (its elements, as UTF-8 XML bytes) when the flow has a provider."""

    integrations_made: tuple[IntegrationMade, ...]
    provider_response: bytes | None


@dataclass(frozen=True, slots=True)
class Fault:
    """A SOAP fault as sent: ``code`` the faultcode (``soap:Client``, ``wsse:FailedAuthentication``), ``string``
    the faultstring, ``reason`` the gateway's reason code (its ``gw:FaultDetail``), when it sent one."""

    code: str
    string: str
    reason: str | None


# -- the shared head: ResultSummary and Ticket -------------------------------------------------------------


def _write_head(parent: etree._Element, local: str, summary: Summary, details: tuple[Detail, ...], ticket: str) -> Any:
    response = _SubElement(parent, tag(local))
    element = _SubElement(response, REP.ResultSummary, ok=summary.ok.value)
    write_text(element, "ReturnCode", str(summary.return_code))
    write_details(element, details)
    _SubElement(response, REP.Ticket).text = ticket
    return response


def _read_head(response: etree._Element) -> dict[str, Any]:
    summary = child(response, "ResultSummary")
    return {
        "ticket": token(child(response, "Ticket")),
        "ok": Ok(summary.get("ok", "").strip()),
        "return_code": read_int(child(summary, "ReturnCode")),
        "details": read_details(summary),
    }


def _periods(element: etree._Element, kind: str) -> tuple[Period, ...]:
    return tuple(read_period(p) for p in element.iterchildren(kind))


# -- Integrate, Desintegrate -----------------------------------------------------------------------------


def write_operation_answer(parent: etree._Element, local: str, result: OperationResult) -> etree._Element:
    """rep:IntegrateResponse or rep:DesintegrateResponse (``local``) of ``result``."""
    response: etree._Element = _write_head(parent, local, result.summary, result.details, result.ticket)
    for outcome in result.persons:
        element = _SubElement(response, REP.PersonResult)
        write_text(element, "SSIN", outcome.ssin)
        write_text(element, "Status", outcome.status.value)
        write_details(element, outcome.details)
        if outcome.periods is not None:
            periods = _SubElement(element, REP.Periods)
            for period in outcome.periods:
                write_period(periods, "Period", period.start, period.end)
    return response


def read_operation_answer(response: etree._Element) -> OperationAnswer:
    persons = []
    for p in response.iterchildren(REP.PersonResult):
        periods = p.find(REP.Periods)
        persons.append(
            PersonResult(
                token(child(p, "SSIN")),
                Status(token(child(p, "Status"))),
                read_details(p),
                None if periods is None else _periods(periods, REP.Period),
            )
        )
    return OperationAnswer(**_read_head(response), persons=tuple(persons))


# -- Consult ---------------------------------------------------------------------------------------------


def write_consult_answer(parent: etree._Element, local: str, result: ConsultResult) -> etree._Element:
    """rep:ConsultResponse (``local``) of ``result``."""
    response: etree._Element = _write_head(parent, local, result.summary, result.details, result.ticket)
    for integration in result.integrations:
        element = _SubElement(response, REP.Integration)
        institution = _SubElement(element, REP.Institution)
        write_text(institution, "Id", integration.institution.id)
        write_text(institution, "Name", integration.institution.name)
        write_text(institution, "Sector", str(integration.institution.sector))
        write_text(element, "QualityCode", str(integration.code))
        write_period(element, "Period", integration.period.start, integration.period.end)
    return response


def read_consult_answer(response: etree._Element) -> ConsultAnswer:
    integrations = []
    for i in response.iterchildren(REP.Integration):
        institution = child(i, "Institution")
        integrations.append(
            Integration(
                Institution(
                    token(child(institution, "Id")),
                    text(child(institution, "Name")),
                    read_int(child(institution, "Sector")),
                ),
                read_int(child(i, "QualityCode")),
                read_period(child(i, "Period")),
            )
        )
    return ConsultAnswer(**_read_head(response), integrations=tuple(integrations))


# -- CheckAccess, SendFlow -------------------------------------------------------------------------------


def write_access_answer(parent: etree._Element, local: str, result: FlowResult) -> etree._Element:
    """rep:CheckAccessResponse (``local``) of ``result``: the decision and each person's."""
    response: etree._Element = _write_head(parent, local, result.summary, result.details, result.ticket)
    write_text(response, "Decision", "ALLOWED" if result.allowed else "REFUSED")
    for person in result.persons:
        element = _SubElement(response, REP.PersonDecision)
        write_text(element, "SSIN", person.ssin)
        write_text(element, "Role", person.role.value)
        write_text(element, "Allowed", "true" if person.allowed else "false")
        write_text(element, "Rule", person.rule)
        write_details(element, person.details)
        for period in person.satisfied_by:
            write_period(element, "SatisfiedBy", period.start, period.end)
        for period in person.missing_days:
            write_period(element, "MissingDays", period.start, period.end)
    return response


def read_access_answer(response: etree._Element) -> AccessAnswer:
    return AccessAnswer(**_read_head(response), **_read_decision(response))


def _read_decision(response: etree._Element) -> dict[str, Any]:
    persons = tuple(
        PersonDecision(
            token(child(p, "SSIN")),
            Role(token(child(p, "Role"))),
            token(child(p, "Allowed")) in ("true", "1"),
            token(child(p, "Rule")),
            read_details(p),
            _periods(p, REP.SatisfiedBy),
            _periods(p, REP.MissingDays),
        )
        for p in response.iterchildren(REP.PersonDecision)
    )
    return {"decision": token(child(response, "Decision")), "persons": persons}


def write_flow_answer(parent: etree._Element, local: str, result: FlowResult) -> etree._Element:
    """rep:SendFlowResponse (``local``) of ``result``: the decision as CheckAccess writes it, the integrations
    made and the provider's answer."""
    response = write_access_answer(parent, local, result)
    for made in result.integrations_made:
        element = _SubElement(response, REP.IntegrationMade)
        write_text(element, "SSIN", made.ssin)
        write_text(element, "QualityCode", str(made.code))
        write_period(element, "Period", made.period.start, made.period.end)
    if result.provider_response is not None:
        try:
            answer = safexml.fromstring(result.provider_response, strip=True)  # not ours: parsed as a request
        except etree.XMLSyntaxError as exc:
            raise InternalError(f"the provider's answer kept for ticket {result.ticket} is not XML: {exc}") from exc
        _SubElement(response, REP.ProviderResponse).append(answer)
    return response


def read_flow_answer(response: etree._Element) -> FlowAnswer:
    made = tuple(
        IntegrationMade(token(child(i, "SSIN")), read_int(child(i, "QualityCode")), read_period(child(i, "Period")))
        for i in response.iterchildren(REP.IntegrationMade)
    )
    provider = response.find(REP.ProviderResponse)
    return FlowAnswer(
        **_read_head(response),
        **_read_decision(response),
        integrations_made=made,
        provider_response=None if provider is None else read_any(provider),
    )


# -- faults ----------------------------------------------------------------------------------------------

_FAULT = qname(SOAP_ENV, "Fault")
_BODY = qname(SOAP_ENV, "Body")
_HEADER = qname(SOAP_ENV, "Header")
_REASON = qname(FAULT_NS, "ReasonCode")


def read_fault(envelope: etree._Element) -> Fault | None:
    """The SOAP 1.1 fault of a response envelope, if it is one. The gateway's reason code is read from the
    fault's ``detail`` or, for a WS-Security fault (which SOAP 1.1 answers without detail), from the header."""
    body = envelope.find(_BODY)
    fault = None if body is None else body.find(_FAULT)
    if fault is None:
        return None
    code = fault.findtext("faultcode") or ""
    reason = None
    for place in (fault.find("detail"), envelope.find(_HEADER)):
        found = None if place is None else place.find(f".//{_REASON}")
        if found is not None and token(found):
            reason = token(found)
            break
    return Fault(code.strip(), fault.findtext("faultstring") or "", reason)

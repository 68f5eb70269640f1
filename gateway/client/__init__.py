"""The repertorium client library for OCMW software: the five operations of the contract over SOAP, as plain values.

Invariant: a call either returns frozen dataclasses built from a response the server sent, or raises a
``ClientError`` — ``FaultError`` (with ``AuthenticationFailed`` for WS-Security refusals) when the gateway
answered with a SOAP fault, ``TransportError`` when no SOAP answer came back, ``InvalidRequest`` when the
arguments cannot make a valid message. No zeep or requests exception leaves this module. The WSDL and schema are
the ones shipped in the package: building a client needs no network; every call carries a fresh WS-Security
UsernameToken digest (new nonce, new Created).

Example::

    from datetime import date
    from gateway.client import RepertoriumClient

    with RepertoriumClient("http://127.0.0.1:8080/soap/repertorium", "0212345668", "demo-ocmw-a") as client:
        answer = client.integrate(["85073003328"], code=1, start=date(2015, 1, 5))
        print(answer.ok, answer.persons[0].status, answer.persons[0].periods)
        access = client.check_access("consult.generic", [("85073003328", "SUBJECT")])
        print(access.decision, access.persons[0].rule, access.persons[0].satisfied_by)
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from types import TracebackType
from typing import Any, TypeAlias, TypeVar

import requests
from lxml import etree
from zeep import Client, Plugin, Settings
from zeep import exceptions as zeep_errors
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from gateway.contract import safexml
from gateway.contract.names import FAULT_NS, SOAP_ENV, TNS
from gateway.contract.resources import wsdl_path
from gateway.domain.directory import Institution
from gateway.domain.periods import Period

__all__ = [
    "AIDS",
    "ROLES",
    "AccessAnswer",
    "AuthenticationFailed",
    "ClientError",
    "ConsultAnswer",
    "Detail",
    "FaultError",
    "FlowAnswer",
    "FlowPerson",
    "Institution",
    "Integration",
    "IntegrationMade",
    "InvalidRequest",
    "OperationAnswer",
    "PersonDecision",
    "PersonResult",
    "RepertoriumClient",
    "TransportError",
]

_BINDING = f"{{{TNS}}}RepertoriumBinding"
_Answer = TypeVar("_Answer", "OperationAnswer", "ConsultAnswer", "AccessAnswer", "FlowAnswer")
_WSDL_FILE = "repertorium-v1.wsdl"
ROLES = ("SUBJECT", "MAIN", "PARTNER", "ADDITIONAL")
AIDS = ("LIVING_WAGE", "EQUIVALENT_LIVING_WAGE", "OTHER_FINANCIAL_AID", "EMPLOYMENT_ART60")
# A payload is parsed as carefully as the gateway parses requests: no DTD, no entities, no network.


# -- errors ---------------------------------------------------------------------------------------------


class ClientError(Exception):
    """Root of every error of the client library.

    ClientError
    ├── InvalidRequest        the arguments cannot make a valid request (nothing was sent)
    ├── TransportError        no SOAP answer: connection refused or reset, timeout, HTTP error, not XML
    └── FaultError            the gateway answered with a SOAP fault (``faultcode``, ``faultstring``, ``reason``)
        └── AuthenticationFailed   a WS-Security fault: unknown or disabled institution, wrong secret, ...
    """


class InvalidRequest(ClientError, ValueError):
    pass


class TransportError(ClientError):
    pass


class FaultError(ClientError):
    """A SOAP fault: ``faultcode`` as sent (``soap:Client``...), ``reason`` the gateway's reason code."""

    def __init__(self, faultcode: str, faultstring: str, reason: str | None) -> None:
        super().__init__(f"{faultcode}: {faultstring}" + (f" [{reason}]" if reason else ""))
        self.faultcode = faultcode
        self.faultstring = faultstring
        self.reason = reason


class AuthenticationFailed(FaultError):
    pass


# -- answers --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Detail:
    """One explained fact: severity, reason code, a sentence, named values (e.g. MaximumEndDate)."""

    severity: str
    reason: str
    diagnostic: str
    information: tuple[tuple[str, str], ...] = ()

    def value(self, name: str) -> str | None:
        """The Information value named ``name``, if the detail carries one."""
        return next((v for k, v in self.information if k == name), None)


@dataclass(frozen=True, slots=True)
class PersonResult:
    """One person's outcome; ``periods`` (date order, after the operation) is None only for an invalid SSIN."""

    ssin: str
    status: str
    details: tuple[Detail, ...]
    periods: tuple[Period, ...] | None


@dataclass(frozen=True, slots=True)
class OperationAnswer:
    """The answer to Integrate or Desintegrate: ``ok`` is YES, WARNING or NO; one result per person, in order."""

    ticket: str
    ok: str
    return_code: int
    details: tuple[Detail, ...]
    persons: tuple[PersonResult, ...]


@dataclass(frozen=True, slots=True)
class Integration:
    """One integration found by Consult (``period.end`` None: open-ended)."""

    institution: Institution
    code: int
    period: Period


@dataclass(frozen=True, slots=True)
class ConsultAnswer:
    ticket: str
    ok: str
    return_code: int
    details: tuple[Detail, ...]
    integrations: tuple[Integration, ...]


@dataclass(frozen=True, slots=True)
class FlowPerson:
    """A person named in CheckAccess or SendFlow, with the role (``SUBJECT``, ``MAIN``, ``PARTNER``,
    ``ADDITIONAL``) the person plays in the flow. A ``(ssin, role)`` pair does as well."""

    ssin: str
    role: str


@dataclass(frozen=True, slots=True)
class PersonDecision:
    """The access decision for one person: the rule applied, the integration periods that satisfied it,
    or the required days that were not covered (``details`` say why)."""

    ssin: str
    role: str
    allowed: bool
    rule: str
    details: tuple[Detail, ...]
    satisfied_by: tuple[Period, ...]
    missing_days: tuple[Period, ...]


@dataclass(frozen=True, slots=True)
class AccessAnswer:
    """The answer to CheckAccess: ``decision`` is ALLOWED or REFUSED; ``persons`` is empty when the request was
    refused as a whole (the reason is then in ``details``)."""

    ticket: str
    ok: str
    return_code: int
    details: tuple[Detail, ...]
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
class FlowAnswer:
    """The answer to SendFlow: the decision as CheckAccess gives it, the integrations the flow made and the
    provider's answer (one XML element, as bytes) when the flow has a provider."""

    ticket: str
    ok: str
    return_code: int
    details: tuple[Detail, ...]
    decision: str
    persons: tuple[PersonDecision, ...]
    integrations_made: tuple[IntegrationMade, ...]
    provider_response: bytes | None

    @property
    def allowed(self) -> bool:
        return self.decision == "ALLOWED"


PersonArg: TypeAlias = "FlowPerson | tuple[str, str]"
PeriodArg: TypeAlias = "Period | tuple[date, date | None]"
PayloadArg: TypeAlias = "etree._Element | bytes | str"


# -- the client -----------------------------------------------------------------------------------------


class RepertoriumClient:
    """A client of one gateway endpoint, acting as one institution. Not for sharing between threads."""

    def __init__(
        self, url: str, institution_id: str, secret: str, timeout: float = 30.0, *, plugins: Sequence[Any] = ()
    ) -> None:
        """``plugins`` are zeep plugins (``egress`` / ``ingress`` hooks), e.g. to log or keep the envelopes."""
        self.url = url
        self._session = requests.Session()
        self._received = _Received()
        transport = Transport(  # type: ignore[no-untyped-call]
            session=self._session, timeout=timeout, operation_timeout=timeout
        )
        settings = Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        try:
            client = Client(  # type: ignore[no-untyped-call]
                str(wsdl_path(_WSDL_FILE)),
                transport=transport,
                wsse=UsernameToken(institution_id, secret, use_digest=True),  # type: ignore[no-untyped-call]
                settings=settings,
                plugins=[*plugins, self._received],
            )
        except (OSError, zeep_errors.Error) as exc:
            raise ClientError(f"cannot load the packaged WSDL {_WSDL_FILE}: {exc}") from exc
        self._service = client.create_service(_BINDING, url)  # type: ignore[no-untyped-call]

    def __enter__(self) -> RepertoriumClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    # -- operations ---------------------------------------------------------------------------------------

    def integrate(
        self, ssins: Iterable[str], code: int, start: date, end: date | None = None, reference: str | None = None
    ) -> OperationAnswer:
        """Integrate the persons in ``code`` from ``start`` (to ``end``, else for the code's maximum)."""
        return self._call("Integrate", _operation, **_change_args(ssins, code, start, end, reference))

    def desintegrate(
        self, ssins: Iterable[str], code: int, start: date, end: date | None = None, reference: str | None = None
    ) -> OperationAnswer:
        """Remove ``[start, end]`` (without ``end``: everything from ``start`` on) of the persons' integrations."""
        return self._call("Desintegrate", _operation, **_change_args(ssins, code, start, end, reference))

    def consult(
        self,
        ssin: str,
        start: date,
        end: date | None = None,
        code: int | None = None,
        sector: int | None = None,
        reference: str | None = None,
    ) -> ConsultAnswer:
        """Every institution's integrations of ``ssin`` overlapping ``[start, end]``, optionally filtered."""
        return self._call(
            "Consult",
            _consult,
            Reference=reference,
            SSIN=ssin,
            Period=_period_arg(start, end),
            QualityCode=code,
            Sector=sector,
        )

    def check_access(
        self,
        flow: str,
        persons: Iterable[PersonArg],
        *,
        consultation_period: PeriodArg | None = None,
        effective_date: date | None = None,
        validity_period: PeriodArg | None = None,
        decision_period: PeriodArg | None = None,
        delivery_year: int | None = None,
        aid: str | None = None,
        reference: str | None = None,
    ) -> AccessAnswer:
        """Whether this institution may send ``flow`` for the persons, with the dates the flow needs; nothing changes.

        A period is a ``Period`` or a ``(start, end)`` pair (``end`` None: open-ended)."""
        arguments = _flow_args(
            flow,
            persons,
            consultation_period,
            effective_date,
            validity_period,
            decision_period,
            delivery_year,
            aid,
            reference,
        )
        return self._call("CheckAccess", _access, **arguments)

    def send_flow(
        self,
        flow: str,
        persons: Iterable[PersonArg],
        *,
        consultation_period: PeriodArg | None = None,
        effective_date: date | None = None,
        validity_period: PeriodArg | None = None,
        decision_period: PeriodArg | None = None,
        delivery_year: int | None = None,
        aid: str | None = None,
        reference: str | None = None,
        payload: PayloadArg | None = None,
    ) -> FlowAnswer:
        """Send ``flow`` through the gateway: decided as ``check_access`` decides; when allowed, ``payload`` (an lxml
        element, or one element as XML bytes or text) goes to the flow's provider and the flow's integrations are
        made, both or neither."""
        arguments = _flow_args(
            flow,
            persons,
            consultation_period,
            effective_date,
            validity_period,
            decision_period,
            delivery_year,
            aid,
            reference,
        )
        arguments["Payload"] = None if payload is None else {"_value_1": [_payload_element(payload)]}
        return self._call("SendFlow", _flow, **arguments)

    def _call(self, operation: str, read: Callable[[etree._Element], _Answer], **arguments: Any) -> _Answer:
        try:
            getattr(self._service, operation)(**arguments)
        except zeep_errors.Fault as fault:
            raise _fault_error(fault) from fault
        except zeep_errors.ValidationError as exc:
            raise InvalidRequest(f"{operation}: {exc}") from exc
        except requests.Timeout as exc:
            raise TransportError(f"{operation}: no answer from {self.url} in time: {exc}") from exc
        except requests.RequestException as exc:
            raise TransportError(f"{operation}: cannot reach {self.url}: {exc}") from exc
        except zeep_errors.TransportError as exc:
            raise TransportError(f"{operation}: HTTP {exc.status_code} from {self.url}: {exc.message}") from exc
        except (zeep_errors.Error, etree.LxmlError) as exc:
            raise TransportError(f"{operation}: unreadable answer from {self.url}: {exc}") from exc
        try:
            return read(self._received.response(f"{operation}Response"))
        except (ValueError, TypeError, AttributeError) as exc:
            raise TransportError(f"{operation}: unreadable answer from {self.url}: {exc}") from exc


def _period_arg(start: date, end: date | None) -> dict[str, date | None]:
    return {"StartDate": start, "EndDate": end}


def _change_args(
    ssins: Iterable[str], code: int, start: date, end: date | None, reference: str | None
) -> dict[str, Any]:
    persons = [{"SSIN": s} for s in ([ssins] if isinstance(ssins, str) else ssins)]
    if not persons:
        raise InvalidRequest("at least one SSIN is needed")
    return {"Reference": reference, "QualityCode": code, "Period": _period_arg(start, end), "Person": persons}


def _flow_period_arg(name: str, period: PeriodArg | None) -> dict[str, date | None] | None:
    if period is None:
        return None
    if isinstance(period, Period):
        return _period_arg(period.start, period.end)
    try:
        start, end = period
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"{name} must be a Period or a (start, end) pair, not {period!r}") from exc
    return _period_arg(start, end)


def _flow_person(person: PersonArg) -> dict[str, str]:
    if isinstance(person, FlowPerson):
        ssin, role = person.ssin, person.role
    else:
        try:
            ssin, role = person
        except (TypeError, ValueError) as exc:
            raise InvalidRequest(f"a person is a FlowPerson or an (ssin, role) pair, not {person!r}") from exc
    role = str(role)
    if role not in ROLES:
        raise InvalidRequest(f"role {role!r} of {ssin} is not one of {', '.join(ROLES)}")
    return {"SSIN": ssin, "Role": role}


def _flow_args(
    flow: str,
    persons: Iterable[PersonArg],
    consultation_period: PeriodArg | None,
    effective_date: date | None,
    validity_period: PeriodArg | None,
    decision_period: PeriodArg | None,
    delivery_year: int | None,
    aid: str | None,
    reference: str | None,
) -> dict[str, Any]:
    named = [_flow_person(p) for p in persons]
    if not named:
        raise InvalidRequest("at least one person is needed")
    if aid is not None and str(aid) not in AIDS:
        raise InvalidRequest(f"aid {aid!r} is not one of {', '.join(AIDS)}")
    return {
        "Reference": reference,
        "Flow": flow,
        "Person": named,
        "ConsultationPeriod": _flow_period_arg("consultation_period", consultation_period),
        "EffectiveDate": effective_date,
        "ValidityPeriod": _flow_period_arg("validity_period", validity_period),
        "DecisionPeriod": _flow_period_arg("decision_period", decision_period),
        "DeliveryYear": delivery_year,
        "Aid": None if aid is None else str(aid),
    }


def _payload_element(payload: PayloadArg) -> etree._Element:
    if isinstance(payload, etree._Element):
        return copy.deepcopy(payload)  # the message takes it over; the caller's tree stays as it was
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    if not isinstance(data, bytes):
        raise InvalidRequest(f"a payload is an lxml element or XML bytes or text, not {type(payload).__name__}")
    try:
        element: etree._Element = safexml.fromstring(data)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise InvalidRequest(f"the payload is not well-formed XML: {exc}") from exc
    return element


def _t(local: str) -> str:
    return f"{{{TNS}}}{local}"


def _text(parent: etree._Element, local: str) -> str:
    found = parent.find(_t(local))
    return "" if found is None or found.text is None else str(found.text).strip()


def _day(text: str) -> date:
    return date.fromisoformat(text.strip()[:10])


def _period(element: etree._Element) -> Period:
    end = _text(element, "EndDate")
    return Period(_day(_text(element, "StartDate")), _day(end) if end else None)


def _details(parent: etree._Element) -> tuple[Detail, ...]:
    return tuple(
        Detail(
            _text(d, "Severity"),
            _text(d, "ReasonCode"),
            _text(d, "Diagnostic"),
            tuple((_text(i, "FieldName"), _text(i, "FieldValue")) for i in d.iterfind(_t("Information"))),
        )
        for d in parent.iterfind(_t("Detail"))
    )


def _summary(response: etree._Element) -> tuple[str, str, int, tuple[Detail, ...]]:
    summary = response.find(_t("ResultSummary"))
    if summary is None:
        raise TransportError(f"the answer {response.tag} has no ResultSummary")
    return _text(response, "Ticket"), str(summary.get("ok")), int(_text(summary, "ReturnCode")), _details(summary)


def _operation(response: etree._Element) -> OperationAnswer:
    persons = []
    for p in response.iterfind(_t("PersonResult")):
        periods = p.find(_t("Periods"))
        persons.append(
            PersonResult(
                _text(p, "SSIN"),
                _text(p, "Status"),
                _details(p),
                None if periods is None else tuple(_period(x) for x in periods.iterfind(_t("Period"))),
            )
        )
    ticket, ok, code, details = _summary(response)
    return OperationAnswer(ticket, ok, code, details, tuple(persons))


def _consult(response: etree._Element) -> ConsultAnswer:
    integrations = []
    for i in response.iterfind(_t("Integration")):
        institution = i.find(_t("Institution"))
        period = i.find(_t("Period"))
        if institution is None or period is None:
            raise TransportError("an Integration without Institution or Period")
        integrations.append(
            Integration(
                Institution(_text(institution, "Id"), _text(institution, "Name"), int(_text(institution, "Sector"))),
                int(_text(i, "QualityCode")),
                _period(period),
            )
        )
    ticket, ok, code, details = _summary(response)
    return ConsultAnswer(ticket, ok, code, details, tuple(integrations))


def _person_decisions(response: etree._Element) -> tuple[PersonDecision, ...]:
    return tuple(
        PersonDecision(
            _text(p, "SSIN"),
            _text(p, "Role"),
            _text(p, "Allowed") in ("true", "1"),
            _text(p, "Rule"),
            _details(p),
            tuple(_period(x) for x in p.iterfind(_t("SatisfiedBy"))),
            tuple(_period(x) for x in p.iterfind(_t("MissingDays"))),
        )
        for p in response.iterfind(_t("PersonDecision"))
    )


def _access(response: etree._Element) -> AccessAnswer:
    ticket, ok, code, details = _summary(response)
    return AccessAnswer(ticket, ok, code, details, _text(response, "Decision"), _person_decisions(response))


def _flow(response: etree._Element) -> FlowAnswer:
    made = []
    for i in response.iterfind(_t("IntegrationMade")):
        period = i.find(_t("Period"))
        if period is None:
            raise TransportError("an IntegrationMade without Period")
        made.append(IntegrationMade(_text(i, "SSIN"), int(_text(i, "QualityCode")), _period(period)))
    ticket, ok, code, details = _summary(response)
    return FlowAnswer(
        ticket,
        ok,
        code,
        details,
        _text(response, "Decision"),
        _person_decisions(response),
        tuple(made),
        _provider_response(response.find(_t("ProviderResponse"))),
    )


def _provider_response(element: etree._Element | None) -> bytes | None:
    """The provider's answer: the elements inside rep:ProviderResponse, each serialised on its own, without the
    envelope's declarations it does not use (its own declarations stay)."""
    if element is None:
        return None
    parts = []
    for child in element.iterchildren(etree.Element):
        own: set[str] = set()
        for node in child.iter(etree.Element):
            parent = node.getparent()
            inherited = {} if parent is None else parent.nsmap
            own.update(p for p, uri in node.nsmap.items() if p is not None and inherited.get(p) != uri)
        detached = copy.deepcopy(child)
        etree.cleanup_namespaces(detached, keep_ns_prefixes=sorted(own))
        parts.append(etree.tostring(detached, with_tail=False))
    return b"".join(parts)


class _Received(Plugin):
    """Keeps the envelope last received in this thread: answers are read from it, not from zeep's objects
    (zeep turns an empty element such as ``<rep:Periods/>`` into None, which the contract distinguishes)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def egress(self, envelope: Any, http_headers: Any, operation: Any, binding_options: Any) -> Any:
        self._local.envelope = None
        return envelope, http_headers

    def ingress(self, envelope: Any, http_headers: Any, operation: Any) -> Any:
        self._local.envelope = envelope
        return envelope, http_headers

    def response(self, expected: str) -> etree._Element:
        envelope = getattr(self._local, "envelope", None)
        body = None if envelope is None else envelope.find(f"{{{SOAP_ENV}}}Body")
        if body is None or len(body) != 1 or body[0].tag != _t(expected):
            raise TransportError(f"the gateway did not answer with {expected}")
        element: etree._Element = body[0]
        return element


def _fault_error(fault: Any) -> FaultError:
    code = str(fault.code or "")
    local = code.rpartition(":")[2]
    reason: str | None = None
    detail = fault.detail
    if detail is not None:
        found = detail.find(f".//{{{FAULT_NS}}}ReasonCode")
        if found is not None and found.text:
            reason = found.text.strip()
    if local in ("FailedAuthentication", "InvalidSecurity"):
        return AuthenticationFailed(code, str(fault.message or ""), reason or _upper_snake(local))
    return FaultError(code, str(fault.message or ""), reason)


def _upper_snake(name: str) -> str:
    return "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(name)).upper()

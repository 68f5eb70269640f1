"""The repertorium client library for OCMW software: the five operations of the contract over SOAP, as plain values.

Invariant: a call either returns frozen dataclasses read from a response the server sent, or raises a
``ClientError`` — ``FaultError`` (with ``AuthenticationFailed`` for WS-Security refusals) when the gateway
answered with a SOAP fault, ``TransportError`` when no SOAP answer came back, ``InvalidRequest`` when the
arguments cannot make a valid message (nothing is sent then). No zeep, requests or lxml exception leaves this
module. Requests are written and answers read by the contract's own functions (``gateway.contract.codec``), the
ones the server reads and writes them with, and both are checked against the packaged xsd/; zeep carries them:
its transport, its WS-Security UsernameToken (a fresh digest, nonce and Created on every call) and its plugins.
Building a client needs no network.

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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from types import TracebackType
from typing import Any, TypeAlias, TypedDict, TypeVar, Unpack

import requests
from lxml import etree
from zeep import Client, Settings
from zeep import exceptions as zeep_errors
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from gateway.contract import safexml
from gateway.contract.answers import (
    AccessAnswer,
    ConsultAnswer,
    Fault,
    FlowAnswer,
    Integration,
    IntegrationMade,
    OperationAnswer,
    PersonResult,
    read_fault,
)
from gateway.contract.codec import CHECK_ACCESS, CONSULT, DESINTEGRATE, INTEGRATE, SEND_FLOW, Operation
from gateway.contract.commands import ChangeCommand, ConsultCommand, FlowCommand
from gateway.contract.names import SOAP_ENV, TNS, qname
from gateway.contract.resources import wsdl_path, xsd_path
from gateway.contract.schema import MessageSchema
from gateway.domain import access
from gateway.domain.access import REQUEST_DATES, FlowRequest, PersonDecision, Role
from gateway.domain.directory import Detail, DirectoryRequest, Institution
from gateway.domain.periods import Period
from gateway.errors import (
    AuthenticationFailed,
    ClientError,
    FaultError,
    InvalidRequest,
    InvalidResponse,
    SchemaViolation,
)
from gateway.errors import ClientTransportError as TransportError

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
    "FlowDateArguments",
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

ROLES = tuple(r.value for r in Role)
AIDS = access.AIDS
_BINDING = qname(TNS, "RepertoriumBinding")
_WSDL_FILE = "repertorium-v1.wsdl"
_XSD_FILE = "repertorium-v1.xsd"
_ENVELOPE = qname(SOAP_ENV, "Envelope")
_BODY = qname(SOAP_ENV, "Body")
_NSMAP = {"soap": SOAP_ENV, "rep": TNS}
_AUTHENTICATION_FAULTS = ("FailedAuthentication", "InvalidSecurity")
_Answer = TypeVar("_Answer")
_Command = TypeVar("_Command")


@dataclass(frozen=True, slots=True)
class FlowPerson:
    """A person named in CheckAccess or SendFlow, with the role (``SUBJECT``, ``MAIN``, ``PARTNER``,
    ``ADDITIONAL``) the person plays in the flow. A ``(ssin, role)`` pair does as well."""

    ssin: str
    role: str


PersonArg: TypeAlias = "FlowPerson | tuple[str, str]"
PeriodArg: TypeAlias = "Period | tuple[date, date | None]"
PayloadArg: TypeAlias = "etree._Element | bytes | str"


class FlowDateArguments(TypedDict, total=False):
    """The dates a flow may need, as keyword arguments of ``check_access`` and ``send_flow``: the fields of
    ``gateway.domain.access.RequestDates``. A period is a ``Period`` or a ``(start, end)`` pair (``end`` None:
    open-ended)."""

    consultation_period: PeriodArg | None
    effective_date: date | None
    validity_period: PeriodArg | None
    decision_period: PeriodArg | None
    delivery_year: int | None
    aid: str | None


@cache
def _schema() -> MessageSchema:
    """The packaged xsd/, compiled once a process; requests are checked before they go, answers before reading."""
    path = xsd_path(_XSD_FILE)
    return MessageSchema(path.read_bytes(), _XSD_FILE, base_url=str(path))


# -- the client -----------------------------------------------------------------------------------------


class RepertoriumClient:
    """A client of one gateway endpoint, acting as one institution. Not for sharing between threads."""

    def __init__(
        self,
        url: str,
        institution_id: str,
        secret: str,
        timeout: float = 30.0,
        *,
        plugins: Sequence[Any] = (),
        transport: Transport | None = None,
    ) -> None:
        """``plugins`` are zeep plugins (``egress`` / ``ingress`` hooks), e.g. to log or keep the envelopes;
        ``transport`` a zeep ``Transport`` to send with (by default one of ``timeout`` seconds)."""
        self.url = url
        self._own_transport = transport is None
        self._transport = transport or Transport(  # type: ignore[no-untyped-call]
            session=requests.Session(), timeout=timeout, operation_timeout=timeout
        )
        self._wsse = UsernameToken(institution_id, secret, use_digest=True)  # type: ignore[no-untyped-call]
        self._plugins = list(plugins)
        self._options = {"address": url}
        settings = Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        try:
            wsdl = Client(str(wsdl_path(_WSDL_FILE)), transport=self._transport, settings=settings)  # type: ignore[no-untyped-call]
            self._binding = wsdl.wsdl.bindings[_BINDING]
        except (OSError, KeyError, zeep_errors.Error) as exc:
            raise ClientError(f"cannot load the packaged WSDL {_WSDL_FILE}: {exc}") from exc

    def __enter__(self) -> RepertoriumClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._own_transport:
            self._transport.session.close()

    # -- operations ---------------------------------------------------------------------------------------

    def integrate(
        self, ssins: Iterable[str], code: int, start: date, end: date | None = None, reference: str | None = None
    ) -> OperationAnswer:
        """Integrate the persons in ``code`` from ``start`` (to ``end``, else for the code's maximum)."""
        return self._call(INTEGRATE, _change(ssins, code, start, end, reference))

    def desintegrate(
        self, ssins: Iterable[str], code: int, start: date, end: date | None = None, reference: str | None = None
    ) -> OperationAnswer:
        """Remove ``[start, end]`` (without ``end``: everything from ``start`` on) of the persons' integrations."""
        return self._call(DESINTEGRATE, _change(ssins, code, start, end, reference))

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
        return self._call(CONSULT, ConsultCommand(ssin, start, end, code, sector, reference))

    def check_access(
        self,
        flow: str,
        persons: Iterable[PersonArg],
        *,
        reference: str | None = None,
        **dates: Unpack[FlowDateArguments],
    ) -> AccessAnswer:
        """Whether this institution may send ``flow`` for the persons, with the dates the flow needs
        (``consultation_period``, ``effective_date``, ``validity_period``, ``decision_period``, ``delivery_year``,
        ``aid``: ``FlowDateArguments``); nothing changes."""
        return self._call(CHECK_ACCESS, _flow(flow, persons, reference, None, dates))

    def send_flow(
        self,
        flow: str,
        persons: Iterable[PersonArg],
        *,
        reference: str | None = None,
        payload: PayloadArg | None = None,
        **dates: Unpack[FlowDateArguments],
    ) -> FlowAnswer:
        """Send ``flow`` through the gateway: decided as ``check_access`` decides (with the same dates); when
        allowed, ``payload`` (an lxml element, or one element as XML bytes or text) goes to the flow's provider
        and the flow's integrations are made, both or neither."""
        return self._call(SEND_FLOW, _flow(flow, persons, reference, payload, dates))

    # -- one exchange ---------------------------------------------------------------------------------------

    def _call(self, operation: Operation[_Command, Any, _Answer], command: _Command) -> _Answer:
        envelope = etree.Element(_ENVELOPE, nsmap=_NSMAP)
        try:
            request = operation.write_request(etree.SubElement(envelope, _BODY), command)
            _schema().check_request(request)
        except SchemaViolation as exc:
            raise InvalidRequest(f"{operation.name}: {exc.message}") from exc
        except (etree.LxmlError, TypeError, ValueError) as exc:
            raise InvalidRequest(f"{operation.name}: {exc}") from exc
        headers = {"SOAPAction": f'"{operation.action}"', "Content-Type": "text/xml; charset=utf-8"}
        described = self._binding.get(operation.name)  # type: ignore[no-untyped-call]  # zeep plugins' operation
        for plugin in self._plugins:
            changed = plugin.egress(envelope, headers, described, self._options)
            if changed is not None:
                envelope, headers = changed
        envelope, headers = self._wsse.apply(envelope, headers)  # type: ignore[no-untyped-call]
        try:
            response = self._transport.post_xml(self.url, envelope, headers)  # type: ignore[no-untyped-call]
        except requests.Timeout as exc:
            raise TransportError(f"{operation.name}: no answer from {self.url} in time: {exc}") from exc
        except requests.RequestException as exc:
            raise TransportError(f"{operation.name}: cannot reach {self.url}: {exc}") from exc
        return self._answer(operation, response, described)

    def _answer(self, operation: Operation[Any, Any, _Answer], response: Any, described: Any) -> _Answer:
        status = int(response.status_code)
        source = (
            f"{operation.name}: the answer from {self.url}" if status == 200 else f"{operation.name}: HTTP {status}"
        )
        try:
            document = safexml.fromstring(response.content)
        except (etree.XMLSyntaxError, ValueError) as exc:
            raise TransportError(
                f"{source} is not XML: {exc}" if status == 200 else f"{source} from {self.url}"
            ) from exc
        if document.getroottree().docinfo.doctype:
            raise TransportError(f"{source} has a DOCTYPE, which SOAP messages must not have")
        headers = response.headers
        for plugin in self._plugins:
            changed = plugin.ingress(document, headers, described)
            if changed is not None:
                document, headers = changed
        fault = read_fault(document)
        if fault is not None:
            raise _fault_error(fault)
        body = document.find(_BODY) if document.tag == _ENVELOPE else None
        if status != 200 or body is None or len(body) != 1:
            raise TransportError(f"{source} is not a SOAP answer with one Body element")
        try:
            _schema().check_response(body[0])
            return operation.read_response(body[0])
        except InvalidResponse as exc:
            raise TransportError(f"{source}: {exc.message}") from exc
        except (SchemaViolation, ValueError, TypeError) as exc:
            raise TransportError(f"{source} cannot be read: {exc}") from exc


def _fault_error(fault: Fault) -> FaultError:
    local = fault.code.rpartition(":")[2]
    if local in _AUTHENTICATION_FAULTS:
        return AuthenticationFailed(fault.code, fault.string, fault.reason or _upper_snake(local))
    return FaultError(fault.code, fault.string, fault.reason)


def _upper_snake(name: str) -> str:
    return "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(name)).upper()


# -- arguments into commands ----------------------------------------------------------------------------


def _change(ssins: Iterable[str], code: int, start: date, end: date | None, reference: str | None) -> ChangeCommand:
    named = tuple([ssins] if isinstance(ssins, str) else ssins)
    if not named:
        raise InvalidRequest("at least one SSIN is needed")
    return ChangeCommand(DirectoryRequest(code, start, end, named), reference)


def _flow(
    flow: str, persons: Iterable[PersonArg], reference: str | None, payload: PayloadArg | None, dates: FlowDateArguments
) -> FlowCommand:
    named = tuple(_flow_person(p) for p in persons)
    if not named:
        raise InvalidRequest("at least one person is needed")
    given: dict[str, Any] = dict(dates)
    values = {d.attribute: _flow_date(d.attribute, d.kind, given.pop(d.attribute, None)) for d in REQUEST_DATES}
    if given:
        known = ", ".join(d.attribute for d in REQUEST_DATES)
        raise TypeError(f"unexpected keyword argument(s) {', '.join(sorted(given))}: a flow's dates are {known}")
    request = FlowRequest(flow=flow, persons=named, payload=None if payload is None else _payload(payload), **values)
    return FlowCommand(request, reference)


def _flow_date(name: str, kind: type, value: Any) -> Any:
    if value is None or kind is not tuple:
        return value
    if isinstance(value, Period):
        return (value.start, value.end)
    try:
        start, end = value
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"{name} must be a Period or a (start, end) pair, not {value!r}") from exc
    return (start, end)


def _flow_person(person: PersonArg) -> access.FlowPerson:
    if isinstance(person, FlowPerson):
        ssin, role = person.ssin, person.role
    else:
        try:
            ssin, role = person
        except (TypeError, ValueError) as exc:
            raise InvalidRequest(f"a person is a FlowPerson or an (ssin, role) pair, not {person!r}") from exc
    if str(role) not in ROLES:
        raise InvalidRequest(f"role {role!r} of {ssin} is not one of {', '.join(ROLES)}")
    return access.FlowPerson(ssin, Role(str(role)))


def _payload(payload: PayloadArg) -> bytes:
    """The payload as one element's XML bytes, parsed as carefully as the gateway parses requests."""
    if isinstance(payload, etree._Element):
        element = payload
    else:
        data = payload.encode("utf-8") if isinstance(payload, str) else payload
        if not isinstance(data, bytes):
            raise InvalidRequest(f"a payload is an lxml element or XML bytes or text, not {type(payload).__name__}")
        try:
            element = safexml.fromstring(data)
        except (etree.XMLSyntaxError, ValueError) as exc:
            raise InvalidRequest(f"the payload is not well-formed XML: {exc}") from exc
    serialised: bytes = etree.tostring(element, encoding="UTF-8", xml_declaration=False, with_tail=False)
    return serialised

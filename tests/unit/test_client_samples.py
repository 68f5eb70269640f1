"""The client library against every recorded answer of ``samples/``, through a transport that replays them.

``Recorded`` is a zeep ``Transport`` whose ``post_xml`` keeps what the client sent and answers with the recorded
bytes and HTTP status, as zeep's own tests do with their DummyTransport. For every sample of the manifest the
client is called with the arguments of the recorded request; it must send that request (the server's reader
reads what it sent as the recorded request's command), signed, with the operation's SOAPAction, and return the
recorded answer's values or raise the fault's error. The expected values are read from the recorded XML with
XPath, not with the contract's readers.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree
from zeep.transports import Transport

from gateway.client import (
    AccessAnswer,
    AuthenticationFailed,
    ConsultAnswer,
    FaultError,
    FlowAnswer,
    FlowDateArguments,
    InvalidRequest,
    OperationAnswer,
    RepertoriumClient,
    TransportError,
)
from gateway.contract.codec import CHECK_ACCESS, INTEGRATE, OPERATIONS, Operation
from gateway.contract.commands import ChangeCommand, ConsultCommand, FlowCommand
from gateway.contract.names import FAULT_NS, SOAP_ENV, TNS, WSSE, WSSE_PASSWORD_DIGEST
from gateway.domain.access import REQUEST_DATES
from gateway.domain.periods import Period
from gateway.errors import ClientError, GatewayError
from gateway.tools.samples import load_manifest, request_path, response_path

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
MANIFEST = load_manifest(SAMPLES)
NS = {"soap": SOAP_ENV, "rep": TNS, "gw": FAULT_NS, "wsse": WSSE}
URL = "http://gateway.invalid/soap/repertorium"


class Recorded(Transport):  # type: ignore[misc]
    """Answers every request with one recorded response; keeps each envelope sent and its HTTP headers."""

    def __init__(self, content: bytes, status: int = 200) -> None:
        super().__init__()
        self.content, self.status = content, status
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    def post_xml(self, address: str, envelope: Any, headers: dict[str, str]) -> requests.Response:
        self.sent.append((address, etree.tostring(envelope), dict(headers)))
        response = requests.Response()
        response.status_code = self.status
        response._content = self.content
        response.headers["Content-Type"] = "text/xml; charset=utf-8"
        response.url = address
        return response


def client_of(transport: Recorded) -> RepertoriumClient:
    return RepertoriumClient(URL, "0212345668", "demo-ocmw-a", transport=transport)


def call(client: RepertoriumClient, operation: Operation[Any, Any, Any], command: Any) -> Any:
    """The client's public method for ``operation``, called with the arguments that make ``command``."""
    if isinstance(command, ChangeCommand):
        method = client.integrate if operation is INTEGRATE else client.desintegrate
        r = command.request
        return method(list(r.ssins), code=r.code, start=r.start, end=r.end, reference=command.reference)
    if isinstance(command, ConsultCommand):
        return client.consult(
            command.ssin, command.start, command.end, command.code, command.sector, reference=command.reference
        )
    assert isinstance(command, FlowCommand)
    request = command.request
    persons = [(p.ssin, p.role.value) for p in request.persons]
    dates: Any = {r.attribute: getattr(request, r.attribute) for r in REQUEST_DATES}
    if operation is CHECK_ACCESS:
        return client.check_access(request.flow, persons, reference=command.reference, **dates)
    return client.send_flow(request.flow, persons, reference=command.reference, payload=request.payload, **dates)


def _body(data: bytes) -> Any:
    [element] = etree.fromstring(data).find(f"{{{SOAP_ENV}}}Body")
    return element


def _periods(parent: Any, path: str) -> tuple[Period, ...]:
    return tuple(
        Period(date.fromisoformat(p.findtext("rep:StartDate", namespaces=NS)[:10]), _end(p))
        for p in parent.xpath(path, namespaces=NS)
    )


def _end(period: Any) -> date | None:
    end = period.findtext("rep:EndDate", namespaces=NS)
    return None if end is None else date.fromisoformat(end[:10])


def expected_values(response: Any) -> dict[str, Any]:
    """What any answer must hold, read from the recorded XML with XPath."""
    x = lambda path: response.xpath(path, namespaces=NS)  # noqa: E731
    values: dict[str, Any] = {
        "ticket": x("string(rep:Ticket)"),
        "ok": x("string(rep:ResultSummary/@ok)"),
        "return_code": int(x("string(rep:ResultSummary/rep:ReturnCode)")),
        "reasons": [str(r) for r in x("rep:ResultSummary/rep:Detail/rep:ReasonCode/text()")],
        "persons": [
            (
                p.findtext("rep:SSIN", namespaces=NS),
                p.findtext("rep:Status", namespaces=NS) or p.findtext("rep:Rule", namespaces=NS),
                [str(r) for r in p.xpath("rep:Detail/rep:ReasonCode/text()", namespaces=NS)],
                _periods(p, "rep:Periods/rep:Period | rep:SatisfiedBy | rep:MissingDays"),
            )
            for p in x("rep:PersonResult | rep:PersonDecision")
        ],
        "integrations": [
            (
                i.findtext("rep:Institution/rep:Id", namespaces=NS),
                int(i.findtext("rep:QualityCode", namespaces=NS)),
                *_periods(i, "rep:Period"),
            )
            for i in x("rep:Integration")
        ],
        "made": [
            (
                i.findtext("rep:SSIN", namespaces=NS),
                int(i.findtext("rep:QualityCode", namespaces=NS)),
                *_periods(i, "rep:Period"),
            )
            for i in x("rep:IntegrationMade")
        ],
        "decision": x("string(rep:Decision)") or None,
        "provider": bool(x("rep:ProviderResponse/*")),
    }
    return values


def values_of(answer: Any) -> dict[str, Any]:
    """The same values, from the client's answer."""
    persons = getattr(answer, "persons", ())
    return {
        "ticket": answer.ticket,
        "ok": answer.ok,
        "return_code": answer.return_code,
        "reasons": [d.reason for d in answer.details],
        "persons": [
            (
                p.ssin,
                p.status if isinstance(answer, OperationAnswer) else p.rule,
                [d.reason for d in p.details],
                (p.periods or ()) if isinstance(answer, OperationAnswer) else p.satisfied_by + p.missing_days,
            )
            for p in persons
        ],
        "integrations": [(i.institution.id, i.code, i.period) for i in getattr(answer, "integrations", ())],
        "made": [(i.ssin, i.code, i.period) for i in getattr(answer, "integrations_made", ())],
        "decision": getattr(answer, "decision", None),
        "provider": getattr(answer, "provider_response", None) is not None,
    }


ANSWER_TYPES = {"Integrate": OperationAnswer, "Desintegrate": OperationAnswer, "Consult": ConsultAnswer}
ANSWER_TYPES |= {"CheckAccess": AccessAnswer, "SendFlow": FlowAnswer}


@pytest.mark.parametrize("name", [s.name for s in MANIFEST.samples if s.http_status == 200])
def test_the_client_sends_the_recorded_request_and_returns_the_recorded_answers_values(name: str) -> None:
    recorded = _body(request_path(SAMPLES, name).read_bytes())
    operation = OPERATIONS[etree.QName(recorded).localname.removesuffix("Request")]
    command = operation.read_request(recorded)
    transport = Recorded(response_path(SAMPLES, name).read_bytes())
    with client_of(transport) as client:
        answer = call(client, operation, command)

    [(address, sent, headers)] = transport.sent
    assert (address, headers["SOAPAction"]) == (URL, f'"{TNS}/{operation.name}"')
    assert operation.read_request(_body(sent)) == command, "the server reads what the client sent as recorded"
    envelope = etree.fromstring(sent)
    password = envelope.find(".//wsse:UsernameToken/wsse:Password", namespaces=NS)
    assert password is not None and password.get("Type") == WSSE_PASSWORD_DIGEST

    assert type(answer) is ANSWER_TYPES[operation.name]
    assert values_of(answer) == expected_values(_body(response_path(SAMPLES, name).read_bytes()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        answer.ticket = "changed"


# Each recorded fault: the error the client raises, with the fault code as sent and the gateway's reason.
FAULTS = {
    "fault-broken-xml": (FaultError, "soap:Client", "MALFORMED_MESSAGE"),
    "fault-schema-violation": (FaultError, "soap:Client", "SCHEMA_VIOLATION"),
    "fault-wrong-secret": (AuthenticationFailed, "wsse:FailedAuthentication", "FAILED_AUTHENTICATION"),
    "fault-unknown-institution": (AuthenticationFailed, "wsse:FailedAuthentication", "FAILED_AUTHENTICATION"),
    "fault-password-text-refused": (AuthenticationFailed, "wsse:FailedAuthentication", "PASSWORD_TEXT_REFUSED"),
    "fault-no-security-header": (AuthenticationFailed, "wsse:InvalidSecurity", "INVALID_SECURITY"),
    "fault-digest-without-nonce": (AuthenticationFailed, "wsse:InvalidSecurity", "USERNAME_TOKEN_INCOMPLETE"),
    "fault-nonce-encoding-unsupported": (AuthenticationFailed, "wsse:InvalidSecurity", "UNSUPPORTED_ENCODING"),
    "fault-wrong-soapaction": (FaultError, "soap:Client", "SOAPACTION_MISMATCH"),
    "fault-unknown-operation": (FaultError, "soap:Client", "UNKNOWN_OPERATION"),
    "fault-doctype": (FaultError, "soap:Client", "DOCTYPE_FORBIDDEN"),
    "fault-wrong-content-type": (FaultError, "soap:Client", "UNSUPPORTED_MEDIA_TYPE"),
}


def test_every_recorded_fault_of_the_manifest_has_its_expected_error() -> None:
    assert set(FAULTS) == {s.name for s in MANIFEST.samples if s.http_status != 200}


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_a_recorded_fault_raises_its_error_with_the_fault_code_and_the_gateways_reason(name: str) -> None:
    kind, faultcode, reason = FAULTS[name]
    [sample] = [s for s in MANIFEST.samples if s.name == name]
    recorded = response_path(SAMPLES, name).read_bytes()
    with client_of(Recorded(recorded, sample.http_status or 500)) as client, pytest.raises(FaultError) as caught:
        client.consult("85073003328", date(2015, 1, 1))
    error = caught.value
    assert type(error) is kind
    assert (error.faultcode, error.reason) == (faultcode, reason)
    assert error.faultstring == etree.fromstring(recorded).findtext(".//faultstring")
    assert isinstance(error, ClientError) and isinstance(error, GatewayError)


# -- what is not a SOAP answer ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "status", "says"),
    [
        (b"<html><body>Not Found</body></html>", 404, "HTTP 404"),
        (b"Service Unavailable", 503, "HTTP 503"),
        (b"<not-closed>", 200, "not XML"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>', 200, "DOCTYPE"),
    ],
)
def test_an_answer_that_is_no_soap_answer_is_a_transport_error(content: bytes, status: int, says: str) -> None:
    with client_of(Recorded(content, status)) as client, pytest.raises(TransportError) as caught:
        client.consult("85073003328", date(2015, 1, 1))
    assert says in str(caught.value)


def test_an_answer_to_another_operation_or_against_the_schema_is_a_transport_error() -> None:
    integrated = response_path(SAMPLES, "integrate-open-end").read_bytes()
    with client_of(Recorded(integrated)) as client, pytest.raises(TransportError, match="IntegrateResponse"):
        client.consult("85073003328", date(2015, 1, 1))
    broken = integrated.replace(b"<rep:Status>INTEGRATED</rep:Status>", b"<rep:Status>MAYBE</rep:Status>")
    assert broken != integrated
    with client_of(Recorded(broken)) as client, pytest.raises(TransportError, match="does not validate"):
        client.integrate(["85073003328"], code=1, start=date(2014, 12, 1))


def test_arguments_the_schema_refuses_are_an_invalid_request_and_nothing_is_sent() -> None:
    transport = Recorded(b"")
    with client_of(transport) as client:
        with pytest.raises(InvalidRequest, match="SSIN"):
            client.consult("8507300332", date(2015, 1, 1))
        with pytest.raises(InvalidRequest, match="Aid"):
            client.check_access("attestation.multifunctional", [("85073003328", "SUBJECT")], aid="PENSION")
        with pytest.raises(InvalidRequest, match="validity_period"):
            client.check_access("x", [("85073003328", "SUBJECT")], validity_period=date(2015, 1, 1))  # type: ignore[typeddict-item]
        with pytest.raises(TypeError, match="effective_day"):
            client.check_access("x", [("85073003328", "SUBJECT")], effective_day=date(2015, 1, 1))  # type: ignore[call-arg]
    assert transport.sent == []


def test_a_reversed_consultation_window_is_sent_for_the_gateway_to_refuse() -> None:
    transport = Recorded(response_path(SAMPLES, "fault-schema-violation").read_bytes(), 500)
    with client_of(transport) as client, pytest.raises(FaultError):
        client.consult("85073003328", date(2015, 1, 10), date(2015, 1, 1))
    [(_, sent, _)] = transport.sent
    assert _body(sent).xpath("string(rep:Period/rep:EndDate)", namespaces=NS) == "2015-01-01"


def test_a_plugin_sees_each_envelope_both_ways() -> None:
    seen: list[tuple[str, str]] = []

    class Keep:
        def egress(self, envelope: Any, headers: Any, operation: Any, options: Any) -> Any:
            seen.append(("out", etree.QName(envelope[-1][0]).localname))
            assert (operation.name, options["address"]) == ("Integrate", URL)
            return envelope, headers

        def ingress(self, envelope: Any, headers: Any, operation: Any) -> None:
            seen.append(("in", etree.QName(envelope[-1][0]).localname))

    transport = Recorded(response_path(SAMPLES, "integrate-open-end").read_bytes())
    with RepertoriumClient(URL, "0212345668", "demo-ocmw-a", transport=transport, plugins=[Keep()]) as client:
        client.integrate(["85073003328"], code=1, start=date(2014, 12, 1))
    assert seen == [("out", "IntegrateRequest"), ("in", "IntegrateResponse")]


def test_the_flow_date_arguments_are_the_request_dates_of_the_domain() -> None:
    assert list(FlowDateArguments.__annotations__) == [r.attribute for r in REQUEST_DATES]

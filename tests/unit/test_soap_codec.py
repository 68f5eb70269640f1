"""The contract's messages: one writer and one reader per message, agreeing with each other, xsd/ and the samples.

The server writes answers and reads requests, the client writes requests and reads answers, with the same
``gateway.contract.codec.Operation``. These tests hold the pairs together: every written message validates
against xsd/; a request read back is the command written; an answer read back holds what the result put on the
wire; every recorded answer of ``samples/`` reads into values the server's writer writes back as recorded; and
the spyne application dispatches exactly the WSDL's operations, declaring no message type of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from spyne import AnyXml
from spyne.const.xml import DEFAULT_NS

from gateway.adapters.soap.application import build_application
from gateway.contract.answers import (
    AccessAnswer,
    ConsultAnswer,
    FlowAnswer,
    OperationAnswer,
    PersonResult,
    read_fault,
)
from gateway.contract.answers import Integration as FoundIntegration
from gateway.contract.answers import IntegrationMade as MadeIntegration
from gateway.contract.codec import CHECK_ACCESS, CONSULT, DESINTEGRATE, INTEGRATE, OPERATIONS, SEND_FLOW, Operation
from gateway.contract.commands import ChangeCommand, ConsultCommand, FlowCommand, read_change, read_consult, read_flow
from gateway.contract.names import SOAP_ENV, TNS
from gateway.contract.resources import wsdl_path, xsd_path
from gateway.domain.access import REQUEST_DATES, FlowPerson, FlowRequest, PersonDecision, PlannedIntegration, Role
from gateway.domain.directory import (
    RETURN_CODES,
    Detail,
    DirectoryRequest,
    Institution,
    Integration,
    Ok,
    PersonOutcome,
    Severity,
    Status,
    Summary,
)
from gateway.domain.periods import Period
from gateway.domain.results import ConsultResult, FlowResult, OperationResult
from gateway.errors import InvalidPeriod, SchemaViolation
from gateway.tools.samples import canonical, load_manifest, normalised, request_path, response_path

XS = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
BODY = f"{{{SOAP_ENV}}}Body"


def d(text: str) -> date:
    return date.fromisoformat(text)


@pytest.fixture(scope="module")
def schema() -> Any:
    return etree.XMLSchema(etree.parse(str(xsd_path("repertorium-v1.xsd"))))


def c14n(element: Any) -> str:
    """An element's canonical form without layout (whitespace-only text), as the sample replay compares."""
    return canonical(normalised(etree.tostring(element)))


def on_the_wire(element: Any) -> Any:
    """The element as the other side parses it: serialised and parsed again."""
    return etree.fromstring(etree.tostring(element))


# -- what an answer must say: the result as the wire shows it (written here independently of the codec) ------


def answer_of_operation(result: OperationResult) -> OperationAnswer:
    persons = tuple(PersonResult(p.ssin, p.status, p.details, p.periods) for p in result.persons)
    return OperationAnswer(result.ticket, result.summary.ok, result.summary.return_code, result.details, persons)


def answer_of_consult(result: ConsultResult) -> ConsultAnswer:
    found = tuple(FoundIntegration(i.institution, i.code, i.period) for i in result.integrations)
    return ConsultAnswer(result.ticket, result.summary.ok, result.summary.return_code, result.details, found)


def answer_of_access(result: FlowResult) -> AccessAnswer:
    decision = "ALLOWED" if result.allowed else "REFUSED"
    summary = result.summary
    return AccessAnswer(result.ticket, summary.ok, summary.return_code, result.details, decision, result.persons)


def answer_of_flow(result: FlowResult) -> FlowAnswer:
    made = tuple(MadeIntegration(i.ssin, i.code, i.period) for i in result.integrations_made)
    head = answer_of_access(result)
    return FlowAnswer(
        head.ticket,
        head.ok,
        head.return_code,
        head.details,
        head.decision,
        head.persons,
        made,
        result.provider_response,
    )


INFO = Detail(Severity.INFORMATION, "ALREADY_INTEGRATED", "Already there.", (("SSIN", "85073003328"),))
MAXIMUM = Detail(Severity.ERROR, "PERIOD_EXCEEDS_MAXIMUM", "Too long & <late>.", (("MaximumEndDate", "2015-01-31"),))
INVALID = Detail(Severity.ERROR, "INVALID_SSIN", "SSIN 85073003329 has wrong check digits 29.")
REUSED = Detail(Severity.ERROR, "REFERENCE_REUSED", "Reference 'x' was already used.", (("Reference", "x"),))

OPERATIONS_ANSWERED = [
    OperationResult(
        "KSZGW-1",
        Summary(Ok.WARNING, 1),
        (
            PersonOutcome(
                "85073003328", Status.ALREADY_INTEGRATED, (INFO,), (Period(d("2014-12-01"), d("2015-01-31")),)
            ),
            PersonOutcome("85073003329", Status.REFUSED, (INVALID,), None),
            PersonOutcome("85073003410", Status.REFUSED, (MAXIMUM,), ()),
            PersonOutcome(
                "85073003511",
                Status.INTEGRATED,
                (),
                (Period(d("2014-01-01"), d("2014-03-31")), Period(d("2015-01-01"), None)),
                changed=True,
            ),
        ),
    ),
    OperationResult(
        "KSZGW-2", Summary(Ok.NO, 10000), (PersonOutcome("85073003328", Status.REFUSED, (REUSED,), ()),), (REUSED,)
    ),
]
AS_DESINTEGRATION = {
    Status.INTEGRATED: Status.DESINTEGRATED,
    Status.ALREADY_INTEGRATED: Status.NOTHING_TO_REMOVE,
    Status.REFUSED: Status.REFUSED,
}
DESINTEGRATIONS = [
    dataclasses.replace(r, persons=tuple(dataclasses.replace(p, status=AS_DESINTEGRATION[p.status]) for p in r.persons))
    for r in OPERATIONS_ANSWERED
]
CONSULTS = [
    ConsultResult("KSZGW-3", Summary(Ok.YES, 0), ()),
    ConsultResult(
        "KSZGW-4",
        Summary(Ok.YES, 0),
        (
            Integration(
                Institution("0212345668", "OCMW Demostad", 17),
                "85073003328",
                1,
                Period(d("2014-12-01"), d("2015-01-31")),
            ),
            Integration(
                Institution("0212345866", "Kinderbijslagfonds Demo", 7), "85073003328", 1, Period(d("2015-01-02"))
            ),
        ),
    ),
    ConsultResult("KSZGW-5", Summary(Ok.NO, 10000), (), (INVALID,)),
]
NOT_ON_DAY = Detail(
    Severity.ERROR,
    "NOT_INTEGRATED_ON_DAY",
    "SSIN 85073003329 is not integrated on its EffectiveDate (2015-02-05).",
    (("SSIN", "85073003329"), ("QualityCode", "01"), ("Rule", "R5.3")),
)
DENIED = Detail(Severity.ERROR, "ACCESS_DENIED", "Flow form.living-wage is refused.", (("Flow", "form.living-wage"),))
UNKNOWN_FLOW = Detail(Severity.ERROR, "UNKNOWN_FLOW", "Flow 'x' is not in the catalogue.", (("Flow", "x"),))
UNAVAILABLE = Detail(Severity.ERROR, "PROVIDER_UNAVAILABLE", "The provider could not be reached.", (("Flow", "f"),))
MAIN_OK = PersonDecision(
    "85073003328", Role.MAIN, True, "R5.3", (), (Period(d("2015-01-05"), d("2015-02-04")), Period(d("2015-03-01")))
)
PARTNER_MISSING = PersonDecision(
    "85073003329",
    Role.PARTNER,
    False,
    "R5.3",
    (NOT_ON_DAY,),
    (),
    (Period(d("2015-01-10"), d("2015-01-10")), Period(d("2015-02-05"), d("2015-02-05"))),
)
ACK = (
    b'<prov:Acknowledgement xmlns:prov="urn:example:provider">'
    b"<prov:Accepted>true</prov:Accepted></prov:Acknowledgement>"
)
FLOWS = [
    FlowResult("KSZGW-6", Summary(Ok.YES, 0), True, (MAIN_OK,)),
    FlowResult("KSZGW-7", Summary(Ok.NO, 10000), False, (MAIN_OK, PARTNER_MISSING), (DENIED,)),
    FlowResult("KSZGW-8", Summary(Ok.NO, 10000), False, (), (UNKNOWN_FLOW,)),
]
SENT_FLOWS = [
    *FLOWS,
    FlowResult(
        "KSZGW-9",
        Summary(Ok.YES, 0),
        True,
        (dataclasses.replace(MAIN_OK, rule="R5.4"),),
        (),
        (
            PlannedIntegration("85073003328", 2, Period(d("2015-01-01"), d("2015-12-31")), "R6.1"),
            PlannedIntegration("85073003329", 2, Period(d("2015-01-01"), d("2015-12-31")), "R6.1"),
        ),
        ACK,
    ),
    FlowResult("KSZGW-10", Summary(Ok.NO, 10000), False, (MAIN_OK,), (UNAVAILABLE,)),
]

EXAMPLES: list[tuple[Operation[Any, Any, Any], Any, Callable[[Any], Any]]] = [
    *((INTEGRATE, r, answer_of_operation) for r in OPERATIONS_ANSWERED),
    *((DESINTEGRATE, r, answer_of_operation) for r in DESINTEGRATIONS),
    *((CONSULT, r, answer_of_consult) for r in CONSULTS),
    *((CHECK_ACCESS, r, answer_of_access) for r in FLOWS),
    *((SEND_FLOW, r, answer_of_flow) for r in SENT_FLOWS),
]


@pytest.mark.parametrize(("operation", "result", "expected"), EXAMPLES, ids=lambda v: getattr(v, "name", None))
def test_an_answer_written_by_the_server_validates_and_reads_back_as_the_wire_shows_the_result(
    operation: Operation[Any, Any, Any], result: Any, expected: Callable[[Any], Any], schema: Any
) -> None:
    written = operation.write_response(etree.Element("parent"), result)
    assert written.tag == f"{{{TNS}}}{operation.response}"
    assert schema.validate(written), schema.error_log
    assert operation.read_response(on_the_wire(written)) == expected(result)


def test_a_send_flow_response_lists_the_contracts_children_in_order() -> None:
    written = SEND_FLOW.write_response(etree.Element("parent"), SENT_FLOWS[3])
    assert [etree.QName(c).localname for c in written] == [
        "ResultSummary",
        "Ticket",
        "Decision",
        "PersonDecision",
        "IntegrationMade",
        "IntegrationMade",
        "ProviderResponse",
    ]
    [answer] = written.find(f"{{{TNS}}}ProviderResponse")
    assert c14n(answer) == c14n(etree.fromstring(ACK))
    person = written.find(f"{{{TNS}}}PersonDecision")
    assert [etree.QName(c).localname for c in person] == [
        "SSIN",
        "Role",
        "Allowed",
        "Rule",
        "SatisfiedBy",
        "SatisfiedBy",
    ]


def test_an_answer_of_another_operation_is_not_read_as_this_ones() -> None:
    written = INTEGRATE.write_response(etree.Element("parent"), OPERATIONS_ANSWERED[0])
    with pytest.raises(ValueError, match="IntegrateResponse"):
        DESINTEGRATE.read_response(written)


def test_the_server_side_bookkeeping_never_reaches_the_wire() -> None:
    """Whether storage wrote a person, the SSIN consulted and an effect's rule are not in the answers."""
    written = etree.tostring(INTEGRATE.write_response(etree.Element("p"), OPERATIONS_ANSWERED[0]))
    assert b"changed" not in written.lower()
    answer = SEND_FLOW.read_response(SEND_FLOW.write_response(etree.Element("p"), SENT_FLOWS[3]))
    assert not hasattr(answer.integrations_made[0], "rule")


# -- the recorded answers ----------------------------------------------------------------------------------


def _recorded(name: str) -> Any:
    return etree.parse(str(response_path(SAMPLES, name))).getroot()


def _result_of(answer: Any) -> Any:
    """The result the server's writer takes, rebuilt from an answer (with the server-only values left empty)."""
    summary = Summary(answer.ok, answer.return_code)
    if isinstance(answer, OperationAnswer):
        outcomes = tuple(PersonOutcome(p.ssin, p.status, p.details, p.periods) for p in answer.persons)
        return OperationResult(answer.ticket, summary, outcomes, answer.details)
    if isinstance(answer, ConsultAnswer):
        found = tuple(Integration(i.institution, "", i.code, i.period) for i in answer.integrations)
        return ConsultResult(answer.ticket, summary, found, answer.details)
    made = tuple(PlannedIntegration(i.ssin, i.code, i.period, "") for i in getattr(answer, "integrations_made", ()))
    provider = getattr(answer, "provider_response", None)
    return FlowResult(answer.ticket, summary, answer.allowed, answer.persons, answer.details, made, provider)


ANSWERED = [s.name for s in load_manifest(SAMPLES).samples if s.http_status == 200]
FAULTED = [s.name for s in load_manifest(SAMPLES).samples if s.http_status != 200]


@pytest.mark.parametrize("name", ANSWERED)
def test_every_recorded_answer_reads_into_values_the_server_writes_back_as_recorded(name: str) -> None:
    [response] = _recorded(name).find(BODY)
    operation = OPERATIONS[etree.QName(response).localname.removesuffix("Response")]
    answer = operation.read_response(response)
    assert c14n(operation.write_response(etree.Element("p"), _result_of(answer))) == c14n(response)


@pytest.mark.parametrize("name", ANSWERED)
def test_every_recorded_request_reads_into_a_command_written_back_to_the_same_command(name: str, schema: Any) -> None:
    [request] = etree.parse(str(request_path(SAMPLES, name))).getroot().find(BODY)
    operation = OPERATIONS[etree.QName(request).localname.removesuffix("Request")]
    command = operation.read_request(request)
    written = operation.write_request(etree.Element("p"), command)
    assert schema.validate(written), schema.error_log
    assert operation.read_request(on_the_wire(written)) == command


@pytest.mark.parametrize("name", FAULTED)
def test_every_recorded_fault_reads_with_its_code_and_the_gateways_reason(name: str) -> None:
    root = _recorded(name)
    fault = read_fault(root)
    assert fault is not None
    assert fault.code == root.findtext(f"{BODY}/{{{SOAP_ENV}}}Fault/faultcode").strip()
    assert fault.reason == root.findtext(".//{urn:ksz-gateway:fault:v1}ReasonCode")
    assert fault.reason and fault.string


def test_an_answer_is_not_a_fault() -> None:
    assert read_fault(_recorded(ANSWERED[0])) is None


# -- properties: any result, any command ------------------------------------------------------------------

days = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
ssins = st.from_regex(r"[0-9]{11}", fullmatch=True)
tokens = st.from_regex(r"[A-Z0-9_]{1,20}", fullmatch=True)
names = st.from_regex(r"[A-Za-z0-9.\-]{1,20}", fullmatch=True)
# Any text XML can carry (no control characters, surrogates or noncharacters), whitespace at either end too.
texts = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Cn")) | st.sampled_from(" \n\t"), max_size=30
)
codes = st.integers(-(2**31), 2**31 - 1)


@st.composite
def periods(draw: st.DrawFn) -> Period:
    start = draw(days)
    end = draw(st.none() | st.dates(min_value=start, max_value=date(9999, 12, 31)))
    return Period(start, end)


@st.composite
def raw_periods(draw: st.DrawFn) -> tuple[date, date | None]:
    return (draw(days), draw(st.none() | days))  # reversed ones too: the decision refuses them


details = st.builds(
    Detail, st.sampled_from(Severity), tokens, texts, st.lists(st.tuples(texts, texts), max_size=2).map(tuple)
)
many_details = st.lists(details, max_size=2).map(tuple)
many_periods = st.lists(periods(), max_size=3).map(tuple)
summaries = st.sampled_from(Ok).map(lambda ok: Summary(ok, RETURN_CODES[ok]))
institutions = st.builds(Institution, st.from_regex(r"[0-9]{10}", fullmatch=True), texts, codes)
operation_results = st.builds(
    OperationResult,
    names,
    summaries,
    st.lists(
        st.builds(PersonOutcome, ssins, st.sampled_from(Status), many_details, st.none() | many_periods, st.booleans()),
        max_size=3,
    ).map(tuple),
    many_details,
)
consult_results = st.builds(
    ConsultResult,
    names,
    summaries,
    st.lists(st.builds(Integration, institutions, ssins, codes, periods()), max_size=3).map(tuple),
    many_details,
)
decisions = st.builds(
    PersonDecision, ssins, st.sampled_from(Role), st.booleans(), names, many_details, many_periods, many_periods
)
provider_answers = st.none() | st.builds(  # as a provider's answer is kept: one element, serialised by lxml
    lambda local, value: etree.tostring(
        etree.fromstring(f'<p:{local} xmlns:p="urn:example:provider">{value}</p:{local}>')
    ),
    st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,10}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9 ]{0,10}", fullmatch=True),
)
flow_results = st.builds(
    FlowResult,
    names,
    summaries,
    st.booleans(),
    st.lists(decisions, max_size=3).map(tuple),
    many_details,
    st.lists(st.builds(PlannedIntegration, ssins, codes, periods(), names), max_size=2).map(tuple),
    provider_answers,
)


@given(operation_results)
def test_any_operation_result_reads_back_as_the_wire_shows_it(result: OperationResult) -> None:
    wanted = {Status.INTEGRATED, Status.ALREADY_INTEGRATED, Status.REFUSED}  # schema: IntegrateStatusType
    operation = INTEGRATE if all(p.status in wanted for p in result.persons) else DESINTEGRATE
    written = on_the_wire(operation.write_response(etree.Element("p"), result))
    assert operation.read_response(written) == answer_of_operation(result)


@given(consult_results)
def test_any_consult_result_reads_back_as_the_wire_shows_it(result: ConsultResult) -> None:
    written = on_the_wire(CONSULT.write_response(etree.Element("p"), result))
    assert CONSULT.read_response(written) == answer_of_consult(result)


@given(flow_results)
def test_any_flow_result_reads_back_as_the_wire_shows_it(result: FlowResult) -> None:
    assert CHECK_ACCESS.read_response(
        on_the_wire(CHECK_ACCESS.write_response(etree.Element("p"), result))
    ) == answer_of_access(result)
    assert SEND_FLOW.read_response(on_the_wire(SEND_FLOW.write_response(etree.Element("p"), result))) == answer_of_flow(
        result
    )


references = st.none() | names
change_commands = st.builds(
    ChangeCommand,
    st.builds(DirectoryRequest, codes, days, st.none() | days, st.lists(ssins, min_size=1, max_size=3).map(tuple)),
    references,
)
consult_commands = periods().flatmap(
    lambda window: st.builds(
        ConsultCommand,
        ssins,
        st.just(window.start),
        st.just(window.end),
        st.none() | codes,
        st.none() | codes,
        references,
    )
)
payloads = st.none() | st.lists(
    st.sampled_from([b'<f:FormB xmlns:f="urn:example:forms"><f:Case>42</f:Case></f:FormB>', b"<Note>two</Note>"]),
    min_size=1,
    max_size=2,
).map(b"".join)
# One strategy per kind of request date, so that every field of RequestDates is drawn, whatever they are.
DATE_VALUES: dict[type, st.SearchStrategy[Any]] = {
    tuple: raw_periods(),
    date: days,
    int: st.integers(1, 9999),
    str: st.sampled_from(["LIVING_WAGE", "EMPLOYMENT_ART60"]),
}
flow_commands = st.builds(
    lambda flow, persons, payload, dates, reference: FlowCommand(
        FlowRequest(flow=flow, persons=persons, payload=payload, **dates), reference
    ),
    names,
    st.lists(st.builds(FlowPerson, ssins, st.sampled_from(Role)), min_size=1, max_size=3).map(tuple),
    payloads,
    st.fixed_dictionaries({}, optional={r.attribute: DATE_VALUES[r.kind] for r in REQUEST_DATES}),
    references,
)


@given(change_commands)
def test_any_change_command_travels_unchanged(command: ChangeCommand) -> None:
    for operation in (INTEGRATE, DESINTEGRATE):
        written = operation.write_request(etree.Element("p"), command)
        assert operation.read_request(on_the_wire(written)) == command


@given(consult_commands)
def test_any_consult_command_travels_unchanged(command: ConsultCommand) -> None:
    assert CONSULT.read_request(on_the_wire(CONSULT.write_request(etree.Element("p"), command))) == command


@given(flow_commands)
def test_any_flow_command_travels_unchanged(command: FlowCommand) -> None:
    assert SEND_FLOW.read_request(on_the_wire(SEND_FLOW.write_request(etree.Element("p"), command))) == command
    without = FlowCommand(dataclasses.replace(command.request, payload=None), command.reference)
    assert CHECK_ACCESS.read_request(on_the_wire(CHECK_ACCESS.write_request(etree.Element("p"), without))) == without


def test_written_requests_validate_against_the_schema(schema: Any) -> None:
    flow = FlowRequest(
        flow="form.wet65.B",
        persons=(FlowPerson("85073003328", Role.MAIN),),
        payload=b'<f:FormB xmlns:f="urn:example:forms"/>',
        consultation_period=(d("2015-01-01"), None),
        effective_date=d("2015-01-05"),
        validity_period=(d("2015-02-01"), d("2015-03-01")),
        decision_period=(d("2015-06-30"), d("2015-01-01")),
        delivery_year=2014,
        aid="LIVING_WAGE",
    )
    for operation, command in [
        (INTEGRATE, ChangeCommand(DirectoryRequest(1, d("2015-01-01"), None, ("85073003328",)), "R-1")),
        (CONSULT, ConsultCommand("85073003328", d("2015-01-01"), d("2015-02-01"), 1, 17, "R-2")),
        (SEND_FLOW, FlowCommand(flow, "R-3")),
        (CHECK_ACCESS, FlowCommand(dataclasses.replace(flow, payload=None))),
    ]:
        written = operation.write_request(etree.Element("p"), command)
        assert schema.validate(written), (operation.name, schema.error_log)
    dated = [etree.QName(c).localname for c in SEND_FLOW.write_request(etree.Element("p"), FlowCommand(flow))]
    assert dated == ["Flow", "Person", *(r.name for r in REQUEST_DATES), "Payload"]


# -- reading validated requests ------------------------------------------------------------------------


def _element(xml: str) -> Any:
    return etree.fromstring(f'<rep:X xmlns:rep="{TNS}">{xml}</rep:X>')[0]


def test_a_change_request_is_read_in_person_order_with_its_reference() -> None:
    command = read_change(
        _element(
            "<rep:IntegrateRequest><rep:Reference>R-1</rep:Reference><rep:QualityCode> 2 </rep:QualityCode>"
            "<rep:Period><rep:StartDate>2015-01-05+02:00</rep:StartDate><rep:EndDate>2015-02-01Z</rep:EndDate>"
            "</rep:Period><rep:Person><rep:SSIN>85073003328</rep:SSIN></rep:Person>"
            "<rep:Person><rep:SSIN>85073003329</rep:SSIN></rep:Person></rep:IntegrateRequest>"
        )
    )
    assert command.reference == "R-1"
    assert (command.request.code, command.request.start, command.request.end) == (2, d("2015-01-05"), d("2015-02-01"))
    assert command.request.ssins == ("85073003328", "85073003329")


def test_a_consult_request_is_read_with_its_filters() -> None:
    command = read_consult(
        _element(
            "<rep:ConsultRequest><rep:SSIN>85073003328</rep:SSIN><rep:Period><rep:StartDate>2015-01-01</rep:StartDate>"
            "</rep:Period><rep:QualityCode>1</rep:QualityCode><rep:Sector>17</rep:Sector></rep:ConsultRequest>"
        )
    )
    assert (command.ssin, command.window, command.code, command.sector, command.reference) == (
        "85073003328",
        Period(d("2015-01-01")),
        1,
        17,
        None,
    )


def test_a_consultation_period_that_ends_before_it_starts_is_the_callers_error() -> None:
    with pytest.raises(InvalidPeriod) as caught:
        read_consult(
            _element(
                "<rep:ConsultRequest><rep:SSIN>85073003328</rep:SSIN><rep:Period><rep:StartDate>2015-01-02"
                "</rep:StartDate><rep:EndDate>2015-01-01</rep:EndDate></rep:Period></rep:ConsultRequest>"
            )
        )
    assert caught.value.code == "END_BEFORE_START"


FLOW_REQUEST = f"""<rep:CheckAccessRequest xmlns:rep="{TNS}"><rep:Reference>F-1</rep:Reference>
<rep:Flow>form.wet65.B</rep:Flow>
<rep:Person><rep:SSIN>85073003328</rep:SSIN><rep:Role>MAIN</rep:Role></rep:Person>
<rep:Person><rep:SSIN>85073003329</rep:SSIN><rep:Role>ADDITIONAL</rep:Role></rep:Person>
<rep:ConsultationPeriod><rep:StartDate>2015-01-01</rep:StartDate></rep:ConsultationPeriod>
<rep:EffectiveDate>2015-01-05+02:00</rep:EffectiveDate>
<rep:ValidityPeriod><rep:StartDate>2015-02-01</rep:StartDate><rep:EndDate>2015-03-01</rep:EndDate></rep:ValidityPeriod>
<rep:DecisionPeriod><rep:StartDate>2015-06-30</rep:StartDate><rep:EndDate>2015-01-01</rep:EndDate></rep:DecisionPeriod>
<rep:DeliveryYear>2014</rep:DeliveryYear><rep:Aid>EMPLOYMENT_ART60</rep:Aid></rep:CheckAccessRequest>"""


def test_a_flow_request_is_read_with_its_persons_roles_and_dates() -> None:
    command = read_flow(etree.fromstring(FLOW_REQUEST))
    request = command.request
    assert command.reference == "F-1"
    assert request.flow == "form.wet65.B"
    assert request.persons == (FlowPerson("85073003328", Role.MAIN), FlowPerson("85073003329", Role.ADDITIONAL))
    assert request.consultation_period == (d("2015-01-01"), None)
    assert request.effective_date == d("2015-01-05")
    assert request.validity_period == (d("2015-02-01"), d("2015-03-01"))
    assert request.decision_period == (d("2015-06-30"), d("2015-01-01")), "a reversed period is left to the domain"
    assert (request.delivery_year, request.aid, request.payload) == (2014, "EMPLOYMENT_ART60", None)


def test_a_flow_request_without_optional_dates_reads_them_as_absent() -> None:
    command = read_flow(
        _element(
            "<rep:CheckAccessRequest><rep:Flow>consult.generic</rep:Flow><rep:Person><rep:SSIN>85073003328</rep:SSIN>"
            "<rep:Role>SUBJECT</rep:Role></rep:Person></rep:CheckAccessRequest>"
        )
    )
    request = command.request
    assert command.reference is None
    assert all(getattr(request, r.attribute) is None for r in REQUEST_DATES)
    assert request.payload is None


def test_the_payload_is_its_children_without_the_envelopes_namespaces() -> None:
    envelope = etree.fromstring(
        f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:rep="{TNS}"><soap:Body>'
        "<rep:SendFlowRequest><rep:Flow>form.wet65.B</rep:Flow><rep:Person><rep:SSIN>85073003328</rep:SSIN>"
        '<rep:Role>MAIN</rep:Role></rep:Person><rep:Payload>\n  <f:FormB xmlns:f="urn:example:forms"><f:Case>42'
        "</f:Case></f:FormB>\n  <rep:Note>two</rep:Note>\n</rep:Payload></rep:SendFlowRequest></soap:Body>"
        "</soap:Envelope>"
    )
    command = read_flow(envelope[0][0])
    assert command.request.payload == (
        b'<f:FormB xmlns:f="urn:example:forms"><f:Case>42</f:Case></f:FormB>'
        + f'<rep:Note xmlns:rep="{TNS}">two</rep:Note>'.encode()
    )


def test_the_payloads_own_namespace_declarations_stay_even_when_only_values_use_them() -> None:
    command = read_flow(
        _element(
            "<rep:SendFlowRequest><rep:Flow>form.wet65.B</rep:Flow><rep:Person><rep:SSIN>85073003328</rep:SSIN>"
            '<rep:Role>MAIN</rep:Role></rep:Person><rep:Payload><f:FormB xmlns:f="urn:example:forms" '
            'xmlns:t="urn:example:types" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            '<f:Case xsi:type="t:CaseNumber">42</f:Case></f:FormB></rep:Payload></rep:SendFlowRequest>'
        )
    )
    payload = etree.fromstring(command.request.payload or b"")
    assert payload.nsmap == {
        "f": "urn:example:forms",
        "t": "urn:example:types",
        "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    }
    assert TNS not in payload.nsmap.values()


def test_an_empty_payload_carries_no_message() -> None:
    command = read_flow(
        _element(
            "<rep:SendFlowRequest><rep:Flow>request.new</rep:Flow><rep:Person><rep:SSIN>85073003328</rep:SSIN>"
            "<rep:Role>MAIN</rep:Role></rep:Person><rep:Payload/></rep:SendFlowRequest>"
        )
    )
    assert command.request.payload is None


@pytest.mark.parametrize("day", ["-0001-01-01", "10000-01-01"])
def test_a_schema_valid_date_outside_the_years_python_knows_is_a_schema_violation(day: str) -> None:
    with pytest.raises(SchemaViolation):
        read_consult(
            _element(
                f"<rep:ConsultRequest><rep:SSIN>85073003328</rep:SSIN><rep:Period><rep:StartDate>{day}"
                "</rep:StartDate></rep:Period></rep:ConsultRequest>"
            )
        )


# -- the application against the WSDL ---------------------------------------------------------------------


def test_the_spyne_application_offers_the_wsdls_operations_with_its_message_elements_and_actions() -> None:
    wsdl = etree.parse(str(wsdl_path("repertorium-v1.wsdl"))).getroot()
    messages = {
        m.get("name"): m.find(f"{{{WSDL}}}part").get("element").split(":")[1] for m in wsdl.iter(f"{{{WSDL}}}message")
    }
    port_type = wsdl.find(f"{{{WSDL}}}portType")
    declared = {
        o.get("name"): (
            messages[o.find(f"{{{WSDL}}}input").get("message").split(":")[1]],
            messages[o.find(f"{{{WSDL}}}output").get("message").split(":")[1]],
        )
        for o in port_type.iter(f"{{{WSDL}}}operation")
    }
    actions = {
        o.get("name"): o.find(f"{{{WSDL_SOAP}}}operation").get("soapAction")
        for o in wsdl.find(f"{{{WSDL}}}binding").iter(f"{{{WSDL}}}operation")
    }
    app = build_application()
    offered = {}
    for element, [descriptor] in app.interface.service_method_map.items():
        out = descriptor.out_message
        namespace = out.Attributes.sub_ns
        if namespace is None or namespace is DEFAULT_NS:  # spyne's "the application's tns"
            namespace = app.interface.get_tns()
        offered[descriptor.operation_name] = (element, f"{{{namespace}}}{out.Attributes.sub_name}")
        # spyne takes and gives the element as is: the contract's readers and writers are the only message code
        assert issubclass(descriptor.in_message, AnyXml) and issubclass(out, AnyXml)
    assert set(offered) == set(declared) == set(OPERATIONS)
    for name, (request, response) in offered.items():
        operation = OPERATIONS[name]
        assert (request, response) == (f"{{{TNS}}}{declared[name][0]}", f"{{{TNS}}}{declared[name][1]}")
        assert (declared[name], actions[name]) == ((operation.request, operation.response), operation.action)


def test_the_dispatchers_call_context_holds_what_spynes_own_method_context_holds() -> None:
    from spyne import MethodContext

    from gateway.adapters.soap.application import CallContext, Dispatcher
    from gateway.adapters.soap.envelope import Envelope

    dispatcher = Dispatcher(build_application())
    root = etree.fromstring(
        f'<s:Envelope xmlns:s="{SOAP_ENV}"><s:Header><h xmlns="urn:h"/></s:Header>'
        f'<s:Body><ConsultRequest xmlns="{TNS}"/></s:Body></s:Envelope>'.encode()
    )
    envelope = Envelope(root, tuple(root[0]), root[1][0])
    scope: Any = object()
    spynes = MethodContext(dispatcher, MethodContext.SERVER)
    spynes.in_document, spynes.in_header_doc, spynes.in_body_doc = root, list(root[0]), root[1][0]
    spynes.method_request_string, spynes.udc = root[1][0].tag, scope
    ours = CallContext(dispatcher, envelope, scope)
    assert isinstance(ours, MethodContext) and ours.frozen
    assert vars(ours).keys() == vars(spynes).keys()
    made_for_each_call = {"call_start", "transport", "outprot_ctx", "inprot_ctx", "protocol", "event"}
    for name, value in vars(spynes).items():
        if name in made_for_each_call:
            assert type(vars(ours)[name]) is type(value) and vars(ours)[name] is not value, name
        else:
            assert vars(ours)[name] == value, name
    assert ours.transport.parent is ours and ours.inprot_ctx.parent is ours and ours.event.parent is ours
    assert ours.protocol is ours.inprot_ctx and ours.files == [] and ours.files is not spynes.files
    with pytest.raises(ValueError):  # frozen, as spyne's: no attribute beyond its own
        ours.anything_else = 1


def test_each_response_envelope_is_a_new_tree_written_as_one_made_anew() -> None:
    from gateway.adapters.soap.application import RESPONSE_NSMAP, _response_envelope

    made = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap=RESPONSE_NSMAP)
    etree.SubElement(made, f"{{{SOAP_ENV}}}Body")
    first, body = _response_envelope()
    etree.SubElement(body, f"{{{TNS}}}ConsultResponse").text = "x"
    second, empty = _response_envelope()
    assert first is not second and len(empty) == 0 and body.getparent() is first
    assert etree.tostring(second, xml_declaration=True, encoding="UTF-8") == etree.tostring(
        made, xml_declaration=True, encoding="UTF-8"
    )
    assert first.nsmap == second.nsmap == RESPONSE_NSMAP


def test_a_dispatched_call_fires_spynes_events_in_spynes_order_to_every_listener() -> None:
    from gateway.adapters.soap.application import Dispatcher, QuietEventManager
    from gateway.adapters.soap.envelope import Envelope
    from gateway.adapters.soap.service import CallScope
    from gateway.app.ports import InstitutionRecord
    from gateway.contract.commands import write_consult

    app = build_application()
    dispatcher = Dispatcher(app)
    [descriptor] = app.interface.service_method_map[f"{{{TNS}}}ConsultRequest"]
    managers = {
        "app": app.event_manager,
        "in": app.in_protocol.event_manager,
        "out": app.out_protocol.event_manager,
        "service": descriptor.event_managers[0],
    }
    fired: list[tuple[str, str]] = []
    names = ["method_context_created", "method_call", "method_return_object"]
    names += ["before_deserialize", "after_deserialize", "before_serialize", "after_serialize"]
    added = []
    for where, manager in managers.items():
        assert isinstance(manager, QuietEventManager)
        for name in names:
            for n in (1, 2):  # two listeners each, called in the order they were added
                listener = lambda ctx, where=where, name=name, n=n: fired.append((f"{where}{n}", name))  # noqa: E731
                manager.add_listener(name, listener)
                added.append((manager, name, listener))

    class Directory:
        def consult(self, *args: Any, **kwargs: Any) -> ConsultResult:
            return ConsultResult("T", Summary(Ok.YES, 0), ())

    root = etree.Element(f"{{{SOAP_ENV}}}Envelope")
    body = etree.SubElement(root, f"{{{SOAP_ENV}}}Body")
    request = write_consult(body, "ConsultRequest", ConsultCommand("90010100123", date(2015, 1, 1)))
    institution = InstitutionRecord("0212345668", "OCMW", 17, "secret")
    scope = CallScope(institution, Directory(), None)  # type: ignore[arg-type]
    try:
        dispatched = dispatcher.dispatch(Envelope(root, (), request), scope)
    finally:  # the service's event manager is the service class's, shared by every application
        for manager, name, listener in added:
            manager.del_listener(name, listener)
    assert dispatched.operation == "Consult" and dispatched.result.ticket == "T"
    both = lambda where, name: [(f"{where}1", name), (f"{where}2", name)]  # noqa: E731
    assert fired == [
        *both("app", "method_context_created"),
        *both("in", "before_deserialize"),
        *both("in", "after_deserialize"),
        *both("app", "method_call"),
        *both("service", "method_call"),
        *both("app", "method_return_object"),
        *both("service", "method_return_object"),
        *both("out", "before_serialize"),
        *both("out", "after_serialize"),
    ]

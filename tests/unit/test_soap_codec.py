"""The SOAP service's declared interface and its fast codec agree with each other and with the contract files.

The spyne models are the service's declared interface; the codec writes the same XML by hand on the hot path.
These tests hold the three together: spyne's own serialisation of the models equals the codec's output (as
canonical XML), the models have the schema's types (children, order, cardinality), and the spyne application
offers exactly the WSDL's operations with the WSDL's message elements.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest
from lxml import etree
from spyne.const.xml import DEFAULT_NS
from spyne.util.xml import get_object_as_xml

from gateway.adapters.soap import models
from gateway.adapters.soap.application import build_application
from gateway.contract.codec import (
    CODECS,
    read_change,
    read_consult,
    read_flow,
    write_check_access,
    write_consult,
    write_integrate,
    write_send_flow,
)
from gateway.contract.names import TNS
from gateway.contract.resources import wsdl_path, xsd_path
from gateway.domain.access import FlowPerson, PersonDecision, PlannedIntegration, Role
from gateway.domain.directory import Detail, Institution, Integration, Ok, PersonOutcome, Severity, Status, Summary
from gateway.domain.periods import Period
from gateway.domain.results import ConsultResult, FlowResult, OperationResult
from gateway.errors import InvalidPeriod, SchemaViolation

XS = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"


def d(text: str) -> date:
    return date.fromisoformat(text)


@pytest.fixture(scope="module")
def schema() -> Any:
    return etree.XMLSchema(etree.parse(str(xsd_path("repertorium-v1.xsd"))))


# -- results as spyne models (the reference serialisation) -----------------------------------------------


def _detail(detail: Detail) -> Any:
    return models.Detail(
        Severity=detail.severity.value,
        ReasonCode=str(detail.reason),
        Diagnostic=detail.diagnostic,
        Information=[models.Information(FieldName=k, FieldValue=v) for k, v in detail.information],
    )


def _period(period: Period) -> Any:
    return models.Period(StartDate=period.start, EndDate=period.end)


def _summary(summary: Summary, details: tuple[Detail, ...]) -> Any:
    return models.ResultSummary(
        ok=summary.ok.value, ReturnCode=summary.return_code, Detail=[_detail(x) for x in details]
    )


def integrate_as_model(result: OperationResult) -> Any:
    return models.IntegrateResponse(
        ResultSummary=_summary(result.summary, result.details),
        Ticket=result.ticket,
        PersonResult=[
            models.IntegratePersonResult(
                SSIN=p.ssin,
                Status=p.status.value,
                Detail=[_detail(x) for x in p.details],
                Periods=None if p.periods is None else models.PeriodList(Period=[_period(x) for x in p.periods]),
            )
            for p in result.persons
        ],
    )


def consult_as_model(result: ConsultResult) -> Any:
    return models.ConsultResponse(
        ResultSummary=_summary(result.summary, result.details),
        Ticket=result.ticket,
        Integration=[
            models.Integration(
                Institution=models.Institution(
                    Id=i.institution.id, Name=i.institution.name, Sector=i.institution.sector
                ),
                QualityCode=i.code,
                Period=_period(i.period),
            )
            for i in result.integrations
        ],
    )


def _person_decision(p: PersonDecision) -> Any:
    return models.PersonDecision(
        SSIN=p.ssin,
        Role=p.role.value,
        Allowed=p.allowed,
        Rule=p.rule,
        Detail=[_detail(x) for x in p.details],
        SatisfiedBy=[_period(x) for x in p.satisfied_by],
        MissingDays=[_period(x) for x in p.missing_days],
    )


def check_access_as_model(result: FlowResult) -> Any:
    return models.CheckAccessResponse(
        ResultSummary=_summary(result.summary, result.details),
        Ticket=result.ticket,
        Decision="ALLOWED" if result.allowed else "REFUSED",
        PersonDecision=[_person_decision(p) for p in result.persons],
    )


def send_flow_as_model(result: FlowResult) -> Any:
    return models.SendFlowResponse(
        ResultSummary=_summary(result.summary, result.details),
        Ticket=result.ticket,
        Decision="ALLOWED" if result.allowed else "REFUSED",
        PersonDecision=[_person_decision(p) for p in result.persons],
        IntegrationMade=[
            models.IntegrationMade(SSIN=i.ssin, QualityCode=i.code, Period=_period(i.period))
            for i in result.integrations_made
        ],
        ProviderResponse=None if result.provider_response is None else etree.fromstring(result.provider_response),
    )


def c14n(element: Any) -> bytes:
    copy = etree.fromstring(etree.tostring(element))
    etree.cleanup_namespaces(copy)
    return bytes(etree.tostring(copy, method="c14n", exclusive=True))


INFO = Detail(Severity.INFORMATION, "ALREADY_INTEGRATED", "Already there.", (("SSIN", "85073003328"),))
MAXIMUM = Detail(Severity.ERROR, "PERIOD_EXCEEDS_MAXIMUM", "Too long & <late>.", (("MaximumEndDate", "2015-01-31"),))
INVALID = Detail(Severity.ERROR, "INVALID_SSIN", "SSIN 85073003329 has wrong check digits 29.")
REUSED = Detail(Severity.ERROR, "REFERENCE_REUSED", "Reference 'x' was already used.", (("Reference", "x"),))

OPERATIONS = [
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
            ),
        ),
    ),
    OperationResult(
        "KSZGW-2", Summary(Ok.NO, 10000), (PersonOutcome("85073003328", Status.REFUSED, (REUSED,), ()),), (REUSED,)
    ),
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


@pytest.mark.parametrize("result", FLOWS, ids=["allowed", "refused", "refused-whole"])
def test_the_codec_writes_a_check_access_response_as_spyne_serialises_the_model(
    result: FlowResult, schema: Any
) -> None:
    written = write_check_access(etree.Element("parent"), result)
    reference = get_object_as_xml(check_access_as_model(result), models.CheckAccessResponse, "CheckAccessResponse")
    assert c14n(written) == c14n(reference)
    assert schema.validate(written), schema.error_log


@pytest.mark.parametrize(
    "result", SENT_FLOWS, ids=["allowed", "refused", "refused-whole", "integrations-made", "provider-unavailable"]
)
def test_the_codec_writes_a_send_flow_response_as_spyne_serialises_the_model(result: FlowResult, schema: Any) -> None:
    written = write_send_flow(etree.Element("parent"), result)
    reference = get_object_as_xml(send_flow_as_model(result), models.SendFlowResponse, "SendFlowResponse")
    assert c14n(written) == c14n(reference)
    assert schema.validate(written), schema.error_log


def test_a_send_flow_response_lists_the_contracts_children_in_order() -> None:
    written = write_send_flow(etree.Element("parent"), SENT_FLOWS[3])
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


@pytest.mark.parametrize("result", OPERATIONS, ids=["persons", "refused-whole"])
def test_the_codec_writes_an_integrate_response_as_spyne_serialises_the_model(
    result: OperationResult, schema: Any
) -> None:
    parent = etree.Element("parent")
    written = write_integrate(parent, result)
    reference = get_object_as_xml(integrate_as_model(result), models.IntegrateResponse, "IntegrateResponse")
    assert c14n(written) == c14n(reference)
    assert schema.validate(written), schema.error_log


@pytest.mark.parametrize("result", CONSULTS, ids=["none", "two", "invalid"])
def test_the_codec_writes_a_consult_response_as_spyne_serialises_the_model(result: ConsultResult, schema: Any) -> None:
    parent = etree.Element("parent")
    written = write_consult(parent, result)
    reference = get_object_as_xml(consult_as_model(result), models.ConsultResponse, "ConsultResponse")
    assert c14n(written) == c14n(reference)
    assert schema.validate(written), schema.error_log


def test_the_desintegrate_writer_differs_only_by_its_element() -> None:
    result = OPERATIONS[0]
    integrate = CODECS["Integrate"].write(etree.Element("p"), result)
    desintegrate = CODECS["Desintegrate"].write(etree.Element("p"), result)
    assert desintegrate.tag == f"{{{TNS}}}DesintegrateResponse"
    assert [c.tag for c in desintegrate] == [c.tag for c in integrate]


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
    assert (request.consultation_period, request.effective_date, request.validity_period) == (None, None, None)
    assert (request.decision_period, request.delivery_year, request.aid, request.payload) == (None, None, None, None)


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


# -- the models against the schema, the application against the WSDL ----------------------------------------


def _xsd_types() -> dict[str, Any]:
    tree = etree.parse(str(xsd_path("repertorium-v1.xsd")))
    return {t.get("name"): t for t in tree.getroot().iter(f"{{{XS}}}complexType")}


def _model_classes() -> list[Any]:
    return [
        v
        for name, v in vars(models).items()
        if isinstance(v, type) and not name.startswith("_") and v.__module__ == models.__name__
    ]


def _occurs(value: Any, default: int) -> int | str:
    if value is None:
        return default
    return "unbounded" if value in ("unbounded", float("inf")) else int(value)


@pytest.mark.parametrize("model", _model_classes(), ids=lambda m: m.__type_name__)
def test_each_model_has_the_children_order_and_cardinality_of_its_schema_type(model: Any) -> None:
    declared = _xsd_types()[model.__type_name__]
    elements = [
        (e.get("name"), _occurs(e.get("minOccurs"), 1), _occurs(e.get("maxOccurs"), 1))
        for e in declared.iter(f"{{{XS}}}element")
    ]
    attributes = sorted(a.get("name") for a in declared.iter(f"{{{XS}}}attribute"))
    children, model_attributes = [], []
    for name, kind in model._type_info.items():
        if getattr(kind, "__name__", "") == "XmlAttribute":
            model_attributes.append(name)
            continue
        maximum = kind.Attributes.max_occurs
        children.append(
            (name, int(kind.Attributes.min_occurs), "unbounded" if maximum == float("inf") else int(maximum))
        )
    assert children == elements
    assert sorted(model_attributes) == attributes


def test_the_spyne_application_offers_the_wsdls_operations_with_its_message_elements() -> None:
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
    assert set(offered) == set(declared) == {"Integrate", "Desintegrate", "Consult", "CheckAccess", "SendFlow"}
    for operation, (request, response) in offered.items():
        assert (request, response) == (f"{{{TNS}}}{declared[operation][0]}", f"{{{TNS}}}{declared[operation][1]}")
        assert actions[operation] == f"{TNS}/{operation}"
    assert set(CODECS) == set(offered)

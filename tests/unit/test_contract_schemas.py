"""The hand-written contract files in xsd/ and wsdl/: they compile, accept the contract's messages and refuse
what the contract forbids, and zeep can build and read messages from the WSDLs.

The examples below are written from /work/shared/contract/repertorium-v1.md and ssdn-manageaccess.md; every
check runs on both validators the gateway uses (lxml on the hot path, xmlschema for tools).
"""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import xmlschema
import zeep
from lxml import etree
from zeep.transports import Transport

ROOT = Path(__file__).resolve().parents[2]
XSD_DIR = ROOT / "gateway" / "contract" / "xsd"
WSDL_DIR = ROOT / "gateway" / "contract" / "wsdl"

REP_NS = "urn:ksz-gateway:repertorium:v1"
SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XS_NS = "http://www.w3.org/2001/XMLSchema"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
CONNECTOR_NS = "http://ksz-bcss.fgov.be/connectors/WebServiceConnector"
SSDN_SERVICE_NS = "http://www.ksz-bcss.fgov.be/XSD/SSDN/Service"
SSDN_COMMON_NS = "http://www.ksz-bcss.fgov.be/XSD/SSDN/Common"

REPERTORIUM_XSD = XSD_DIR / "repertorium-v1.xsd"
SSDN_XSD = XSD_DIR / "ssdn-service.xsd"
REPERTORIUM_WSDL = WSDL_DIR / "repertorium-v1.wsdl"
CONNECTOR_WSDL = WSDL_DIR / "ssdn-connector.wsdl"

OPERATIONS = ("Integrate", "Desintegrate", "Consult", "CheckAccess", "SendFlow")


# --------------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------------


class Validators:
    """One schema compiled by both validators."""

    def __init__(self, path: Path) -> None:
        self.lxml = etree.XMLSchema(etree.parse(str(path)))
        self.xmlschema = xmlschema.XMLSchema(str(path))

    def assert_valid(self, document: str | etree._Element) -> None:
        element = _element(document)
        if not self.lxml.validate(element):
            pytest.fail(f"lxml rejects a valid document: {self.lxml.error_log}")
        errors = list(self.xmlschema.iter_errors(element))
        assert not errors, f"xmlschema rejects a valid document: {errors[0]}"

    def assert_rejected(self, document: str | etree._Element) -> None:
        element = _element(document)
        assert not self.lxml.validate(element), "lxml accepts an invalid document"
        assert not self.xmlschema.is_valid(element), "xmlschema accepts an invalid document"


def _element(document: str | etree._Element) -> etree._Element:
    if isinstance(document, str):
        return etree.fromstring(document.strip().encode("utf-8"))
    return document


def _envelope(body: str) -> etree._Element:
    """A SOAP 1.1 envelope around one Body child given as text."""
    return etree.fromstring(
        f'<soap-env:Envelope xmlns:soap-env="{SOAP_ENV_NS}"><soap-env:Body>{body.strip()}'
        "</soap-env:Body></soap-env:Envelope>".encode()
    )


def _rep(tag: str) -> str:
    return f"{{{REP_NS}}}{tag}"


def _with_persons(count: int) -> str:
    persons = "".join(f"<Person><SSIN>{68060105329 + i:011d}</SSIN></Person>" for i in range(count))
    return (
        f'<IntegrateRequest xmlns="{REP_NS}"><QualityCode>1</QualityCode>'
        f"<Period><StartDate>2024-03-01</StartDate></Period>{persons}</IntegrateRequest>"
    )


@pytest.fixture(scope="module")
def repertorium() -> Validators:
    return Validators(REPERTORIUM_XSD)


@pytest.fixture(scope="module")
def ssdn() -> Validators:
    return Validators(SSDN_XSD)


@pytest.fixture(scope="module")
def repertorium_client() -> zeep.Client:
    return zeep.Client(str(REPERTORIUM_WSDL))


@pytest.fixture(scope="module")
def connector_client() -> zeep.Client:
    return zeep.Client(str(CONNECTOR_WSDL))


# --------------------------------------------------------------------------------------------------------------
# Example messages of the repertorium v1 contract
# --------------------------------------------------------------------------------------------------------------

VALID_MESSAGES: dict[str, str] = {
    "IntegrateRequest": f"""
<IntegrateRequest xmlns="{REP_NS}">
  <Reference>OCMW-DEMO-2024-0001</Reference>
  <QualityCode>1</QualityCode>
  <Period><StartDate>2024-03-01</StartDate><EndDate>2024-05-31</EndDate></Period>
  <Person><SSIN>68060105329</SSIN></Person>
  <Person><SSIN>70100853190</SSIN></Person>
</IntegrateRequest>""",
    "IntegrateResponse": f"""
<IntegrateResponse xmlns="{REP_NS}">
  <ResultSummary ok="WARNING">
    <ReturnCode>1</ReturnCode>
    <Detail>
      <Severity>WARNING</Severity>
      <ReasonCode>PERIOD_EXCEEDS_MAXIMUM</ReasonCode>
      <Diagnostic>The end date is after the maximum end date of quality code 1.</Diagnostic>
      <Information><FieldName>MaximumEndDate</FieldName><FieldValue>2024-04-30</FieldValue></Information>
    </Detail>
  </ResultSummary>
  <Ticket>5b0c9a4e-3f1e-4c3a-9d2b-0e6f7a8b9c10</Ticket>
  <PersonResult>
    <SSIN>68060105329</SSIN>
    <Status>INTEGRATED</Status>
    <Periods>
      <Period><StartDate>2024-01-15+01:00</StartDate><EndDate>2024-01-31+01:00</EndDate></Period>
      <Period><StartDate>2024-03-01</StartDate><EndDate>2024-04-30</EndDate></Period>
    </Periods>
  </PersonResult>
  <PersonResult>
    <SSIN>70100853190</SSIN>
    <Status>REFUSED</Status>
    <Detail>
      <Severity>ERROR</Severity>
      <ReasonCode>INVALID_SSIN</ReasonCode>
      <Diagnostic>The check digits of SSIN 70100853190 are wrong.</Diagnostic>
    </Detail>
  </PersonResult>
</IntegrateResponse>""",
    "DesintegrateRequest": f"""
<DesintegrateRequest xmlns="{REP_NS}">
  <QualityCode>2</QualityCode>
  <Period><StartDate>2012-05-24+02:00</StartDate></Period>
  <Person><SSIN>68060105329</SSIN></Person>
</DesintegrateRequest>""",
    "DesintegrateResponse": f"""
<DesintegrateResponse xmlns="{REP_NS}">
  <ResultSummary ok="WARNING">
    <ReturnCode>1</ReturnCode>
  </ResultSummary>
  <Ticket>T-000042</Ticket>
  <PersonResult>
    <SSIN>68060105329</SSIN>
    <Status>DESINTEGRATED</Status>
    <Detail>
      <Severity>WARNING</Severity>
      <ReasonCode>ATTESTATION_AT_RISK</ReasonCode>
      <Diagnostic>A multifunctional attestation needs the removed days.</Diagnostic>
      <Information><FieldName>AttestationTicket</FieldName><FieldValue>T-000017</FieldValue></Information>
      <Information><FieldName>ValidityPeriod</FieldName><FieldValue>2024-01-01/2024-12-31</FieldValue></Information>
    </Detail>
    <Periods/>
  </PersonResult>
</DesintegrateResponse>""",
    "ConsultRequest": f"""
<ConsultRequest xmlns="{REP_NS}">
  <Reference>consult-7</Reference>
  <SSIN>68060105329</SSIN>
  <Period><StartDate>2024-01-01</StartDate></Period>
  <QualityCode>1</QualityCode>
  <Sector>17</Sector>
</ConsultRequest>""",
    "ConsultResponse": f"""
<ConsultResponse xmlns="{REP_NS}">
  <ResultSummary ok="YES"><ReturnCode>0</ReturnCode></ResultSummary>
  <Ticket>T-000043</Ticket>
  <Integration>
    <Institution><Id>0212345668</Id><Name>OCMW Demostad</Name><Sector>17</Sector></Institution>
    <QualityCode>1</QualityCode>
    <Period><StartDate>2024-03-01</StartDate><EndDate>2024-04-30</EndDate></Period>
  </Integration>
  <Integration>
    <Institution><Id>0212345866</Id><Name>Kinderbijslagfonds Demo</Name><Sector>7</Sector></Institution>
    <QualityCode>1</QualityCode>
    <Period><StartDate>2024-02-01</StartDate></Period>
  </Integration>
</ConsultResponse>""",
    "CheckAccessRequest": f"""
<CheckAccessRequest xmlns="{REP_NS}">
  <Flow>form.living-wage</Flow>
  <Person><SSIN>68060105329</SSIN><Role>MAIN</Role></Person>
  <Person><SSIN>70100853190</SSIN><Role>PARTNER</Role></Person>
  <EffectiveDate>2024-04-01+02:00</EffectiveDate>
</CheckAccessRequest>""",
    "CheckAccessResponse": f"""
<CheckAccessResponse xmlns="{REP_NS}">
  <ResultSummary ok="NO">
    <ReturnCode>10000</ReturnCode>
    <Detail>
      <Severity>ERROR</Severity>
      <ReasonCode>ACCESS_DENIED</ReasonCode>
      <Diagnostic>Not every person is integrated on the days the flow needs.</Diagnostic>
    </Detail>
  </ResultSummary>
  <Ticket>T-000044</Ticket>
  <Decision>REFUSED</Decision>
  <PersonDecision>
    <SSIN>68060105329</SSIN>
    <Role>MAIN</Role>
    <Allowed>true</Allowed>
    <Rule>R5.3</Rule>
    <SatisfiedBy><StartDate>2024-03-01</StartDate><EndDate>2024-04-30</EndDate></SatisfiedBy>
  </PersonDecision>
  <PersonDecision>
    <SSIN>70100853190</SSIN>
    <Role>PARTNER</Role>
    <Allowed>false</Allowed>
    <Rule>R5.3</Rule>
    <Detail>
      <Severity>ERROR</Severity>
      <ReasonCode>NOT_INTEGRATED_ON_DAY</ReasonCode>
      <Diagnostic>The partner is not integrated in code 01 on 2024-04-01.</Diagnostic>
    </Detail>
    <MissingDays><StartDate>2024-04-01</StartDate><EndDate>2024-04-01</EndDate></MissingDays>
  </PersonDecision>
</CheckAccessResponse>""",
    "SendFlowRequest": f"""
<SendFlowRequest xmlns="{REP_NS}" xmlns:f="urn:example:provider:wet65">
  <Reference>flow-2024-0009</Reference>
  <Flow>form.wet65.B</Flow>
  <Person><SSIN>68060105329</SSIN><Role>MAIN</Role></Person>
  <Person><SSIN>70100853190</SSIN><Role>ADDITIONAL</Role></Person>
  <ConsultationPeriod><StartDate>2024-01-01</StartDate><EndDate>2024-01-31</EndDate></ConsultationPeriod>
  <EffectiveDate>2024-04-01</EffectiveDate>
  <ValidityPeriod><StartDate>2024-04-01</StartDate><EndDate>2024-12-31</EndDate></ValidityPeriod>
  <DecisionPeriod><StartDate>2024-04-01</StartDate></DecisionPeriod>
  <DeliveryYear>2024</DeliveryYear>
  <Aid>LIVING_WAGE</Aid>
  <Payload>
    <f:Decision f:version="3"><f:Amount currency="EUR">1263.17</f:Amount></f:Decision>
    <other xmlns="">unqualified content is allowed too</other>
  </Payload>
</SendFlowRequest>""",
    "SendFlowResponse": f"""
<SendFlowResponse xmlns="{REP_NS}">
  <ResultSummary ok="YES"><ReturnCode>0</ReturnCode></ResultSummary>
  <Ticket>T-000045</Ticket>
  <Decision>ALLOWED</Decision>
  <PersonDecision>
    <SSIN>68060105329</SSIN><Role>MAIN</Role><Allowed>true</Allowed><Rule>R5.4</Rule>
    <SatisfiedBy><StartDate>2024-03-01</StartDate></SatisfiedBy>
  </PersonDecision>
  <IntegrationMade>
    <SSIN>68060105329</SSIN>
    <QualityCode>2</QualityCode>
    <Period><StartDate>2024-04-01</StartDate><EndDate>2025-03-31</EndDate></Period>
  </IntegrationMade>
  <ProviderResponse>
    <p:Receipt xmlns:p="urn:example:provider:receipt"><p:Number>991</p:Number></p:Receipt>
  </ProviderResponse>
</SendFlowResponse>""",
}

MINIMAL_VALID_MESSAGES: dict[str, str] = {
    "check access refused as a whole without person decisions": f"""
<CheckAccessResponse xmlns="{REP_NS}">
  <ResultSummary ok="NO">
    <ReturnCode>10000</ReturnCode>
    <Detail><Severity>ERROR</Severity><ReasonCode>UNKNOWN_FLOW</ReasonCode>
      <Diagnostic>Flow consult.unknown is not in the catalogue.</Diagnostic></Detail>
  </ResultSummary>
  <Ticket>T-1</Ticket>
  <Decision>REFUSED</Decision>
</CheckAccessResponse>""",
    "send flow request without payload": f"""
<SendFlowRequest xmlns="{REP_NS}">
  <Flow>request.new</Flow>
  <Person><SSIN>68060105329</SSIN><Role>MAIN</Role></Person>
</SendFlowRequest>""",
    "send flow request with an empty payload": f"""
<SendFlowRequest xmlns="{REP_NS}">
  <Flow>request.new</Flow>
  <Person><SSIN>68060105329</SSIN><Role>MAIN</Role></Person>
  <Payload/>
</SendFlowRequest>""",
    "integrate response refused as a whole without person results": f"""
<IntegrateResponse xmlns="{REP_NS}">
  <ResultSummary ok="NO">
    <ReturnCode>10000</ReturnCode>
    <Detail><Severity>ERROR</Severity><ReasonCode>REFERENCE_REUSED</ReasonCode>
      <Diagnostic>Reference OCMW-1 was used before for a different request.</Diagnostic></Detail>
  </ResultSummary>
  <Ticket>T-2</Ticket>
</IntegrateResponse>""",
    "consult response without integrations": f"""
<ConsultResponse xmlns="{REP_NS}">
  <ResultSummary ok="YES"><ReturnCode>0</ReturnCode></ResultSummary>
  <Ticket>T-3</Ticket>
</ConsultResponse>""",
}


# --------------------------------------------------------------------------------------------------------------
# Example documents of the legacy SSDN contract
# --------------------------------------------------------------------------------------------------------------

SSDN_REQUEST = """
<ssdn:SSDNRequest xmlns:ssdn="http://www.ksz-bcss.fgov.be/XSD/SSDN/Service">
  <ssdn:RequestContext>
    <ssdn:AuthorizedUser>
      <ssdn:UserID>00901234567</ssdn:UserID>
      <ssdn:Email>info@ocmw-demostad.example</ssdn:Email>
      <ssdn:OrgUnit>0212345668</ssdn:OrgUnit>
      <ssdn:MatrixID>17</ssdn:MatrixID>
      <ssdn:MatrixSubID>1</ssdn:MatrixSubID>
    </ssdn:AuthorizedUser>
    <ssdn:Message>
      <ssdn:Reference>ManageAccessRequest # 1</ssdn:Reference>
      <ssdn:TimeRequest>20120524T101500</ssdn:TimeRequest>
    </ssdn:Message>
  </ssdn:RequestContext>
  <ssdn:ServiceRequest>
    <ssdn:ServiceId>OCMWCPASManageAccess</ssdn:ServiceId>
    <ssdn:Version>20050930</ssdn:Version>
    <mar:ManageAccessRequest xmlns:mar="http://www.ksz-bcss.fgov.be/XSD/SSDN/OCMW_CPAS/ManageAccess">
      <mar:SSIN>68060105329</mar:SSIN>
      <mar:Purpose>10</mar:Purpose>
      <mar:Period>
        <common:StartDate xmlns:common="http://www.ksz-bcss.fgov.be/XSD/SSDN/Common">2012-05-24</common:StartDate>
        <common:EndDate xmlns:common="http://www.ksz-bcss.fgov.be/XSD/SSDN/Common">2012-07-24</common:EndDate>
      </mar:Period>
      <mar:Action>REGISTER</mar:Action>
      <mar:Sector>17</mar:Sector>
      <mar:QueryRegister>SECONDARY</mar:QueryRegister>
      <mar:ProofOfAuthentication>
        <mar:PersonData>
          <mar:LastName>DEMO</mar:LastName>
          <mar:FirstName>JAN</mar:FirstName>
          <mar:BirthDate>1968-06-01</mar:BirthDate>
        </mar:PersonData>
      </mar:ProofOfAuthentication>
    </mar:ManageAccessRequest>
  </ssdn:ServiceRequest>
</ssdn:SSDNRequest>
"""

SSDN_REPLY = """
<SSDNReply xmlns="http://www.ksz-bcss.fgov.be/XSD/SSDN/Service">
  <ReplyContext>
    <c:ResultSummary xmlns:c="http://www.ksz-bcss.fgov.be/XSD/SSDN/Common" ok="YES">
      <c:ReturnCode>0</c:ReturnCode>
    </c:ResultSummary>
    <AuthorizedUser>
      <UserID>00901234567</UserID>
      <Email>info@ocmw-demostad.example</Email>
      <OrgUnit>0212345668</OrgUnit>
      <MatrixID>17</MatrixID>
      <MatrixSubID>1</MatrixSubID>
    </AuthorizedUser>
    <Message>
      <Reference>ManageAccessRequest # 1</Reference>
      <Ticket>T-000046</Ticket>
      <TimeRequest>20120524T101500</TimeRequest>
      <TimeReceive>20120524T101501</TimeReceive>
      <TimeResponse>20120524T101502</TimeResponse>
    </Message>
  </ReplyContext>
  <ServiceReply>
    <c:ResultSummary xmlns:c="http://www.ksz-bcss.fgov.be/XSD/SSDN/Common" ok="YES">
      <c:ReturnCode>0</c:ReturnCode>
    </c:ResultSummary>
    <ServiceId>OCMWCPASManageAccess</ServiceId>
    <Version>20050930</Version>
    <m:ManageAccessReply xmlns:m="http://www.ksz-bcss.fgov.be/XSD/SSDN/OCMW_CPAS/ManageAccess"
                         xmlns:c="http://www.ksz-bcss.fgov.be/XSD/SSDN/Common">
      <m:OriginalRequest>
        <m:SSIN>68060105329</m:SSIN>
        <m:Purpose>10</m:Purpose>
        <m:Period><c:StartDate>2012-05-24+02:00</c:StartDate><c:EndDate>2012-07-24+02:00</c:EndDate></m:Period>
        <m:Action>REGISTER</m:Action>
      </m:OriginalRequest>
      <m:Registrations>
        <m:Purpose>10</m:Purpose>
        <m:Period><c:StartDate>2012-05-24+02:00</c:StartDate><c:EndDate>2012-07-24+02:00</c:EndDate></m:Period>
        <m:OrgUnit>0212345668</m:OrgUnit>
        <m:Register>SECONDARY</m:Register>
      </m:Registrations>
    </m:ManageAccessReply>
  </ServiceReply>
</SSDNReply>
"""

SSDN_ERROR_REPLY = """
<SSDNReply xmlns="http://www.ksz-bcss.fgov.be/XSD/SSDN/Service"
           xmlns:c="http://www.ksz-bcss.fgov.be/XSD/SSDN/Common">
  <ReplyContext>
    <c:ResultSummary ok="NO">
      <c:ReturnCode>10000</c:ReturnCode>
      <c:Detail>
        <c:Severity>ERROR</c:Severity>
        <c:ReasonCode>30000001</c:ReasonCode>
        <c:Diagnostic>At least one service request has generated an error.</c:Diagnostic>
        <c:AuthorCodeList>CBSS</c:AuthorCodeList>
        <c:Information><c:FieldName>OrgUnit</c:FieldName><c:FieldValue>0212345767</c:FieldValue></c:Information>
      </c:Detail>
    </c:ResultSummary>
    <Message>
      <Ticket>T-000047</Ticket>
      <TimeReceive>20120524T101501</TimeReceive>
      <TimeResponse>20120524T101502</TimeResponse>
    </Message>
  </ReplyContext>
</SSDNReply>
"""


def _replace(name: str, old: str, new: str) -> str:
    document = VALID_MESSAGES[name]
    assert old in document, f"{old!r} is not in the {name} example"
    return document.replace(old, new, 1)


# --------------------------------------------------------------------------------------------------------------
# (a) Every schema compiles with both validators
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(XSD_DIR.glob("*.xsd")), ids=lambda p: p.name)
def test_every_schema_compiles_with_lxml_and_xmlschema(path: Path) -> None:
    etree.XMLSchema(etree.parse(str(path)))
    xmlschema.XMLSchema(str(path))


def test_the_expected_schema_files_exist() -> None:
    names = {p.name for p in XSD_DIR.glob("*.xsd")}
    assert {"repertorium-v1.xsd", "ssdn-common.xsd", "ssdn-manageaccess.xsd", "ssdn-service.xsd"} <= names


def test_repertorium_schema_declares_exactly_the_ten_message_elements_globally() -> None:
    tree = etree.parse(str(REPERTORIUM_XSD))
    assert tree.getroot().get("targetNamespace") == REP_NS
    assert tree.getroot().get("elementFormDefault") == "qualified"
    names = {e.get("name") for e in tree.getroot().findall(f"{{{XS_NS}}}element")}
    assert names == {f"{op}{kind}" for op in OPERATIONS for kind in ("Request", "Response")}


# --------------------------------------------------------------------------------------------------------------
# (b) Repertorium v1: valid examples validate, invalid ones are rejected
# --------------------------------------------------------------------------------------------------------------


def test_every_message_element_has_a_valid_example() -> None:
    assert set(VALID_MESSAGES) == {f"{op}{kind}" for op in OPERATIONS for kind in ("Request", "Response")}
    for name, document in VALID_MESSAGES.items():
        assert _element(document).tag == _rep(name)


@pytest.mark.parametrize("name", sorted(VALID_MESSAGES))
def test_every_valid_example_message_validates(repertorium: Validators, name: str) -> None:
    repertorium.assert_valid(VALID_MESSAGES[name])


@pytest.mark.parametrize("name", sorted(MINIMAL_VALID_MESSAGES))
def test_minimal_messages_the_contract_allows_validate(repertorium: Validators, name: str) -> None:
    repertorium.assert_valid(MINIMAL_VALID_MESSAGES[name])


def test_integrate_request_with_fifty_persons_is_accepted(repertorium: Validators) -> None:
    repertorium.assert_valid(_with_persons(50))


def test_integrate_request_with_fifty_one_persons_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(_with_persons(51))


def test_integrate_request_without_persons_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(_with_persons(0))


def test_check_access_request_with_fifty_one_persons_is_rejected(repertorium: Validators) -> None:
    persons = "".join(f"<Person><SSIN>{68060105329 + i:011d}</SSIN><Role>MAIN</Role></Person>" for i in range(51))
    repertorium.assert_rejected(f'<CheckAccessRequest xmlns="{REP_NS}"><Flow>x</Flow>{persons}</CheckAccessRequest>')


@pytest.mark.parametrize("ssin", ["6806010532", "680601053290", "6806010532X", " 68060105329", ""])
def test_integrate_request_with_a_malformed_ssin_is_rejected(repertorium: Validators, ssin: str) -> None:
    repertorium.assert_rejected(_replace("IntegrateRequest", "<SSIN>68060105329</SSIN>", f"<SSIN>{ssin}</SSIN>"))


def test_integrate_request_with_ten_digit_ssin_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(_replace("IntegrateRequest", "68060105329", "6806010532"))


def test_period_without_start_date_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(_replace("IntegrateRequest", "<StartDate>2024-03-01</StartDate><EndDate>", "<EndDate>"))


def test_period_with_end_date_before_start_date_element_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(
        _replace(
            "IntegrateRequest",
            "<StartDate>2024-03-01</StartDate><EndDate>2024-05-31</EndDate>",
            "<EndDate>2024-05-31</EndDate><StartDate>2024-03-01</StartDate>",
        )
    )


@pytest.mark.parametrize("value", ["2024-02-30", "24-03-01", "2024-03-01T00:00:00", "01/03/2024", "2024-3-1"])
def test_period_with_a_date_that_is_not_an_xs_date_is_rejected(repertorium: Validators, value: str) -> None:
    repertorium.assert_rejected(_replace("IntegrateRequest", "2024-03-01", value))


@pytest.mark.parametrize("value", ["2012-05-24+02:00", "2012-05-24Z", "2012-05-24-05:00"])
def test_dates_with_a_timezone_suffix_are_accepted(repertorium: Validators, value: str) -> None:
    repertorium.assert_valid(_replace("IntegrateRequest", "2024-03-01", value))


def test_result_summary_with_ok_maybe_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(_replace("IntegrateResponse", 'ok="WARNING"', 'ok="MAYBE"'))


def test_result_summary_without_ok_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(_replace("IntegrateResponse", ' ok="WARNING"', ""))


def test_return_code_other_than_0_1_or_10000_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(
        _replace("IntegrateResponse", "<ReturnCode>1</ReturnCode>", "<ReturnCode>2</ReturnCode>")
    )


def test_detail_with_unknown_severity_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(
        _replace("IntegrateResponse", "<Severity>WARNING</Severity>", "<Severity>FATAL</Severity>")
    )


def test_reason_code_not_listed_in_the_contract_is_accepted(repertorium: Validators) -> None:
    repertorium.assert_valid(_replace("IntegrateResponse", "PERIOD_EXCEEDS_MAXIMUM", "SOME_CODE_ADDED_IN_V1_1"))


def test_response_without_ticket_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(_replace("ConsultResponse", "<Ticket>T-000043</Ticket>", ""))


def test_a_ticket_has_at_most_the_networks_36_characters(repertorium: Validators) -> None:
    for operation in OPERATIONS:
        name = f"{operation}Response"
        ticket = _element(VALID_MESSAGES[name]).findtext(_rep("Ticket"))
        tag = f"<Ticket>{ticket}</Ticket>"
        repertorium.assert_valid(_replace(name, tag, f"<Ticket>KSZGW-{'f' * 30}</Ticket>"))
        repertorium.assert_rejected(_replace(name, tag, f"<Ticket>KSZGW-{'f' * 31}</Ticket>"))


def test_an_ssdn_reply_ticket_has_at_most_36_characters(ssdn: Validators) -> None:
    tag = "<Ticket>T-000046</Ticket>"
    assert tag in SSDN_REPLY
    ssdn.assert_valid(SSDN_REPLY.replace(tag, f"<Ticket>KSZGW-{'f' * 30}</Ticket>"))
    ssdn.assert_rejected(SSDN_REPLY.replace(tag, f"<Ticket>KSZGW-{'f' * 31}</Ticket>"))


def test_integrate_request_with_period_before_quality_code_is_rejected(repertorium: Validators) -> None:
    element = _element(VALID_MESSAGES["IntegrateRequest"])
    period = element.find(_rep("Period"))
    element.remove(period)
    element.find(_rep("QualityCode")).addprevious(period)
    repertorium.assert_rejected(element)


def test_consult_request_with_sector_before_quality_code_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(
        _replace(
            "ConsultRequest",
            "<QualityCode>1</QualityCode>\n  <Sector>17</Sector>",
            "<Sector>17</Sector><QualityCode>1</QualityCode>",
        )
    )


def test_response_with_ticket_before_result_summary_is_rejected(repertorium: Validators) -> None:
    document = VALID_MESSAGES["ConsultResponse"]
    element = _element(document)
    ticket = element.find(_rep("Ticket"))
    element.remove(ticket)
    element.insert(0, ticket)
    repertorium.assert_rejected(element)


def test_send_flow_request_with_payload_before_aid_is_rejected(repertorium: Validators) -> None:
    element = _element(VALID_MESSAGES["SendFlowRequest"])
    payload = element.find(_rep("Payload"))
    element.remove(payload)
    element.find(_rep("Aid")).addprevious(payload)
    repertorium.assert_rejected(element)


def test_integrate_response_with_unknown_status_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(_replace("IntegrateResponse", "<Status>INTEGRATED</Status>", "<Status>DONE</Status>"))


def test_integrate_response_with_a_desintegrate_status_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(
        _replace("IntegrateResponse", "<Status>INTEGRATED</Status>", "<Status>DESINTEGRATED</Status>")
    )


def test_desintegrate_response_with_an_integrate_status_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(
        _replace("DesintegrateResponse", "<Status>DESINTEGRATED</Status>", "<Status>ALREADY_INTEGRATED</Status>")
    )


@pytest.mark.parametrize("status", ["DESINTEGRATED", "NOTHING_TO_REMOVE", "REFUSED"])
def test_desintegrate_response_accepts_each_of_its_statuses(repertorium: Validators, status: str) -> None:
    repertorium.assert_valid(
        _replace("DesintegrateResponse", "<Status>DESINTEGRATED</Status>", f"<Status>{status}</Status>")
    )


def test_check_access_request_with_unknown_role_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(_replace("CheckAccessRequest", "<Role>PARTNER</Role>", "<Role>CHILD</Role>"))


def test_check_access_request_with_person_without_role_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(_replace("CheckAccessRequest", "<Role>PARTNER</Role>", ""))


def test_send_flow_request_with_unknown_aid_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(_replace("SendFlowRequest", "<Aid>LIVING_WAGE</Aid>", "<Aid>PENSION</Aid>"))


def test_check_access_response_with_unknown_decision_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(
        _replace("CheckAccessResponse", "<Decision>REFUSED</Decision>", "<Decision>MAYBE</Decision>")
    )


def test_reference_longer_than_64_characters_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(_replace("IntegrateRequest", "OCMW-DEMO-2024-0001", "R" * 65))


def test_empty_reference_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(_replace("IntegrateRequest", "OCMW-DEMO-2024-0001", ""))


def test_institution_id_of_nine_digits_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(_replace("ConsultResponse", "<Id>0212345668</Id>", "<Id>212345668</Id>"))


def test_quality_code_that_is_not_an_integer_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(
        _replace("IntegrateRequest", "<QualityCode>1</QualityCode>", "<QualityCode>01a</QualityCode>")
    )


def test_element_the_contract_does_not_name_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(
        _replace("ConsultRequest", "<Sector>17</Sector>", "<Sector>17</Sector><Institution>1</Institution>")
    )


def test_message_in_another_namespace_is_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(VALID_MESSAGES["ConsultRequest"].replace(REP_NS, "urn:ksz-gateway:repertorium:v2"))


def test_unqualified_child_elements_are_rejected(repertorium: Validators) -> None:
    repertorium.assert_rejected(
        f'<r:ConsultRequest xmlns:r="{REP_NS}"><SSIN>68060105329</SSIN>'
        "<Period><StartDate>2024-01-01</StartDate></Period></r:ConsultRequest>"
    )


def test_payload_with_a_repertorium_message_inside_is_validated_laxly(repertorium: Validators) -> None:
    element = _element(VALID_MESSAGES["SendFlowRequest"])
    payload = element.find(_rep("Payload"))
    payload.append(_element(_with_persons(51)))
    repertorium.assert_rejected(element)


# --------------------------------------------------------------------------------------------------------------
# (c) zeep loads the WSDLs and builds messages the schemas accept
# --------------------------------------------------------------------------------------------------------------


def test_zeep_loads_the_repertorium_wsdl_with_its_five_operations_and_soap_actions(
    repertorium_client: zeep.Client,
) -> None:
    operations = repertorium_client.service._binding._operations
    assert set(operations) == set(OPERATIONS)
    for name in OPERATIONS:
        assert operations[name].soapaction == f"{REP_NS}/{name}"
        assert operations[name].input.body.qname == _rep(f"{name}Request")
        assert operations[name].output.body.qname == _rep(f"{name}Response")


def test_repertorium_wsdl_names_service_port_and_address_as_the_contract_says(repertorium_client: zeep.Client) -> None:
    service = repertorium_client.wsdl.services["RepertoriumService"]
    port = service.ports["RepertoriumPort"]
    assert port.binding_options["address"] == "http://localhost:8080/soap/repertorium"
    assert port.binding.name.namespace == REP_NS


WSP_NS = "http://www.w3.org/ns/ws-policy"
SP_NS = "http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"


@pytest.fixture(scope="module")
def wsdl_11_schema() -> xmlschema.XMLSchema:
    """The WSDL 1.1 schema that xmlschema ships (the W3C note's, as WS-I corrected it)."""
    return xmlschema.XMLSchema(str(Path(xmlschema.__file__).parent / "schemas" / "WSDL" / "wsdl.xsd"))


@pytest.mark.parametrize("path", [REPERTORIUM_WSDL, CONNECTOR_WSDL], ids=lambda p: p.name)
def test_every_wsdl_validates_against_the_wsdl_11_schema(wsdl_11_schema: xmlschema.XMLSchema, path: Path) -> None:
    errors = list(wsdl_11_schema.iter_errors(str(path)))
    assert not errors, errors[0]


def test_the_binding_asks_for_an_optional_username_token_with_a_password_digest() -> None:
    """WS-SecurityPolicy 1.2 attached to the binding: tools that read policies set the digest up themselves; the
    reference is not wsdl:required, so tools that know no WS-Policy ignore it."""
    tree = etree.parse(str(REPERTORIUM_WSDL))
    binding = tree.find(f"{{{WSDL_NS}}}binding")
    references = binding.findall(f"{{{WSP_NS}}}PolicyReference")
    assert len(references) == 1
    assert references[0].get(f"{{{WSDL_NS}}}required") is None
    uri = references[0].get("URI")
    assert uri.startswith("#")
    policies = [p for p in tree.getroot().findall(f"{{{WSP_NS}}}Policy") if p.get(f"{{{WSU_NS}}}Id") == uri[1:]]
    assert len(policies) == 1
    assertions = list(policies[0])
    assert [a.tag for a in assertions] == [f"{{{SP_NS}}}SupportingTokens"]
    assert assertions[0].get(f"{{{WSP_NS}}}Optional") == "true"
    tokens = assertions[0].findall(f"{{{WSP_NS}}}Policy/{{{SP_NS}}}UsernameToken")
    assert len(tokens) == 1
    assert tokens[0].get(f"{{{SP_NS}}}IncludeToken") == f"{SP_NS}/IncludeToken/AlwaysToRecipient"
    nested = tokens[0].findall(f"{{{WSP_NS}}}Policy/*")
    assert {child.tag for child in nested} == {f"{{{SP_NS}}}HashPassword", f"{{{SP_NS}}}WssUsernameToken10"}


def test_repertorium_wsdl_imports_the_schema_with_a_relative_location() -> None:
    tree = etree.parse(str(REPERTORIUM_WSDL))
    imports = tree.findall(f"{{{WSDL_NS}}}types/{{{XS_NS}}}schema/{{{XS_NS}}}import")
    assert [(i.get("namespace"), i.get("schemaLocation")) for i in imports] == [(REP_NS, "../xsd/repertorium-v1.xsd")]
    assert (REPERTORIUM_WSDL.parent / imports[0].get("schemaLocation")).resolve() == REPERTORIUM_XSD.resolve()
    for body in tree.iter(f"{{{WSDL_SOAP_NS}}}body"):
        assert body.get("use") == "literal"
    assert tree.find(f"{{{WSDL_NS}}}binding/{{{WSDL_SOAP_NS}}}binding").get("style") == "document"


ZEEP_REQUESTS: dict[str, dict[str, Any]] = {
    "Integrate": {
        "Reference": "OCMW-DEMO-1",
        "QualityCode": 1,
        "Period": {"StartDate": date(2024, 3, 1), "EndDate": date(2024, 5, 31)},
        "Person": [{"SSIN": "68060105329"}, {"SSIN": "70100853190"}],
    },
    "Desintegrate": {
        "QualityCode": 2,
        "Period": {"StartDate": date(2024, 3, 1)},
        "Person": [{"SSIN": "68060105329"}],
    },
    "Consult": {
        "SSIN": "68060105329",
        "Period": {"StartDate": date(2024, 1, 1)},
        "QualityCode": 1,
        "Sector": 17,
    },
    "CheckAccess": {
        "Flow": "form.living-wage",
        "Person": [{"SSIN": "68060105329", "Role": "MAIN"}, {"SSIN": "70100853190", "Role": "PARTNER"}],
        "EffectiveDate": date(2024, 4, 1),
    },
    "SendFlow": {
        "Flow": "form.wet65.B",
        "Person": [{"SSIN": "68060105329", "Role": "MAIN"}],
        "EffectiveDate": date(2024, 4, 1),
        "DecisionPeriod": {"StartDate": date(2024, 4, 1)},
        "Aid": "LIVING_WAGE",
        "Payload": {"_value_1": [etree.fromstring(b'<f:Form xmlns:f="urn:example:form"><f:N>1</f:N></f:Form>')]},
    },
}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_zeep_builds_a_request_for_every_operation_that_the_schema_accepts(
    repertorium_client: zeep.Client, repertorium: Validators, operation: str
) -> None:
    envelope = repertorium_client.create_message(
        repertorium_client.service, operation, **copy.deepcopy(ZEEP_REQUESTS[operation])
    )
    body = envelope.find(f"{{{SOAP_ENV_NS}}}Body")
    assert body is not None and len(body) == 1
    assert body[0].tag == _rep(f"{operation}Request")
    repertorium.assert_valid(body[0])


@pytest.mark.parametrize("operation", OPERATIONS)
def test_zeep_reads_every_example_response(repertorium_client: zeep.Client, operation: str) -> None:
    envelope = _envelope(VALID_MESSAGES[f"{operation}Response"])
    result = repertorium_client.service._binding._operations[operation].output.deserialize(envelope)
    assert result.ResultSummary.ok in {"YES", "NO", "WARNING"}
    assert result.Ticket


def test_zeep_reads_dates_with_a_timezone_suffix_as_calendar_days(repertorium_client: zeep.Client) -> None:
    envelope = _envelope(VALID_MESSAGES["IntegrateResponse"])
    result = repertorium_client.service._binding._operations["Integrate"].output.deserialize(envelope)
    first = result.PersonResult[0].Periods.Period[0]
    assert (first.StartDate.year, first.StartDate.month, first.StartDate.day) == (2024, 1, 15)


class _InMemoryTransport(Transport):  # type: ignore[misc]
    """Serves documents from a dict, as the gateway serves ?wsdl and ?xsd=<file name>."""

    def __init__(self, documents: dict[str, bytes]) -> None:
        super().__init__()
        self.documents = documents

    def load(self, url: str) -> bytes:
        return self.documents[url]


def test_zeep_loads_the_wsdl_as_served_with_absolute_schema_locations() -> None:
    from gateway.adapters.soap.documents import XSD_FILE, ContractDocuments

    endpoint = "https://gateway.test:8443/soap/repertorium"
    documents = ContractDocuments()
    wsdl = documents.wsdl(endpoint)
    locations = [i.get("schemaLocation") for i in etree.fromstring(wsdl).iter(f"{{{XS_NS}}}import")]
    assert locations == [f"{endpoint}?xsd={XSD_FILE}"]
    transport = _InMemoryTransport(
        {f"{endpoint}?wsdl": wsdl, f"{endpoint}?xsd={XSD_FILE}": documents.schema(XSD_FILE, endpoint) or b""}
    )
    client = zeep.Client(f"{endpoint}?wsdl", transport=transport)
    assert set(client.service._binding._operations) == set(OPERATIONS)
    assert client.service._binding_options["address"] == endpoint


def test_zeep_loads_the_ssdn_connector_wsdl_as_it_would_be_served() -> None:
    from gateway.adapters.soap.documents import ContractDocuments

    endpoint = "https://gateway.test:8443/connectors/webservice/KSZBCSSWebServiceConnectorPort"
    transport = _InMemoryTransport({f"{endpoint}?wsdl": ContractDocuments("ssdn-connector.wsdl").wsdl(endpoint)})
    client = zeep.Client(f"{endpoint}?wsdl", transport=transport)
    assert set(client.service._binding._operations) == {"sendXML"}
    assert client.service._binding_options["address"] == endpoint


def test_zeep_loads_the_ssdn_connector_wsdl_with_the_send_xml_operation(connector_client: zeep.Client) -> None:
    operations = connector_client.service._binding._operations
    assert set(operations) == {"sendXML"}
    assert operations["sendXML"].soapaction == f"{CONNECTOR_NS}/sendXML"
    port = connector_client.wsdl.services["KSZBCSSWebService"].ports["KSZBCSSWebServiceConnectorPort"]
    assert port.binding_options["address"] == (
        "http://localhost:8080/connectors/webservice/KSZBCSSWebServiceConnectorPort"
    )


def test_ssdn_connector_request_body_is_the_ssdn_document_as_text_in_an_xml_string_element(
    connector_client: zeep.Client,
) -> None:
    envelope = connector_client.create_message(connector_client.service, "sendXML", SSDN_REQUEST.strip())
    body = envelope.find(f"{{{SOAP_ENV_NS}}}Body")
    assert [child.tag for child in body] == [f"{{{CONNECTOR_NS}}}xmlString"]
    assert etree.fromstring(body[0].text.encode("utf-8")).tag == f"{{{SSDN_SERVICE_NS}}}SSDNRequest"


def test_ssdn_connector_reply_is_read_as_the_reply_document_text(connector_client: zeep.Client) -> None:
    envelope = _envelope(f'<x:xmlString xmlns:x="{CONNECTOR_NS}"><![CDATA[{SSDN_REPLY.strip()}]]></x:xmlString>')
    text = connector_client.service._binding._operations["sendXML"].output.deserialize(envelope)
    assert text == SSDN_REPLY.strip()


# --------------------------------------------------------------------------------------------------------------
# (d) The legacy SSDN documents
# --------------------------------------------------------------------------------------------------------------


def test_legacy_ssdn_manage_access_request_validates(ssdn: Validators) -> None:
    ssdn.assert_valid(SSDN_REQUEST)


def test_legacy_ssdn_reply_with_timezone_dates_validates(ssdn: Validators) -> None:
    ssdn.assert_valid(SSDN_REPLY)


def test_legacy_ssdn_reply_refused_as_a_whole_without_service_reply_validates(ssdn: Validators) -> None:
    ssdn.assert_valid(SSDN_ERROR_REPLY)


def test_legacy_ssdn_list_request_without_purpose_and_end_date_validates(ssdn: Validators) -> None:
    document = (
        SSDN_REQUEST.replace("<mar:Purpose>10</mar:Purpose>", "")
        .replace("REGISTER", "LIST")
        .replace(
            '<common:EndDate xmlns:common="http://www.ksz-bcss.fgov.be/XSD/SSDN/Common">2012-07-24</common:EndDate>',
            "",
        )
    )
    ssdn.assert_valid(document)


@pytest.mark.parametrize(
    "proof",
    [
        "<mar:SISCardNumber>1234567890</mar:SISCardNumber>",
        "<mar:IdentityCardNumber>591234567890</mar:IdentityCardNumber>",
        "<mar:SISCardNumber>1234567890</mar:SISCardNumber><mar:IdentityCardNumber>591234567890</mar:IdentityCardNumber>",
        "<mar:PersonData><mar:LastName>DEMO</mar:LastName><mar:BirthDate>1968-06-00</mar:BirthDate></mar:PersonData>",
        "<mar:PersonData><mar:LastName>DEMO</mar:LastName><mar:BirthDate>1968-00-00</mar:BirthDate></mar:PersonData>",
    ],
)
def test_legacy_proof_of_authentication_accepts_any_of_its_three_proofs(ssdn: Validators, proof: str) -> None:
    ssdn.assert_valid(_with_proof(proof))


@pytest.mark.parametrize(
    "proof",
    [
        "",
        "<mar:SISCardNumber>123456789</mar:SISCardNumber>",
        "<mar:IdentityCardNumber>59123456789</mar:IdentityCardNumber>",
        "<mar:PersonData><mar:LastName>DEMO</mar:LastName><mar:BirthDate>1968-00-05</mar:BirthDate></mar:PersonData>",
        "<mar:IdentityCardNumber>591234567890</mar:IdentityCardNumber><mar:SISCardNumber>1234567890</mar:SISCardNumber>",
    ],
    ids=["empty", "short SIS card", "short identity card", "day without month", "wrong order"],
)
def test_legacy_proof_of_authentication_without_a_well_formed_proof_is_rejected(ssdn: Validators, proof: str) -> None:
    ssdn.assert_rejected(_with_proof(proof))


def _with_proof(proof: str) -> str:
    start = SSDN_REQUEST.index("<mar:ProofOfAuthentication>") + len("<mar:ProofOfAuthentication>")
    end = SSDN_REQUEST.index("</mar:ProofOfAuthentication>")
    return SSDN_REQUEST[:start] + proof + SSDN_REQUEST[end:]


def test_legacy_request_with_unknown_action_is_rejected(ssdn: Validators) -> None:
    ssdn.assert_rejected(SSDN_REQUEST.replace("<mar:Action>REGISTER</mar:Action>", "<mar:Action>DELETE</mar:Action>"))


def test_legacy_request_with_period_dates_outside_the_common_namespace_is_rejected(ssdn: Validators) -> None:
    ssdn.assert_rejected(SSDN_REQUEST.replace("common:", "mar:"))


def test_legacy_request_without_service_request_is_rejected(ssdn: Validators) -> None:
    element = _element(SSDN_REQUEST)
    element.remove(element.find(f"{{{SSDN_SERVICE_NS}}}ServiceRequest"))
    ssdn.assert_rejected(element)


def test_legacy_request_with_malformed_time_request_is_rejected(ssdn: Validators) -> None:
    ssdn.assert_rejected(SSDN_REQUEST.replace("20120524T101500", "2012-05-24T10:15:00"))


def test_legacy_reply_with_ok_maybe_is_rejected(ssdn: Validators) -> None:
    ssdn.assert_rejected(SSDN_REPLY.replace('ok="YES"', 'ok="MAYBE"', 1))


def test_legacy_reply_with_thirty_one_details_is_rejected(ssdn: Validators) -> None:
    element = _element(SSDN_ERROR_REPLY)
    summary = element.find(f".//{{{SSDN_COMMON_NS}}}ResultSummary")
    detail = summary.find(f"{{{SSDN_COMMON_NS}}}Detail")
    for _ in range(29):
        summary.append(copy.deepcopy(detail))
    ssdn.assert_valid(element)
    summary.append(copy.deepcopy(detail))
    ssdn.assert_rejected(element)


def test_legacy_documents_tolerate_whitespace_around_values(ssdn: Validators) -> None:
    ssdn.assert_valid(
        SSDN_REQUEST.replace("<mar:SSIN>68060105329</mar:SSIN>", "<mar:SSIN>\n  68060105329\n</mar:SSIN>")
    )

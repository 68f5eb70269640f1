"""The project's SSDN schemas against the network's: they accept every document the network accepts that the
contract does not refuse, refuse what the contract refuses, and hold the gateway's replies to what clients need
(and the network's schemas accept).

Requests are written as OCMW software writes them (``ssdn_documents``); every check runs on lxml (the hot path)
and xmlschema (the tools), and on the network's own schemas (``network_schemas``: the published files, fetched as
test data).
"""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import pytest
import xmlschema
from lxml import etree
from network_schemas import network_schemas
from ssdn_documents import COMMON, MANAGE_ACCESS, SERVICE, Proof, Request, Sender, manage_access

ROOT = Path(__file__).resolve().parents[2]
SSDN_XSD = ROOT / "gateway" / "contract" / "xsd" / "ssdn-service.xsd"


class Both:
    """The project's schema in lxml and xmlschema, beside the network's."""

    def __init__(self) -> None:
        self.lxml = etree.XMLSchema(etree.parse(str(SSDN_XSD)))
        self.xmlschema = xmlschema.XMLSchema(str(SSDN_XSD))

    def ours(self, element: etree._Element) -> bool:
        by_lxml = self.lxml.validate(element)
        by_xmlschema = self.xmlschema.is_valid(element)
        assert by_lxml == by_xmlschema, f"lxml says {by_lxml}, xmlschema {by_xmlschema}: {self.lxml.error_log}"
        return bool(by_lxml)


@pytest.fixture(scope="module")
def schemas() -> Both:
    return Both()


def _tree(text: str) -> etree._Element:
    return etree.fromstring(text.encode("utf-8"))


def _accepted_by_both(schemas: Both, text: str) -> None:
    element = _tree(text)
    network_schemas().assert_valid(element)
    assert schemas.ours(element), f"the project's schema refuses what the network accepts: {schemas.lxml.error_log}"


def _refused_by_ours_only(schemas: Both, text: str) -> None:
    element = _tree(text)
    network_schemas().assert_valid(element)
    assert not schemas.ours(element), "the project's schema accepts what the contract refuses"


# -- requests the network accepts and the contract does not refuse ---------------------------------------------

REGISTER = Request("REGISTER", end=date(2015, 3, 9))

ACCEPTED = {
    "register as Lino writes it": manage_access(REGISTER),
    "register without EndDate": manage_access(Request("REGISTER")),
    "unregister": manage_access(Request("UNREGISTER", end=date(2015, 1, 14))),
    "list with each register": manage_access(
        Request("LIST", query_register="PRIMARY"),
        Request("LIST", query_register="SECONDARY"),
        Request("LIST", query_register="ALL"),
    ),
    "list without Purpose, Sector or QueryRegister": manage_access(
        Request("LIST", purpose=None, sector=None, query_register=None)
    ),
    "register without Purpose (refused by the gateway, not the schema)": manage_access(
        Request("REGISTER", purpose=None)
    ),
    "an empty proof": manage_access(Request("REGISTER", proof=Proof())),
    "every proof": manage_access(
        Request(
            "REGISTER",
            proof=Proof("1234567890", "591234567890", "O'BRIEN & CO", "JAN", "1968-06-00"),
        )
    ),
    "a year-only birth date with empty names": manage_access(
        Request("LIST", proof=Proof(last_name="", first_name="", birth_date="1968-00-00"))
    ),
    "a day without its month (a BIS number's birth date)": manage_access(
        Request("LIST", proof=Proof(last_name="X", birth_date="1968-00-05"))
    ),
    "Purpose written 01": manage_access(Request("REGISTER", purpose="01")),
    "a sender without OrgUnit, MatrixSubID or Message": manage_access(
        REGISTER, sender=Sender(org_unit=None, matrix_sub_id=None, reference=None, time_request=None)
    ),
    "an empty OrgUnit": manage_access(REGISTER, sender=Sender(org_unit="")),
    "MatrixID written +17": manage_access(REGISTER, sender=Sender(matrix_id="+17")),
    "dates with a timezone": manage_access(Request("LIST", start="2015-01-10+01:00", end="2015-02-01Z")),
    "an unknown service (refused by the gateway)": manage_access(
        Request("LIST", service_id="OCMWCPASIdentifyPerson", version="20050930")
    ),
    "another version (refused by the gateway)": manage_access(Request("LIST", version="20120101")),
    "eleven service requests (refused by the gateway)": manage_access(*[Request("LIST")] * 11),
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_the_project_accepts_what_the_network_accepts(schemas: Both, name: str) -> None:
    _accepted_by_both(schemas, ACCEPTED[name])


def test_a_body_that_is_not_a_manage_access_request_is_left_to_the_gateway(schemas: Both) -> None:
    element = _tree(manage_access(REGISTER))
    body = element.find(f"{{{SERVICE}}}ServiceRequest/{{{MANAGE_ACCESS}}}ManageAccessRequest")
    other = etree.fromstring(b'<x:IdentifyPersonRequest xmlns:x="urn:other"><x:A/></x:IdentifyPersonRequest>')
    body.getparent().replace(body, other)
    network_schemas().assert_valid(element)
    assert schemas.ours(element)


def test_a_manage_access_request_in_a_service_request_is_validated(schemas: Both) -> None:
    _refused_by_both(schemas, manage_access(Request("DELETE")))


def _refused_by_both(schemas: Both, text: str) -> None:
    element = _tree(text)
    assert network_schemas().errors(element), "the network accepts it"
    assert not schemas.ours(element)


# -- what the contract refuses although the network's patterns allow it -----------------------------------------

ARABIC_INDIC_SSIN = "".join(chr(0x0660 + int(d)) for d in "68060105329")


@pytest.mark.parametrize(
    "document",
    [
        manage_access(Request("REGISTER", ssin=ARABIC_INDIC_SSIN)),
        manage_access(REGISTER, sender=Sender(user_id=ARABIC_INDIC_SSIN)),
        manage_access(Request("REGISTER", proof=Proof(sis_card="١٢٣٤٥٦٧٨٩٠"))),
        manage_access(Request("REGISTER", purpose="+1")),
        manage_access(Request("REGISTER", purpose="-1")),
        manage_access(Request("LIST", proof=Proof(last_name="X", birth_date="1968-13-01"))),
        manage_access(Request("LIST", proof=Proof(last_name="X", birth_date="1968-06-32"))),
    ],
    ids=["SSIN", "UserID", "SIS card", "Purpose +1", "Purpose -1", "birth month 13", "birth day 32"],
)
def test_the_project_refuses_other_digits_signs_and_impossible_birth_dates(schemas: Both, document: str) -> None:
    _refused_by_ours_only(schemas, document)


@pytest.mark.parametrize(
    "document",
    [
        manage_access(Request("REGISTER", proof=Proof(last_name="X", birth_date=""))),
        manage_access(Request("REGISTER", proof=Proof(sis_card="123456789"))),
        manage_access(Request("REGISTER", start="2015-02-30")),
        manage_access(Request("REGISTER", version="2005093")),
        manage_access(REGISTER, sender=Sender(time_request="2015-01-10T10:15:00")),
    ],
    ids=["empty birth date", "short SIS card", "no such day", "short version", "ISO time"],
)
def test_both_refuse_what_the_network_refuses(schemas: Both, document: str) -> None:
    _refused_by_both(schemas, document)


def test_a_request_without_service_request_is_refused(schemas: Both) -> None:
    _refused_by_both(schemas, manage_access())


# -- replies ----------------------------------------------------------------------------------------------------

REPLY = f"""
<SSDNReply xmlns="{SERVICE}" xmlns:c="{COMMON}" xmlns:m="{MANAGE_ACCESS}">
  <ReplyContext>
    <c:ResultSummary ok="YES"><c:ReturnCode>0</c:ReturnCode></c:ResultSummary>
    <AuthorizedUser>
      <UserID>00901234567</UserID><Email>ocmw@demostad.example</Email><OrgUnit>0212345668</OrgUnit>
      <MatrixID>17</MatrixID><MatrixSubID>1</MatrixSubID>
    </AuthorizedUser>
    <Message>
      <Reference>ManageAccessRequest # 1</Reference>
      <Ticket>KSZGW-0123456789abcdef0123456789abcd</Ticket>
      <TimeRequest>20150110T101500</TimeRequest>
      <TimeReceive>20150110T101501</TimeReceive>
      <TimeResponse>20150110T101501</TimeResponse>
    </Message>
  </ReplyContext>
  <ServiceReply>
    <c:ResultSummary ok="WARNING">
      <c:ReturnCode>1</c:ReturnCode>
      <c:Detail>
        <c:Severity>WARNING</c:Severity><c:ReasonCode>29000001</c:ReasonCode>
        <c:Diagnostic>The removed days include days an attestation needs.</c:Diagnostic>
        <c:AuthorCodeList>KSZGW</c:AuthorCodeList>
        <c:Information><c:FieldName>ReasonCode</c:FieldName><c:FieldValue>ATTESTATION_AT_RISK</c:FieldValue></c:Information>
      </c:Detail>
    </c:ResultSummary>
    <ServiceId>OCMWCPASManageAccess</ServiceId>
    <Version>20050930</Version>
    <m:ManageAccessReply>
      <m:OriginalRequest>
        <m:SSIN>68060105329</m:SSIN><m:Purpose>0</m:Purpose>
        <m:Period><c:StartDate>2015-01-10+01:00</c:StartDate></m:Period>
        <m:Action>LIST</m:Action><m:Register>ALL</m:Register>
      </m:OriginalRequest>
      <m:Registrations>
        <m:Purpose>1</m:Purpose>
        <m:Period><c:StartDate>2015-01-10+01:00</c:StartDate><c:EndDate>2015-07-01+02:00</c:EndDate></m:Period>
        <m:OrgUnit>17</m:OrgUnit><m:Register>PRIMARY</m:Register>
      </m:Registrations>
      <m:Registrations>
        <m:Purpose>1</m:Purpose>
        <m:Period><c:StartDate>2015-01-10+01:00</c:StartDate></m:Period>
        <m:OrgUnit>0212345668</m:OrgUnit><m:Register>SECONDARY</m:Register>
      </m:Registrations>
    </m:ManageAccessReply>
  </ServiceReply>
  <ServiceReply>
    <c:ResultSummary ok="NO">
      <c:ReturnCode>10000</c:ReturnCode>
      <c:Detail>
        <c:Severity>ERROR</c:Severity><c:ReasonCode>31000007</c:ReasonCode>
        <c:Diagnostic>The expected mandatory argument is not provided or empty.</c:Diagnostic>
      </c:Detail>
    </c:ResultSummary>
    <ServiceId>OCMWCPASManageAccess</ServiceId>
    <Version>20050930</Version>
  </ServiceReply>
</SSDNReply>
"""


def test_a_reply_as_the_gateway_writes_it_validates_under_both(schemas: Both) -> None:
    _accepted_by_both(schemas, REPLY)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("<c:ReturnCode>0</c:ReturnCode>", "<c:ReturnCode> 0</c:ReturnCode>"),
        ("<c:ReturnCode>0</c:ReturnCode>", "<c:ReturnCode>00</c:ReturnCode>"),
        ("<c:ReturnCode>1</c:ReturnCode>", "<c:ReturnCode>2</c:ReturnCode>"),
        ("<c:ReasonCode>29000001</c:ReasonCode>", "<c:ReasonCode> </c:ReasonCode>"),
        ("<c:Diagnostic>The expected mandatory argument is not provided or empty.</c:Diagnostic>", "<c:Diagnostic/>"),
        ("<c:Severity>ERROR</c:Severity><c:ReasonCode>31000007</c:ReasonCode>", "<c:Severity>ERROR</c:Severity>"),
        ("<m:Action>LIST</m:Action>", "<m:Action>LIST</m:Action>"),
        ("KSZGW-0123456789abcdef0123456789abcd", "KSZGW-0123456789abcdef0123456789abcde"),
        ("<m:OrgUnit>17</m:OrgUnit><m:Register>PRIMARY", "<m:OrgUnit>17</m:OrgUnit><m:Register>ALL"),
        (
            "<c:StartDate>2015-01-10+01:00</c:StartDate></m:Period>\n        <m:Action>",
            "<c:StartDate>2015-01-10</c:StartDate></m:Period><m:Action>",
        ),
        ("<m:Purpose>0</m:Purpose>", ""),
    ],
    ids=[
        "ReturnCode with a space",
        "ReturnCode 00",
        "ReturnCode 2",
        "blank ReasonCode",
        "empty Diagnostic",
        "no ReasonCode",
        "unchanged",
        "Ticket of 37",
        "Register ALL in a registration",
        "a date without offset",
        "OriginalRequest without Purpose",
    ],
)
def test_the_project_holds_replies_to_what_clients_need(schemas: Both, old: str, new: str) -> None:
    assert old in REPLY
    element = _tree(REPLY.replace(old, new, 1))
    assert schemas.ours(element) == (old == new)


def test_a_detail_has_at_most_five_information(schemas: Both) -> None:
    element = _tree(REPLY)
    detail = element.find(f".//{{{COMMON}}}Detail")
    information = detail.find(f"{{{COMMON}}}Information")
    for _ in range(4):
        detail.append(copy.deepcopy(information))
    assert schemas.ours(element)
    network_schemas().assert_valid(element)
    detail.append(copy.deepcopy(information))
    assert not schemas.ours(element)
    assert network_schemas().errors(element)


def test_a_reply_without_message_is_the_networks_but_never_the_gateways(schemas: Both) -> None:
    element = _tree(REPLY)
    context = element.find(f"{{{SERVICE}}}ReplyContext")
    context.remove(context.find(f"{{{SERVICE}}}Message"))
    network_schemas().assert_valid(element)
    assert not schemas.ours(element)

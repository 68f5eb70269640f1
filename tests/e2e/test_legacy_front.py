"""The legacy front of a real ``ksz-gateway serve`` over HTTP: ``sendXML`` posted as OCMW software posts it, and
suds itself (the library Lino Welfare sends with) built from the served connector WSDL.

Every SSDNReply read here validates against the project's schema (the server checks it before it leaves) and
against the network's (``network_schemas``); whatever is wrong inside the document is an SSDNReply, whatever is
wrong around it a SOAP fault; what one front integrates the other one sees.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
import suds.client
from connector_wire import CONNECTOR_PATH, SEND_XML, Answer, envelope, post, token
from legacy_front import NS
from legacy_front import Answer as Reply
from lxml import etree
from network_schemas import network_schemas
from ssdn_documents import Proof, Request, Sender, manage_access
from suds.plugin import MessagePlugin
from suds.sax.element import Element

from gateway.client import RepertoriumClient

OCMW_A, SECRET_A = "0212345668", "demo-ocmw-a"
OCMW_B, SECRET_B = "0212345767", "demo-ocmw-b"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"


@pytest.fixture(scope="module")
def served(launch: Callable[..., Any]) -> Any:
    return launch()


def send(server: Any, document: str, *, cdata: bool = False, **options: Any) -> Answer:
    header = options.pop("header", None)
    answer = post(
        server.host,
        server.port,
        envelope(document, cdata=cdata, header=token() if header is None else header),
        **options,
    )
    if not answer.is_fault:
        assert answer.status == 200
        network_schemas().assert_valid(answer.document)
    return answer


def reply(answer: Answer) -> Reply:
    return Reply(answer.document)


def ok(answer: Answer, index: int | None = None) -> str:
    return reply(answer).ok if index is None else reply(answer).service_ok(index)


def codes(answer: Answer, index: int = 0) -> list[str]:
    return reply(answer).codes(index)


def registrations(answer: Answer, index: int = 0) -> list[tuple[str, str, str | None, str, str]]:
    return reply(answer).registrations(index)


# -- the connector and its WSDL --------------------------------------------------------------------------------


def test_the_connector_wsdl_is_served_with_its_absolute_address(served: Any) -> None:
    import urllib.request

    url = f"http://{served.host}:{served.port}{CONNECTOR_PATH}"
    with urllib.request.urlopen(url + "?wsdl", timeout=30) as answer:
        wsdl = etree.fromstring(answer.read())
    address = wsdl.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address.get("location") == url
    parts = [p.get("name") for p in wsdl.iter("{http://schemas.xmlsoap.org/wsdl/}part")]
    assert parts == ["requestXML", "replyXML"]


class Digest(MessagePlugin):  # type: ignore[misc]
    """suds has no PasswordDigest: this adds the UsernameToken as the test harnesses of this front do."""

    def marshalled(self, context: Any) -> None:
        nonce, created = os.urandom(16), datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        digest = hashlib.sha1(nonce + created.encode() + SECRET_A.encode()).digest()
        wsse = ("wsse", WSSE)
        password = Element("Password", ns=wsse).setText(base64.b64encode(digest).decode())
        password.set("Type", DIGEST)
        token = Element("UsernameToken", ns=wsse).append(
            [
                Element("Username", ns=wsse).setText(OCMW_A),
                password,
                Element("Nonce", ns=wsse).setText(base64.b64encode(nonce).decode()),
                Element("Created", ns=("wsu", WSU)).setText(created),
            ]
        )
        context.envelope.getChild("Header").append(Element("Security", ns=wsse).append(token))


def test_suds_built_from_the_served_wsdl_sends_xml_as_lino_does(served: Any, ssin: Callable[[], str]) -> None:
    person = ssin()
    client = suds.client.Client(
        f"http://{served.host}:{served.port}{CONNECTOR_PATH}?wsdl", cache=None, timeout=30, plugins=[Digest()]
    )
    text = manage_access(
        Request("REGISTER", ssin=person, start="2015-01-10", end="2015-02-28", proof=Proof(sis_card="1234567890"))
    )
    reply = client.service.sendXML(text)
    root = etree.fromstring(str(reply).encode("utf-8"))
    network_schemas().assert_valid(root)
    assert root.findtext("s:ServiceReply/c:ResultSummary/c:ReturnCode", namespaces=NS) == "0"
    assert len(root.findtext("s:ReplyContext/s:Message/s:Ticket", namespaces=NS)) <= 36


# -- the actions ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cdata", [False, True], ids=["escaped", "CDATA"])
def test_register_then_list_then_unregister(served: Any, ssin: Callable[[], str], cdata: bool) -> None:
    person = ssin()
    proof = Proof(sis_card="1234567890")
    registered = send(
        served, manage_access(Request("REGISTER", ssin=person, start="2015-01-10", proof=proof)), cdata=cdata
    )
    assert (ok(registered), ok(registered, 0)) == ("YES", "YES")
    assert registrations(registered) == [("1", "2015-01-10+01:00", "2015-03-09+01:00", OCMW_A, "SECONDARY")]
    listed = send(
        served, manage_access(Request("LIST", ssin=person, purpose=None, query_register="ALL", proof=Proof()))
    )
    assert registrations(listed) == [
        ("1", "2015-01-10+01:00", "2015-03-09+01:00", "17", "PRIMARY"),
        ("1", "2015-01-10+01:00", "2015-03-09+01:00", OCMW_A, "SECONDARY"),
    ]
    removed = send(served, manage_access(Request("UNREGISTER", ssin=person, start="2015-02-01", proof=proof)))
    assert (ok(removed, 0), registrations(removed)) == ("YES", [])


def test_integrations_made_through_either_front_are_seen_through_the_other(
    served: Any, ssin: Callable[[], str]
) -> None:
    person = ssin()
    with RepertoriumClient(served.endpoint, OCMW_B, SECRET_B, timeout=30) as v1:
        v1.integrate([person], code=1, start=date(2015, 1, 10), end=date(2015, 1, 31))
        legacy = send(
            served,
            manage_access(
                Request(
                    "REGISTER", ssin=person, start="2015-02-01", end="2015-02-28", proof=Proof(sis_card="1234567890")
                )
            ),
        )
        assert ok(legacy) == "YES"
        seen = v1.consult(person, start=date(2015, 1, 1))
        assert sorted((i.institution.id, str(i.period)) for i in seen.integrations) == [
            (OCMW_A, "2015-02-01/2015-02-28"),
            (OCMW_B, "2015-01-10/2015-01-31"),
        ]
    listed = send(
        served,
        manage_access(Request("LIST", ssin=person, start="2015-01-01", query_register="SECONDARY", proof=Proof())),
    )
    assert [(r[3], r[1], r[2]) for r in registrations(listed)] == [
        (OCMW_A, "2015-02-01+01:00", "2015-02-28+01:00"),
        (OCMW_B, "2015-01-10+01:00", "2015-01-31+01:00"),
    ]
    primary = send(
        served, manage_access(Request("LIST", ssin=person, start="2015-01-01", query_register="PRIMARY", proof=Proof()))
    )
    assert registrations(primary) == [("1", "2015-01-10+01:00", "2015-02-28+01:00", "17", "PRIMARY")]


# -- refusals inside the document: an SSDNReply with ok="NO", nothing applied ------------------------------------


@pytest.mark.parametrize(
    ("request_", "sender", "code"),
    [
        (Request("REGISTER"), Sender(org_unit=OCMW_B), "39100001"),
        (Request("REGISTER"), Sender(matrix_id="7"), "39100002"),
        (Request("REGISTER", purpose=None), Sender(), "31000007"),
        (Request("REGISTER", proof=Proof()), Sender(), "39100003"),
        (Request("REGISTER", proof=Proof(last_name="X", birth_date="1971-01-01")), Sender(), "39100005"),
    ],
    ids=["OrgUnit of another OCMW", "MatrixID of another sector", "no Purpose", "empty proof", "contradicting proof"],
)
def test_a_refused_document_gets_an_ssdn_reply_and_changes_nothing(
    served: Any, ssin: Callable[[], str], request_: Request, sender: Sender, code: str
) -> None:
    person = ssin()
    from dataclasses import replace

    answer = send(served, manage_access(replace(request_, ssin=person), sender=sender))
    assert (ok(answer), ok(answer, 0), codes(answer)) == ("NO", "NO", [code])
    listed = send(served, manage_access(Request("LIST", ssin=person, purpose=None, proof=Proof())))
    assert registrations(listed) == []


@pytest.mark.parametrize(
    ("document", "code"),
    [
        (manage_access(Request("REGISTER", purpose="+1")), "39200003"),
        ('<!DOCTYPE r [<!ENTITY a "x">]><r>&a;</r>', "39200002"),
        ("<ssdn:SSDNRequest", "39200001"),
    ],
    ids=["schema-invalid", "DOCTYPE inside", "not well-formed"],
)
def test_a_document_that_cannot_be_read_is_an_ssdn_reply_not_a_fault(served: Any, document: str, code: str) -> None:
    answer = send(served, document)
    assert not answer.is_fault
    assert (ok(answer), codes(answer)) == ("NO", [code])


# -- refusals around the document: SOAP faults ------------------------------------------------------------------


def test_without_credentials_the_caller_gets_an_authentication_fault(served: Any) -> None:
    answer = send(served, manage_access(Request("LIST")), header="")
    assert answer.is_fault and answer.status == 500
    assert answer.faultcode.endswith("InvalidSecurity")


def test_a_wrong_secret_is_an_authentication_fault(served: Any) -> None:
    answer = send(served, manage_access(Request("LIST")), header=token(secret="wrong"))
    assert answer.is_fault and answer.faultcode.endswith("FailedAuthentication")


@pytest.mark.parametrize(
    ("action", "accepted"),
    [(f'"{SEND_XML}"', True), (SEND_XML, True), ('""', True), (None, True), ('"urn:other"', False)],
)
def test_the_soap_action_is_sendxml_quoted_or_not_or_empty(served: Any, action: str | None, accepted: bool) -> None:
    answer = send(served, manage_access(Request("LIST")), action=action)
    assert answer.is_fault is not accepted
    if not accepted:
        assert answer.fault_reason == "SOAPACTION_MISMATCH"


def test_a_body_that_is_not_a_lone_xml_string_is_a_fault(served: Any) -> None:
    wrapped = envelope(manage_access(Request("LIST")), header=token()).replace(b"ns0:xmlString", b"ns0:sendXML")
    answer = post(served.host, served.port, wrapped)
    assert answer.is_fault and answer.fault_reason == "UNKNOWN_OPERATION"
    nested = envelope("", header=token()).replace(
        b"<ns0:xmlString></ns0:xmlString>", b"<ns0:xmlString><a/></ns0:xmlString>"
    )
    assert post(served.host, served.port, nested).fault_reason == "MALFORMED_MESSAGE"


def test_the_edge_checks_of_v1_hold_here_too(served: Any) -> None:
    document = manage_access(Request("LIST"))
    assert send(served, document, content_type="application/soap+xml").status == 415
    doctype = b'<?xml version="1.0"?><!DOCTYPE e><e/>'
    assert post(served.host, served.port, doctype).fault_reason == "DOCTYPE_FORBIDDEN"
    huge = envelope("x" * (5 * 1024 * 1024), header=token())
    assert post(served.host, served.port, huge).status == 413

"""The wire contract v1 over real HTTP, as a legacy client speaks it: documents, reason codes, faults, WS-Security.

Every request these tests mean to be valid, and every answer, is checked against xsd/ by the ``wire`` fixture.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import zeep
from lxml import etree
from zeep.wsse.username import UsernameToken

from gateway.domain.periods import Period

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
REP = "urn:ksz-gateway:repertorium:v1"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
XS = "http://www.w3.org/2001/XMLSchema"
OCMW_A, OCMW_B, FAMILY, EMPLOYMENT = "0212345668", "0212345767", "0212345866", "0212345965"


def d(text: str) -> date:
    return date.fromisoformat(text)


def get(server: Any, target: str, host: str | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        headers = {"Host": host} if host else {}
        connection.request("GET", target, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# -- the documents --------------------------------------------------------------------------------------


def test_the_wsdl_names_the_endpoint_as_the_client_reached_it(gateway: Any) -> None:
    status, data = get(gateway, "/soap/repertorium?wsdl")
    assert status == 200
    wsdl = etree.fromstring(data)
    addresses = [a.get("location") for a in wsdl.iter(f"{{{WSDL_SOAP}}}address")]
    assert addresses == [gateway.endpoint]

    status, data = get(gateway, "/soap/repertorium?wsdl", host="gateway.example.org:8443")
    assert [a.get("location") for a in etree.fromstring(data).iter(f"{{{WSDL_SOAP}}}address")] == [
        "http://gateway.example.org:8443/soap/repertorium"
    ]


def test_the_served_wsdl_imports_its_schema_from_the_same_endpoint(gateway: Any) -> None:
    wsdl = etree.fromstring(get(gateway, "/soap/repertorium?wsdl")[1])
    imports = list(wsdl.iter(f"{{{XS}}}import"))
    assert [(i.get("namespace"), i.get("schemaLocation")) for i in imports] == [
        (REP, f"{gateway.endpoint}?xsd=repertorium-v1.xsd")
    ]
    service = wsdl.find(f"{{{WSDL_NS}}}service")
    assert service.get("name") == "RepertoriumService"
    assert service.find(f"{{{WSDL_NS}}}port").get("name") == "RepertoriumPort"

    status, served = get(gateway, "/soap/repertorium?xsd=repertorium-v1.xsd")
    assert status == 200
    with open(_xsd_file(), "rb") as original:
        expected = etree.tostring(etree.fromstring(original.read()), method="c14n")
    assert etree.tostring(etree.fromstring(served), method="c14n") == expected


def _xsd_file() -> str:
    from gateway.contract.resources import xsd_path

    return str(xsd_path("repertorium-v1.xsd"))


@pytest.mark.parametrize("name", ["nope.xsd", "../pyproject.toml", "repertorium-v1.wsdl", ""])
def test_only_the_packaged_schemas_are_served(gateway: Any, name: str) -> None:
    status, _ = get(gateway, f"/soap/repertorium?xsd={name}")
    assert status == 404


def test_other_paths_and_methods_are_plain_http_errors(gateway: Any) -> None:
    assert get(gateway, "/soap/other?wsdl")[0] == 404
    connection = http.client.HTTPConnection(gateway.host, gateway.port, timeout=30)
    try:
        connection.request("PUT", "/soap/repertorium", body=b"x")
        assert connection.getresponse().status == 405
    finally:
        connection.close()


def test_zeep_builds_a_client_from_the_served_wsdl_and_calls_the_gateway(gateway: Any, ssin: Callable[[], str]) -> None:
    client = zeep.Client(gateway.endpoint + "?wsdl", wsse=UsernameToken(OCMW_A, "demo-ocmw-a", use_digest=True))
    person = ssin()
    answer = client.service.Integrate(QualityCode=1, Period={"StartDate": d("2015-01-05")}, Person=[{"SSIN": person}])
    assert answer.ResultSummary.ok == "YES"
    assert answer.PersonResult[0].Status == "INTEGRATED"
    found = client.service.Consult(SSIN=person, Period={"StartDate": d("2015-01-01")})
    assert [(i.Institution.Id, i.QualityCode) for i in found.Integration] == [(OCMW_A, 1)]


# -- the operations and their reason codes ---------------------------------------------------------------


def test_integrate_without_end_date_runs_for_the_codes_maximum(wire: Any, soap: Any) -> None:
    person = soap.new_ssin()
    reply = wire.call(soap.change("Integrate", [person], 1, "2014-12-01"))
    assert (reply.ok, reply.return_code) == ("YES", 0)
    assert reply.ticket
    [result] = reply.persons
    assert (result.ssin, result.status, result.reasons) == (person, "INTEGRATED", ())
    assert result.periods == (Period(d("2014-12-01"), d("2015-01-31")),)


def test_the_manuals_desintegration_example_r3_4(wire: Any, soap: Any) -> None:
    person = soap.new_ssin()
    wire.call(soap.change("Integrate", [person], 1, "2014-12-01", "2015-01-31"))
    reply = wire.call(soap.change("Desintegrate", [person], 1, "2015-01-01"))
    assert reply.ok == "YES"
    assert reply.persons[0].status == "DESINTEGRATED"
    assert reply.persons[0].periods == (Period(d("2014-12-01"), d("2014-12-31")),)

    other = soap.new_ssin()
    wire.call(soap.change("Integrate", [other], 1, "2014-12-01", "2015-01-31"))
    reply = wire.call(soap.change("Desintegrate", [other], 1, "2015-01-01", "2015-01-14"))
    assert reply.persons[0].periods == (
        Period(d("2014-12-01"), d("2014-12-31")),
        Period(d("2015-01-15"), d("2015-01-31")),
    )


def test_an_invalid_ssin_is_refused_for_that_person_only(wire: Any, soap: Any) -> None:
    good = soap.new_ssin()
    bad = good[:9] + f"{(int(good[9:]) + 1) % 100:02d}"
    reply = wire.call(soap.change("Integrate", [good, bad], 1, "2015-01-05"))
    assert (reply.ok, reply.return_code) == ("WARNING", 1)
    first, second = reply.persons
    assert first.status == "INTEGRATED" and first.periods is not None
    assert (second.ssin, second.status, second.reasons, second.periods) == (bad, "REFUSED", ("INVALID_SSIN",), None)


def test_a_code_outside_the_sectors_catalogue_is_unknown(wire: Any, soap: Any) -> None:
    person = soap.new_ssin()
    reply = wire.call(soap.change("Integrate", [person], 99, "2015-01-05"))
    assert (reply.ok, reply.return_code) == ("NO", 10000)
    assert reply.persons[0].reasons == ("UNKNOWN_QUALITY_CODE",)
    assert reply.persons[0].periods == ()


@pytest.mark.parametrize(("operation", "code"), [("Integrate", 11), ("Integrate", 12), ("Desintegrate", 12)])
def test_esf_codes_cannot_be_changed_by_request(wire: Any, soap: Any, operation: str, code: int) -> None:
    reply = wire.call(soap.change(operation, [soap.new_ssin()], code, "2015-01-05"))
    assert reply.ok == "NO"
    assert reply.persons[0].reasons == ("MANUAL_INTEGRATION_NOT_ALLOWED",)


def test_an_end_before_the_start_is_refused(wire: Any, soap: Any) -> None:
    reply = wire.call(soap.change("Integrate", [soap.new_ssin()], 2, "2015-01-05", "2015-01-04"))
    assert reply.ok == "NO"
    assert reply.persons[0].reasons == ("END_BEFORE_START",)


def test_a_period_past_the_maximum_names_the_latest_end(wire: Any, soap: Any) -> None:
    reply = wire.call(soap.change("Integrate", [soap.new_ssin()], 1, "2014-12-01", "2015-02-01"))
    assert reply.ok == "NO"
    [person] = reply.persons
    assert person.reasons == ("PERIOD_EXCEEDS_MAXIMUM",)
    assert person.information["MaximumEndDate"] == "2015-01-31"


def test_integrating_a_covered_period_again_changes_nothing_and_says_so(wire: Any, soap: Any) -> None:
    person = soap.new_ssin()
    wire.call(soap.change("Integrate", [person], 2, "2015-01-01", "2015-06-30"))
    reply = wire.call(soap.change("Integrate", [person], 2, "2015-02-01", "2015-03-31"))
    assert (reply.ok, reply.return_code) == ("YES", 0)
    [result] = reply.persons
    assert (result.status, result.reasons, result.severities) == (
        "ALREADY_INTEGRATED",
        ("ALREADY_INTEGRATED",),
        ("INFORMATION",),
    )
    assert result.periods == (Period(d("2015-01-01"), d("2015-06-30")),)


def test_desintegrating_nothing_is_a_success_with_an_empty_period_list(wire: Any, soap: Any) -> None:
    reply = wire.call(soap.change("Desintegrate", [soap.new_ssin()], 1, "2015-01-01"))
    assert (reply.ok, reply.return_code) == ("YES", 0)
    [result] = reply.persons
    assert (result.status, result.reasons, result.severities) == (
        "NOTHING_TO_REMOVE",
        ("NOTHING_TO_REMOVE",),
        ("INFORMATION",),
    )
    assert result.periods == ()
    assert b"<rep:Periods/>" in reply.data


def test_a_person_named_twice_is_handled_once(wire: Any, soap: Any) -> None:
    person = soap.new_ssin()
    reply = wire.call(soap.change("Integrate", [person, person], 1, "2015-01-05"))
    assert reply.ok == "WARNING"
    first, repeat = reply.persons
    assert (first.status, repeat.status, repeat.reasons) == ("INTEGRATED", "REFUSED", ("DUPLICATE_PERSON",))
    assert repeat.periods == first.periods


def test_a_reference_sent_again_gets_the_first_answer_and_applies_nothing(wire: Any, soap: Any) -> None:
    person, reference = soap.new_ssin(), f"ref-{soap.new_ssin()}"
    first = wire.call(soap.change("Integrate", [person], 1, "2015-01-05", "2015-01-20", reference=reference))
    wire.call(soap.change("Desintegrate", [person], 1, "2015-01-10", "2015-01-10"))
    again = wire.call(soap.change("Integrate", [person], 1, "2015-01-05", "2015-01-20", reference=reference))
    assert again.ticket == first.ticket
    assert again.persons == first.persons  # the stored answer, not a new integration
    consult = wire.call(soap.consult(person, "2015-01-01"))
    assert [i[4] for i in consult.integrations] == [
        Period(d("2015-01-05"), d("2015-01-09")),
        Period(d("2015-01-11"), d("2015-01-20")),
    ]


def test_a_reference_reused_for_another_request_is_refused_and_applies_nothing(wire: Any, soap: Any) -> None:
    person, other, reference = soap.new_ssin(), soap.new_ssin(), f"ref-{soap.new_ssin()}"
    first = wire.call(soap.change("Integrate", [person], 1, "2015-01-05", reference=reference))
    reused = wire.call(soap.change("Integrate", [other], 1, "2015-01-05", reference=reference))
    assert (reused.ok, reused.return_code) == ("NO", 10000)
    assert reused.ticket != first.ticket
    assert reused.summary_reasons == ("REFERENCE_REUSED",)
    assert reused.persons[0].reasons == ("REFERENCE_REUSED",)
    assert wire.call(soap.consult(other, "2015-01-01")).integrations == []
    across = wire.call(soap.consult(person, "2015-01-01", reference=reference))
    assert (across.ok, across.summary_reasons) == ("NO", ("REFERENCE_REUSED",))


def test_dates_with_a_timezone_count_by_their_calendar_day(wire: Any, soap: Any) -> None:
    person = soap.new_ssin()
    reply = wire.call(soap.change("Integrate", [person], 2, "2015-01-05+02:00", "2015-02-05-05:00"))
    assert reply.persons[0].periods == (Period(d("2015-01-05"), d("2015-02-05")),)


def test_the_summary_says_yes_warning_or_no(wire: Any, soap: Any) -> None:
    a, b = soap.new_ssin(), soap.new_ssin()
    yes = wire.call(soap.change("Integrate", [a, b], 1, "2015-01-05"))
    warning = wire.call(soap.change("Integrate", [a, "12345678901"], 1, "2015-01-05"))
    no = wire.call(soap.change("Integrate", ["12345678901"], 1, "2015-01-05"))
    assert [(r.ok, r.return_code) for r in (yes, warning, no)] == [("YES", 0), ("WARNING", 1), ("NO", 10000)]


# -- consultation ---------------------------------------------------------------------------------------


def test_consult_lists_every_institutions_integrations_in_contract_order(wire: Any, soap: Any) -> None:
    person = soap.new_ssin()
    for who, code, start, end in [
        ("employment", 1, "2015-01-02", "2015-03-31"),
        ("ocmw_b", 2, "2015-01-01", "2015-12-31"),
        ("ocmw_a", 7, "2014-06-01", None),
        ("ocmw_a", 1, "2015-02-01", "2015-02-28"),
        ("family", 1, "2014-12-15", None),
        ("ocmw_a", 1, "2014-12-01", "2014-12-31"),
    ]:
        reply = wire.call(soap.change("Integrate", [person], code, start, end), who=who)
        assert reply.ok == "YES", (who, code)

    reply = wire.call(soap.consult(person, "2014-12-20", "2015-02-10"), who="ocmw_b")
    assert reply.ok == "YES"
    assert [(i[0], i[3], i[4]) for i in reply.integrations] == [
        (OCMW_A, 1, Period(d("2014-12-01"), d("2014-12-31"))),
        (OCMW_A, 1, Period(d("2015-02-01"), d("2015-02-28"))),
        (OCMW_A, 7, Period(d("2014-06-01"), d("2019-05-31"))),
        (OCMW_B, 2, Period(d("2015-01-01"), d("2015-12-31"))),
        (FAMILY, 1, Period(d("2014-12-15"), d("2015-12-14"))),
        (EMPLOYMENT, 1, Period(d("2015-01-02"), d("2015-03-31"))),
    ]
    names = {i[0]: (i[1], i[2]) for i in reply.integrations}
    assert names[FAMILY] == ("Kinderbijslagfonds Demo", 7)
    assert names[EMPLOYMENT] == ("Arbeidsbemiddeling Demo", 18)

    by_sector = wire.call(soap.consult(person, "2014-01-01", sector=18))
    assert [i[0] for i in by_sector.integrations] == [EMPLOYMENT]
    by_code = wire.call(soap.consult(person, "2014-01-01", "2015-01-31", code=1))
    assert [(i[0], i[4].start) for i in by_code.integrations] == [
        (OCMW_A, d("2014-12-01")),
        (FAMILY, d("2014-12-15")),
        (EMPLOYMENT, d("2015-01-02")),
    ]
    outside = wire.call(soap.consult(person, "2013-01-01", "2013-12-31"))
    assert (outside.ok, outside.integrations) == ("YES", [])


def test_consulting_an_invalid_ssin_says_no(wire: Any, soap: Any) -> None:
    reply = wire.call(soap.consult("12345678901", "2015-01-01"))
    assert (reply.ok, reply.return_code, reply.summary_reasons) == ("NO", 10000, ("INVALID_SSIN",))
    assert reply.ticket


def test_a_consultation_period_ending_before_it_starts_is_a_client_fault(wire: Any, soap: Any) -> None:
    reply = wire.call(soap.consult(soap.new_ssin(), "2015-01-10", "2015-01-09"))
    assert (reply.status, reply.faultcode, reply.fault_reason) == (500, "soap:Client", "END_BEFORE_START")


# -- message faults ---------------------------------------------------------------------------------------


def _client_fault(reply: Any, reason: str) -> None:
    assert reply.status == 500
    assert reply.faultcode_qname == (SOAP_ENV, "Client")
    assert reply.fault_reason == reason


def test_malformed_xml_is_a_client_fault(wire: Any) -> None:
    reply = wire.post(b"<soapenv:Envelope xmlns:soapenv='" + SOAP_ENV.encode() + b"'><soapenv:Body>", valid=False)
    _client_fault(reply, "MALFORMED_MESSAGE")
    assert "well-formed" in reply.faultstring


def test_a_body_that_is_not_a_soap_envelope_is_a_client_fault(wire: Any, soap: Any) -> None:
    reply = wire.post(soap.change("Integrate", [soap.new_ssin()], 1, "2015-01-05").encode(), valid=False)
    _client_fault(reply, "MALFORMED_MESSAGE")


def test_a_schema_violation_names_the_element_and_stores_nothing(wire: Any, soap: Any) -> None:
    person = soap.new_ssin()
    body = soap.change("Integrate", [person, "1234"], 1, "2015-01-05")
    reply = wire.post(soap.envelope(body), valid=False)
    _client_fault(reply, "SCHEMA_VIOLATION")
    assert "rep:SSIN" in reply.faultstring
    assert "1234" in reply.faultstring
    assert wire.call(soap.consult(person, "2015-01-01")).integrations == []

    misplaced = soap.change("Integrate", [person], 1, "2015-01-05").replace("<rep:QualityCode>1</rep:QualityCode>", "")
    reply = wire.post(soap.envelope(misplaced), valid=False)
    _client_fault(reply, "SCHEMA_VIOLATION")
    assert "rep:Period" in reply.faultstring or "rep:QualityCode" in reply.faultstring


def test_a_doctype_is_refused(wire: Any, soap: Any) -> None:
    body = soap.envelope(soap.consult(soap.new_ssin(), "2015-01-01")).replace(
        b"<soapenv:Envelope", b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>\n<soapenv:Envelope', 1
    )
    reply = wire.post(body, valid=False)
    _client_fault(reply, "DOCTYPE_FORBIDDEN")


def test_an_entity_expansion_bomb_is_refused_without_expanding(wire: Any) -> None:
    bomb = (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'.encode()
            for i in range(1, 10)
        )
        + b"]>\n<soapenv:Envelope xmlns:soapenv='"
        + SOAP_ENV.encode()
        + b"'><soapenv:Body><x>&lol9;</x></soapenv:Body></soapenv:Envelope>"
    )
    reply = wire.post(bomb, valid=False)
    _client_fault(reply, "DOCTYPE_FORBIDDEN")


def test_an_unknown_operation_is_a_client_fault(wire: Any, soap: Any) -> None:
    reply = wire.post(soap.envelope("<rep:ExplodeRequest><rep:SSIN>1</rep:SSIN></rep:ExplodeRequest>"), valid=False)
    _client_fault(reply, "UNKNOWN_OPERATION")
    assert "ExplodeRequest" in reply.faultstring


def test_the_soapaction_must_name_the_bodys_operation_or_be_empty(wire: Any, soap: Any) -> None:
    body = soap.consult(soap.new_ssin(), "2015-01-01")
    assert wire.call(body, action='"urn:ksz-gateway:repertorium:v1/Consult"').ok == "YES"
    assert wire.call(body, action='""').ok == "YES"
    reply = wire.call(body, action='"urn:ksz-gateway:repertorium:v1/Integrate"')
    _client_fault(reply, "SOAPACTION_MISMATCH")
    assert "Consult" in reply.faultstring
    _client_fault(wire.call(body, action='"urn:something:else"'), "SOAPACTION_MISMATCH")


def test_an_empty_body_is_a_client_fault(wire: Any, soap: Any) -> None:
    reply = wire.post(soap.envelope(""), valid=False)
    _client_fault(reply, "EMPTY_BODY")


def test_a_soap_12_envelope_is_a_version_mismatch(wire: Any) -> None:
    data = b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>'
    reply = wire.post(data, valid=False)
    assert reply.faultcode_qname == (SOAP_ENV, "VersionMismatch")


@pytest.mark.parametrize("content_type", ["application/soap+xml; charset=utf-8", "application/json", ""])
def test_a_content_type_other_than_text_xml_is_refused_with_415(wire: Any, soap: Any, content_type: str) -> None:
    reply = wire.post(soap.envelope(soap.consult(soap.new_ssin(), "2015-01-01")), content_type=content_type)
    assert reply.status == 415
    _fault_reason(reply, "soap:Client", "UNSUPPORTED_MEDIA_TYPE")


def _fault_reason(reply: Any, code: str, reason: str) -> None:
    assert (reply.faultcode, reply.fault_reason) == (code, reason)


def test_an_oversize_body_is_read_and_refused_with_413(gateway: Any, soap: Any) -> None:
    limit = 4 * 1024 * 1024
    padding = b"<!--" + b"x" * (limit - 100) + b"-->"
    data = soap.envelope(soap.consult(soap.new_ssin(), "2015-01-01")) + padding
    assert len(data) > limit
    status, content_type, body = soap.http_post(gateway, data, {"Content-Type": "text/xml", "SOAPAction": '""'})
    assert status == 413
    reply = soap.Reply(status, content_type, body, etree.fromstring(body))
    _fault_reason(reply, "soap:Client", "MESSAGE_TOO_LARGE")


def test_an_oversize_chunked_body_is_refused_with_413_too(gateway: Any, soap: Any) -> None:
    def chunks() -> Any:
        yield soap.envelope(soap.consult(soap.new_ssin(), "2015-01-01"))
        for _ in range(80):
            yield b"<!--" + b"y" * 65536 + b"-->"

    connection = http.client.HTTPConnection(gateway.host, gateway.port, timeout=60)
    try:
        connection.request(
            "POST",
            "/soap/repertorium",
            body=chunks(),
            headers={"Content-Type": "text/xml", "SOAPAction": '""'},
            encode_chunked=True,
        )
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status == 413
    assert b"MESSAGE_TOO_LARGE" in body


def test_a_chunked_request_within_the_limit_is_answered(gateway: Any, soap: Any) -> None:
    data = soap.envelope(soap.consult(soap.new_ssin(), "2015-01-01"))
    connection = http.client.HTTPConnection(gateway.host, gateway.port, timeout=60)
    try:
        connection.request(
            "POST",
            "/soap/repertorium",
            body=iter([data[:100], data[100:]]),
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
            encode_chunked=True,
        )
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status == 200
    assert b"ConsultResponse" in body and b'ok="YES"' in body


def test_an_unknown_header_that_must_be_understood_is_a_must_understand_fault(wire: Any, soap: Any) -> None:
    extra = '<x:Routing xmlns:x="urn:example:routing" soapenv:mustUnderstand="1">a</x:Routing>'
    body = soap.consult(soap.new_ssin(), "2015-01-01")
    reply = wire.post(soap.envelope(body, header=soap.security_header() + extra))
    assert reply.faultcode_qname == (SOAP_ENV, "MustUnderstand")
    assert reply.fault_reason == "MUST_UNDERSTAND"

    optional = '<x:Routing xmlns:x="urn:example:routing" soapenv:mustUnderstand="0">a</x:Routing>'
    assert wire.post(soap.envelope(body, header=soap.security_header() + optional)).ok == "YES"


def test_every_operation_answers_with_a_ticket_of_at_most_36_characters(
    client_for: Callable[..., Any], soap: Any
) -> None:
    client = client_for()
    person = soap.new_ssin()
    start = date(2015, 1, 5)
    answers = {
        "Integrate": client.integrate([person], code=1, start=start),
        "Consult": client.consult(person, start=start),
        "CheckAccess": client.check_access("consult.generic", [(person, "SUBJECT")]),
        "SendFlow": client.send_flow("request.new", [(soap.new_ssin(), "MAIN")]),
        "Desintegrate": client.desintegrate([person], code=1, start=start),
    }
    for operation, answer in answers.items():
        assert answer.ok == "YES", (operation, answer)
        assert 0 < len(answer.ticket) <= 36, (operation, answer.ticket)
    assert len({answer.ticket for answer in answers.values()}) == len(answers)


# -- authentication -----------------------------------------------------------------------------------------


def _auth_fault(reply: Any, local: str = "FailedAuthentication") -> str:
    assert reply.status == 500
    assert reply.faultcode_qname == (WSSE, local)
    assert reply.faultcode == f"wsse:{local}"
    return str(reply.faultstring)


def _refused_soon(call: Callable[[], Any]) -> Any:
    """The first fault ``call`` gets: the gateway re-reads an institution at most a second after it changed."""
    deadline = time.monotonic() + 15
    while True:
        reply = call()
        if reply.is_fault or time.monotonic() > deadline:
            return reply
        time.sleep(0.2)


def test_unknown_institution_wrong_digest_and_disabled_institution_get_the_very_same_answer(
    wire: Any, soap: Any
) -> None:
    added = wire.server.cli("institutions", "add", "0212345569", "OCMW Gesloten", "17")
    assert added.returncode == 0, added.stderr
    secret = added.stdout.split("shown only now:")[1].split()[0]
    assert wire.server.cli("institutions", "disable", "0212345569").returncode == 0
    body = soap.consult(soap.new_ssin(), "2015-01-01")
    failures = {
        "wrong secret": wire.call(body, secret="not-the-secret"),
        "unknown institution": wire.call(body, username="0999999984", secret="whatever"),
        "another institution's secret": wire.call(body, secret="demo-ocmw-b"),
        "disabled institution": _refused_soon(lambda: wire.call(body, username="0212345569", secret=secret)),
    }
    for reply in failures.values():
        _auth_fault(reply)
        assert reply.fault_reason == "FAILED_AUTHENTICATION"
    assert len({reply.data for reply in failures.values()}) == 1, {n: r.faultstring for n, r in failures.items()}
    assert "Traceback" not in failures["wrong secret"].faultstring


def test_password_text_is_refused_saying_to_send_a_digest(wire: Any, soap: Any) -> None:
    body = soap.consult(soap.new_ssin(), "2015-01-01")
    for reply in (wire.call(body, password_text=True), wire.call(body, password_text=True, username="0999999984")):
        text = _auth_fault(reply)
        assert reply.fault_reason == "PASSWORD_TEXT_REFUSED"
        assert "send wsse:Password with Type" in text and "#PasswordDigest" in text


@pytest.mark.parametrize(("tag", "name"), [("wsse:Nonce", "Nonce"), ("wsu:Created", "Created")])
def test_a_digest_without_nonce_or_created_is_told_what_is_missing(wire: Any, soap: Any, tag: str, name: str) -> None:
    header = soap.security_header()
    start = header.index(f"<{tag}>")
    header = header[:start] + header[header.index(f"</{tag}>", start) + len(f"</{tag}>") :]
    reply = wire.post(soap.envelope(soap.consult(soap.new_ssin(), "2015-01-01"), header=header))
    text = _auth_fault(reply, "InvalidSecurity")
    assert reply.fault_reason == "USERNAME_TOKEN_INCOMPLETE"
    assert text.startswith(f"The UsernameToken has a password digest but no {tag}: ")


def test_a_nonce_encoding_other_than_base64_is_told_which_one_to_use(wire: Any, soap: Any) -> None:
    header = soap.security_header().replace("<wsse:Nonce>", '<wsse:Nonce EncodingType="urn:example:hex">')
    reply = wire.post(soap.envelope(soap.consult(soap.new_ssin(), "2015-01-01"), header=header))
    text = _auth_fault(reply, "InvalidSecurity")
    assert reply.fault_reason == "UNSUPPORTED_ENCODING"
    assert "'urn:example:hex'" in text and "#Base64Binary" in text


@pytest.mark.parametrize(("minutes", "side"), [(-6, "before"), (6, "after"), (-90, "before")])
def test_a_created_outside_the_window_is_told_with_the_gateways_utc_time(
    wire: Any, soap: Any, minutes: int, side: str
) -> None:
    created = datetime.now(UTC) + timedelta(minutes=minutes)
    reply = wire.call(soap.consult(soap.new_ssin(), "2015-01-01"), created=created)
    received = datetime.now(UTC)
    text = _auth_fault(reply)
    assert reply.fault_reason == "CREATED_OUTSIDE_WINDOW"
    found = re.fullmatch(
        r"wsu:Created (\S+) lies (\d+) seconds (before|after) the gateway's time, (\S+) \(UTC\); it must be within "
        r"300 seconds of it: check the client's clock, and send Created in UTC\.",
        text,
    )
    assert found is not None, text
    assert found.group(1) == created.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert found.group(3) == side
    gateway_time = datetime.strptime(found.group(4), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert received - timedelta(seconds=5) <= gateway_time <= received
    assert abs(int(found.group(2)) - abs(minutes) * 60) <= 5


def test_a_replayed_nonce_is_told_to_use_a_new_one(wire: Any, soap: Any) -> None:
    message = soap.envelope(soap.consult(soap.new_ssin(), "2015-01-01"))
    assert wire.post(message).ok == "YES"
    reply = wire.post(message)
    assert "used before" in _auth_fault(reply)
    assert reply.fault_reason == "NONCE_REPLAYED"


def test_a_missing_or_malformed_security_header_is_invalid_security(wire: Any, soap: Any) -> None:
    body = soap.consult(soap.new_ssin(), "2015-01-01")
    _auth_fault(wire.post(soap.envelope(body, header="")), "InvalidSecurity")
    broken = (
        soap.security_header()
        .replace("<wsse:Username>", "<wsse:Nobody/><wsse:Username>")
        .replace("<wsse:Nonce>", "<wsse:Nonce>***")
    )
    _auth_fault(wire.post(soap.envelope(body, header=broken)), "InvalidSecurity")


def test_timestamps_within_the_window_are_accepted(wire: Any, soap: Any) -> None:
    body = soap.consult(soap.new_ssin(), "2015-01-01")
    now = datetime.now(UTC)
    assert wire.call(body, created=now - timedelta(minutes=4)).ok == "YES"
    assert wire.call(body, created=now + timedelta(minutes=4)).ok == "YES"


def test_password_text_is_accepted_only_when_the_server_allows_it(
    wire: Any, soap: Any, gateway_password_text: Any
) -> None:
    body = soap.consult(soap.new_ssin(), "2015-01-01")
    assert wire.call(body, password_text=True).fault_reason == "PASSWORD_TEXT_REFUSED"
    assert wire.call(body, password_text=True, server=gateway_password_text).ok == "YES"
    _auth_fault(wire.call(body, password_text=True, secret="wrong", server=gateway_password_text))


def test_a_replayed_nonce_is_refused_across_workers(wire: Any, soap: Any, gateway_two_workers: Any) -> None:
    message = soap.envelope(soap.consult(soap.new_ssin(), "2015-01-01"))
    attempts = 8
    barrier = threading.Barrier(attempts)
    replies: list[Any] = []
    lock = threading.Lock()

    def send() -> None:
        barrier.wait()
        reply = wire.post(message, server=gateway_two_workers)
        with lock:
            replies.append(reply)

    threads = [threading.Thread(target=send) for _ in range(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(replies) == attempts
    accepted = [r for r in replies if not r.is_fault]
    assert len(accepted) == 1
    for reply in replies:
        if reply.is_fault:
            _auth_fault(reply)
            assert reply.fault_reason == "NONCE_REPLAYED"
    for _ in range(4):
        assert wire.post(message, server=gateway_two_workers).fault_reason == "NONCE_REPLAYED"


def test_institutions_added_rotated_and_disabled_with_the_cli_take_effect(wire: Any, soap: Any) -> None:
    server = wire.server
    added = server.cli("institutions", "add", "0212345470", "OCMW Nieuwdorp", "17")
    assert added.returncode == 0, added.stderr
    secret = added.stdout.split("shown only now:")[1].split()[0]
    body = soap.consult(soap.new_ssin(), "2015-01-01")
    assert wire.call(body, username="0212345470", secret=secret).ok == "YES"
    listing = server.cli("institutions", "list")
    assert "0212345470" in listing.stdout and secret not in listing.stdout

    rotated = server.cli("institutions", "rotate-secret", "0212345470")
    assert rotated.returncode == 0
    new_secret = rotated.stdout.split("shown only now:")[1].split()[0]
    assert wire.call(body, username="0212345470", secret=new_secret).ok == "YES"  # at once
    _auth_fault(_refused_soon(lambda: wire.call(body, username="0212345470", secret=secret)))

    assert server.cli("institutions", "disable", "0212345470").returncode == 0
    _auth_fault(_refused_soon(lambda: wire.call(body, username="0212345470", secret=new_secret)))


def test_the_cli_refuses_an_enterprise_number_with_wrong_check_digits(wire: Any) -> None:
    refused = wire.server.cli("institutions", "add", "0212345471", "OCMW Fout", "17")
    assert refused.returncode != 0
    assert "enterprise number" in refused.stderr


def test_the_acting_institution_is_the_authenticated_one(wire: Any, soap: Any) -> None:
    person = soap.new_ssin()
    wire.call(soap.change("Integrate", [person], 1, "2015-01-05"), who="ocmw_b")
    reply = wire.call(soap.consult(person, "2015-01-01"))
    assert [i[0] for i in reply.integrations] == [OCMW_B]


# -- starting the server -----------------------------------------------------------------------------------


def test_serve_says_when_its_secrets_are_public_and_its_day_is_fixed(gateway: Any) -> None:
    log = gateway.log()
    assert "PUBLIC TEST VALUES" in log
    assert "fixed at 2015-01-10" in log
    assert f"WSDL: {gateway.endpoint}?wsdl" in log


def test_a_server_started_without_demo_refuses_the_demo_identities(
    launch: Callable[..., Any], new_database: Callable[[], str], wire: Any, soap: Any
) -> None:
    from gateway.adapters.storage import open_store
    from gateway.app.demo import ensure_demo

    db = new_database()
    store = open_store(db)
    try:
        store.upgrade()
        ensure_demo(store)  # as an earlier ``serve --demo`` on this database would have
    finally:
        store.close()
    server = launch(demo=False, db=db)
    assert "Disabled demo institution 0212345668" in server.log()
    assert "PUBLIC TEST VALUES" not in server.log()
    _auth_fault(wire.call(soap.consult(soap.new_ssin(), "2015-01-01"), server=server))

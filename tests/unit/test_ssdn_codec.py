"""The legacy front's reader and writer (gateway.contract.ssdn): the hardened parse of xmlString's text, the
8-digit reason codes and their table in docs/, Brussels times and offsets, and the limits clients rely on.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from lxml import etree
from ssdn_documents import Proof, Request, manage_access

from gateway.contract.names import CONNECTOR_NS, SOAP_ENV, SSDN_COMMON_NS
from gateway.contract.ssdn import (
    REASON_CODES,
    Reply,
    brussels_time,
    parse_document,
    read_document,
    reply_day,
    reply_envelope,
    request_envelope,
    write_reply,
)
from gateway.domain.access import AccessReason
from gateway.domain.directory import Detail, Reason, Severity
from gateway.domain.manage_access import LegacyReason, refused_document
from gateway.errors import (
    ForbiddenDoctype,
    ForbiddenProcessingInstruction,
    InternalError,
    MalformedMessage,
    NonUtf8Message,
    SchemaViolation,
    XmlLimitExceeded,
)

ROOT = Path(__file__).resolve().parents[2]
INFORMATION = {Reason.ALREADY_INTEGRATED, Reason.NOTHING_TO_REMOVE}
WARNING = {Reason.ATTESTATION_AT_RISK, LegacyReason.SERVICE_REQUEST_WARNING}


def test_every_reason_of_the_project_has_one_8_digit_code_starting_with_its_severity() -> None:
    reasons = {*Reason, *AccessReason, *LegacyReason, MalformedMessage.code, ForbiddenDoctype.code}
    reasons |= {SchemaViolation.code, NonUtf8Message.code, ForbiddenProcessingInstruction.code, XmlLimitExceeded.code}
    assert set(REASON_CODES) == {str(r) for r in reasons}
    assert len(set(REASON_CODES.values())) == len(REASON_CODES)
    for reason, code in REASON_CODES.items():
        assert re.fullmatch(r"[123][0-9]{7}", code), reason
        expected = "1" if reason in INFORMATION else "2" if reason in WARNING else "3"
        assert code[0] == expected, reason


def test_the_table_in_docs_is_the_codes_table() -> None:
    text = (ROOT / "docs" / "legacy-reason-codes.md").read_text()
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \| ([0-9]{8}) \| (\w+) \|", text, re.MULTILINE)
    assert {name: code for name, code, _ in rows} == dict(REASON_CODES)
    severity = {"1": "information", "2": "warning", "3": "error"}
    assert all(severity[code[0]] == word for _, code, word in rows)


@pytest.mark.parametrize(
    ("day", "written"),
    [
        (date(2015, 1, 1), "2015-01-01+01:00"),
        (date(2015, 7, 1), "2015-07-01+02:00"),
        (date(2015, 3, 29), "2015-03-29+01:00"),  # summer time starts at 02:00 that day
        (date(2015, 10, 25), "2015-10-25+02:00"),  # and ends at 03:00
        (date(9999, 12, 31), "9999-12-31+01:00"),
    ],
)
def test_a_reply_day_carries_the_brussels_offset_of_its_first_moment(day: date, written: str) -> None:
    assert reply_day(day) == written


def test_times_are_written_in_brussels() -> None:
    assert brussels_time(datetime(2015, 7, 1, 10, 0, 5, tzinfo=UTC)) == "20150701T120005"
    assert brussels_time(datetime(2015, 1, 10, 23, 30, 0, tzinfo=UTC)) == "20150111T003000"


def test_a_document_with_an_encoding_declaration_pretty_printed_and_apos_is_read() -> None:
    text = "<?xml version='1.0' encoding='ISO-8859-1'?>\n" + manage_access(
        Request("REGISTER", proof=Proof(last_name="D'Hondt", birth_date="1968-06-01"))
    )
    assert "&apos;" in text
    document = read_document(parse_document(text))
    body = document.services[0].body
    assert body is not None and body.proof.person is not None
    assert body.proof.person.last_name == "D'Hondt"
    assert (document.user.matrix_id, document.reference) == (17, "ManageAccessRequest # 1")


@pytest.mark.parametrize(
    "text",
    [
        '<!DOCTYPE r [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><r>&b;</r>',
        '<!DOCTYPE r SYSTEM "file:///dev/zero"><r/>',
        '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        "<!DOCTYPE r><r/>",
    ],
    ids=["entity expansion", "external DTD", "external entity", "bare DOCTYPE"],
)
def test_a_doctype_in_the_document_is_refused(text: str) -> None:
    with pytest.raises(ForbiddenDoctype):
        parse_document(text)


@pytest.mark.parametrize("text", ["", "   ", "<a>", "not xml", "<?xml version='1.0'?>"])
def test_text_that_is_no_document_is_malformed(text: str) -> None:
    with pytest.raises(MalformedMessage):
        parse_document(text)


def test_a_date_beyond_year_9999_is_a_schema_violation() -> None:
    root = parse_document(manage_access(Request("REGISTER", start="10000-01-01")))
    with pytest.raises(SchemaViolation, match="outside the years 1 to 9999"):
        read_document(root)


@pytest.mark.parametrize(
    "lead", ["<?xml-stylesheet type='text/xsl' href='file:///etc/passwd'?>", '<?xml version="1.0"?><?xml-x?>']
)
def test_a_processing_instruction_named_like_the_declaration_is_refused_not_dropped(lead: str) -> None:
    with pytest.raises(ForbiddenProcessingInstruction):
        parse_document(lead + manage_access(Request("REGISTER")))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("purpose", "99999999999999999999"),
        ("purpose", "2147483648"),
        ("sector", "99999999999999999999"),
        ("purpose", "9" * 5_000),  # past the 4,300 digits Python converts at all
        ("sector", "-" + "9" * 5_000),
    ],
)
def test_an_integer_beyond_the_range_of_codes_and_sectors_is_a_schema_violation(field: str, value: str) -> None:
    from dataclasses import replace

    root = parse_document(manage_access(replace(Request("REGISTER"), **{field: value})))
    with pytest.raises(SchemaViolation, match="outside the range"):
        read_document(root)


def test_the_largest_integer_of_the_range_is_read_with_any_leading_zeros() -> None:
    document = read_document(parse_document(manage_access(Request("LIST", purpose="0" * 5_000 + "2147483647"))))
    body = document.services[0].body
    assert body is not None and body.purpose == 2147483647


def _written(detail: Detail) -> etree._Element:
    now = datetime(2015, 1, 10, 9, 0, tzinfo=UTC)
    return write_reply(Reply(refused_document("KSZGW-x", detail), now, now))


def test_a_detail_writes_at_most_five_information_the_project_code_first() -> None:
    many = tuple((f"Field{i}", str(i)) for i in range(8))
    root = _written(Detail(Severity.ERROR, Reason.INVALID_SSIN, "Wrong.", many))
    detail = root.findall(f".//{{{SSDN_COMMON_NS}}}Detail")[1]
    names = [i.findtext(f"{{{SSDN_COMMON_NS}}}FieldName") for i in detail.findall(f"{{{SSDN_COMMON_NS}}}Information")]
    assert names == ["ReasonCode", "Field0", "Field1", "Field2", "Field3"]


def test_an_empty_diagnostic_is_never_written() -> None:
    root = _written(Detail(Severity.ERROR, Reason.INVALID_SSIN, "  "))
    diagnostics = [e.text for e in root.iter(f"{{{SSDN_COMMON_NS}}}Diagnostic")]
    assert all(d and d.strip() for d in diagnostics)


def test_a_reason_without_an_8_digit_form_is_a_bug_not_a_reply() -> None:
    with pytest.raises(InternalError):
        _written(Detail(Severity.ERROR, "SOMETHING_NEW", "New."))


@pytest.mark.parametrize("cdata", [False, True])
def test_the_envelopes_carry_the_document_as_text_in_a_bare_xml_string(cdata: bool) -> None:
    text = manage_access(Request("LIST"))
    envelope = etree.fromstring(request_envelope(text, cdata=cdata))
    body = envelope.find(f"{{{SOAP_ENV}}}Body")
    assert [c.tag for c in body] == [f"{{{CONNECTOR_NS}}}xmlString"]
    assert body[0].text == text
    assert envelope.find(f"{{{SOAP_ENV}}}Header") is not None and len(envelope.find(f"{{{SOAP_ENV}}}Header")) == 0
    reply = etree.fromstring(reply_envelope(_written(Detail(Severity.ERROR, Reason.INVALID_SSIN, "Wrong."))))
    inner = reply.find(f"{{{SOAP_ENV}}}Body/{{{CONNECTOR_NS}}}xmlString").text
    assert not inner.startswith("<?xml") and etree.fromstring(inner.encode()).tag.endswith("SSDNReply")


def test_a_request_the_client_writes_reads_back_as_what_it_says() -> None:
    from gateway.contract.resources import xsd_path
    from gateway.contract.schema import MessageSchema
    from gateway.contract.ssdn_client import write_request
    from gateway.domain.manage_access import Action, AuthorizedUser, ManageAccessRequest, PersonData, Register
    from gateway.domain.manage_access import Proof as DomainProof

    user = AuthorizedUser("00000000097", "ksz@ocmw.example", "0212345668", 17, 1)
    asked = (
        ManageAccessRequest(
            "68060105329",
            1,
            date(2015, 1, 10),
            None,
            Action.REGISTER,
            17,
            Register.ALL,
            DomainProof("1234567890", None, PersonData("D'Hondt", "", "1968-06-01")),
        ),
        ManageAccessRequest(
            "68060105329", None, date(2015, 1, 1), date(2015, 2, 1), Action.LIST, 7, None, DomainProof()
        ),
    )
    text = write_request(user, asked, reference="ManageAccessRequest # 3", time_request="20150110T101500")
    assert not text.startswith("<?xml") and "\n  <ssdn:RequestContext>" in text and "xmlns:common=" in text
    root = parse_document(text)
    MessageSchema(
        xsd_path("ssdn-service.xsd").read_bytes(), "ssdn-service.xsd", str(xsd_path("ssdn-service.xsd"))
    ).check_request(root)
    document = read_document(root)
    assert (document.user, document.reference, document.time_request) == (
        user,
        "ManageAccessRequest # 3",
        "20150110T101500",
    )
    assert tuple(s.body for s in document.services) == asked

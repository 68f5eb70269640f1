"""The sample folder and the replay machinery without a server: schemas, coverage of the contract, the manifest,
signing, and the canonical comparison that sets tickets aside but nothing else."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from lxml import etree
from terminal import terminal

from gateway.adapters.soap.wssecurity import read_username_token
from gateway.contract.names import SOAP_ENV, WSSE
from gateway.contract.wssecurity import password_digest
from gateway.domain.access import load_flow_catalogue
from gateway.entrypoints.cli import main
from gateway.tools.samples import (
    DEMO_SECRETS,
    MANIFEST_FILE,
    Manifest,
    ManifestError,
    Outcome,
    Sample,
    Signing,
    TicketMap,
    compare,
    load_manifest,
    parse_manifest,
    request_path,
    response_path,
    sign_request,
    soap_action,
    strip_security,
    write_junit,
)
from gateway.tools.validate import check_bytes

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
REP = "urn:ksz-gateway:repertorium:v1"
NS = {"soap": SOAP_ENV, "rep": REP, "gw": "urn:ksz-gateway:fault:v1"}

# The contract's reason codes (repertorium-v1.md, "Reason codes" and the access-control sections).
CONTRACT_REASON_CODES = {
    "INVALID_SSIN",
    "UNKNOWN_QUALITY_CODE",
    "MANUAL_INTEGRATION_NOT_ALLOWED",
    "END_BEFORE_START",
    "PERIOD_EXCEEDS_MAXIMUM",
    "ALREADY_INTEGRATED",
    "NOTHING_TO_REMOVE",
    "ATTESTATION_AT_RISK",
    "DUPLICATE_PERSON",
    "REFERENCE_REUSED",
    "ACCESS_DENIED",
    "UNKNOWN_FLOW",
    "MISSING_FLOW_DATE",
    "AID_NOT_APPLICABLE",
    "INVALID_ROLE",
    "NOT_INTEGRATED",
    "NOT_INTEGRATED_ON_DAY",
    "NO_DAY_IN_COMMON",
    "PERIOD_NOT_COVERED",
    "PROVIDER_UNAVAILABLE",
}
OPERATIONS = {"Integrate", "Desintegrate", "Consult", "CheckAccess", "SendFlow"}

MANIFEST = load_manifest(SAMPLES)
NAMES = MANIFEST.names()


def parse(path: Path) -> etree._Element:
    return etree.fromstring(path.read_bytes())


def body_element(root: etree._Element) -> etree._Element:
    body = root.find("soap:Body", NS)
    assert body is not None and len(body) == 1
    return body[0]


def is_fault(name: str) -> bool:
    return bool(body_element(parse(response_path(SAMPLES, name))).tag == f"{{{SOAP_ENV}}}Fault")


def responses() -> Iterator[tuple[str, etree._Element]]:
    for name in NAMES:
        yield name, body_element(parse(response_path(SAMPLES, name)))


def requests() -> Iterator[tuple[str, etree._Element]]:
    for name in NAMES:
        try:
            yield name, body_element(parse(request_path(SAMPLES, name)))
        except etree.XMLSyntaxError:
            continue  # the broken-XML sample


# -- the folder ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_sample_request_and_response_validates_against_the_schemas(name: str) -> None:
    response = response_path(SAMPLES, name).read_bytes()
    assert check_bytes(response) == [], f"{name}: the expected response does not validate"
    if is_fault(name):
        return  # a fault's request may be invalid on purpose: that is what it shows
    request = request_path(SAMPLES, name).read_bytes()
    assert check_bytes(request) == [], f"{name}: the request does not validate"
    assert b"Security" not in request, f"{name}: requests are stored unsigned"


def test_every_operation_has_samples_with_their_answers() -> None:
    asked = {etree.QName(e).localname.removesuffix("Request") for _, e in requests()}
    answered = {etree.QName(e).localname.removesuffix("Response") for _, e in responses()}
    assert asked >= OPERATIONS
    assert answered >= OPERATIONS


def test_every_reason_code_of_the_contract_appears_in_a_sample_answer() -> None:
    found = {str(code.text) for _, element in responses() for code in element.iterfind(".//rep:ReasonCode", NS)}
    assert CONTRACT_REASON_CODES - found == set()


def test_every_flow_of_the_default_catalogue_is_allowed_in_some_sample() -> None:
    answers = dict(responses())
    allowed = set()
    for name, request in requests():
        flow = request.findtext("rep:Flow", namespaces=NS)
        if flow is not None and answers[name].findtext("rep:Decision", namespaces=NS) == "ALLOWED":
            allowed.add(flow)
    assert set(load_flow_catalogue().flows) - allowed == set()


def test_the_faults_cover_broken_xml_schema_violations_and_failed_authentication() -> None:
    faults = {}
    for name, element in responses():
        if element.tag == f"{{{SOAP_ENV}}}Fault":
            code = element.findtext("faultcode")
            reason = element.getroottree().findtext(".//gw:ReasonCode", namespaces=NS)
            faults[name] = (code, reason)
    seen = set(faults.values())
    assert ("soap:Client", "MALFORMED_MESSAGE") in seen
    assert ("soap:Client", "SCHEMA_VIOLATION") in seen
    assert ("wsse:FailedAuthentication", "FAILED_AUTHENTICATION") in seen
    assert all(MANIFEST.select([n])[-1].http_status in (413, 415, 500) for n in faults)


def test_a_failed_authentication_sample_says_how_it_signs_wrongly() -> None:
    wrong = [s for s in MANIFEST.samples if s.sign is not None and s.sign.secret is not None]
    assert wrong, "no sample signs with an explicit (wrong) secret"
    for sample in wrong:
        assert MANIFEST.secret_of(sample.sign.identity) != sample.sign.secret  # type: ignore[union-attr]


def test_the_manifest_references_are_consistent() -> None:
    listed = set()
    for sample in MANIFEST.samples:
        assert request_path(SAMPLES, sample.name).is_file(), sample.name
        assert response_path(SAMPLES, sample.name).is_file(), sample.name
        assert sample.shows, f"{sample.name} does not say what it shows"
        assert sample.day == MANIFEST.day, f"{sample.name} assumes another day than the manifest's"
        assert sample.http_status is not None
        if sample.sign is not None and sample.sign.secret is None:
            assert MANIFEST.secret_of(sample.sign.identity) is not None, sample.name
        earlier = {s.name for s in MANIFEST.samples[: MANIFEST.samples.index(sample)]}
        assert set(sample.depends_on) <= earlier, sample.name
        listed |= {request_path(SAMPLES, sample.name).name, response_path(SAMPLES, sample.name).name}
    on_disk = {p.name for p in SAMPLES.glob("*.xml")}
    assert on_disk == listed, "every sample file is listed in the manifest, and nothing else lies there"
    assert MANIFEST.day == date(2015, 1, 10)


def test_the_ssins_of_the_samples_are_valid_except_where_a_sample_shows_an_invalid_one() -> None:
    from gateway.domain.identifiers import is_valid_ssin

    answers = dict(responses())
    for name, request in requests():
        reasons = {e.text for e in answers[name].iterfind(".//rep:ReasonCode", NS)}
        for ssin in request.iterfind(".//rep:SSIN", NS):
            if not is_valid_ssin(str(ssin.text)):
                assert "INVALID_SSIN" in reasons or is_fault(name), f"{name}: {ssin.text} is not a valid SSIN"


# -- the manifest model -------------------------------------------------------------------------------------


def entry(name: str, *depends_on: str, sign: object = "0212345668") -> dict[str, object]:
    return {"name": name, "sign": sign, "shows": "x", "depends_on": list(depends_on)}


def test_a_dependency_must_name_an_earlier_sample() -> None:
    with pytest.raises(ManifestError, match="not an earlier sample"):
        parse_manifest({"day": "2015-01-10", "samples": [entry("a", "b"), entry("b")]})


def test_a_sample_name_must_be_unique_and_safe_as_a_file_name() -> None:
    with pytest.raises(ManifestError, match="listed twice"):
        parse_manifest({"samples": [entry("a"), entry("a")]})
    with pytest.raises(ManifestError, match="file-name-safe"):
        parse_manifest({"samples": [entry("../escape")]})


def test_signing_is_stated_explicitly_for_every_sample() -> None:
    missing = {"name": "a", "shows": "x"}
    with pytest.raises(ManifestError, match="signing"):
        parse_manifest({"samples": [missing]})
    manifest = parse_manifest(
        {"samples": [entry("a", sign=None), entry("b", sign={"identity": "0212345668", "secret": "wrong"})]}
    )
    assert [s.sign for s in manifest.samples] == [None, Signing("0212345668", "wrong")]


def test_selecting_samples_brings_in_what_they_depend_on_in_manifest_order() -> None:
    manifest = parse_manifest({"samples": [entry("a"), entry("b", "a"), entry("c"), entry("d", "b")]})
    assert [s.name for s in manifest.select(["d"])] == ["a", "b", "d"]
    with pytest.raises(ManifestError, match="no sample named"):
        manifest.select(["zz"])


def test_a_manifest_survives_a_round_trip_through_json() -> None:
    manifest = parse_manifest(json.loads((SAMPLES / MANIFEST_FILE).read_text()))
    assert parse_manifest(manifest.to_json()) == manifest


def test_the_demo_secrets_are_the_contracts() -> None:
    assert DEMO_SECRETS == {
        "0212345668": "demo-ocmw-a",
        "0212345767": "demo-ocmw-b",
        "0212345866": "demo-family-c",
        "0212345965": "demo-employment-d",
    }


# -- signing ------------------------------------------------------------------------------------------------


def test_signing_adds_a_username_token_whose_digest_proves_the_secret() -> None:
    request = request_path(SAMPLES, "integrate-open-end").read_bytes()
    moment = datetime(2015, 1, 10, 9, 30, tzinfo=UTC)
    signed = sign_request(request, Signing("0212345668"), "demo-ocmw-a", now=moment, nonce="0123456789abcdef")
    root = etree.fromstring(signed)
    header = root.find("soap:Header", NS)
    assert header is not None
    token = read_username_token(list(header))
    assert (token.username, token.digest, token.created_text) == ("0212345668", True, "2015-01-10T09:30:00Z")
    assert token.password == password_digest(b"0123456789abcdef", "2015-01-10T09:30:00Z", "demo-ocmw-a")
    assert header[0].get(f"{{{SOAP_ENV}}}mustUnderstand") == "1"
    original = etree.fromstring(request)
    assert body_element(root).sourceline == body_element(original).sourceline, "signing keeps the Body's lines"
    assert compare(etree.tostring(body_element(original)), etree.tostring(body_element(root))).equal


def test_each_signature_has_a_fresh_nonce() -> None:
    request = request_path(SAMPLES, "integrate-open-end").read_bytes()
    nonces = set()
    for _ in range(3):
        header = etree.fromstring(sign_request(request, Signing("0212345668"), "demo-ocmw-a")).find("soap:Header", NS)
        assert header is not None
        nonces.add(read_username_token(list(header)).nonce)
    assert len(nonces) == 3


def test_stripping_security_keeps_the_rest_and_names_the_user() -> None:
    request = request_path(SAMPLES, "consult-every-institution").read_bytes()
    signed = sign_request(request, Signing("0212345767"), "demo-ocmw-b")
    stripped, username = strip_security(signed)
    assert username == "0212345767"
    assert b"Security" not in stripped and b"Header" not in stripped
    assert compare(request, stripped).equal
    assert strip_security(b"<not xml") == (b"<not xml", None)


def test_the_soap_action_follows_the_body_element() -> None:
    assert soap_action(request_path(SAMPLES, "send-request-new").read_bytes()) == f"{REP}/SendFlow"
    assert soap_action(request_path(SAMPLES, "fault-broken-xml").read_bytes()) == ""


# -- canonical comparison -----------------------------------------------------------------------------------


def answer(name: str) -> bytes:
    return response_path(SAMPLES, name).read_bytes()


def with_ticket(data: bytes, old: str, new: str) -> bytes:
    return data.replace(old.encode(), new.encode())


def ticket_of(data: bytes) -> str:
    return str(etree.fromstring(data).findtext(".//rep:Ticket", namespaces=NS))


def test_canonical_comparison_ignores_tickets_but_catches_a_changed_period() -> None:
    expected = answer("desintegrate-splits-a-period")
    actual = with_ticket(expected, ticket_of(expected), "KSZGW-0000000000000000000000000000000a")
    assert compare(expected, actual).equal

    changed = actual.replace(b"2015-01-15", b"2015-01-16")
    comparison = compare(expected, changed)
    assert not comparison.equal
    assert "-            <rep:StartDate>2015-01-15</rep:StartDate>" in comparison.diff
    assert "+            <rep:StartDate>2015-01-16</rep:StartDate>" in comparison.diff
    assert "KSZGW-" not in comparison.diff


def test_layout_prefixes_and_comments_do_not_count() -> None:
    expected = answer("integrate-open-end")
    root = etree.fromstring(expected)
    flat = etree.tostring(root).replace(b"soap:", b"s:").replace(b"xmlns:soap=", b"xmlns:s=")
    flat = flat.replace(b"<rep:Periods>", b"<!-- a comment --><rep:Periods>")
    assert compare(expected, flat).equal
    assert not compare(expected, flat.replace(b"<rep:Status>INTEGRATED<", b"<rep:Status> INTEGRATED<")).equal


def test_processing_instructions_and_whitespace_beside_comments_do_not_count_but_other_text_does() -> None:
    plain = b'<a xmlns="urn:x"><b>x</b><c>y z</c></a>'
    assert compare(plain, b'<a xmlns="urn:x"><?pi y?>\n  <b>x<!-- c -->  </b>\n<c>y<!-- c --> z</c></a>').equal
    assert not compare(plain, b'<a xmlns="urn:x"><b>x<!-- c --> y</b><c>y z</c></a>').equal
    assert not compare(plain, b'<a xmlns="urn:x"><b>x</b><c>y  z</c></a>').equal


def test_tickets_are_paired_whatever_prefixes_the_answer_uses() -> None:
    expected = answer("integrate-open-end")
    renamed = with_ticket(expected, ticket_of(expected), "KSZGW-run-1")
    renamed = renamed.replace(b"rep:", b"r:").replace(b"xmlns:rep=", b"xmlns:r=")
    assert b"KSZGW-run-1" in renamed and b"xmlns:r=" in renamed
    assert compare(expected, renamed).equal
    moved = renamed.replace(f'xmlns:r="{REP}"'.encode(), b'xmlns:r="urn:elsewhere"')
    assert not compare(expected, moved).equal


def test_a_ticket_must_stand_for_the_same_ticket_across_the_run() -> None:
    sent = answer("send-attestation-living-wage")
    at_risk = answer("desintegrate-attestation-at-risk")
    attestation = ticket_of(sent)
    assert attestation.encode() in at_risk

    tickets = TicketMap()
    assert compare(sent, with_ticket(sent, attestation, "KSZGW-run-1"), tickets).equal
    run_at_risk = with_ticket(with_ticket(at_risk, ticket_of(at_risk), "KSZGW-run-2"), attestation, "KSZGW-run-1")
    assert compare(at_risk, run_at_risk, tickets).equal

    tickets = TicketMap()
    assert compare(sent, with_ticket(sent, attestation, "KSZGW-run-1"), tickets).equal
    elsewhere = with_ticket(with_ticket(at_risk, ticket_of(at_risk), "KSZGW-run-2"), attestation, "KSZGW-other")
    comparison = compare(at_risk, elsewhere, tickets)
    assert not comparison.equal
    assert "-            <rep:FieldValue>{ticket 1}</rep:FieldValue>" in comparison.diff
    assert "+            <rep:FieldValue>KSZGW-other</rep:FieldValue>" in comparison.diff


def test_a_repeated_reference_must_bring_back_the_same_ticket() -> None:
    first, again = answer("integrate-with-reference"), answer("integrate-same-reference-again")
    assert ticket_of(first) == ticket_of(again)
    tickets = TicketMap()
    assert compare(first, with_ticket(first, ticket_of(first), "KSZGW-run-1"), tickets).equal
    assert not compare(again, with_ticket(again, ticket_of(again), "KSZGW-run-2"), tickets).equal


def test_incident_ids_are_set_aside() -> None:
    fault = (
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode>'
        '<faultstring>internal</faultstring><detail><gw:FaultDetail xmlns:gw="urn:ksz-gateway:fault:v1">'
        "<gw:ReasonCode>INTERNAL_ERROR</gw:ReasonCode><gw:Incident>{}</gw:Incident></gw:FaultDetail></detail>"
        "</soap:Fault></soap:Body></soap:Envelope>"
    )
    assert compare(fault.format("abc").encode(), fault.format("def").encode()).equal
    assert not compare(fault.format("abc").encode(), fault.replace("soap:Server", "soap:Client").encode()).equal


def test_fault_codes_compare_as_qualified_names() -> None:
    expected = answer("fault-wrong-secret")
    renamed = expected.replace(b"xmlns:wsse=", b"xmlns:sec=").replace(b">wsse:Failed", b">sec:Failed")
    assert compare(expected, renamed).equal
    other = renamed.replace(f'xmlns:sec="{WSSE}"'.encode(), b'xmlns:sec="urn:elsewhere"')
    assert not compare(expected, other).equal


# -- reporting ----------------------------------------------------------------------------------------------


def test_the_junit_report_counts_failures_and_errors(tmp_path: Path) -> None:
    sample = MANIFEST.samples[0]
    outcomes = [
        Outcome(sample, True, 0.01),
        Outcome(MANIFEST.samples[1], False, 0.02, diff="-a\n+b\n"),
        Outcome(MANIFEST.samples[2], False, 0.0, error="transport error: refused \x00"),
    ]
    write_junit(outcomes, tmp_path / "report.xml")
    root = etree.parse(str(tmp_path / "report.xml")).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == MANIFEST.names()[:3]
    assert cases[1].findtext("failure") == "-a\n+b\n"
    assert cases[2].find("error") is not None


CLOSED = "http://127.0.0.1:9/soap/repertorium"  # the discard port: nothing listens there


def test_on_a_terminal_the_replay_draws_a_bar_of_samples_and_writes_each_failure_above_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with terminal() as drawn:
        assert main(["replay", str(SAMPLES), "--url", CLOSED, "--only", "desintegrate-splits-a-period"]) == 1
        shown = drawn()
    assert re.search(r"\rreplaying:   0%\|.*\| 0/2 \[.*, integrate-open-end\]\r", shown), shown
    assert re.search(r"\rreplaying:  50%\|.*\| 1/2 \[.*, desintegrate-splits-a-period\]\r", shown), shown
    assert re.search(r"\rreplaying: 100%\|.*\| 2/2 \[.*\]\r {50,}\r$", shown), "the bar is wiped at the end"
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out if line.startswith("FAIL")] == [
        "FAIL integrate-open-end",
        "FAIL desintegrate-splits-a-period",
    ]
    assert out[-1] == "0 passed, 2 failed"


def test_elsewhere_the_replay_draws_no_bar(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(SAMPLES), "--url", CLOSED, "--only", "integrate-open-end"]) == 1
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "FAIL integrate-open-end: transport error: no answer from" in captured.out


def test_a_sample_knows_what_it_writes_back() -> None:
    manifest = Manifest(None, (Sample("a", Signing("0212345668"), None, "x", (), 200),))
    assert manifest.to_json()["samples"] == [
        {"name": "a", "sign": "0212345668", "day": None, "shows": "x", "depends_on": [], "http_status": 200}
    ]


def test_the_samples_flow_catalogue_is_the_default_one_plus_an_unreachable_provider() -> None:
    shipped = load_flow_catalogue()
    samples = load_flow_catalogue(SAMPLES / "flows.json")
    assert {k: v for k, v in samples.flows.items() if k in shipped.flows} == dict(shipped.flows)
    extra = {k: v for k, v in samples.flows.items() if k not in shipped.flows}
    assert list(extra) == ["demo.forward-unreachable"]
    assert extra["demo.forward-unreachable"].provider_url == "http://127.0.0.1:9/provider"

"""Reading requests safely: only a SOAP 1.1 envelope with one Body element, no DOCTYPE, no surprise headers."""

from __future__ import annotations

import pytest

from gateway.adapters.soap.envelope import parse_envelope
from gateway.errors import EmptyBody, ForbiddenDoctype, MalformedMessage, MustUnderstandFault, VersionMismatch

ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def wrap(body: str, header: str = "") -> bytes:
    head = f"<s:Header>{header}</s:Header>" if header else ""
    return f'<s:Envelope xmlns:s="{ENV}">{head}<s:Body>{body}</s:Body></s:Envelope>'.encode()


def test_a_request_element_is_found_in_the_body() -> None:
    envelope = parse_envelope(wrap('<r:Ping xmlns:r="urn:x"/>', '<h:A xmlns:h="urn:h"/>'))
    assert envelope.body.tag == "{urn:x}Ping"
    assert [h.tag for h in envelope.headers] == ["{urn:h}A"]


def test_comments_and_processing_instructions_are_not_body_elements() -> None:
    envelope = parse_envelope(wrap('<!-- note --><?pi x?><r:Ping xmlns:r="urn:x"/><!-- end -->'))
    assert envelope.body.tag == "{urn:x}Ping"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   ",
        b"not xml",
        b"<a><b></a>",
        b'<x xmlns="urn:x"/>',
        wrap("text outside elements"),
        wrap('<r:A xmlns:r="urn:x"/><r:B xmlns:r="urn:x"/>'),
        f'<s:Envelope xmlns:s="{ENV}"><s:Body/><s:Body/></s:Envelope>'.encode(),
        f'<s:Envelope xmlns:s="{ENV}"><s:Body/><s:Header/></s:Envelope>'.encode(),
        f'<s:Envelope xmlns:s="{ENV}"><s:Header/></s:Envelope>'.encode(),
        "<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'><s:Body>\udcff</s:Body></s:Envelope>".encode(
            "utf-8", "surrogateescape"
        ),
    ],
)
def test_what_is_not_a_soap_11_request_is_malformed(data: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse_envelope(data)


def test_an_empty_body_is_its_own_error() -> None:
    with pytest.raises(EmptyBody):
        parse_envelope(wrap("  "))


@pytest.mark.parametrize(
    "prefix",
    [
        b'<!DOCTYPE s:Envelope [<!ENTITY e "x">]>',
        b'<!DOCTYPE s:Envelope SYSTEM "http://127.0.0.1:1/evil.dtd">',
        b'<!DOCTYPE s:Envelope [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    ],
)
def test_any_doctype_is_refused_and_nothing_is_fetched_or_expanded(prefix: bytes) -> None:
    with pytest.raises(ForbiddenDoctype):
        parse_envelope(prefix + wrap('<r:Ping xmlns:r="urn:x">&e;</r:Ping>'))


def test_a_soap_12_envelope_is_a_version_mismatch() -> None:
    with pytest.raises(VersionMismatch):
        parse_envelope(b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>')


def test_a_header_we_must_understand_but_do_not_is_refused_unless_it_is_for_another_actor() -> None:
    must = f'<h:A xmlns:h="urn:h" s:mustUnderstand="1" xmlns:s="{ENV}"/>'
    with pytest.raises(MustUnderstandFault):
        parse_envelope(wrap('<r:Ping xmlns:r="urn:x"/>', must))
    assert parse_envelope(wrap('<r:Ping xmlns:r="urn:x"/>', must), understood={"{urn:h}A"}).headers
    elsewhere = f'<h:A xmlns:h="urn:h" s:mustUnderstand="1" s:actor="urn:other-node" xmlns:s="{ENV}"/>'
    assert parse_envelope(wrap('<r:Ping xmlns:r="urn:x"/>', elsewhere)).headers

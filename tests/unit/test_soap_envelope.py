"""Reading requests safely: only a SOAP 1.1 envelope with one Body element, no DOCTYPE, no surprise headers."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.adapters.soap.envelope import Envelope, parse_envelope
from gateway.contract.limits import XmlLimits
from gateway.errors import (
    EmptyBody,
    ForbiddenDoctype,
    ForbiddenProcessingInstruction,
    MalformedMessage,
    MustUnderstandFault,
    NonUtf8Message,
    RequestError,
    VersionMismatch,
)

ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def wrap(body: str, header: str = "") -> bytes:
    head = f"<s:Header>{header}</s:Header>" if header else ""
    return f'<s:Envelope xmlns:s="{ENV}">{head}<s:Body>{body}</s:Body></s:Envelope>'.encode()


def test_a_request_element_is_found_in_the_body() -> None:
    envelope = parse_envelope(wrap('<r:Ping xmlns:r="urn:x"/>', '<h:A xmlns:h="urn:h"/>'))
    assert envelope.body.tag == "{urn:x}Ping"
    assert [h.tag for h in envelope.headers] == ["{urn:h}A"]


def test_comments_are_not_body_elements() -> None:
    envelope = parse_envelope(wrap('<!-- note --><r:Ping xmlns:r="urn:x"/><!-- end -->'))
    assert envelope.body.tag == "{urn:x}Ping"


@pytest.mark.parametrize(
    "data",
    [
        wrap('<?pi x?><r:Ping xmlns:r="urn:x"/>'),
        wrap('<r:Ping xmlns:r="urn:x"/>', "<?in-the-header?>"),
        b'<?xml-stylesheet href="a.xsl"?>' + wrap('<r:Ping xmlns:r="urn:x"/>'),
        wrap('<r:Ping xmlns:r="urn:x"/>') + b"<?after?>",
    ],
)
def test_a_processing_instruction_is_refused_not_stripped(data: bytes) -> None:
    with pytest.raises(ForbiddenProcessingInstruction):
        parse_envelope(data)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "latin-1"])
def test_a_request_not_in_utf8_is_refused(encoding: str) -> None:
    with pytest.raises(NonUtf8Message):
        parse_envelope(wrap('<r:Ping xmlns:r="urn:x">café</r:Ping>').decode().encode(encoding))


def test_a_utf8_request_may_start_with_a_byte_order_mark() -> None:
    assert parse_envelope(b"\xef\xbb\xbf" + wrap('<r:Ping xmlns:r="urn:x">café</r:Ping>')).body.text == "café"


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
        f'<s:Envelope xmlns:s="{ENV}"><s:Header/><s:Header/><s:Body/></s:Envelope>'.encode(),
        f'<s:Envelope xmlns:s="{ENV}"><s:Body><r:A xmlns:r="urn:x"/></s:Body>tail</s:Envelope>'.encode(),
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
        b'<!DOCTYPE s:Envelope [<!ENTITY % p SYSTEM "file:///dev/zero"> %p;]>',
        b"<!-- first a comment -->\n<!DOCTYPE s:Envelope>",
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


@pytest.mark.parametrize("flag", ["yes", "2", "TRUE", "", "1 1"])
def test_a_must_understand_that_is_neither_1_nor_0_is_refused_not_read_as_0(flag: str) -> None:
    header = f'<h:A xmlns:h="urn:h" s:mustUnderstand="{flag}" xmlns:s="{ENV}"/>'
    with pytest.raises(MalformedMessage, match="mustUnderstand"):
        parse_envelope(wrap('<r:Ping xmlns:r="urn:x"/>', header))


@pytest.mark.parametrize("flag", ["0", " 0 ", "false"])
def test_a_header_that_need_not_be_understood_is_ignored(flag: str) -> None:
    header = f'<h:A xmlns:h="urn:h" s:mustUnderstand="{flag}" xmlns:s="{ENV}"/>'
    assert parse_envelope(wrap('<r:Ping xmlns:r="urn:x"/>', header)).headers


# -- fuzzing the reader: a request is an Envelope or a RequestError, nothing else --------------------------

_VALID = wrap(
    '<r:Ping xmlns:r="urn:x" a="1">text<r:In>more</r:In></r:Ping>',
    f'<h:A xmlns:h="urn:h" s:mustUnderstand="0" xmlns:s="{ENV}">x</h:A>',
)
_INSERTS = [
    b"<!DOCTYPE s:Envelope [<!ENTITY e 'x'>]>",
    b'<!ENTITY % p SYSTEM "file:///dev/zero">%p;',
    b"&e;",
    b"<?pi?>",
    b"<!-- c -->",
    b"<![CDATA[<]]>",
    f'<s:Body xmlns:s="{ENV}"/>'.encode(),
    f'<s:Header xmlns:s="{ENV}"/>'.encode(),
    f'<s:Envelope xmlns:s="{ENV}">'.encode(),
    b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope">',
    f's:mustUnderstand="1" xmlns:s="{ENV}"'.encode(),
    b' xmlns:n="urn:n"',
    b"\xff\xfe",
    b"\x00",
    b"\xe9",
    b"</s:Body>",
    b"<",
    b">",
]


@st.composite
def mangled(draw: st.DrawFn) -> bytes:
    data = bytearray(_VALID)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        if draw(st.booleans()):
            piece = draw(st.one_of(st.sampled_from(_INSERTS), st.binary(min_size=1, max_size=4)))
            data[at:at] = piece
        else:
            del data[at : at + draw(st.integers(1, 12))]
    return bytes(data)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(mangled(), st.sampled_from([XmlLimits(), XmlLimits(max_depth=3, max_attributes=1, max_namespaces=2)]))
def test_the_envelope_reader_answers_any_mangled_request_with_an_envelope_or_a_request_error(
    data: bytes, limits: XmlLimits
) -> None:
    try:
        envelope = parse_envelope(data, understood={"{urn:h}A"}, limits=limits)
    except RequestError:
        return
    assert isinstance(envelope, Envelope) and envelope.root.tag == f"{{{ENV}}}Envelope"

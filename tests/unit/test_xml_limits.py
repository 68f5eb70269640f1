"""The bounds on what one message can make the parser and the validator do, checked while it is parsed."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from gateway.adapters.soap.envelope import parse_envelope
from gateway.adapters.storage.sqlite import SqliteStore
from gateway.contract import safexml
from gateway.contract.limits import DEFAULT_LIMITS, XmlLimits, _walk, enforce
from gateway.entrypoints.compose import make_app
from gateway.entrypoints.settings import Settings
from gateway.errors import ConfigurationError, XmlLimitExceeded

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
REP = "urn:ksz-gateway:repertorium:v1"


def nested(depth: int) -> bytes:
    return ("<a>" * depth + "</a>" * depth).encode()


def siblings(count: int) -> bytes:
    return ("<r>" + "<b/>" * (count - 1) + "</r>").encode()


def attributes(count: int) -> bytes:
    return ("<r " + " ".join(f'a{i}="{i}"' for i in range(count)) + "/>").encode()


def declarations(count: int) -> bytes:
    return ("<r " + " ".join(f'xmlns:n{i}="urn:n{i}"' for i in range(count)) + "/>").encode()


def refused(data: bytes, limits: XmlLimits) -> str:
    with pytest.raises(XmlLimitExceeded) as caught:
        safexml.read_message(data, limits)
    assert caught.value.limit is not None
    return caught.value.limit


@pytest.mark.parametrize(
    ("limits", "at_bound", "over_bound", "name"),
    [
        (XmlLimits(max_depth=5), nested(5), nested(6), "max_depth"),
        (XmlLimits(max_elements=10), siblings(10), siblings(11), "max_elements"),
        (XmlLimits(max_attributes=4), attributes(4), attributes(5), "max_attributes"),
        (XmlLimits(max_namespaces=3), declarations(3), declarations(4), "max_namespaces"),
        (XmlLimits(max_text_chars=8), b"<r>12345678</r>", b"<r>123456789</r>", "max_text_chars"),
        (XmlLimits(max_text_chars=8), b"<r><b/>12345678</r>", b"<r><b/>123456789</r>", "max_text_chars"),
        (XmlLimits(max_text_chars=8), b'<r a="12345678"/>', b'<r a="123456789"/>', "max_text_chars"),
        (XmlLimits(max_text_chars=3), "<r>été</r>".encode(), "<r>étés</r>".encode(), "max_text_chars"),
    ],
    ids=["depth", "elements", "attributes", "namespaces", "text", "tail", "attribute value", "characters"],
)
def test_each_bound_holds_at_its_value_and_refuses_one_more(
    limits: XmlLimits, at_bound: bytes, over_bound: bytes, name: str
) -> None:
    assert safexml.read_message(at_bound, limits) is not None
    assert refused(over_bound, limits) == name


def test_namespaces_count_where_they_are_declared_not_where_they_are_in_scope() -> None:
    limits = XmlLimits(max_namespaces=2, max_namespaces_total=5)
    inherited = b'<r xmlns:a="urn:a" xmlns:b="urn:b"><c><d xmlns:e="urn:e"/></c></r>'
    assert safexml.read_message(inherited, limits) is not None
    spread = b"<r>" + b"".join(f'<c xmlns:a="urn:{i}"/>'.encode() for i in range(6)) + b"</r>"
    assert refused(spread, limits) == "max_namespaces_total"


def test_the_default_namespace_and_redeclarations_count_as_declarations() -> None:
    limits = XmlLimits(max_namespaces=1)
    assert refused(b'<r xmlns="urn:d" xmlns:a="urn:a"/>', limits) == "max_namespaces"


def test_the_fault_names_the_bound_and_echoes_nothing_of_the_message() -> None:
    with pytest.raises(XmlLimitExceeded) as caught:
        safexml.read_message(b'<r a="' + b"SECRET" * 1000 + b'"/>', XmlLimits(max_text_chars=100))
    assert "at most 100" in caught.value.message and "SECRET" not in caught.value.message


def test_the_parsers_own_bounds_are_limit_faults_too() -> None:
    assert refused(nested(300), XmlLimits(max_depth=1000)) == "parser"  # libxml2 stops at 256 whatever we allow
    assert refused(nested(300), XmlLimits()) == "parser"
    assert refused(b"<a>" + b"x" * (11 * 1024 * 1024) + b"</a>", XmlLimits(max_text_chars=20 * 1024 * 1024)) == "parser"


@st.composite
def documents(draw: st.DrawFn, depth: int = 0) -> str:
    """Small documents varied in every bounded dimension: depth, width, attributes, declarations, text."""
    attributes = "".join(f' a{i}="{"v" * draw(st.integers(0, 5))}"' for i in range(draw(st.integers(0, 4))))
    declarations = "".join(f' xmlns:n{i}="urn:{i}"' for i in range(draw(st.integers(0, 3))))
    text = "t" * draw(st.integers(0, 6))
    children = "" if depth >= 7 else "".join(draw(st.lists(documents(depth + 1), max_size=2)))
    tail = "s" * draw(st.integers(0, 6)) if depth else ""
    return f"<e{attributes}{declarations}>{text}{children}</e>{tail}"


def bound(low: int, high: int) -> st.SearchStrategy[int]:
    """A bound a small document may break, or one it cannot (so that the quick check alone decides)."""
    return st.one_of(st.integers(low, high), st.just(1_000_000))


limit_sets = st.builds(
    XmlLimits,
    max_depth=st.integers(1, 9),
    max_elements=bound(1, 40),
    max_attributes=bound(1, 5),
    max_namespaces=bound(1, 4),
    max_namespaces_total=bound(1, 30),
    max_text_chars=bound(1, 7),
)


@given(documents(), limit_sets)
def test_the_quick_check_on_the_bytes_refuses_exactly_what_the_walk_refuses(text: str, limits: XmlLimits) -> None:
    data = f"<r>{text}</r>".encode()
    root = etree.fromstring(data)
    outcomes = []
    for check in (lambda: enforce(root, data, limits), lambda: _walk(root, limits, "The message")):
        try:
            check()
            outcomes.append(None)
        except XmlLimitExceeded as error:
            outcomes.append(error.limit)
    quick, walked = outcomes
    assert (quick is None) == (walked is None), outcomes


def envelope_with(declared: int) -> bytes:
    names = " ".join(f'xmlns:n{i}="urn:example:namespace:{i}"' for i in range(declared))
    body = f'<rep:ConsultRequest xmlns:rep="{REP}"><rep:SSIN>90010100123</rep:SSIN></rep:ConsultRequest>'
    return f'<s:Envelope xmlns:s="{ENV}" {names}><s:Body>{body}</s:Body></s:Envelope>'.encode()


def test_fifty_thousand_namespace_declarations_are_refused_at_once() -> None:
    data = envelope_with(50_000)
    assert len(data) > 1_000_000
    started = time.monotonic()
    with pytest.raises(XmlLimitExceeded) as caught:
        parse_envelope(data)
    assert caught.value.limit == "max_namespaces"
    assert time.monotonic() - started < 3.0  # 0.2 s here; before the bound: 11-13 s of schema validation


def test_the_defaults_admit_an_ordinary_envelope() -> None:
    data = envelope_with(DEFAULT_LIMITS.max_namespaces - 2)  # plus xmlns:s on the Envelope, xmlns:rep inside
    assert parse_envelope(data).body.tag == f"{{{REP}}}ConsultRequest"


@pytest.mark.parametrize("value", [0, -1, True, 2.5, "3"])
def test_a_limit_must_be_a_positive_whole_number(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_depth"):
        XmlLimits(max_depth=value)


# -- the settings reach the edge -------------------------------------------------------------------------


def _post(app: Any, data: bytes) -> bytes:
    answer: list[str] = []
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/soap/repertorium",
        "CONTENT_TYPE": "text/xml; charset=utf-8",
        "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data),
        "REMOTE_ADDR": "127.0.0.1",
    }
    body = b"".join(app(environ, lambda status, headers: answer.append(status)))
    assert answer and answer[0].startswith("500")
    return body


def _reason(body: bytes) -> str:
    found = etree.fromstring(body).findtext(".//{urn:ksz-gateway:fault:v1}ReasonCode")
    return str(found)


def test_the_limits_of_the_settings_bound_the_requests_the_endpoint_reads(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "directory.db")
    store.upgrade()
    try:
        data = envelope_with(10)
        strict = make_app(Settings(db=str(tmp_path / "directory.db"), xml_max_namespaces=5), store)
        assert _reason(_post(strict, data)) == "XML_LIMIT_EXCEEDED"
        default = make_app(Settings(db=str(tmp_path / "directory.db")), store)
        assert _reason(_post(default, data)) == "INVALID_SECURITY"  # read, then refused: no Security header
    finally:
        store.close()

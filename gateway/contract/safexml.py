"""Parsing XML the gateway did not write: one hardened lxml configuration, one parser per thread.

Invariant: no parse opens a file, a URL or a device, resolves an entity, loads a DTD, builds a huge tree or
shares a parser between threads, whichever module parses: the SOAP edge, the provider's answers, the client's
payloads, the sample tools. Every parser carries a resolver that answers every external reference (a DTD, a
parameter entity, an entity) with an empty document, so nothing is read whether the named path exists or not,
and no answer can tell which. lxml's ``no_network`` and ``load_dtd=False`` alone do not stop a ``file://``
external parameter entity or DTD (measured: ``file:///dev/zero`` pinned a CPU, a FIFO was opened). XInclude is
never processed: nothing in the gateway calls ``xinclude()``, whose text inclusions bypass resolvers.

``read_message`` is the strict reading of a message someone sent: UTF-8 only (with or without a byte-order
mark), decided before anything else; no DOCTYPE, refused before the parser sees one (and again on the parsed
document, should one slip past that scan); no processing instruction anywhere; and the bounds of ``XmlLimits``
(``gateway.contract.limits``) checked before anything validates or reads the tree. Whatever is wrong leaves as a
``RequestError`` that says what, and never depends on anything outside the message.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from lxml import etree

from gateway.contract.limits import DEFAULT_LIMITS, XmlLimits, enforce
from gateway.errors import (
    ForbiddenDoctype,
    ForbiddenProcessingInstruction,
    MalformedMessage,
    NonUtf8Message,
    XmlLimitExceeded,
)

__all__ = ["OPTIONS", "check_utf8", "fromstring", "parser", "read_message"]

OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "attribute_defaults": False,
    "huge_tree": False,
    "collect_ids": False,
}
"""The one parser configuration, for every parser this module makes."""

_local = threading.local()


class _RefuseEverything(etree.Resolver):  # type: ignore[misc]
    """Answers every external reference with an empty document: nothing is opened, fetched or read."""

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:
        return self.resolve_string("", context)


def _hardened(parser: etree.XMLParser) -> etree.XMLParser:
    parser.resolvers.add(_RefuseEverything())
    return parser


def parser(*, strip: bool = False) -> etree.XMLParser:
    """This thread's hardened parser; ``strip`` drops comments and processing instructions as it parses."""
    key = "stripping" if strip else "plain"
    found: etree.XMLParser | None = getattr(_local, key, None)
    if found is None:
        found = _hardened(etree.XMLParser(remove_comments=strip, remove_pis=strip, **OPTIONS))
        setattr(_local, key, found)
    return found


def fromstring(data: bytes, *, strip: bool = False) -> etree._Element:
    """``etree.fromstring`` with this thread's hardened parser (raises ``etree.XMLSyntaxError`` as usual).

    A DOCTYPE is parsed (its external parts read as empty); callers that must refuse one look at
    ``getroottree().docinfo``. Messages from outside go through ``read_message`` instead.
    """
    root: etree._Element = etree.fromstring(data, parser(strip=strip))
    return root


# -- the strict reading of a message ----------------------------------------------------------------------

_UTF8_BOM = b"\xef\xbb\xbf"
_NOT_UTF8 = (  # byte-order marks and first bytes of '<' in other encodings (XML 1.0, appendix F)
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xff\xfe", "UTF-16"),
    (b"\x00\x00\x00<", "UTF-32"),
    (b"<\x00\x00\x00", "UTF-32"),
    (b"\x00<", "UTF-16"),
    (b"<\x00", "UTF-16"),
    (b"\x4c\x6f\xa7\x94", "EBCDIC"),
    (b"+/v", "UTF-7"),
)
_OTHER_MARKS = tuple(mark for mark, _ in _NOT_UTF8)
_UTF8_NAMES = frozenset({"utf-8", "utf8"})
_ENCODING = re.compile(rb"""\sencoding\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_SPACE = (b" ", b"\t", b"\r", b"\n")
_ADVICE = "send UTF-8, as the contract and WS-I Basic Profile R1012 and R1018 require"


def _declaration(data: bytes) -> tuple[int, int]:
    """Where the XML declaration starts and ends (after its ``?>``); (start, start) when there is none, and
    (start, start + 256) when it never ends (the parser will say so; the encoding is looked for that far)."""
    start = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    if data.startswith(b"<?xml", start) and data[start + 5 : start + 6] in _SPACE:
        end = data.find(b"?>", start)
        return start, (end + 2 if end > 0 else start + 256)
    return start, start


def check_utf8(data: bytes, subject: str = "The message") -> None:
    """Raise ``NonUtf8Message`` unless ``data`` is UTF-8 throughout and declares no other encoding."""
    head = data[:8]
    if b"\x00" in head or head.startswith(_OTHER_MARKS):
        name = next((name for mark, name in _NOT_UTF8 if data.startswith(mark)), "UTF-16 or UTF-32")
        raise NonUtf8Message(f"{subject} is encoded in {name}, not UTF-8: {_ADVICE}.")
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NonUtf8Message(
                f"{subject} is not UTF-8: the byte 0x{data[exc.start]:02X} at offset {exc.start} cannot start "
                f"or continue a UTF-8 character; {_ADVICE}."
            ) from exc
    start, end = _declaration(data)
    found = _ENCODING.search(data, start, end) if end > start else None
    if found is not None:
        name = (found[1] if found[1] is not None else found[2]).decode("utf-8")
        if name.strip().lower() not in _UTF8_NAMES:
            shown = name if len(name) <= 40 else name[:40] + "..."
            raise NonUtf8Message(
                f"The XML declaration names the encoding {shown!r}; this gateway reads UTF-8 only: {_ADVICE}."
            )


def _doctype(subject: str) -> ForbiddenDoctype:
    return ForbiddenDoctype(f"{subject} contains a DOCTYPE, which SOAP messages must not have.")


def _processing_instruction(subject: str) -> ForbiddenProcessingInstruction:
    return ForbiddenProcessingInstruction(
        f"{subject} contains a processing instruction, which SOAP messages must not have (SOAP 1.1 section 3)."
    )


def _check_prolog(data: bytes, position: int, subject: str) -> None:
    """Refuse a DOCTYPE or a processing instruction before the root element, before the parser sees it.

    ``data`` is known to be UTF-8, so the markup is ASCII and scanning bytes is scanning the text. Anything this
    scan does not recognise is left to the parser, whose resolver opens nothing either way.
    """
    size = len(data)
    while position < size:
        if data[position : position + 1] in _SPACE:
            position += 1
        elif data.startswith(b"<!--", position):
            end = data.find(b"-->", position + 4)
            if end < 0:
                return
            position = end + 3
        elif data.startswith(b"<!DOCTYPE", position):
            raise _doctype(subject)
        elif data.startswith(b"<?xml", position) and data[position + 5 : position + 6] in _SPACE:
            return  # a declaration out of place: the parser says where declarations belong
        elif data.startswith(b"<?", position):
            raise _processing_instruction(subject)
        else:
            return


def _message_parser() -> etree.XMLParser:
    """This thread's parser for messages: comments dropped, processing instructions kept (to be refused)."""
    found: etree.XMLParser | None = getattr(_local, "message", None)
    if found is None:
        found = _local.message = _hardened(etree.XMLParser(remove_comments=True, remove_pis=False, **OPTIONS))
    return found


def read_message(data: bytes, limits: XmlLimits = DEFAULT_LIMITS, *, subject: str = "The message") -> etree._Element:
    """The root element of ``data``, a message from outside, read strictly (see the module's docstring).

    Comments are dropped. Raises ``NonUtf8Message``, ``ForbiddenDoctype``,
    ``ForbiddenProcessingInstruction``, ``XmlLimitExceeded`` or ``MalformedMessage``, whose sentences begin
    with ``subject``.
    """
    check_utf8(data, subject)
    prolog = _declaration(data)[1]
    _check_prolog(data, prolog, subject)
    try:
        root: etree._Element = etree.fromstring(data, _message_parser())
    except etree.XMLSyntaxError as exc:
        if exc.code == etree.ErrorTypes.ERR_RESOURCE_LIMIT:  # libxml2's own bounds: depth 256, text 10 MB
            message = f"{subject} exceeds a limit of the XML parser: {exc.msg}."
            raise XmlLimitExceeded(message, limit="parser") from exc
        raise MalformedMessage(f"{subject} is not well-formed XML: {exc.msg}.") from exc
    except (ValueError, etree.LxmlError) as exc:
        raise MalformedMessage(f"{subject} cannot be read as XML: {exc}.") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _doctype(subject)
    if data.find(b"<?", prolog) >= 0 and _any_pi(root):
        raise _processing_instruction(subject)
    enforce(root, data, limits, subject)
    return root


def _any_pi(root: etree._Element) -> bool:
    """Whether the document holds a processing instruction anywhere (XPath objects stay in their thread)."""
    probe: etree.XPath | None = getattr(_local, "any_pi", None)
    if probe is None:
        probe = _local.any_pi = etree.XPath("boolean(//processing-instruction())")
    return bool(probe(root))

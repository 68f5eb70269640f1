"""Bounds on what one XML document may make the parser and the schema validator do, and their enforcement.

Invariant: a document reaches the schema validator (or any reader) only when every bound of its ``XmlLimits``
holds: nesting depth, elements, attributes and namespace declarations per element, namespace declarations in
all, and the length of every text, tail and attribute value. The first bound found broken is refused with an
``XmlLimitExceeded`` naming it; nothing of the document is echoed beyond its numbers.

The check costs little: most bounds are first settled on the bytes, which a document without a DTD cannot
outgrow (each element needs a ``<``, each attribute an ``=``, each namespace declaration the letters
``xmlns``, and no text is longer than the message), so an ordinary request pays three byte counts (and a
compiled XPath for its depth when it has many tags); only a document whose counts could break a bound is
walked element by element.

The defaults leave room for every message of the contract (at most 50 persons, small Periods, a flow Payload
of a few thousand elements, an SSDN document of a megabyte inside ``xmlString``) and keep the worst document
the body size allows to milliseconds of validation: validation cost grows with the square of the namespace
declarations in scope (20,000 on the Envelope took 1.4 s, 50,000 over 10 s), so those are bounded hardest.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from lxml import etree

from gateway.errors import ConfigurationError, XmlLimitExceeded

__all__ = ["DEFAULT_LIMITS", "XmlLimits", "enforce"]


@dataclass(frozen=True, slots=True)
class XmlLimits:
    """How big one document may be in each dimension the parser and the validator pay for."""

    max_depth: int = 64  # nesting of elements, the root being 1 (libxml2 itself stops at 256)
    max_elements: int = 20_000
    max_attributes: int = 64  # on one element (namespace declarations are counted apart)
    max_namespaces: int = 64  # namespace declarations on one element
    max_namespaces_total: int = 512  # namespace declarations in the whole document
    max_text_chars: int = 1024 * 1024  # one text, tail or attribute value

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigurationError(f"the XML limit {name} must be a positive whole number, not {value!r}")


DEFAULT_LIMITS = XmlLimits()

_local = threading.local()  # compiled XPath objects are not shared between threads


def _exceeded(subject: str, limit: str, what: str, bound: int) -> XmlLimitExceeded:
    return XmlLimitExceeded(f"{subject} exceeds a limit of this gateway: {what} (at most {bound}).", limit=limit)


def _deeper_than(root: etree._Element, depth: int) -> bool:
    """Whether some element lies more than ``depth`` levels deep (one XPath step per level, in C)."""
    cache: dict[int, etree.XPath] = _local.__dict__.setdefault("depth", {})
    probe = cache.get(depth)
    if probe is None:
        probe = cache[depth] = etree.XPath(f"boolean({'/*' * (depth + 1)})")
    return bool(probe(root))


def enforce(root: etree._Element, data: bytes, limits: XmlLimits, subject: str = "The message") -> None:
    """Raise ``XmlLimitExceeded`` unless ``root``, parsed from ``data`` without a DTD, keeps every bound."""
    tags = data.count(b"<")
    if (
        tags <= limits.max_elements
        and data.count(b"=") <= limits.max_attributes
        and data.count(b"xmlns") <= min(limits.max_namespaces, limits.max_namespaces_total)
        and len(data) <= limits.max_text_chars
    ):
        # nesting deeper than max_depth takes that many start tags and as many end tags but one
        if tags > 2 * limits.max_depth and _deeper_than(root, limits.max_depth):
            raise _exceeded(subject, "max_depth", "elements nested inside each other", limits.max_depth)
        return
    _walk(root, limits, subject)


def _walk(root: etree._Element, limits: XmlLimits, subject: str) -> None:
    """Every element in document order, each bound checked as it is met (the tree is complete: its texts too)."""
    depth = elements = namespaces = declared = 0
    max_text = limits.max_text_chars
    for event, item in etree.iterwalk(root, events=("start", "end", "start-ns")):
        if event == "start-ns":  # a declaration of the element whose start comes next
            declared += 1
            namespaces += 1
            if declared > limits.max_namespaces:
                raise _exceeded(
                    subject, "max_namespaces", "namespace declarations on one element", limits.max_namespaces
                )
            if namespaces > limits.max_namespaces_total:
                what = "namespace declarations in the message"
                raise _exceeded(subject, "max_namespaces_total", what, limits.max_namespaces_total)
            continue
        if event == "end":
            depth -= 1
            continue
        depth += 1
        elements += 1
        attributes = len(item.attrib)
        declared = 0
        if depth > limits.max_depth:
            raise _exceeded(subject, "max_depth", "elements nested inside each other", limits.max_depth)
        if elements > limits.max_elements:
            raise _exceeded(subject, "max_elements", "elements in the message", limits.max_elements)
        if attributes > limits.max_attributes:
            raise _exceeded(subject, "max_attributes", "attributes on one element", limits.max_attributes)
        if any(len(value) > max_text for value in item.attrib.values()):
            raise _exceeded(subject, "max_text_chars", "characters in one attribute value", max_text)
        for text in (item.text, item.tail):
            if text is not None and len(text) > max_text:
                raise _exceeded(subject, "max_text_chars", "characters in one text", max_text)

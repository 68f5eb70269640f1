"""Checking messages against the project's schemas with xmlschema, for people: every error with path and line.

Invariant: a file is reported valid only when it is well-formed XML without a DOCTYPE and the message it holds (a
bare document, the one Body child of a SOAP 1.1 envelope, or the SSDN document that child carries as the text of the
legacy front's ``xmlString``; a SOAP fault needs no schema) validates against the schema of its namespace; a
message of an unknown namespace, or an envelope without exactly one Body child, is an error. Each problem says
where (a path from the message element, indexed where siblings share a name) and on which line.

The hot path of the server uses lxml instead; this module is for tools (``ksz-gateway validate``, sample checks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from gateway.contract import safexml
from gateway.contract.names import CONNECTOR_NS, SOAP_ENV, SSDN_SERVICE_NS, TNS
from gateway.contract.resources import xsd_path

__all__ = ["SCHEMA_FILES", "Problem", "check_bytes", "check_file"]

SCHEMA_FILES = {
    TNS: "repertorium-v1.xsd",
    SSDN_SERVICE_NS: "ssdn-service.xsd",
}
_NAMESPACES = {"rep": TNS, "ssdn": SSDN_SERVICE_NS}
_PREFIXES = {namespace: prefix for prefix, namespace in _NAMESPACES.items()} | {SOAP_ENV: "soap"}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a message: where (XPath-like ``path``, source ``line``) and what."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "line ?"
        return f"{where}: {self.path}: {self.message}"


@cache
def _schema(file_name: str) -> Any:
    import xmlschema  # slow to import and compile: only when a tool asks

    return xmlschema.XMLSchema(str(xsd_path(file_name)))


def _messages(root: etree._Element) -> tuple[list[etree._Element], list[Problem]]:
    """The messages a document holds (the Body children of a SOAP 1.1 envelope, else the document itself) and
    what is wrong with the envelope around them."""
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        return [root], []
    bodies = root.findall(f"{{{SOAP_ENV}}}Body")
    if len(bodies) != 1:
        what = "no soap:Body" if not bodies else f"{len(bodies)} soap:Body elements"
        return [], [Problem("/soap:Envelope", root.sourceline, f"the envelope has {what}; it needs exactly one")]
    children = [child for child in bodies[0] if isinstance(child.tag, str)]
    if len(children) != 1:
        what = "is empty" if not children else f"holds {len(children)} elements"
        message = f"the soap:Body {what}; a message has exactly one"
        return [], [Problem("/soap:Envelope/soap:Body", bodies[0].sourceline, message)]
    if children[0].tag == f"{{{SOAP_ENV}}}Fault":
        return [], []
    return children, []


def _path(element: etree._Element, top: etree._Element) -> str:
    """``/rep:IntegrateRequest/rep:Person[2]/rep:SSIN``: from the message element down, indexed where needed."""
    steps: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        name = etree.QName(node)
        prefix = _PREFIXES.get(name.namespace or "", "")
        step = f"{prefix}:{name.localname}" if prefix else name.localname
        parent = node.getparent()
        if parent is not None and node is not top:
            same = [sibling for sibling in parent if sibling.tag == node.tag]
            if len(same) > 1:
                step += f"[{same.index(node) + 1}]"
        steps.append(step)
        if node is top:
            break
        node = parent
    return "/" + "/".join(reversed(steps))


def _carried(message: etree._Element, problems: list[Problem]) -> etree._Element | None:
    """The message itself, or the SSDN document the legacy front's ``xmlString`` carries as text (None, with a
    problem, when that text is no document)."""
    if message.tag != f"{{{CONNECTOR_NS}}}xmlString" or len(message):
        return message
    text = re.sub(r"\A\s*<\?xml[^>]*\?>", "", message.text or "")
    where = "/soap:Envelope/soap:Body/xmlString"
    try:
        inner = safexml.fromstring(text.encode("utf-8"))
    except etree.XMLSyntaxError as exc:
        problems.append(Problem(where, message.sourceline, f"the document in xmlString is not well-formed: {exc.msg}"))
        return None
    if inner.getroottree().docinfo.doctype:
        problems.append(Problem(where, message.sourceline, "the document in xmlString has a DOCTYPE"))
        return None
    return inner


def check_bytes(data: bytes) -> list[Problem]:
    """The problems of one XML document (empty when it is valid)."""
    try:
        root = safexml.fromstring(data)
    except etree.XMLSyntaxError as exc:
        return [Problem("/", exc.lineno, f"not well-formed XML: {exc.msg}")]
    if root.getroottree().docinfo.doctype:
        return [Problem("/", 1, "a DOCTYPE is not allowed in these messages")]
    messages, problems = _messages(root)
    messages = [_carried(m, problems) for m in messages]
    for message in (m for m in messages if m is not None):
        namespace = etree.QName(message).namespace or ""
        file_name = SCHEMA_FILES.get(namespace)
        if file_name is None:
            where = _path(message, message)
            problems.append(Problem(where, message.sourceline, f"no schema for namespace {namespace!r}"))
            continue
        for error in _schema(file_name).iter_errors(message, namespaces=_NAMESPACES):
            element = getattr(error, "elem", None)
            if isinstance(element, etree._Element):
                where, line = _path(element, message), element.sourceline
                value = (element.text or "").strip() if len(element) == 0 else ""
            else:
                where, line, value = str(error.path or "/"), None, ""
            reason = str(error.reason or error.message)
            if value and repr(value) not in reason and value not in reason:
                reason += f" (value {value!r})"
            problems.append(Problem(where, line, reason))
    return problems


def check_file(path: Path) -> list[Problem]:
    """The problems of the XML document in ``path`` (``OSError`` when it cannot be read)."""
    return check_bytes(path.read_bytes())

"""Checking messages against the project's schemas with xmlschema, for people: every error with path and line.

Invariant: a file is reported valid only when each message it holds (a bare document, or the Body children of
a SOAP envelope) validates against the schema of its namespace; a message of an unknown namespace is an error.
The hot path of the server uses lxml instead; this module is for tools (``ksz-gateway validate``, sample checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from gateway.resources import xsd_path

__all__ = ["SCHEMA_FILES", "Problem", "check_bytes", "check_file"]

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
REPERTORIUM_NS = "urn:ksz-gateway:repertorium:v1"
SSDN_SERVICE_NS = "http://www.ksz-bcss.fgov.be/XSD/SSDN/Service"
SCHEMA_FILES = {
    REPERTORIUM_NS: "repertorium-v1.xsd",
    SSDN_SERVICE_NS: "ssdn-service.xsd",
}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


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


def _messages(root: etree._Element) -> list[etree._Element]:
    if root.tag == f"{{{SOAP_ENV}}}Envelope":
        body = root.find(f"{{{SOAP_ENV}}}Body")
        if body is None:
            return []
        return [child for child in body if isinstance(child.tag, str) and child.tag != f"{{{SOAP_ENV}}}Fault"]
    return [root]


def check_bytes(data: bytes) -> list[Problem]:
    """The problems of one XML document (empty when it is valid)."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        return [Problem("/", exc.lineno, f"not well-formed XML: {exc.msg}")]
    if root.getroottree().docinfo.doctype:
        return [Problem("/", 1, "a DOCTYPE is not allowed in these messages")]
    problems: list[Problem] = []
    for message in _messages(root):
        namespace = etree.QName(message).namespace or ""
        file_name = SCHEMA_FILES.get(namespace)
        if file_name is None:
            where = message.getroottree().getpath(message)
            problems.append(Problem(where, message.sourceline, f"no schema for namespace {namespace!r}"))
            continue
        prefixes = {"rep": REPERTORIUM_NS, "ssdn": SSDN_SERVICE_NS}
        for error in _schema(file_name).iter_errors(message, namespaces=prefixes):
            element = getattr(error, "elem", None)
            line = getattr(element, "sourceline", None) if element is not None else None
            problems.append(Problem(str(error.path or "/"), line, str(error.reason or error.message)))
    return problems


def check_file(path: Path) -> list[Problem]:
    return check_bytes(path.read_bytes())

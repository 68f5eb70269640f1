"""The contract's documents as the endpoint serves them: the WSDL (``?wsdl``) and its schemas (``?xsd=NAME``).

Invariant: the documents are read from the package and prepared once, when the application is made. The served
WSDL is the hand-written one with only two changes: its schema imports point at ``?xsd=<file name>`` of the same
endpoint, and its ``soap:address`` is the endpoint as the client reached it. Only schema files shipped in the
package are served; any other name is unknown (404).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from xml.sax.saxutils import escape

from lxml import etree

from gateway.contract.resources import contract_dir, wsdl_path
from gateway.errors import ConfigurationError

__all__ = ["WSDL_FILE", "XSD_FILE", "ContractDocuments", "endpoint_url"]

WSDL_FILE = "repertorium-v1.wsdl"
XSD_FILE = "repertorium-v1.xsd"
_XS = "http://www.w3.org/2001/XMLSchema"
_WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
_PLACEHOLDER = "urn:ksz-gateway:endpoint-placeholder"
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _rewrite_imports(root: etree._Element, known: Mapping[str, bytes], source: str, *, strict: bool) -> None:
    for element in root.iter(f"{{{_XS}}}import", f"{{{_XS}}}include", f"{{{_XS}}}redefine"):
        location = element.get("schemaLocation")
        if location is None:
            continue
        name = PurePosixPath(location).name
        if name in known:
            element.set("schemaLocation", f"?xsd={name}")
        elif strict:
            raise ConfigurationError(f"{source} imports {location}, which is not a schema of the package")


class ContractDocuments:
    """The WSDL and every schema of ``gateway.xsd``, ready to serve."""

    def __init__(self, wsdl_file: str = WSDL_FILE) -> None:
        originals = {path.name: path.read_bytes() for path in sorted(contract_dir("xsd").glob("*.xsd"))}
        if XSD_FILE not in originals:
            raise ConfigurationError(f"the package has no schema {XSD_FILE}")
        self.originals: Mapping[str, bytes] = originals
        served: dict[str, bytes] = {}
        for name, data in originals.items():
            root = etree.fromstring(data, _PARSER)
            _rewrite_imports(root, originals, name, strict=False)
            served[name] = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        self._schemas: Mapping[str, bytes] = served

        wsdl = etree.fromstring(wsdl_path(wsdl_file).read_bytes(), _PARSER)
        _rewrite_imports(wsdl, originals, wsdl_file, strict=True)
        addresses = list(wsdl.iter(f"{{{_WSDL_SOAP}}}address"))
        if not addresses:
            raise ConfigurationError(f"{wsdl_file} has no soap:address")
        for address in addresses:
            address.set("location", _PLACEHOLDER)
        self._wsdl_parts = etree.tostring(wsdl, xml_declaration=True, encoding="UTF-8").split(_PLACEHOLDER.encode())

    def wsdl(self, endpoint: str) -> bytes:
        """The WSDL whose ``soap:address`` is ``endpoint``."""
        return escape(endpoint, {'"': "&quot;"}).encode().join(self._wsdl_parts)

    def schema(self, name: str) -> bytes | None:
        """A schema file by its name, as served (imports pointing at ``?xsd=``); None when unknown."""
        return self._schemas.get(name)

    @property
    def schema_names(self) -> tuple[str, ...]:
        return tuple(sorted(self._schemas))


def endpoint_url(environ: Mapping[str, object]) -> str:
    """The endpoint as the client reached it: scheme, Host header (when well-formed) and path."""
    scheme = str(environ.get("wsgi.url_scheme", "http"))
    host = str(environ.get("HTTP_HOST", ""))
    if not _HOST.fullmatch(host):
        name, port = str(environ.get("SERVER_NAME", "localhost")), str(environ.get("SERVER_PORT", ""))
        default = (scheme == "http" and port == "80") or (scheme == "https" and port == "443")
        host = name if default or not port else f"{name}:{port}"
    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    return f"{scheme}://{host}{path}"

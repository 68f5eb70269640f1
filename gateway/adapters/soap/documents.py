"""The contract's documents as the endpoint serves them: the WSDL (``?wsdl``) and its schemas (``?xsd=NAME``), and
the endpoint's URL as the client reached it.

Invariant: the documents are read from the package and prepared once, when the application is made. The served
WSDL and schemas are the hand-written ones with only these changes: every schema import (``xs:import``,
``xs:include``, ``xs:redefine``) points at the absolute URL ``<endpoint>?xsd=<file name>``, and the WSDL's
``soap:address`` is ``<endpoint>``, where ``<endpoint>`` is the endpoint as the client reached it. Absolute
locations resolve the same with every tool: a relative ``?xsd=NAME`` resolves against ``/soap/repertorium`` to
``/soap/?xsd=NAME`` under java.net.URI (RFC 2396), which Java tools then fail to load. Only schema files shipped in
the package are served; any other name is unknown (404).

The endpoint comes from the request: its scheme and Host header, or, only when the peer (``REMOTE_ADDR``) is a
reverse proxy the operator trusts (``serve --forwarded-allow-ips``), the scheme and host that proxy forwards in
``Forwarded`` (RFC 7239) or ``X-Forwarded-Proto`` / ``X-Forwarded-Host``. Forwarding headers from any other peer,
and values that are not a scheme or a host, are ignored.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from xml.sax.saxutils import escape

from lxml import etree

from gateway.contract.resources import contract_dir, wsdl_path
from gateway.errors import ConfigurationError

__all__ = ["WSDL_FILE", "XSD_FILE", "ContractDocuments", "TrustedProxies", "endpoint_url"]

WSDL_FILE = "repertorium-v1.wsdl"
XSD_FILE = "repertorium-v1.xsd"
_XS = "http://www.w3.org/2001/XMLSchema"
_WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
_PLACEHOLDER = "urn:ksz-gateway:endpoint-placeholder"
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_SCHEMES = frozenset({"http", "https"})
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

# RFC 7239: forwarded-pair = token "=" ( token / quoted-string ), pairs joined by ";", elements by ",".
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PAIR = re.compile(rf'\s*({_TOKEN})=({_TOKEN}|"(?:[^"\\]|\\.)*")\s*')


@dataclass(frozen=True, slots=True)
class _Template:
    """A document split where the endpoint goes; ``render`` puts one in every place."""

    parts: tuple[bytes, ...]

    @classmethod
    def of(cls, root: etree._Element) -> _Template:
        return cls(tuple(etree.tostring(root, xml_declaration=True, encoding="UTF-8").split(_PLACEHOLDER.encode())))

    def render(self, endpoint: str) -> bytes:
        return escape(endpoint, {'"': "&quot;"}).encode().join(self.parts)


def _point_imports(root: etree._Element, known: Mapping[str, bytes], source: str, *, strict: bool) -> None:
    """Every schema location naming a packaged schema becomes ``<endpoint>?xsd=<file name>``."""
    for element in root.iter(f"{{{_XS}}}import", f"{{{_XS}}}include", f"{{{_XS}}}redefine"):
        location = element.get("schemaLocation")
        if location is None:
            continue
        name = PurePosixPath(location).name
        if name in known:
            element.set("schemaLocation", f"{_PLACEHOLDER}?xsd={name}")
        elif strict:
            raise ConfigurationError(f"{source} imports {location}, which is not a schema of the package")


class ContractDocuments:
    """The WSDL and every schema of ``gateway/contract/xsd``, ready to serve for any endpoint URL."""

    def __init__(self, wsdl_file: str = WSDL_FILE) -> None:
        originals = {path.name: path.read_bytes() for path in sorted(contract_dir("xsd").glob("*.xsd"))}
        if XSD_FILE not in originals:
            raise ConfigurationError(f"the package has no schema {XSD_FILE}")
        self.originals: Mapping[str, bytes] = originals
        served: dict[str, _Template] = {}
        for name, data in originals.items():
            root = etree.fromstring(data, _PARSER)
            _point_imports(root, originals, name, strict=False)
            served[name] = _Template.of(root)
        self._schemas: Mapping[str, _Template] = served

        wsdl = etree.fromstring(wsdl_path(wsdl_file).read_bytes(), _PARSER)
        _point_imports(wsdl, originals, wsdl_file, strict=True)
        addresses = list(wsdl.iter(f"{{{_WSDL_SOAP}}}address"))
        if not addresses:
            raise ConfigurationError(f"{wsdl_file} has no soap:address")
        for address in addresses:
            address.set("location", _PLACEHOLDER)
        self._wsdl = _Template.of(wsdl)

    def wsdl(self, endpoint: str) -> bytes:
        """The WSDL whose ``soap:address`` is ``endpoint`` and whose schemas are imported from it."""
        return self._wsdl.render(endpoint)

    def schema(self, name: str, endpoint: str) -> bytes | None:
        """A schema file by its name, its imports pointing at ``endpoint?xsd=``; None when unknown."""
        template = self._schemas.get(name)
        return None if template is None else template.render(endpoint)

    @property
    def schema_names(self) -> tuple[str, ...]:
        return tuple(sorted(self._schemas))


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """The reverse proxies whose forwarding headers are believed: addresses or networks, or everyone (``*``)."""

    networks: tuple[_Network, ...] = ()
    everyone: bool = False

    @classmethod
    def parse(cls, entries: Iterable[str]) -> TrustedProxies:
        """From ``--forwarded-allow-ips`` entries (as gunicorn takes them: addresses, networks, ``*``; each entry
        may itself be a comma-separated list)."""
        networks: list[_Network] = []
        everyone = False
        for entry in (part.strip() for item in entries for part in item.split(",")):
            if not entry:
                continue
            if entry == "*":
                everyone = True
                continue
            try:
                networks.append(ipaddress.ip_network(entry))
            except ValueError as exc:
                raise ConfigurationError(
                    f"forwarded-allow-ips: {entry!r} is neither an IP address, a network (without host bits) nor *"
                ) from exc
        return cls(tuple(networks), everyone)

    def trusts(self, peer: str) -> bool:
        """Whether the connection's peer address is one of these proxies."""
        if self.everyone:
            return True
        if not self.networks:
            return False
        try:
            address = ipaddress.ip_address(peer.strip())
        except ValueError:
            return False  # a Unix socket, or no address at all
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)


_NOBODY = TrustedProxies()


def _forwarded_element(header: str) -> dict[str, str] | None:
    """The last element of an RFC 7239 ``Forwarded`` header (the one the nearest proxy added); None if malformed."""
    elements: list[dict[str, str]] = [{}]
    position = 0
    while position < len(header):
        match = _PAIR.match(header, position)
        if match is None:
            return None
        name, value = match.group(1).lower(), match.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        elements[-1][name] = value
        position = match.end()
        if position < len(header):
            separator = header[position]
            if separator == ",":
                elements.append({})
            elif separator != ";":
                return None
            position += 1
    return elements[-1]


def _last(header: str) -> str:
    """The last value of a comma-separated ``X-Forwarded-*`` header: the one the nearest proxy added."""
    return header.rsplit(",", 1)[-1].strip()


def _forwarded(environ: Mapping[str, object]) -> tuple[str | None, str | None]:
    """(scheme, host) as the trusted proxy in front forwards them; each None where it says nothing usable."""
    element = _forwarded_element(str(environ.get("HTTP_FORWARDED", ""))) or {}
    scheme = element.get("proto") or _last(str(environ.get("HTTP_X_FORWARDED_PROTO", "")))
    host = element.get("host") or _last(str(environ.get("HTTP_X_FORWARDED_HOST", "")))
    scheme = scheme.lower()
    return (scheme if scheme in _SCHEMES else None), (host if _HOST.fullmatch(host) else None)


def endpoint_url(environ: Mapping[str, object], proxies: TrustedProxies = _NOBODY) -> str:
    """The endpoint as the client reached it: scheme, Host header (when well-formed) and path; behind a trusted
    proxy, the scheme and host the proxy forwards."""
    scheme = str(environ.get("wsgi.url_scheme", "http"))
    host = str(environ.get("HTTP_HOST", ""))
    if proxies.trusts(str(environ.get("REMOTE_ADDR", ""))):
        forwarded_scheme, forwarded_host = _forwarded(environ)
        scheme = forwarded_scheme or scheme
        host = forwarded_host or host
    if not _HOST.fullmatch(host):
        name, port = str(environ.get("SERVER_NAME", "localhost")), str(environ.get("SERVER_PORT", ""))
        default = (scheme == "http" and port == "80") or (scheme == "https" and port == "443")
        host = name if default or not port else f"{name}:{port}"
    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    return f"{scheme}://{host}{path}"

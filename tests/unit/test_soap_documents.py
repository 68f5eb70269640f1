"""The served documents and the URL they advertise: absolute schema locations in every document, and forwarding
headers believed only from the proxies the operator trusts."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
from lxml import etree

from gateway.adapters.soap.documents import ContractDocuments, TrustedProxies, endpoint_url
from gateway.contract.resources import contract_dir
from gateway.errors import ConfigurationError

XS = "http://www.w3.org/2001/XMLSchema"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
ENDPOINT = "https://public.example/soap/repertorium"
PACKAGED = sorted(p.name for p in contract_dir("xsd").glob("*.xsd"))


def _locations(document: bytes) -> list[str]:
    root = etree.fromstring(document)
    return [e.get("schemaLocation") for e in root.iter(f"{{{XS}}}import", f"{{{XS}}}include", f"{{{XS}}}redefine")]


@pytest.fixture(scope="module")
def documents() -> ContractDocuments:
    return ContractDocuments()


def test_every_packaged_schema_is_served(documents: ContractDocuments) -> None:
    assert list(documents.schema_names) == PACKAGED


@pytest.mark.parametrize("name", PACKAGED)
def test_every_schema_imports_its_neighbours_from_absolute_urls_of_the_endpoint(
    documents: ContractDocuments, name: str
) -> None:
    served = documents.schema(name, ENDPOINT)
    assert served is not None
    original = (contract_dir("xsd") / name).read_bytes()
    originals = [PurePosixPath(location).name for location in _locations(original)]
    assert _locations(served) == [f"{ENDPOINT}?xsd={n}" for n in originals]


def test_the_ssdn_schemas_do_import_each_other(documents: ContractDocuments) -> None:
    """So the test above checks real imports, not only schemas without any."""
    assert _locations(documents.schema("ssdn-service.xsd", ENDPOINT) or b"") == [
        f"{ENDPOINT}?xsd=ssdn-common.xsd",
        f"{ENDPOINT}?xsd=ssdn-manageaccess.xsd",
    ]


def test_the_wsdl_imports_its_schema_from_and_addresses_the_endpoint(documents: ContractDocuments) -> None:
    wsdl = documents.wsdl(ENDPOINT)
    assert _locations(wsdl) == [f"{ENDPOINT}?xsd=repertorium-v1.xsd"]
    assert [a.get("location") for a in etree.fromstring(wsdl).iter(f"{{{WSDL_SOAP}}}address")] == [ENDPOINT]


def test_an_unknown_schema_is_none(documents: ContractDocuments) -> None:
    assert documents.schema("nope.xsd", ENDPOINT) is None


def test_the_endpoint_is_written_as_an_attribute_value_safely(documents: ContractDocuments) -> None:
    odd = 'http://h.example/soap/repertorium?a="1"&b=<2>'
    assert _locations(documents.schema("ssdn-service.xsd", odd) or b"")[0] == f"{odd}?xsd=ssdn-common.xsd"
    address = etree.fromstring(documents.wsdl(odd)).find(f".//{{{WSDL_SOAP}}}address")
    assert address is not None and address.get("location") == odd


def test_the_connector_wsdl_is_served_with_its_address_too() -> None:
    endpoint = "https://public.example/connectors/webservice/KSZBCSSWebServiceConnectorPort"
    wsdl = ContractDocuments("ssdn-connector.wsdl").wsdl(endpoint)
    assert [a.get("location") for a in etree.fromstring(wsdl).iter(f"{{{WSDL_SOAP}}}address")] == [endpoint]
    assert all(urlsplit(location).scheme == "https" for location in _locations(wsdl))


# -- the trusted proxies -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entries", "peer", "trusted"),
    [
        ((), "127.0.0.1", False),
        (("127.0.0.2",), "127.0.0.2", True),
        (("127.0.0.2",), "127.0.0.1", False),
        (("10.0.0.0/8",), "10.20.30.40", True),
        (("10.0.0.0/8",), "11.0.0.1", False),
        (("127.0.0.2, 192.0.2.7",), "192.0.2.7", True),
        (("::1",), "::1", True),
        (("127.0.0.2",), "::ffff:127.0.0.2", True),
        (("*",), "203.0.113.9", True),
        (("*",), "", True),
        (("127.0.0.2",), "", False),
        (("127.0.0.2",), "not an address", False),
    ],
)
def test_a_peer_is_trusted_only_when_listed(entries: tuple[str, ...], peer: str, trusted: bool) -> None:
    assert TrustedProxies.parse(entries).trusts(peer) is trusted


@pytest.mark.parametrize("entry", ["proxy.example", "127.0.0.256", "10.0.0.0/33", "10.0.0.1/8"])
def test_an_entry_that_is_no_address_is_a_configuration_error(entry: str) -> None:
    with pytest.raises(ConfigurationError, match="forwarded-allow-ips"):
        TrustedProxies.parse([entry])


PROXY = TrustedProxies.parse(["127.0.0.2"])


def environ(peer: str = "127.0.0.2", **headers: str) -> dict[str, Any]:
    base: dict[str, Any] = {
        "wsgi.url_scheme": "http",
        "HTTP_HOST": "127.0.0.1:8080",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "PATH_INFO": "/soap/repertorium",
        "REMOTE_ADDR": peer,
    }
    return base | {f"HTTP_{name.upper()}": value for name, value in headers.items()}


INTERNAL = "http://127.0.0.1:8080/soap/repertorium"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, INTERNAL),
        ({"x_forwarded_proto": "https", "x_forwarded_host": "public.example"}, ENDPOINT),
        (
            {"x_forwarded_proto": "HTTPS", "x_forwarded_host": "public.example:8443"},
            "https://public.example:8443/soap/repertorium",
        ),
        ({"x_forwarded_proto": "https"}, "https://127.0.0.1:8080/soap/repertorium"),
        ({"x_forwarded_proto": "http, https", "x_forwarded_host": "inner.example, public.example"}, ENDPOINT),
        ({"forwarded": "for=192.0.2.60;proto=https;host=public.example"}, ENDPOINT),
        ({"forwarded": 'for="[2001:db8::1]";proto=http, for=192.0.2.1;proto=https;host="public.example"'}, ENDPOINT),
        ({"forwarded": 'proto=https;host="[2001:db8::7]:8443"'}, "https://[2001:db8::7]:8443/soap/repertorium"),
        ({"forwarded": "for=192.0.2.1", "x_forwarded_proto": "https", "x_forwarded_host": "public.example"}, ENDPOINT),
        ({"forwarded": "proto=https;host=public.example", "x_forwarded_host": "other.example"}, ENDPOINT),
        ({"forwarded": "proto=https;;=;host", "x_forwarded_proto": "https"}, "https://127.0.0.1:8080/soap/repertorium"),
        ({"x_forwarded_proto": "gopher", "x_forwarded_host": "bad host/with/path"}, INTERNAL),
        ({"x_forwarded_proto": "javascript:", "x_forwarded_host": 'x"><y'}, INTERNAL),
    ],
    ids=[
        "nothing-forwarded",
        "x-forwarded",
        "x-forwarded-with-port",
        "proto-only",
        "the-nearest-proxys-values",
        "forwarded",
        "forwarded-last-element",
        "forwarded-ipv6-host",
        "forwarded-without-proto-or-host",
        "forwarded-before-x-forwarded",
        "malformed-forwarded",
        "not-a-scheme-or-host",
        "hostile-values",
    ],
)
def test_a_trusted_proxy_shapes_the_advertised_url(headers: dict[str, str], expected: str) -> None:
    assert endpoint_url(environ(**headers), PROXY) == expected


@pytest.mark.parametrize("peer", ["127.0.0.1", "10.0.0.1", ""])
def test_forwarding_headers_from_any_other_peer_are_ignored(peer: str) -> None:
    forged = environ(
        peer,
        x_forwarded_proto="https",
        x_forwarded_host="evil.example",
        forwarded="proto=https;host=evil.example",
    )
    assert endpoint_url(forged, PROXY) == INTERNAL
    assert endpoint_url(forged) == INTERNAL


def test_without_a_usable_host_header_the_server_name_and_port_are_used() -> None:
    assert endpoint_url(environ(host="bad host")) == INTERNAL
    bare = environ() | {"HTTP_HOST": "", "SERVER_PORT": "443", "wsgi.url_scheme": "https"}
    assert endpoint_url(bare) == "https://127.0.0.1/soap/repertorium"

"""The WSDL and its schemas over real HTTP, as every tool resolves them: Java's java.net.URI as much as Python.

A tool loads ``?wsdl``, then each ``schemaLocation`` it finds, resolved against the URL of the document that names
it, and so on transitively. java.net.URI resolves by RFC 2396, where a query-only reference (``?xsd=NAME``) drops
the base's last path segment (``/soap/repertorium`` + ``?xsd=NAME`` = ``/soap/?xsd=NAME``, a 404), while RFC 3986
and Python's ``urljoin`` keep it. The gateway serves absolute locations, so that both rules give the same URL; the
crawl below resolves with Java's rule and checks that Python's rule agrees.

Behind a reverse proxy, the advertised URLs (``soap:address``, every ``schemaLocation``) follow ``Forwarded`` /
``X-Forwarded-*`` only when the peer is a proxy the operator trusts: a gateway trusting 127.0.0.2 is served here
in-process (the real application from ``make_app``, a real SQLite file, real HTTP on loopback) and called from
127.0.0.2 and from 127.0.0.1.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit, urlunsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import xmlschema
import zeep
from lxml import etree

from gateway.adapters.storage.sqlite import SqliteStore
from gateway.contract.resources import contract_dir
from gateway.entrypoints.compose import make_app
from gateway.entrypoints.settings import Settings

XS = "http://www.w3.org/2001/XMLSchema"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
PACKAGED = frozenset(p.name for p in contract_dir("xsd").glob("*.xsd"))
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example"}
PUBLIC = "https://public.example/soap/repertorium"


# -- java.net.URI's resolution --------------------------------------------------------------------------------


def _remove_dot_segments(path: str) -> str:
    """RFC 2396 5.2 step 6 c-f: drop ``.`` segments and each ``segment/..`` pair."""
    segments = path.split("/")
    kept: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                kept.append("")
            continue
        if segment == ".." and len(kept) > 1 and kept[-1] not in ("", ".."):
            kept.pop()
            if last:
                kept.append("")
            continue
        kept.append(segment)
    return "/".join(kept)


def java_resolve(base: str, reference: str) -> str:
    """``new URI(base).resolve(reference)`` in Java: RFC 2396 section 5.2 for a hierarchical base."""
    ref = urlsplit(reference)
    if ref.scheme:
        return reference
    b = urlsplit(base)
    if not ref.netloc and not ref.path and not ref.query and ref.fragment:
        return urlunsplit((b.scheme, b.netloc, b.path, b.query, ref.fragment))
    if ref.netloc:
        return urlunsplit((b.scheme, ref.netloc, ref.path, ref.query, ref.fragment))
    # step 6: a relative path (maybe empty) replaces everything after the base's last "/"
    merged = _remove_dot_segments(b.path[: b.path.rfind("/") + 1] + ref.path)
    path = ref.path if ref.path.startswith("/") else merged
    return urlunsplit((b.scheme, b.netloc, path, ref.query, ref.fragment))


def test_the_resolver_follows_java_where_python_differs() -> None:
    base = "http://gw.example:8080/soap/repertorium"
    assert java_resolve(base, "?xsd=a.xsd") == "http://gw.example:8080/soap/?xsd=a.xsd"
    assert urljoin(base, "?xsd=a.xsd") == "http://gw.example:8080/soap/repertorium?xsd=a.xsd"
    assert java_resolve(base, "b.xsd") == "http://gw.example:8080/soap/b.xsd"
    assert java_resolve(base, "../xsd/c.xsd") == "http://gw.example:8080/xsd/c.xsd"
    assert java_resolve(base, "/x?y") == "http://gw.example:8080/x?y"
    assert java_resolve(base, "https://other.example/z") == "https://other.example/z"


# -- fetching as a tool does ---------------------------------------------------------------------------------


def fetch(server: Any, url: str, *, source: str | None = None, headers: dict[str, str] | None = None) -> Any:
    """GET ``url`` from ``server`` whatever host the URL names (it is sent as the Host header, as a client of that
    name would send it); ``source`` binds the client to that loopback address."""
    parts = urlsplit(url)
    target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    connection = http.client.HTTPConnection(
        server.host, server.port, timeout=30, source_address=(source, 0) if source else None
    )
    try:
        connection.request("GET", target, headers={"Host": parts.netloc, **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@dataclass
class Crawl:
    documents: dict[str, etree._Element]  # URL -> root, every document reached
    locations: list[tuple[str, str]]  # (document URL, location as written)

    @property
    def schemas(self) -> set[str]:
        return {parse_qs(urlsplit(url).query)["xsd"][0] for url in self.documents if "xsd=" in url}


def crawl(server: Any, start: str, **options: Any) -> Crawl:
    """Every document reached from ``start`` by following schema and WSDL imports, resolved as Java resolves."""
    documents: dict[str, etree._Element] = {}
    locations: list[tuple[str, str]] = []
    todo = [start]
    while todo:
        url = todo.pop()
        if url in documents:
            continue
        status, data = fetch(server, url, **options)
        assert status == 200, f"{url}: HTTP {status}"
        root = etree.fromstring(data)
        documents[url] = root
        for element in root.iter(f"{{{XS}}}import", f"{{{XS}}}include", f"{{{XS}}}redefine", f"{{{WSDL_NS}}}import"):
            location = element.get("schemaLocation") or element.get("location")
            if location is not None:
                locations.append((url, location))
                todo.append(java_resolve(url, location))
    return Crawl(documents, locations)


def _assert_resolver_irrelevant(found: Crawl) -> None:
    assert found.locations, "nothing was imported"
    for url, location in found.locations:
        assert urlsplit(location).scheme in ("http", "https"), f"{url} imports the relative {location!r}"
        assert java_resolve(url, location) == urljoin(url, location) == location


def test_every_schema_is_reached_from_the_wsdl_by_java_resolution(gateway: Any) -> None:
    found = crawl(gateway, f"{gateway.endpoint}?wsdl")
    _assert_resolver_irrelevant(found)
    assert found.schemas == {"repertorium-v1.xsd"}
    assert all(root.tag == f"{{{XS}}}schema" for url, root in found.documents.items() if "xsd=" in url)


def test_the_ssdn_schemas_reach_each_other_by_java_resolution(gateway: Any) -> None:
    found = crawl(gateway, f"{gateway.endpoint}?xsd=ssdn-service.xsd")
    _assert_resolver_irrelevant(found)
    assert found.schemas == {"ssdn-service.xsd", "ssdn-common.xsd", "ssdn-manageaccess.xsd"}


def test_every_served_schema_resolves_all_its_imports(gateway: Any) -> None:
    reached: set[str] = set()
    for name in sorted(PACKAGED):
        found = crawl(gateway, f"{gateway.endpoint}?xsd={name}")
        for url, location in found.locations:
            assert java_resolve(url, location) == location
        reached |= found.schemas
    assert reached == PACKAGED


def test_the_old_relative_location_would_have_missed_under_java(gateway: Any) -> None:
    """Why the locations are absolute: the URL Java made of ``?xsd=NAME`` is not served."""
    wrong = java_resolve(gateway.endpoint, "?xsd=repertorium-v1.xsd")
    assert urlsplit(wrong).path == "/soap/"
    assert fetch(gateway, wrong)[0] == 404


def test_the_documents_name_the_host_the_client_used(gateway: Any) -> None:
    endpoint = "http://gateway.example.org:8443/soap/repertorium"
    found = crawl(gateway, f"{endpoint}?wsdl")
    assert found.schemas == {"repertorium-v1.xsd"}
    assert all(location.startswith(f"{endpoint}?xsd=") for _, location in found.locations)
    ssdn = crawl(gateway, f"{endpoint}?xsd=ssdn-service.xsd")
    assert all(location.startswith(f"{endpoint}?xsd=") for _, location in ssdn.locations)


def test_xmlschema_compiles_the_ssdn_schemas_straight_from_the_gateway(gateway: Any) -> None:
    """A third resolver: xmlschema fetches the imports over HTTP itself."""
    schema = xmlschema.XMLSchema(f"{gateway.endpoint}?xsd=ssdn-service.xsd")
    assert "{http://www.ksz-bcss.fgov.be/XSD/SSDN/Service}SSDNReply" in schema.maps.elements
    assert xmlschema.XMLSchema(f"{gateway.endpoint}?xsd=repertorium-v1.xsd").elements


def test_the_served_wsdl_carries_the_username_token_policy(gateway: Any) -> None:
    wsdl = etree.fromstring(fetch(gateway, f"{gateway.endpoint}?wsdl")[1])
    binding = wsdl.find(f"{{{WSDL_NS}}}binding")
    assert binding is not None
    reference = binding.find("{http://www.w3.org/ns/ws-policy}PolicyReference")
    assert reference is not None
    hash_password = "{http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702}HashPassword"
    assert next(wsdl.iter(hash_password), None) is not None


def _forged_wsdl(running: Any) -> bytes:
    forged = {**FORWARDED, "Forwarded": "proto=https;host=public.example"}
    status, data = fetch(running, f"{running.endpoint}?wsdl", headers=forged)
    assert status == 200
    return bytes(data)


def test_forwarding_headers_from_an_untrusted_peer_are_ignored(gateway: Any) -> None:
    """``serve`` trusts no proxy unless told: a forged X-Forwarded-Proto / Forwarded changes nothing."""
    assert _advertised(_forged_wsdl(gateway)) == {gateway.endpoint}


def test_forwarding_headers_from_an_untrusted_peer_are_ignored_by_every_worker_too(gateway_two_workers: Any) -> None:
    """With several workers too: the HTTP server in front does not trust a local peer on its own."""
    assert _advertised(_forged_wsdl(gateway_two_workers)) == {gateway_two_workers.endpoint}


def _advertised(document: bytes) -> set[str]:
    """The endpoint URLs a document advertises: its soap:address and the base of every schemaLocation."""
    root = etree.fromstring(document)
    found = {a.get("location") for a in root.iter(f"{{{WSDL_SOAP}}}address")}
    found |= {e.get("schemaLocation").split("?xsd=")[0] for e in root.iter(f"{{{XS}}}import")}
    return found


# -- behind a trusted proxy ----------------------------------------------------------------------------------


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class InProcess:
    host: str
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}/soap/repertorium"


@pytest.fixture
def behind_proxy(tmp_path: Path) -> Iterator[InProcess]:
    """The real application trusting the proxy at 127.0.0.2, served on 127.0.0.1 over real HTTP."""
    store = SqliteStore(tmp_path / "directory.db")
    store.upgrade()
    app = make_app(Settings(db=str(tmp_path / "directory.db"), forwarded_allow_ips=("127.0.0.2",)), store)
    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield InProcess("127.0.0.1", server.server_port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        store.close()


@pytest.mark.parametrize(
    "headers",
    [FORWARDED, {"Forwarded": 'for=192.0.2.60;proto=https;host="public.example"'}],
    ids=["x-forwarded", "forwarded"],
)
def test_a_trusted_proxy_gets_the_public_https_urls_everywhere(
    behind_proxy: InProcess, headers: dict[str, str]
) -> None:
    found = crawl(behind_proxy, f"{behind_proxy.endpoint}?wsdl", source="127.0.0.2", headers=headers)
    wsdl = found.documents[f"{behind_proxy.endpoint}?wsdl"]
    assert [a.get("location") for a in wsdl.iter(f"{{{WSDL_SOAP}}}address")] == [PUBLIC]
    assert [location for _, location in found.locations] == [f"{PUBLIC}?xsd=repertorium-v1.xsd"]
    status, data = fetch(
        behind_proxy, f"{behind_proxy.endpoint}?xsd=ssdn-service.xsd", source="127.0.0.2", headers=headers
    )
    assert status == 200 and _advertised(data) == {PUBLIC}


def test_an_untrusted_peer_gets_the_internal_urls(behind_proxy: InProcess) -> None:
    for source in ("127.0.0.1", "127.0.0.3"):
        status, data = fetch(behind_proxy, f"{behind_proxy.endpoint}?wsdl", source=source, headers=FORWARDED)
        assert status == 200
        assert _advertised(data) == {behind_proxy.endpoint}


def test_zeep_behind_the_proxy_reads_the_public_address(behind_proxy: InProcess) -> None:
    """zeep fetches through the proxy (here: straight from 127.0.0.2 with the proxy's headers) and would call the
    public URL."""

    class ThroughProxy(zeep.Transport):  # type: ignore[misc]
        def load(self, url: str) -> bytes:
            internal = url.replace(PUBLIC, behind_proxy.endpoint)
            status, data = fetch(behind_proxy, internal, source="127.0.0.2", headers=FORWARDED)
            assert status == 200, url
            return bytes(data)

    client = zeep.Client(f"{behind_proxy.endpoint}?wsdl", transport=ThroughProxy())
    assert client.service._binding_options["address"] == PUBLIC

"""The legacy front behind nginx, as the README sets it up: nginx terminates TLS, asks for a client certificate
(optional, verified against the demo CA) and forwards it to the gateway in ``X-SSL-Client-Cert``
(``$ssl_client_escaped_cert``); the gateway, on plain HTTP, believes that header from nginx's address only.

Skipped when nginx is not installed, failed instead when ``KSZ_TEST_REQUIRE_NGINX`` is set, as in CI
(tests/integration/nginx_proxy.py).
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from connector_wire import envelope, post
from legacy_front import Answer as Reply
from network_schemas import network_schemas
from nginx_proxy import nginx_binary, running_nginx
from ssdn_documents import Proof, Request, manage_access
from tls_gateway import Gateway, cli, client_context, free_port, start, stop

OCMW_A, OCMW_B = "0212345668", "0212345767"
CONNECTOR = "/connectors/webservice/KSZBCSSWebServiceConnectorPort"

SITE = """
server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {certs}/server.pem;
    ssl_certificate_key {certs}/server.key;
    ssl_client_certificate {certs}/ca.pem;
    ssl_verify_client optional;
    client_max_body_size 8m;
    location / {{
        proxy_pass http://127.0.0.1:{upstream};
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-Proto https;
        proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
    }}
}}
"""


@dataclass
class Proxy:
    port: int
    certs: Path


@pytest.fixture(scope="module")
def proxied(
    new_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, Gateway]]:
    nginx_binary()
    certs = tmp_path_factory.mktemp("nginx-certs")
    assert cli("certificates", "demo", "--out", str(certs)).returncode == 0
    db = new_database()
    assert cli("db", "upgrade", "--db", db).returncode == 0
    gateway = start(
        db,
        tmp_path_factory.mktemp("behind-nginx"),
        "--forwarded-allow-ips",
        "127.0.0.1",
        "--client-ca",
        str(certs / "ca.pem"),
        https=False,
    )
    port = free_port()
    site = SITE.format(port=port, certs=certs, upstream=gateway.port)
    try:
        with running_nginx(tmp_path_factory.mktemp("nginx"), site, port):
            registered = cli("institutions", "add-certificate", OCMW_A, str(certs / f"{OCMW_A}.pem"), "--db", db)
            assert registered.returncode == 0, registered.stderr
            yield Proxy(port, certs), gateway
    finally:
        stop(gateway)


def _send(proxy: Proxy, document: str, who: str | None, headers: dict[str, str] | None = None) -> Reply | str:
    context = (
        client_context(proxy.certs / "ca.pem", proxy.certs / f"{who}.pem", proxy.certs / f"{who}.key")
        if who
        else client_context(proxy.certs / "ca.pem")
    )
    answer = post("127.0.0.1", proxy.port, envelope(document), context=context, headers=headers)
    if answer.is_fault:
        return answer.faultcode
    network_schemas().assert_valid(answer.document)
    return Reply(answer.document)


def test_the_certificate_nginx_verified_authenticates_the_ocmw(
    proxied: tuple[Proxy, Gateway], ssin: Callable[[], str]
) -> None:
    proxy, _ = proxied
    person = ssin()
    registered = _send(
        proxy,
        manage_access(Request("REGISTER", ssin=person, end="2015-01-31", proof=Proof(sis_card="1234567890"))),
        OCMW_A,
    )
    assert isinstance(registered, Reply)
    assert registered.registrations() == [("1", "2015-01-10+01:00", "2015-01-31+01:00", OCMW_A, "SECONDARY")]
    listed = _send(
        proxy,
        manage_access(Request("LIST", ssin=person, purpose=None, query_register="PRIMARY", proof=Proof())),
        OCMW_A,
    )
    assert isinstance(listed, Reply) and listed.registrations() == [
        ("1", "2015-01-10+01:00", "2015-01-31+01:00", "17", "PRIMARY")
    ]


def test_an_unregistered_certificate_is_refused_like_a_wrong_secret(proxied: tuple[Proxy, Gateway]) -> None:
    proxy, _ = proxied
    assert _send(proxy, manage_access(Request("LIST")), OCMW_B) == "wsse:FailedAuthentication"


def test_a_header_forged_through_nginx_is_replaced_by_what_nginx_verified(proxied: tuple[Proxy, Gateway]) -> None:
    proxy, _ = proxied
    forged = {"X-SSL-Client-Cert": (proxy.certs / f"{OCMW_A}.pem").read_text().replace("\n", "%0A")}
    assert _send(proxy, manage_access(Request("LIST")), None, forged) == "wsse:InvalidSecurity"


def test_the_wsdl_served_through_nginx_names_its_https_address(proxied: tuple[Proxy, Gateway]) -> None:
    proxy, gateway = proxied

    request = urllib.request.Request(f"https://127.0.0.1:{proxy.port}{CONNECTOR}?wsdl")
    with urllib.request.urlopen(request, context=client_context(proxy.certs / "ca.pem"), timeout=30) as answer:
        wsdl = answer.read().decode()
    assert f'location="https://127.0.0.1:{proxy.port}{CONNECTOR}"' in wsdl  # the proxy's scheme and host
    assert gateway.port != proxy.port

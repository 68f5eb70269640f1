"""The nginx example of the repository (examples/nginx.conf), run as it is written but for its ports and paths, in
front of two gateway instances on one database: HTTPS with the demo certificates from ``ksz-gateway certificates
demo``, the client certificate forwarded to the legacy front, the WSDL naming nginx's address, and the second
instance serving alone once the first has stopped.

Skipped when nginx is not installed, failed instead when ``KSZ_TEST_REQUIRE_NGINX`` is set, as in CI.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from connector_wire import envelope, post
from nginx_proxy import nginx_binary, running_nginx
from ssdn_documents import Request, manage_access
from tls_gateway import Gateway, cli, client_context, free_port, start, stop
from zeep.transports import Transport

from gateway.client import RepertoriumClient

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "nginx.conf"
OCMW_A, SECRET_A = "0212345668", "demo-ocmw-a"
OCMW_B, SECRET_B = "0212345767", "demo-ocmw-b"
CONNECTOR = "/connectors/webservice/KSZBCSSWebServiceConnectorPort"


def site_for_test(port: int, certs: Path, first: int, second: int) -> str:
    """The example with the test's ports and certificate paths in place of the ones it names."""
    text = EXAMPLE.read_text()
    replacements = {
        "listen 443 ssl;": f"listen 127.0.0.1:{port} ssl;",
        "/etc/ksz-gateway/tls/clients-ca.pem": f"{certs}/ca.pem",
        "/etc/ksz-gateway/tls/": f"{certs}/",
        "127.0.0.1:8081": f"127.0.0.1:{first}",
        "127.0.0.1:8082": f"127.0.0.1:{second}",
    }
    for written, instead in replacements.items():
        assert written in text, f"examples/nginx.conf no longer has {written!r}: update this test with it"
        text = text.replace(written, instead)
    return text


@dataclass
class Front:
    port: int
    certs: Path
    first: Gateway
    second: Gateway

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}/soap/repertorium"

    def client(self, institution: str, secret: str) -> RepertoriumClient:
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override the demo CA
        session.verify = str(self.certs / "ca.pem")
        return RepertoriumClient(self.endpoint, institution, secret, transport=Transport(session=session, timeout=30))


@pytest.fixture(scope="module")
def front(new_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    nginx_binary()
    certs = tmp_path_factory.mktemp("example-certs")
    assert cli("certificates", "demo", "--out", str(certs)).returncode == 0
    db = new_database()
    assert cli("db", "upgrade", "--db", db).returncode == 0
    options = ("--forwarded-allow-ips", "127.0.0.1", "--client-ca", str(certs / "ca.pem"))
    first = start(db, tmp_path_factory.mktemp("first"), *options, https=False)
    try:
        second = start(db, tmp_path_factory.mktemp("second"), *options, https=False)
        try:
            registered = cli("institutions", "add-certificate", OCMW_A, str(certs / f"{OCMW_A}.pem"), "--db", db)
            assert registered.returncode == 0, registered.stderr
            port = free_port()
            site = site_for_test(port, certs, first.port, second.port)
            with running_nginx(tmp_path_factory.mktemp("nginx"), site, port):
                yield Front(port, certs, first, second)
        finally:
            stop(second)
    finally:
        stop(first)


def test_the_repertorium_answers_over_https_through_the_example(front: Front, soap: Any) -> None:
    person = soap.new_ssin()
    with front.client(OCMW_A, SECRET_A) as client:
        assert client.integrate([person], code=1, start=date(2015, 1, 5), end=date(2015, 1, 31)).ok == "YES"
    with front.client(OCMW_B, SECRET_B) as client:
        answer = client.consult(person, date(2015, 1, 1))
    assert [(i.institution.id, i.period.start) for i in answer.integrations] == [(OCMW_A, date(2015, 1, 5))]


def test_the_client_certificate_nginx_verified_reaches_the_legacy_front(front: Front) -> None:
    def send(who: str) -> Any:
        context = client_context(front.certs / "ca.pem", front.certs / f"{who}.pem", front.certs / f"{who}.key")
        return post("127.0.0.1", front.port, envelope(manage_access(Request("LIST"))), context=context)

    assert not send(OCMW_A).is_fault  # registered: the certificate alone authenticates
    assert send(OCMW_B).faultcode == "wsse:FailedAuthentication"  # valid, but registered for nobody


def test_the_wsdl_names_the_address_of_nginx(front: Front) -> None:
    url = f"https://127.0.0.1:{front.port}{CONNECTOR}?wsdl"
    with urllib.request.urlopen(url, context=client_context(front.certs / "ca.pem"), timeout=30) as answer:
        wsdl = answer.read().decode()
    assert f'location="https://127.0.0.1:{front.port}{CONNECTOR}"' in wsdl


def test_the_console_is_served_through_the_example(front: Front) -> None:
    url = f"https://127.0.0.1:{front.port}/console/"
    with urllib.request.urlopen(url, context=client_context(front.certs / "ca.pem"), timeout=30) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/html")


def test_the_second_instance_serves_alone_once_the_first_has_stopped(front: Front, soap: Any) -> None:
    stop(front.first)
    with front.client(OCMW_B, SECRET_B) as client:
        for _ in range(4):  # each would have gone to the first in turn
            assert client.consult(soap.new_ssin(), date(2015, 1, 1)).ok == "YES"

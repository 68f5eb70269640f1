"""Console login by client certificate, over real HTTPS (``serve --certfile --keyfile --client-ca``) with the
demo certificates (``certificates demo``, ``institutions add-certificate``): a registered certificate of an
enabled institution logs it in; any other gets the refusal a wrong secret gets, and counts as a failure.
"""

from __future__ import annotations

import http.client
import json
import re
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from tls_gateway import Gateway, cli, client_context, start, stop

from gateway.app.demo import ensure_demo
from gateway.app.ports import CertificateRecord, Store
from gateway.contract.certificates import load_certificates
from gateway.entrypoints.compose import make_app
from gateway.entrypoints.settings import Settings

OCMW_A, OCMW_B, EMPLOYMENT = "0212345668", "0212345767", "0212345965"
REFUSED = "The enterprise number or the secret is not right, or this institution may not log in."
OFFER = "Log in with your certificate"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo-certs")
    made = cli("certificates", "demo", "--out", str(folder))
    assert made.returncode == 0, made.stderr
    return folder


@pytest.fixture(scope="module")
def https(new_database: Callable[[], str], demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    db = new_database()
    assert cli("db", "upgrade", "--db", db).returncode == 0
    server = start(
        db,
        tmp_path_factory.mktemp("https"),
        "--certfile",
        str(demo / "server.pem"),
        "--keyfile",
        str(demo / "server.key"),
        "--client-ca",
        str(demo / "ca.pem"),
        "--auth-failures-soft",
        "5",
        "--auth-failures-hard",
        "5",
    )
    try:
        for who in (OCMW_A, EMPLOYMENT):  # OCMW_B's certificate stays unregistered
            done = cli("institutions", "add-certificate", who, str(demo / f"{who}.pem"), "--db", db)
            assert done.returncode == 0, done.stderr
        assert cli("institutions", "disable", EMPLOYMENT, "--db", db).returncode == 0
        yield server
    finally:
        stop(server)


class Browser:
    """A browser over HTTPS presenting ``who``'s demo certificate (or none), from ``source``."""

    def __init__(self, server: Gateway, demo: Path, who: str | None, source: str = "127.0.0.1") -> None:
        self.server, self.source, self.cookie, self.csrf = server, source, "", ""
        cert = (demo / f"{who}.pem", demo / f"{who}.key") if who else (None, None)
        self.context: ssl.SSLContext = client_context(demo / "ca.pem", *cert)

    def request(self, method: str, path: str, fields: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        connection = http.client.HTTPSConnection(
            self.server.host, self.server.port, timeout=30, context=self.context, source_address=(self.source, 0)
        )
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if fields is not None:
            body = urllib.parse.urlencode(fields)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, "/console" + path, body, headers)
            response = connection.getresponse()
            found = {k.lower(): v for k, v in response.getheaders()}
            text = response.read().decode("utf-8")
        finally:
            connection.close()
        if "set-cookie" in found:
            self.cookie = found["set-cookie"].split(";", 1)[0]
        token = re.search(r'name="csrf" value="([^"]*)"', text)
        if token:
            self.csrf = token.group(1)
        return response.status, found, text

    def log_in_by_certificate(self) -> tuple[int, dict[str, str], str]:
        return self.request("POST", "/login", {"csrf": self.csrf, "method": "certificate"})


def _failures(server: Gateway, address: str) -> list[dict[str, object]]:
    done = cli("security", "failures", "--address", address, "--json", "--db", server.db)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_a_registered_certificate_logs_its_institution_in(https: Gateway, demo: Path) -> None:
    browser = Browser(https, demo, OCMW_A)
    status, _, page = browser.request("GET", "/login")
    assert status == 200 and OFFER in page
    status, headers, _ = browser.log_in_by_certificate()
    assert (status, headers.get("location")) == (303, "/console/")
    assert "Secure" in [flag.strip() for flag in headers["set-cookie"].split(";")]
    status, _, page = browser.request("GET", "/")
    assert status == 200 and "OCMW Demostad" in page
    assert f"institution {OCMW_A} logged in with its certificate" in https.output()


def test_without_a_certificate_the_page_offers_none_and_a_forged_post_is_refused_and_recorded(
    https: Gateway, demo: Path
) -> None:
    browser = Browser(https, demo, None, "127.0.0.2")
    status, _, page = browser.request("GET", "/login")
    assert status == 200 and OFFER not in page
    status, _, page = browser.log_in_by_certificate()
    assert status == 403 and REFUSED in page
    [failure] = _failures(https, "127.0.0.2")
    assert (failure["front"], failure["institution"], failure["kind"]) == ("console", "", "FAILED_AUTHENTICATION")


@pytest.mark.parametrize(
    ("who", "source"), [(OCMW_B, "127.0.0.3"), (EMPLOYMENT, "127.0.0.4")], ids=["unregistered", "disabled"]
)
def test_an_unregistered_certificate_or_one_of_a_disabled_institution_gets_a_wrong_secrets_refusal(
    https: Gateway, demo: Path, who: str, source: str
) -> None:
    browser = Browser(https, demo, who, source)
    status, _, page = browser.request("GET", "/login")
    assert status == 200 and OFFER in page  # a certificate came: whether it counts is judged on the POST
    status, _, page = browser.log_in_by_certificate()
    assert status == 403 and REFUSED in page
    assert browser.request("GET", "/")[0] == 303  # not logged in
    [failure] = _failures(https, source)
    assert failure["front"] == "console" and str(failure["institution"]).startswith("sha256:")


def test_certificate_logins_are_throttled_like_secrets(https: Gateway, demo: Path) -> None:
    browser = Browser(https, demo, OCMW_B, "127.0.0.5")
    browser.request("GET", "/login")
    for _ in range(5):
        assert browser.log_in_by_certificate()[0] == 403
    status, headers, page = browser.log_in_by_certificate()
    assert status == 429 and int(headers["retry-after"]) > 0
    assert "Too many failed logins from your address" in page
    good = Browser(https, demo, OCMW_A, "127.0.0.5")
    good.request("GET", "/login")
    assert good.log_in_by_certificate()[0] == 303  # another certificate from that address: another pair


# -- behind a TLS-terminating proxy: the certificate it forwards ---------------------------------------------


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def proxied(memory_store: Store, demo: Path) -> Iterator[tuple[str, int]]:
    """The console of ``make_app`` over plain HTTP on loopback, believing X-SSL-Client-Cert from 127.0.0.1 only."""
    ensure_demo(memory_store)
    record = load_certificates((demo / f"{OCMW_A}.pem").read_bytes())[0]
    memory_store.add_certificate(
        CertificateRecord(record.fingerprint, OCMW_A, record.subject, record.not_before, record.not_after)
    )
    settings = Settings(db=memory_store.url, forwarded_allow_ips=("127.0.0.1",), client_ca=demo / "ca.pem")
    server: WSGIServer = make_server("127.0.0.1", 0, make_app(settings, memory_store), handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _through_proxy(
    where: tuple[str, int], source: str, pem: bytes, method: str, path: str, fields: dict[str, str] | None, cookie: str
) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection(*where, timeout=30, source_address=(source, 0))
    headers = {"X-SSL-Client-Cert": urllib.parse.quote(pem.decode()), "X-Forwarded-Proto": "https"}
    if cookie:
        headers["Cookie"] = cookie
    body = None if fields is None else urllib.parse.urlencode(fields)
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, "/console" + path, body, headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
    finally:
        connection.close()


def test_the_certificate_a_trusted_proxy_forwards_logs_in_and_from_elsewhere_is_ignored(
    proxied: tuple[str, int], demo: Path
) -> None:
    pem = (demo / f"{OCMW_A}.pem").read_bytes()
    status, headers, page = _through_proxy(proxied, "127.0.0.1", pem, "GET", "/login", None, "")
    assert status == 200 and OFFER in page
    cookie = headers["set-cookie"].split(";", 1)[0]
    csrf = re.search(r'name="csrf" value="([^"]*)"', page)
    assert csrf is not None
    fields = {"csrf": csrf.group(1), "method": "certificate"}
    status, headers, _ = _through_proxy(proxied, "127.0.0.1", pem, "POST", "/login", fields, cookie)
    assert (status, headers.get("location")) == (303, "/console/")
    status, _, page = _through_proxy(proxied, "127.0.0.2", pem, "GET", "/login", None, "")
    assert status == 200 and OFFER not in page  # 127.0.0.2 is no trusted proxy: its header is not believed

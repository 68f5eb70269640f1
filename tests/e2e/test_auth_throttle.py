"""Authentication under attack, over real HTTP against ``ksz-gateway serve``: wrong secrets are recorded, the
address that sends them is refused for a while (another address is not), the operator sees it all with
``ksz-gateway security`` and can lift it; the records and the counts are one for both SOAP fronts, the console and
every worker process.

The servers lock a pair (institution, address) out at its fifth failure (``--auth-failures-soft 5
--auth-failures-hard 5``), so no test depends on how fast it sends. Clients bind their own source address on
loopback (127.0.0.1, 127.0.0.2, ...) to be different addresses.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from connector_wire import envelope as send_xml_envelope
from connector_wire import token as connector_token
from lxml import etree

from gateway.contract.ssdn import CONNECTOR_PATH

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
GW = "urn:ksz-gateway:fault:v1"
LOCKED = ("--auth-failures-soft", "5", "--auth-failures-hard", "5")
OCMW_A, SECRET_A = "0212345668", "demo-ocmw-a"
OCMW_B, SECRET_B = "0212345767", "demo-ocmw-b"
UNKNOWN = "0212345999"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    data: bytes

    @property
    def root(self) -> etree._Element:
        return etree.fromstring(self.data)

    @property
    def fault(self) -> etree._Element | None:
        body = self.root.find(f"{{{SOAP_ENV}}}Body")
        return body[0] if body is not None and body[0].tag == f"{{{SOAP_ENV}}}Fault" else None

    @property
    def faultcode(self) -> tuple[str | None, str]:
        assert self.fault is not None, self.data
        code = self.fault.find("faultcode")
        prefix, _, local = str(code.text).strip().rpartition(":")
        return code.nsmap.get(prefix or None), local

    @property
    def faultstring(self) -> str:
        assert self.fault is not None, self.data
        return str(self.fault.findtext("faultstring"))

    @property
    def reason(self) -> str | None:
        found = self.root.find(f".//{{{GW}}}FaultDetail/{{{GW}}}ReasonCode")
        return None if found is None else str(found.text)


def _post(server: Any, path: str, data: bytes, source: str, action: str = '""') -> Answer:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=60, source_address=(source, 0))
    try:
        connection.request(
            "POST", path, body=data, headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": action}
        )
        response = connection.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def consult(server: Any, soap: Any, source: str, username: str, secret: str) -> Answer:
    body = soap.consult(soap.new_ssin(), "2015-01-01")
    header = soap.security_header(username=username, secret=secret)
    return _post(server, "/soap/repertorium", soap.envelope(body, header=header), source)


def send_xml(server: Any, source: str, username: str, secret: str) -> Answer:
    data = send_xml_envelope("<SSDNRequest/>", header=connector_token(username, secret))
    return _post(server, CONNECTOR_PATH, data, source)


def _throttled(answer: Answer) -> None:
    assert answer.status == 500
    assert answer.faultcode == (WSSE, "FailedAuthentication")
    assert answer.reason == "AUTHENTICATION_THROTTLED"
    assert "Too many failed authentications from this address" in answer.faultstring
    wait = int(answer.headers["retry-after"])
    assert 0 < wait <= 900
    assert f"in {wait} seconds" in answer.faultstring


def _failed(answer: Answer) -> None:
    assert answer.status == 500
    assert answer.faultcode == (WSSE, "FailedAuthentication")
    assert answer.reason == "FAILED_AUTHENTICATION"
    assert "retry-after" not in answer.headers


def _cli_json(server: Any, *args: str) -> list[dict[str, Any]]:
    done = server.cli("security", *args, "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.fixture(scope="module")
def locking(launch: Callable[..., Any]) -> Any:
    return launch(*LOCKED)


# -- the v1 front ------------------------------------------------------------------------------------------


def test_wrong_digests_lock_their_address_out_even_for_the_right_one_while_another_address_authenticates(
    locking: Any, soap: Any
) -> None:
    for _ in range(5):
        _failed(consult(locking, soap, "127.0.0.1", OCMW_A, "a-guess"))
    _throttled(consult(locking, soap, "127.0.0.1", OCMW_A, SECRET_A))
    elsewhere = consult(locking, soap, "127.0.0.2", OCMW_A, SECRET_A)
    assert elsewhere.status == 200 and elsewhere.fault is None
    other = consult(locking, soap, "127.0.0.1", OCMW_B, SECRET_B)  # another institution from that address
    assert other.status == 200 and other.fault is None


def test_the_operator_sees_the_failures_and_the_lockout_and_lifts_it(locking: Any, soap: Any) -> None:
    for _ in range(5):
        _failed(consult(locking, soap, "127.0.0.3", OCMW_B, "a-guess"))
    failures = _cli_json(locking, "failures", "--address", "127.0.0.3")
    assert len(failures) == 5
    assert {(f["front"], f["institution"], f["kind"], f["cleared"]) for f in failures} == {
        ("repertorium", OCMW_B, "FAILED_AUTHENTICATION", False)
    }
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", f["at"]) for f in failures)
    blocked = [b for b in _cli_json(locking, "blocked", *LOCKED) if b["address"] == "127.0.0.3"]
    assert [(b["institution"], b["reason"], b["failures"]) for b in blocked] == [(OCMW_B, "locked", 5)]
    text = locking.cli("security", "blocked", *LOCKED)
    assert "127.0.0.3" in text.stdout and "locked" in text.stdout
    _throttled(consult(locking, soap, "127.0.0.3", OCMW_B, SECRET_B))
    lifted = locking.cli("security", "unblock", "--address", "127.0.0.3", "--institution", OCMW_B)
    assert lifted.returncode == 0 and "Cleared 5 failed authentication(s)" in lifted.stdout
    again = consult(locking, soap, "127.0.0.3", OCMW_B, SECRET_B)
    assert again.status == 200 and again.fault is None
    assert {f["cleared"] for f in _cli_json(locking, "failures", "--address", "127.0.0.3")} == {True}


def test_a_lockout_answers_the_same_whether_the_institution_exists_or_not(locking: Any, soap: Any) -> None:
    answers = []
    for source, who in (("127.0.0.4", OCMW_A), ("127.0.0.5", UNKNOWN)):
        for _ in range(5):
            _failed(consult(locking, soap, source, who, "a-guess"))
        answers.append(consult(locking, soap, source, who, SECRET_A))
    for answer in answers:
        _throttled(answer)
    known, unknown = (re.sub(r"\d", "0", a.faultstring) for a in answers)
    assert known == unknown
    assert [f["institution"] for f in _cli_json(locking, "failures", "--address", "127.0.0.5")] == [UNKNOWN] * 5


def test_a_malformed_security_header_is_recorded_as_a_failure_too(locking: Any, soap: Any) -> None:
    body = soap.consult(soap.new_ssin(), "2015-01-01")
    answer = _post(locking, "/soap/repertorium", soap.envelope(body, header=""), "127.0.0.6")
    assert answer.faultcode == (WSSE, "InvalidSecurity")
    [failure] = _cli_json(locking, "failures", "--address", "127.0.0.6")
    assert (failure["institution"], failure["kind"]) == ("", "INVALID_SECURITY")


# -- the legacy front and the console share the counts --------------------------------------------------


def test_the_legacy_front_records_its_failures_and_shares_the_lockout_with_the_v1_front(
    locking: Any, soap: Any
) -> None:
    for _ in range(3):
        _failed(send_xml(locking, "127.0.0.7", OCMW_A, "a-guess"))
    for _ in range(2):
        _failed(consult(locking, soap, "127.0.0.7", OCMW_A, "a-guess"))
    _throttled(send_xml(locking, "127.0.0.7", OCMW_A, SECRET_A))
    fronts = [f["front"] for f in _cli_json(locking, "failures", "--address", "127.0.0.7")]
    assert fronts == ["repertorium", "repertorium", "connector", "connector", "connector"]


class Browser:
    """The console's login page as a browser sees it: one cookie, the page's CSRF token, a source address."""

    def __init__(self, server: Any, source: str) -> None:
        self.server, self.source, self.cookie, self.csrf = server, source, "", ""

    def request(self, method: str, path: str, fields: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        connection = http.client.HTTPConnection(
            self.server.host, self.server.port, timeout=30, source_address=(self.source, 0)
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

    def log_in(self, institution: str, secret: str) -> tuple[int, dict[str, str], str]:
        self.request("GET", "/login")
        return self.request("POST", "/login", {"csrf": self.csrf, "institution": institution, "secret": secret})


def test_the_console_refuses_a_login_after_the_soap_failures_of_its_address(locking: Any, soap: Any) -> None:
    for _ in range(5):
        _failed(consult(locking, soap, "127.0.0.8", OCMW_B, "a-guess"))
    status, headers, page = Browser(locking, "127.0.0.8").log_in(OCMW_B, SECRET_B)
    assert status == 429 and 0 < int(headers["retry-after"]) <= 900
    assert "Too many failed logins from your address" in page
    assert Browser(locking, "127.0.0.9").log_in(OCMW_B, SECRET_B)[0] == 303


def test_console_login_failures_are_recorded_and_lock_the_soap_fronts_out_too(locking: Any, soap: Any) -> None:
    browser = Browser(locking, "127.0.0.10")
    for _ in range(5):
        assert browser.log_in(OCMW_A, "a-guess")[0] == 403
    assert {f["front"] for f in _cli_json(locking, "failures", "--address", "127.0.0.10")} == {"console"}
    _throttled(consult(locking, soap, "127.0.0.10", OCMW_A, SECRET_A))


# -- two worker processes ----------------------------------------------------------------------------------


def _workers(server: Any, expected: int) -> list[int]:
    """The arbiter's worker processes, once there are ``expected`` of them (they fork after it listens)."""
    deadline = time.monotonic() + 60
    while True:
        found: list[int] = []
        for task in Path(f"/proc/{server.process.pid}/task").iterdir():
            found += [int(pid) for pid in (task / "children").read_text().split()]
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@contextmanager
def _stopped(pid: int) -> Iterator[None]:
    """``pid`` takes no connection meanwhile: every request goes to the other worker."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_two_worker_processes_share_the_counts(launch: Callable[..., Any], soap: Any) -> None:
    server = launch(*LOCKED, "--auth-failures-refresh", "0", workers=2)
    first, second = _workers(server, 2)
    with _stopped(second):
        for _ in range(5):
            _failed(consult(server, soap, "127.0.0.1", OCMW_A, "a-guess"))
    with _stopped(first):
        _throttled(consult(server, soap, "127.0.0.1", OCMW_A, SECRET_A))
        fine = consult(server, soap, "127.0.0.2", OCMW_A, SECRET_A)
        assert fine.status == 200 and fine.fault is None
    refused = r"^\S+ WARNING \[(\d+)\] gateway\.requests .* outcome=auth_failed"
    pids = {int(m) for m in re.findall(refused, server.log(), re.M)}
    assert pids == {first, second}


def test_a_replayed_nonce_is_recorded_as_a_failure_of_its_institution(locking: Any, soap: Any) -> None:
    header = soap.security_header(username=OCMW_A, secret=SECRET_A, nonce=os.urandom(16))
    body = soap.consult(soap.new_ssin(), "2015-01-01")
    first = _post(locking, "/soap/repertorium", soap.envelope(body, header=header), "127.0.0.11")
    assert first.status == 200 and first.fault is None
    replay = _post(locking, "/soap/repertorium", soap.envelope(body, header=header), "127.0.0.11")
    assert replay.faultcode == (WSSE, "FailedAuthentication") and replay.reason == "NONCE_REPLAYED"
    [failure] = _cli_json(locking, "failures", "--address", "127.0.0.11")
    assert (failure["front"], failure["institution"], failure["kind"]) == ("repertorium", OCMW_A, "NONCE_REPLAYED")

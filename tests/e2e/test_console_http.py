"""The operator console over plain HTTP, without a browser: what it refuses and what every answer carries.

The real application of ``make_app`` (SOAP endpoint and console) on each store — memory, a SQLite file and, when
``KSZ_TEST_POSTGRES_URL`` is set, PostgreSQL — with the demo identities, the gateway's day fixed at 2015-01-10,
served over real HTTP on loopback by a thread of this process; a visitor speaks to it as a browser would, keeping
its cookie and sending each form's CSRF token, or, where a test says so, not.
"""

from __future__ import annotations

import http.client
import io
import re
import struct
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from lxml import etree

from gateway.app.demo import ensure_demo
from gateway.app.ports import Store
from gateway.domain.periods import Period
from gateway.entrypoints.compose import make_app
from gateway.entrypoints.settings import Settings

DEMOSTAD = ("0212345668", "demo-ocmw-a")
VOORBEELDGEM = ("0212345767", "demo-ocmw-b")
TODAY = date(2015, 1, 10)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Console:
    host: str
    port: int
    app: Any
    store: Store


@pytest.fixture
def console(store: Store) -> Iterator[Console]:
    ensure_demo(store)
    # Locked out at the fifth failure, so no test depends on how fast it sends its attempts.
    app = make_app(Settings(db=store.url, today=TODAY, auth_failures_soft=5, auth_failures_hard=5), store)
    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Console("127.0.0.1", server.server_port, app, store)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def cookie(self) -> str | None:
        return self.header("Set-Cookie")


@dataclass
class Visitor:
    """A browser without a browser: one cookie jar, the last page's CSRF token, optionally its own address."""

    console: Console
    source: str = "127.0.0.1"
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""

    def request(self, method: str, path: str, fields: dict[str, Any] | None = None) -> Answer:
        connection = http.client.HTTPConnection(
            self.console.host, self.console.port, timeout=20, source_address=(self.source, 0)
        )
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if fields is not None:
            body = urllib.parse.urlencode(fields, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, "/console" + path, body, headers)
            response = connection.getresponse()
            answer = Answer(response.status, response.getheaders(), response.read())
        finally:
            connection.close()
        for name, value in answer.headers:
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                cookie_value = rest.split(";", 1)[0]
                if "Max-Age=0" in value:
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = cookie_value
        found = re.search(r'name="csrf" value="([^"]*)"', answer.text if _is_html(answer) else "")
        if found:
            self.csrf = found.group(1)
        return answer

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def post(self, path: str, fields: dict[str, Any], *, csrf: bool = True) -> Answer:
        return self.request("POST", path, {**({"csrf": self.csrf} if csrf else {}), **fields})

    def log_in(self, institution: str, secret: str) -> Answer:
        self.get("/login")
        return self.post("/login", {"institution": institution, "secret": secret})

    def add(self, ssin: str, name: str) -> Answer:
        self.get("/")
        return self.post("/", {"action": "add", "ssin": ssin, "name": name})

    def with_household(self, institution: tuple[str, str], *persons: str) -> Visitor:
        """Logged in as ``institution``, with ``persons`` in the household."""
        self.log_in(*institution)
        for person in persons:
            self.add(person, f"Member {person[-3:]}")
        return self

    def at_integrations(self, institution: tuple[str, str], *persons: str) -> Visitor:
        """Logged in as ``institution``, ``persons`` in the household, on the integrations screen."""
        self.with_household(institution, *persons).get("/integrations")
        return self

    def change(self, action: str, person: str, start: str, end: str = "", code: str = "1", **more: Any) -> Answer:
        return self.post(
            "/integrations", {"action": action, "start": start, "end": end, "code": code, "member": person, **more}
        )


def _is_html(answer: Answer) -> bool:
    return (answer.header("Content-Type") or "").startswith("text/html")


@pytest.fixture
def visitor(console: Console) -> Callable[..., Visitor]:
    def make(source: str = "127.0.0.1") -> Visitor:
        return Visitor(console, source)

    return make


def _periods(console: Console, institution: str, ssin: str) -> list[Period]:
    with console.store.transaction() as tx:
        return [i.period for i in tx.integrations_of(ssin, Period(date(2000, 1, 1))) if i.institution.id == institution]


def _audited(console: Console, institution: str) -> list[str]:
    return [r.operation for r in console.store.audit_log(institution)]


# -- what every answer carries ------------------------------------------------------------------------------


def test_the_session_cookie_is_httponly_and_samesite_strict_and_not_secure_over_plain_http(
    visitor: Callable[..., Visitor],
) -> None:
    answer = visitor().get("/login")
    assert answer.status == 200
    flags = [part.strip() for part in (answer.cookie or "").split(";")]
    assert flags[0].startswith("ksz_console=v1.")
    assert set(flags[1:]) == {"Path=/console/", "HttpOnly", "SameSite=Strict"}
    assert "default-src 'none'" in (answer.header("Content-Security-Policy") or "")
    assert answer.header("Cache-Control") == "no-store"


def test_the_session_cookie_is_secure_when_the_console_is_served_over_https(console: Console) -> None:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, headers

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/console/login",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "console.example",
        "SERVER_PORT": "443",
        "REMOTE_ADDR": "192.0.2.1",
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(),
    }
    b"".join(console.app(environ, start_response))
    assert seen["status"] == "200 OK"
    cookie = next(v for k, v in seen["headers"] if k == "Set-Cookie")
    assert {p.strip() for p in cookie.split(";")[1:]} == {"Path=/console/", "HttpOnly", "SameSite=Strict", "Secure"}


def test_console_without_its_slash_is_sent_on_and_unknown_pages_are_not_found(visitor: Callable[..., Visitor]) -> None:
    v = visitor()
    connection = http.client.HTTPConnection(v.console.host, v.console.port, timeout=10)
    connection.request("GET", "/console")
    answer = connection.getresponse()
    assert (answer.status, answer.getheader("Location")) == (308, "/console/")
    connection.close()
    assert v.get("/").status == 303  # not logged in: to the login page
    assert v.get("/nowhere").status == 404
    assert v.request("PUT", "/login").status == 405


# -- login, logout and the throttle -------------------------------------------------------------------------


def test_a_demo_institution_logs_in_and_out_and_its_old_cookie_then_opens_nothing(
    visitor: Callable[..., Visitor],
) -> None:
    v = visitor()
    answer = v.log_in(*DEMOSTAD)
    assert (answer.status, answer.header("Location")) == (303, "/console/")
    page = v.get("/")
    assert page.status == 200 and "OCMW Demostad" in page.text
    kept = dict(v.cookies)
    assert v.post("/logout", {}).status == 303
    assert v.get("/").status == 303
    v.cookies = kept  # someone who copied the cookie before the logout
    assert v.get("/integrations").header("Location") == "/console/login?notice=session_ended"


@pytest.mark.parametrize(
    ("institution", "secret"),
    [("0212345668", "wrong"), ("0212345669", "demo-ocmw-a"), ("nonsense", "demo-ocmw-a"), ("0212345668", "")],
    ids=["wrong-secret", "unknown", "not-a-number", "empty-secret"],
)
def test_every_failed_login_gets_the_same_refusal(
    visitor: Callable[..., Visitor], institution: str, secret: str
) -> None:
    answer = visitor().log_in(institution, secret)
    assert answer.status == 403
    assert "The enterprise number or the secret is not right, or this institution may not log in." in answer.text
    assert "OCMW Demostad" not in answer.text


def test_a_disabled_institution_cannot_log_in_and_its_open_sessions_end(
    console: Console, visitor: Callable[..., Visitor]
) -> None:
    v = visitor()
    v.log_in(*VOORBEELDGEM)
    assert v.get("/").status == 200
    console.store.set_enabled(VOORBEELDGEM[0], False)
    assert v.get("/").status == 303
    refused = visitor().log_in(*VOORBEELDGEM)
    assert refused.status == 403
    assert "The enterprise number or the secret is not right, or this institution may not log in." in refused.text


def test_a_rotated_secret_ends_the_institutions_sessions(console: Console, visitor: Callable[..., Visitor]) -> None:
    v = visitor()
    v.log_in(*VOORBEELDGEM)
    console.store.set_secret(VOORBEELDGEM[0], "a-new-secret-for-the-test")
    assert v.get("/").status == 303
    assert visitor().log_in(VOORBEELDGEM[0], "a-new-secret-for-the-test").status == 303


def test_logins_are_refused_after_five_failures_for_an_institution_from_one_address(
    visitor: Callable[..., Visitor],
) -> None:
    guesser = visitor("127.0.0.7")
    for _ in range(5):
        assert guesser.log_in(DEMOSTAD[0], "guess").status == 403
    refused = guesser.log_in(*DEMOSTAD)  # even the right secret
    assert refused.status == 429
    assert 0 < int(refused.header("Retry-After") or 0) <= 15 * 60
    assert "Too many failed logins" in refused.text
    assert guesser.get("/").status == 303
    assert visitor("127.0.0.8").log_in(*DEMOSTAD).status == 303  # another address
    assert guesser.log_in(*VOORBEELDGEM).status == 303  # another institution


# -- CSRF and institutions ----------------------------------------------------------------------------------


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    console: Console, visitor: Callable[..., Visitor], ssin: Callable[[], str]
) -> None:
    person = ssin()
    v = visitor().with_household(DEMOSTAD, person)
    before = _audited(console, DEMOSTAD[0])
    change = {"action": "integrate", "start": "2014-12-01", "code": "1", "member": person}
    for answer in (
        v.post("/integrations", change, csrf=False),
        v.post("/integrations", {**change, "csrf": "0" * 40}, csrf=False),
    ):
        assert answer.status == 403
        assert "was not sent from your current session" in answer.text
    assert v.post("/", {"action": "add", "ssin": ssin(), "name": "X"}, csrf=False).status == 403
    assert v.post("/logout", {}, csrf=False).status == 403
    assert _periods(console, DEMOSTAD[0], person) == []
    assert _audited(console, DEMOSTAD[0]) == before
    assert v.get("/").status == 200  # still logged in: the refused logout did nothing
    assert v.post("/integrations", change).status == 200
    assert _periods(console, DEMOSTAD[0], person) == [Period(date(2014, 12, 1), date(2015, 1, 31))]


def test_a_login_form_without_its_csrf_token_is_refused(visitor: Callable[..., Visitor]) -> None:
    v = visitor()
    v.get("/login")
    assert v.post("/login", {"institution": DEMOSTAD[0], "secret": DEMOSTAD[1]}, csrf=False).status == 403
    fresh = visitor()  # no cookie at all
    assert fresh.post("/login", {"institution": DEMOSTAD[0], "secret": DEMOSTAD[1], "csrf": "x"}).status == 400


def test_a_session_of_one_institution_never_acts_for_another(
    console: Console, visitor: Callable[..., Visitor], ssin: Callable[[], str]
) -> None:
    person = ssin()
    a, b = visitor(), visitor()
    a.log_in(*DEMOSTAD)
    a.add(person, "Jan")
    b.log_in(*VOORBEELDGEM)
    b.add(person, "Jan")
    change = {"action": "integrate", "start": "2014-12-01", "code": "1", "member": person}

    # B's cookie with A's form (A's token): refused, nothing for either institution.
    b_cookie = dict(b.cookies)
    assert b.post("/integrations", {**change, "csrf": a.csrf}, csrf=False).status == 403
    # B's cookie rewritten to name A, without the server's key: no session at all.
    name, value = next(iter(b_cookie.items()))
    version, payload, mac = value.split(".")
    import base64
    import json

    content = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    content["inst"] = DEMOSTAD[0]
    forged = base64.urlsafe_b64encode(json.dumps(content).encode()).rstrip(b"=").decode()
    b.cookies = {name: f"{version}.{forged}.{mac}"}
    assert b.post("/integrations", change).status == 303
    assert _periods(console, DEMOSTAD[0], person) == [] and _periods(console, VOORBEELDGEM[0], person) == []

    # B's own session acts for B only, whatever the form says.
    b.cookies = b_cookie
    b.get("/integrations")
    assert b.post("/integrations", {**change, "institution": DEMOSTAD[0]}).status == 200
    assert _periods(console, VOORBEELDGEM[0], person) == [Period(date(2014, 12, 1), date(2015, 1, 31))]
    assert _periods(console, DEMOSTAD[0], person) == []


# -- the use cases behind the screens -----------------------------------------------------------------------


def test_the_manuals_example_through_the_console_is_audited_like_a_soap_call(
    console: Console, visitor: Callable[..., Visitor], ssin: Callable[[], str]
) -> None:
    person = ssin()
    v = visitor().at_integrations(DEMOSTAD, person)
    integrated = v.change("integrate", person, "2014-12-01")
    assert 'data-status="INTEGRATED"' in integrated.text and "dot green" in integrated.text
    changed = v.change("desintegrate", person, "2015-01-01", "2015-01-14")
    assert 'data-status="DESINTEGRATED"' in changed.text
    assert _periods(console, DEMOSTAD[0], person) == [
        Period(date(2014, 12, 1), date(2014, 12, 31)),
        Period(date(2015, 1, 15), date(2015, 1, 31)),
    ]
    page = v.get(f"/timeline?ssin={person}")
    assert page.status == 200
    assert page.text.count('<g class="period">') == 2
    records = list(console.store.audit_log(DEMOSTAD[0]))
    assert [r.operation for r in records] == ["Integrate", "Desintegrate", "Consult"]
    assert records[0].request == {"code": 1, "period": ["2014-12-01", None], "ssins": [person]}
    assert records[1].outcome["persons"][0]["status"] == "DESINTEGRATED"


def test_a_refusal_of_the_rules_is_shown_in_red_with_its_reason_and_changes_nothing(
    console: Console, visitor: Callable[..., Visitor], ssin: Callable[[], str]
) -> None:
    person = ssin()
    answer = visitor().at_integrations(DEMOSTAD, person).change("integrate", person, "2014-12-01", "2015-03-01")
    assert answer.status == 200
    assert "dot red" in answer.text and 'data-status="REFUSED"' in answer.text
    assert "may be integrated for at most 2 months" in answer.text
    assert _periods(console, DEMOSTAD[0], person) == []
    assert _audited(console, DEMOSTAD[0]) == ["Integrate"]


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"start": "01/12/2014"}, "is not a date (YYYY-MM-DD)"),
        ({"start": ""}, "Start date is required."),
        ({"code": "one"}, "Choose a quality code from the list."),
        ({"member": "85073003328"}, "is not a member of the household."),
        ({"member": []}, "Tick at least one member of the household."),
        ({"action": "delete"}, "The form could not be read"),
    ],
    ids=["date", "no-start", "code", "stranger", "nobody", "action"],
)
def test_a_form_the_console_cannot_read_is_answered_in_words_and_calls_nothing(
    console: Console, visitor: Callable[..., Visitor], ssin: Callable[[], str], fields: dict[str, Any], said: str
) -> None:
    person = ssin()
    answer = (
        visitor()
        .at_integrations(DEMOSTAD, person)
        .post("/integrations", {"action": "integrate", "start": "2014-12-01", "code": "1", "member": person, **fields})
    )
    assert answer.status == 400
    assert said in answer.text
    assert _audited(console, DEMOSTAD[0]) == []


def test_the_household_refuses_an_invalid_ssin_and_a_member_twice(
    visitor: Callable[..., Visitor], ssin: Callable[[], str]
) -> None:
    person = ssin()
    v = visitor()
    v.log_in(*DEMOSTAD)
    assert v.add("12345678901", "X").status == 400
    assert v.add(person, "Jan").status == 303
    twice = v.add(person, "Jan again")
    assert twice.status == 400 and f"SSIN {person} is already a member of the household." in twice.text
    assert v.post("/", {"action": "remove", "ssin": person}).status == 303
    assert person not in v.get("/").text


def test_checkaccess_names_the_rule_and_the_missing_days_and_the_timeline_draws_them_in_red(
    console: Console, visitor: Callable[..., Visitor], ssin: Callable[[], str]
) -> None:
    person = ssin()
    v = visitor().with_household(DEMOSTAD, person)
    v.get("/access")
    answer = v.post("/access", {"flow": "consult.generic", "member": person, f"role_{person}": "SUBJECT"})
    assert answer.status == 200
    assert 'id="decision-word">refused' in answer.text
    assert '<td class="rule">R5.1</td>' in answer.text
    assert "2015-01-10" in answer.text
    assert _audited(console, DEMOSTAD[0]) == ["CheckAccess"]
    page = v.get(f"/timeline?ssin={person}").text
    assert "<title>Missing days: 2015-01-10</title>" in page
    assert "missing for consult.generic (rule R5.1)" in page


def test_the_timeline_downloads_as_svg_and_as_png(visitor: Callable[..., Visitor], ssin: Callable[[], str]) -> None:
    person = ssin()
    v = visitor().at_integrations(DEMOSTAD, person)
    v.change("integrate", person, "2014-12-01")
    svg = v.get(f"/timeline.svg?ssin={person}&start=2014-01-01")
    assert svg.status == 200 and svg.header("Content-Type") == "image/svg+xml; charset=utf-8"
    assert svg.header("Content-Disposition") == f'attachment; filename="timeline-{person}.svg"'
    root = etree.fromstring(svg.body)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    png = v.get(f"/timeline.png?ssin={person}&start=2014-01-01")
    assert png.status == 200 and png.header("Content-Type") == "image/png"
    assert png.body[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">I", png.body[16:20])[0] == 2 * int(root.get("width"))
    assert v.get(f"/timeline.svg?ssin={person}&start=2015-02-01&end=2015-01-01").status == 400


def test_the_language_switch_is_kept_in_the_session(visitor: Callable[..., Visitor]) -> None:
    v = visitor()
    assert "Aanmelden" in v.get("/login?lang=nl").text
    assert "Aanmelden" in v.get("/login").text
    v.log_in(*DEMOSTAD)
    assert "Gezinssamenstelling" in v.get("/").text
    assert "Composition de ménage" in v.get("/?lang=fr").text
    assert "Composition de ménage" in v.get("/?lang=xx").text  # no such language: the session's stays

"""SOAP clients the project did not write, against the real gateway over HTTP: suds-community and node-soap.

Each client builds itself from the served WSDL (``?wsdl``) alone and adds the WS-Security UsernameToken by its own
means: for suds, which has no PasswordDigest, a ``MessagePlugin`` written here; for node-soap (``tests/e2e/node``),
its own ``WSSecurity`` with ``passwordType: 'PasswordDigest'``. The invariant: one plan of calls through every
operation (Integrate, Desintegrate, Consult, CheckAccess, SendFlow with and without Payload) gives the same values in
both clients (ok, return codes, statuses, periods, decisions, the integrations made, the provider's answer), every
envelope they exchange validates against xsd/, and each client's PasswordText default is refused with a WS-Security
fault that changes nothing. The node-soap tests skip when ``node`` or the installed modules are missing
(``tests/e2e/node/install.sh``), and fail instead when ``KSZ_TEST_REQUIRE_NODE`` is set, as in CI.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import suds
import suds.client
from lxml import etree
from suds.plugin import MessagePlugin
from suds.sax.element import Element
from suds.sax.text import Raw
from suds.wsse import Security, UsernameToken

from gateway.domain.periods import Period
from gateway.tools.demo_provider import DemoProvider

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = Path(__file__).resolve().with_name("node")
NODE_SCRIPT = NODE_DIR / "call_gateway.js"
REQUIRE_NODE = "KSZ_TEST_REQUIRE_NODE"
README = ROOT / "README.md"
FLOWS_FILE = ROOT / "gateway" / "data" / "flows.json"

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
TEXT = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
OCMW_A, SECRET_A = "0212345668", "demo-ocmw-a"
PAYLOAD = '<f:FormB xmlns:f="urn:example:forms"><f:Case>42</f:Case><f:Amount>1214.13</f:Amount></f:FormB>'


def p(start: str, end: str | None = None) -> Period:
    return Period(date.fromisoformat(start), date.fromisoformat(end) if end else None)


# -- the gateway: a demo server whose catalogue forwards form.wet65.B to a real SOAP provider on loopback ----------


@pytest.fixture(scope="module")
def provider() -> Iterator[DemoProvider]:
    with DemoProvider() as running:
        yield running


@pytest.fixture(scope="module")
def served(launch: Callable[..., Any], provider: DemoProvider, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A demo gateway (day 2015-01-10) whose catalogue forwards form.wet65.B's Payload to the demo provider."""
    catalogue = json.loads(FLOWS_FILE.read_text(encoding="utf-8"))
    for flow in catalogue["flows"]:
        if flow["id"] == "form.wet65.B":
            flow["provider"] = {"url": provider.url, "soap_action": "urn:example:forms/SendFormB"}
    flows = tmp_path_factory.mktemp("flows") / "flows.json"
    flows.write_text(json.dumps(catalogue), encoding="utf-8")
    return launch("--flows", str(flows), "--provider-timeout", "10")


# -- suds: the digest plugin, and a plugin checking what goes over the wire --------------------------------------


class PasswordDigest(MessagePlugin):
    """Adds a ``wsse:Security`` header with a fresh UsernameToken (PasswordDigest, Nonce, Created) to each request."""

    def __init__(self, username: str, secret: str) -> None:
        self.username, self.secret = username, secret

    def marshalled(self, context: Any) -> None:
        nonce, created = os.urandom(16), datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        digest = hashlib.sha1(nonce + created.encode() + self.secret.encode()).digest()
        wsse = ("wsse", WSSE)
        password = Element("Password", ns=wsse).setText(base64.b64encode(digest).decode())
        password.set("Type", DIGEST)
        token = Element("UsernameToken", ns=wsse).append(
            [
                Element("Username", ns=wsse).setText(self.username),
                password,
                Element("Nonce", ns=wsse).setText(base64.b64encode(nonce).decode()),
                Element("Created", ns=("wsu", WSU)).setText(created),
            ]
        )
        security = Element("Security", ns=wsse).append(token)
        security.set(f"{context.envelope.prefix}:mustUnderstand", "1")
        context.envelope.getChild("Header").append(security)


class SchemaCheck(MessagePlugin):
    """Checks each envelope suds sends and receives against xsd/ (through the e2e ``capture`` fixture)."""

    def __init__(self, capture: Any, schema: Any) -> None:
        self.capture, self.schema = capture, schema

    def sending(self, context: Any) -> None:
        self.capture.check(self.schema, context.envelope, "request")

    def received(self, context: Any) -> None:
        self.capture.check(self.schema, context.reply, "response")


@pytest.fixture
def suds_client(served: Any, capture: Any, schema: Any) -> Callable[..., Any]:
    """A suds client built from the served WSDL (of ``served`` unless ``server`` says), with ``plugins`` first."""

    def make(*plugins: MessagePlugin, server: Any = None) -> Any:
        wsdl = (server or served).endpoint + "?wsdl"
        return suds.client.Client(wsdl, cache=None, timeout=30, plugins=[*plugins, SchemaCheck(capture, schema)])

    return make


def suds_password_text(username: str, secret: str) -> Security:
    """suds' own ``wsse`` option: a UsernameToken sending the secret as PasswordText (Nonce and Created fixed here,
    since suds would stamp them with the deprecated ``datetime.utcnow``), good for one request."""
    token = UsernameToken(username, secret)
    token.setnonce(base64.b64encode(os.urandom(16)).decode())
    token.setcreated(datetime.now(UTC))
    security = Security()
    security.tokens.append(token)
    return security


# -- node-soap ----------------------------------------------------------------------------------------------------


def _node_or_skip() -> str:
    """The ``node`` executable, once node-soap is installed as package.json pins it; else skip (fail in CI)."""
    node = shutil.which("node")
    pinned = json.loads((NODE_DIR / "package.json").read_text(encoding="utf-8"))["dependencies"]["soap"]
    installed = NODE_DIR / "node_modules" / "soap" / "package.json"
    missing = None
    if node is None:
        missing = "node is not on PATH"
    elif not installed.is_file():
        missing = "node-soap is not installed: run tests/e2e/node/install.sh (npm ci --prefix tests/e2e/node)"
    elif (version := json.loads(installed.read_text(encoding="utf-8"))["version"]) != pinned:
        missing = f"node-soap {version} is installed, package.json pins {pinned}: run tests/e2e/node/install.sh"
    if missing is not None:
        if os.environ.get(REQUIRE_NODE):
            pytest.fail(f"{missing} ({REQUIRE_NODE} is set)")
        pytest.skip(missing)
    assert node is not None
    return node


def run_node(
    server: Any, calls: list[Call], capture: Any, schema: Any, *, password_type: str | None = "PasswordDigest"
) -> list[dict[str, Any]]:
    """Runs the plan with node-soap as ``ocmw_a``; checks every envelope exchanged against xsd/."""
    node = _node_or_skip()
    plan: dict[str, Any] = {
        "username": OCMW_A,
        "secret": SECRET_A,
        "calls": [{"operation": c.operation, "args": c.for_node()} for c in calls],
    }
    if password_type is not None:
        plan["passwordType"] = password_type
    done = subprocess.run(
        [node, str(NODE_SCRIPT), server.endpoint + "?wsdl"],
        input=json.dumps(plan),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=NODE_DIR,
    )
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)["results"]
    assert [r["operation"] for r in results] == [c.operation for c in calls]
    for result in results:
        capture.check(schema, result["sent"].encode(), "request")
        capture.check(schema, result["received"].encode(), "response")
    return results


# -- one plan, two clients ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One operation call with its arguments as plain values (dates, and the Payload as an XML string)."""

    operation: str
    args: dict[str, Any]

    def for_suds(self) -> dict[str, Any]:
        return {k: Raw(v) if k == "Payload" else v for k, v in self.args.items()}

    def for_node(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, date):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list):
                return [plain(v) for v in value]
            return value

        return {k: {"$xml": v} if k == "Payload" else plain(v) for k, v in self.args.items()}


def plan(main: str, partner: str, newcomer: str) -> dict[str, Call]:
    """Every operation, in an order where each answer depends on the ones before (the gateway's day: 2015-01-10)."""
    return {
        "integrate": Call(
            "Integrate",
            {
                "QualityCode": 1,
                "Period": {"StartDate": date(2014, 12, 1)},
                "Person": [{"SSIN": main}, {"SSIN": partner}],
            },
        ),
        "desintegrate": Call(
            "Desintegrate",
            {
                "QualityCode": 1,
                "Period": {"StartDate": date(2015, 1, 1), "EndDate": date(2015, 1, 14)},
                "Person": [{"SSIN": main}],
            },
        ),
        "consult": Call("Consult", {"SSIN": main, "Period": {"StartDate": date(2015, 1, 1)}}),
        "check": Call(
            "CheckAccess",
            {
                "Flow": "form.living-wage",
                "Person": [{"SSIN": main, "Role": "MAIN"}, {"SSIN": partner, "Role": "PARTNER"}],
                "EffectiveDate": date(2015, 1, 20),
            },
        ),
        "new_request": Call("SendFlow", {"Flow": "request.new", "Person": [{"SSIN": newcomer, "Role": "MAIN"}]}),
        "form_b": Call(
            "SendFlow",
            {
                "Reference": f"form-b-{newcomer}",
                "Flow": "form.wet65.B",
                "Person": [{"SSIN": partner, "Role": "MAIN"}, {"SSIN": newcomer, "Role": "PARTNER"}],
                "EffectiveDate": date(2015, 1, 20),
                "DecisionPeriod": {"StartDate": date(2015, 2, 1), "EndDate": date(2015, 7, 31)},
                "Aid": "LIVING_WAGE",
                "Payload": PAYLOAD,
            },
        ),
        "consult_after": Call("Consult", {"SSIN": newcomer, "Period": {"StartDate": date(2015, 1, 1)}, "Sector": 17}),
    }


@dataclass(frozen=True)
class Answer:
    """What an answer says, whichever client parsed it."""

    ok: str
    return_code: int
    ticket: str
    reasons: tuple[str, ...]
    persons: tuple[tuple[str, str, tuple[Period, ...]], ...]  # Integrate, Desintegrate: ssin, status, periods
    integrations: tuple[tuple[str, str, int, int, Period], ...]  # Consult: id, name, sector, code, period
    decision: str | None
    decisions: tuple[tuple[str, str, bool, str, tuple[str, ...], tuple[Period, ...], tuple[Period, ...]], ...]
    made: tuple[tuple[str, int, Period], ...]  # SendFlow: ssin, code, period
    provider: tuple[str, str] | None  # the demo provider's Acknowledgement: Ticket, Accepted


def _many(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _boolean(value: Any) -> bool:
    assert isinstance(value, bool), f"an xs:boolean read as {value!r}"
    return value


@dataclass(frozen=True)
class Reader:
    """How one client shows an answer: its children, the ``ok`` attribute, dates."""

    get: Callable[[Any, str], Any]
    ok: Callable[[Any], str]
    day: Callable[[Any], date]

    def period(self, element: Any) -> Period:
        end = self.get(element, "EndDate")
        return Period(self.day(self.get(element, "StartDate")), None if end is None else self.day(end))

    def periods(self, parent: Any, name: str) -> tuple[Period, ...]:
        return tuple(self.period(x) for x in _many(self.get(parent, name)))

    def answer(self, body: Any) -> Answer:
        get, summary = self.get, self.get(body, "ResultSummary")
        acknowledgement = [
            (_many(get(a, "Ticket"))[0], _many(get(a, "Accepted"))[0])
            for a in _many(get(get(body, "ProviderResponse"), "Acknowledgement"))
        ]
        return Answer(
            ok=self.ok(summary),
            return_code=int(get(summary, "ReturnCode")),
            ticket=str(get(body, "Ticket")),
            reasons=tuple(str(get(d, "ReasonCode")) for d in _many(get(summary, "Detail"))),
            persons=tuple(
                (str(get(r, "SSIN")), str(get(r, "Status")), self.periods(get(r, "Periods"), "Period"))
                for r in _many(get(body, "PersonResult"))
            ),
            integrations=tuple(
                (
                    str(get(get(i, "Institution"), "Id")),
                    str(get(get(i, "Institution"), "Name")),
                    int(get(get(i, "Institution"), "Sector")),
                    int(get(i, "QualityCode")),
                    self.period(get(i, "Period")),
                )
                for i in _many(get(body, "Integration"))
            ),
            decision=None if get(body, "Decision") is None else str(get(body, "Decision")),
            decisions=tuple(
                (
                    str(get(x, "SSIN")),
                    str(get(x, "Role")),
                    _boolean(get(x, "Allowed")),
                    str(get(x, "Rule")),
                    tuple(str(get(d, "ReasonCode")) for d in _many(get(x, "Detail"))),
                    self.periods(x, "SatisfiedBy"),
                    self.periods(x, "MissingDays"),
                )
                for x in _many(get(body, "PersonDecision"))
            ),
            made=tuple(
                (str(get(m, "SSIN")), int(get(m, "QualityCode")), self.period(get(m, "Period")))
                for m in _many(get(body, "IntegrationMade"))
            ),
            provider=(str(acknowledgement[0][0]), str(acknowledgement[0][1])) if acknowledgement else None,
        )


def _get_suds(element: Any, name: str) -> Any:
    return None if element is None else getattr(element, name, None)


def _get_node(element: Any, name: str) -> Any:
    return None if element is None else element.get(name)


SUDS = Reader(_get_suds, ok=lambda summary: str(summary._ok), day=lambda value: value)
# node-soap turns an xs:date into a JavaScript Date at midnight UTC, which JSON writes as 2015-01-10T00:00:00.000Z.
NODE = Reader(_get_node, ok=lambda summary: str(summary["attributes"]["ok"]), day=lambda v: date.fromisoformat(v[:10]))


def check_plan(answers: dict[str, Answer], main: str, partner: str, newcomer: str) -> None:
    """The values the plan must give: the contract's rules at the gateway's day 2015-01-10."""
    office = (OCMW_A, "OCMW Demostad", 17)
    for answer in answers.values():
        assert 0 < len(answer.ticket) <= 36, answer.ticket
    assert len({a.ticket for a in answers.values()}) == len(answers), "every exchange has its own ticket"

    integrated = answers["integrate"]
    assert (integrated.ok, integrated.return_code, integrated.reasons) == ("YES", 0, ())
    until_month_end = (p("2014-12-01", "2015-01-31"),)  # no EndDate: code 01's maximum, 2 months
    assert integrated.persons == ((main, "INTEGRATED", until_month_end), (partner, "INTEGRATED", until_month_end))

    removed = answers["desintegrate"]
    assert (removed.ok, removed.return_code) == ("YES", 0)
    assert removed.persons == ((main, "DESINTEGRATED", (p("2014-12-01", "2014-12-31"), p("2015-01-15", "2015-01-31"))),)

    consulted = answers["consult"]
    assert (consulted.ok, consulted.return_code, consulted.persons) == ("YES", 0, ())
    assert consulted.integrations == ((*office, 1, p("2015-01-15", "2015-01-31")),)

    checked = answers["check"]
    assert (checked.ok, checked.return_code, checked.reasons, checked.decision) == (
        "NO",
        10000,
        ("ACCESS_DENIED",),
        "REFUSED",
    )
    assert checked.decisions == (
        (main, "MAIN", False, "R5.3", ("NOT_INTEGRATED_ON_DAY",), (), (p("2015-01-10", "2015-01-10"),)),
        (partner, "PARTNER", True, "R5.3", (), (p("2014-12-01", "2015-01-31"),), ()),
    )
    assert checked.made == () and checked.provider is None

    new = answers["new_request"]
    assert (new.ok, new.return_code, new.reasons, new.decision) == ("YES", 0, (), "ALLOWED")
    assert new.decisions == ((newcomer, "MAIN", True, "R2.6", (), (), ()),)
    assert new.made == ((newcomer, 1, p("2015-01-10", "2015-02-08")),)
    assert new.provider is None, "request.new has no provider"

    form = answers["form_b"]
    assert (form.ok, form.return_code, form.reasons, form.decision) == ("YES", 0, (), "ALLOWED")
    assert [(x[0], x[1], x[2], x[3]) for x in form.decisions] == [
        (partner, "MAIN", True, "R5.4"),
        (newcomer, "PARTNER", True, "R5.4"),
    ]
    decided = p("2015-02-01", "2015-07-31")
    assert form.made == ((partner, 2, decided), (newcomer, 2, decided))
    assert form.provider == (form.ticket, "true"), "the provider's answer comes back, naming this exchange"

    after = answers["consult_after"]
    assert after.integrations == ((*office, 1, p("2015-01-10", "2015-02-08")), (*office, 2, decided))


def _c14n(xml: str | bytes) -> bytes:
    return bytes(etree.tostring(etree.fromstring(xml), method="c14n"))


def _fault_namespace(envelope: bytes) -> str | None:
    """The namespace the faultcode's prefix is bound to (a faultcode is a QName)."""
    code = etree.fromstring(envelope).find(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault/faultcode")
    assert code is not None and code.text, "not a SOAP fault"
    prefix, _, _ = code.text.strip().rpartition(":")
    namespace: str | None = code.nsmap.get(prefix or None)
    return namespace


# -- suds ---------------------------------------------------------------------------------------------------------


def test_suds_builds_every_operation_from_the_served_wsdl(suds_client: Callable[..., Any]) -> None:
    client = suds_client(PasswordDigest(OCMW_A, SECRET_A))
    [service] = client.wsdl.services
    [port] = service.ports
    assert sorted(m.name for m in port.methods.values()) == [
        "CheckAccess",
        "Consult",
        "Desintegrate",
        "Integrate",
        "SendFlow",
    ]
    assert port.location == client.wsdl.url.removesuffix("?wsdl"), "soap:address is the URL the client used"


def test_suds_with_a_digest_plugin_goes_through_every_operation(
    suds_client: Callable[..., Any], provider: DemoProvider, ssin: Callable[[], str]
) -> None:
    main, partner, newcomer = ssin(), ssin(), ssin()
    client = suds_client(PasswordDigest(OCMW_A, SECRET_A))
    received = len(provider.received)
    answers = {
        name: SUDS.answer(getattr(client.service, call.operation)(**call.for_suds()))
        for name, call in plan(main, partner, newcomer).items()
    }
    check_plan(answers, main, partner, newcomer)
    assert [_c14n(x) for x in provider.received[received:]] == [_c14n(PAYLOAD)], "the Payload reached the provider"
    sent = str(client.last_sent())
    assert DIGEST in sent and TEXT not in sent


def test_suds_gets_the_provider_answer_as_objects_and_a_replay_gets_the_first_ticket(
    suds_client: Callable[..., Any], ssin: Callable[[], str]
) -> None:
    main, partner, newcomer = ssin(), ssin(), ssin()
    client = suds_client(PasswordDigest(OCMW_A, SECRET_A))
    calls = plan(main, partner, newcomer)
    client.service.SendFlow(**calls["new_request"].for_suds())
    client.service.Integrate(QualityCode=1, Period={"StartDate": date(2015, 1, 1)}, Person=[{"SSIN": partner}])
    answer = client.service.SendFlow(**calls["form_b"].for_suds())
    [acknowledgement] = answer.ProviderResponse.Acknowledgement
    assert (acknowledgement.Ticket, acknowledgement.Accepted) == ([answer.Ticket], ["true"])
    again = client.service.SendFlow(**calls["form_b"].for_suds())
    assert again.Ticket == answer.Ticket, "the same Reference brings back the first answer"


def test_suds_own_username_token_is_password_text_and_is_refused_by_default(
    suds_client: Callable[..., Any], ssin: Callable[[], str]
) -> None:
    person = ssin()
    client = suds_client()
    client.set_options(wsse=suds_password_text(OCMW_A, SECRET_A))
    with pytest.raises(suds.WebFault) as refused:
        client.service.Integrate(QualityCode=1, Period={"StartDate": date(2015, 1, 1)}, Person=[{"SSIN": person}])
    assert TEXT in str(client.last_sent()), "suds' own token sends the secret as PasswordText"
    assert _fault_namespace(str(refused.value.document).encode()) == WSSE, "a WS-Security fault"
    assert refused.value.fault.faultstring, "the fault says something"
    checker = suds_client(PasswordDigest(OCMW_A, SECRET_A))
    consulted = checker.service.Consult(SSIN=person, Period={"StartDate": date(1900, 1, 1)})
    assert SUDS.answer(consulted).integrations == (), "the refused request changed nothing"


def test_suds_own_username_token_works_where_the_operator_allows_password_text(
    suds_client: Callable[..., Any], gateway_password_text: Any, ssin: Callable[[], str]
) -> None:
    person = ssin()
    client = suds_client(server=gateway_password_text)
    client.set_options(wsse=suds_password_text(OCMW_A, SECRET_A))
    answer = client.service.Integrate(QualityCode=1, Period={"StartDate": date(2015, 1, 1)}, Person=[{"SSIN": person}])
    assert SUDS.answer(answer).persons == ((person, "INTEGRATED", (p("2015-01-01", "2015-02-28"),)),)


def test_suds_is_told_password_text_apart_from_a_wrong_secret(suds_client: Callable[..., Any]) -> None:
    consult = {"SSIN": "85073003328", "Period": {"StartDate": date(2015, 1, 1)}}
    text = suds_client()
    text.set_options(wsse=suds_password_text(OCMW_A, SECRET_A))
    with pytest.raises(suds.WebFault) as policy:
        text.service.Consult(**consult)
    with pytest.raises(suds.WebFault) as credentials:
        suds_client(PasswordDigest(OCMW_A, "not-the-secret")).service.Consult(**consult)
    assert _fault_namespace(str(credentials.value.document).encode()) == WSSE
    assert policy.value.fault.faultstring != credentials.value.fault.faultstring


# -- node-soap ----------------------------------------------------------------------------------------------------


def test_node_soap_with_password_digest_goes_through_every_operation(
    served: Any, provider: DemoProvider, capture: Any, schema: Any, ssin: Callable[[], str]
) -> None:
    main, partner, newcomer = ssin(), ssin(), ssin()
    calls = plan(main, partner, newcomer)
    received = len(provider.received)
    results = run_node(served, list(calls.values()), capture, schema)
    assert [r.get("fault") for r in results] == [None] * len(calls)
    answers = {name: NODE.answer(r["answer"]) for name, r in zip(calls, results, strict=True)}
    check_plan(answers, main, partner, newcomer)
    assert [_c14n(x) for x in provider.received[received:]] == [_c14n(PAYLOAD)], "the Payload reached the provider"
    assert all(DIGEST in r["sent"] and TEXT not in r["sent"] for r in results)


def test_node_soap_default_password_text_is_refused_and_changes_nothing(
    served: Any, capture: Any, schema: Any, ssin: Callable[[], str]
) -> None:
    person = ssin()
    integrate = Call(
        "Integrate", {"QualityCode": 1, "Period": {"StartDate": date(2015, 1, 1)}, "Person": [{"SSIN": person}]}
    )
    consult = Call("Consult", {"SSIN": person, "Period": {"StartDate": date(1900, 1, 1)}})
    [refused] = run_node(served, [integrate], capture, schema, password_type=None)
    assert TEXT in refused["sent"], "node-soap's WSSecurity sends PasswordText unless told otherwise"
    assert refused["fault"]["status"] == 500 and refused["fault"]["faultstring"]
    assert _fault_namespace(refused["received"].encode()) == WSSE, "a WS-Security fault"
    [consulted] = run_node(served, [consult], capture, schema)
    assert NODE.answer(consulted["answer"]).integrations == (), "the refused request changed nothing"


# -- the README's examples ----------------------------------------------------------------------------------------


def _readme_examples() -> tuple[str, str, str]:
    """The node-soap and suds examples of README's "Calling it from other languages", and what both print."""
    section = README.read_text(encoding="utf-8").split("## Calling it from other languages", 1)[1].split("\n## ", 1)[0]
    js = re.search(r"```js\n(.*?)```", section, re.S)
    py = re.search(r"```python\n(.*?)```", section, re.S)
    output = re.search(r"```text\n(.*?)```", section, re.S)
    assert js and py and output, "README has lost its examples for other languages"
    return js.group(1), py.group(1), output.group(1)


def _for(server: Any, code: str, person: str) -> str:
    """An example pointed at ``server`` and at a person no other test uses."""
    return code.replace("http://127.0.0.1:8080/soap/repertorium", server.endpoint).replace("85073003328", person)


def test_the_readme_node_soap_example_prints_what_it_promises(served: Any, ssin: Callable[[], str]) -> None:
    node = _node_or_skip()
    js, _, promised = _readme_examples()
    done = subprocess.run(
        [node, "-e", _for(served, js, ssin())], capture_output=True, text=True, timeout=120, cwd=NODE_DIR
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == promised


def test_the_readme_suds_example_prints_what_it_promises(
    served: Any, ssin: Callable[[], str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, py, promised = _readme_examples()
    exec(compile(_for(served, py, ssin()), str(README), "exec"), {})
    assert capsys.readouterr().out == promised

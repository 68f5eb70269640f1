"""CheckAccess and SendFlow over real HTTP: every rule of the access-control layer at its boundary days.

The gateway's day is fixed at 2015-01-10 (``serve --today``). Each rule is tested where it turns: the first and
last integration days that still satisfy it, the day after or before that does not (with the exact MissingDays),
through the client library and through hand-written envelopes. SendFlow's provider is a real SOAP server on
loopback (``gateway.tools.demo_provider.DemoProvider``) named by an operator's flow catalogue (``serve --flows``). Every
request and answer is checked against xsd/ by the ``client_for`` and ``wire`` fixtures.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from lxml import etree

from gateway.adapters.provider import SoapProvider
from gateway.client import AccessAnswer, FlowAnswer, FlowPerson, InvalidRequest, RepertoriumClient
from gateway.domain.access import Flow
from gateway.domain.periods import Period
from gateway.errors import ProviderError
from gateway.tools.demo_provider import DemoProvider

Clients = Callable[..., RepertoriumClient]
NS = {"rep": "urn:ksz-gateway:repertorium:v1", "prov": "urn:ksz-gateway:demo-provider"}
TODAY = date(2015, 1, 10)
PAYLOAD = b'<f:FormB xmlns:f="urn:example:forms"><f:Case>42</f:Case><f:Amount>1214.13</f:Amount></f:FormB>'
FLOWS_FILE = Path(__file__).resolve().parents[2] / "gateway" / "data" / "flows.json"
ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def d(text: str) -> date:
    return date.fromisoformat(text)


def p(start: str, end: str | None = None) -> Period:
    return Period(d(start), d(end) if end else None)


def day(text: str) -> Period:
    return Period(d(text), d(text))


def integrate(client: RepertoriumClient, ssin: str, code: int, start: str, end: str | None = None) -> None:
    answer = client.integrate([ssin], code=code, start=d(start), end=d(end) if end else None)
    assert answer.persons[0].status == "INTEGRATED", answer


def own_periods(client: RepertoriumClient, ssin: str, code: int) -> list[Period]:
    """This institution's periods of ``ssin`` in ``code`` (what a flow's effects change)."""
    found = client.consult(ssin, start=date(1900, 1, 1), code=code, sector=17).integrations
    return [i.period for i in found if i.institution.id == "0212345668"]


def everything(client: RepertoriumClient, ssin: str) -> list[tuple[str, int, Period]]:
    """Every institution's integrations of ``ssin``, as Consult lists them."""
    found = client.consult(ssin, start=date(1900, 1, 1)).integrations
    return [(i.institution.id, i.code, i.period) for i in found]


def refused_for(answer: AccessAnswer | FlowAnswer, reason: str) -> None:
    """A request refused as a whole: Decision REFUSED, ok NO, no person decided, ``reason`` in the summary."""
    assert (answer.decision, answer.ok, answer.return_code) == ("REFUSED", "NO", 10000)
    assert answer.persons == ()
    assert [x.reason for x in answer.details] == [reason]
    assert answer.details[0].severity == "ERROR" and answer.details[0].diagnostic


def denied(answer: AccessAnswer | FlowAnswer) -> None:
    assert (answer.decision, answer.allowed, answer.ok, answer.return_code) == ("REFUSED", False, "NO", 10000)
    assert [x.reason for x in answer.details] == ["ACCESS_DENIED"]


def allowed(answer: AccessAnswer | FlowAnswer) -> None:
    assert (answer.decision, answer.allowed, answer.ok, answer.return_code, answer.details) == (
        "ALLOWED",
        True,
        "YES",
        0,
        (),
    ), answer
    assert all(x.allowed and not x.details and not x.missing_days for x in answer.persons)


# -- hand-written envelopes -----------------------------------------------------------------------------


def _period_xml(tag: str, period: tuple[str, str | None] | None) -> str:
    if period is None:
        return ""
    start, end = period
    end_xml = f"<rep:EndDate>{end}</rep:EndDate>" if end else ""
    return f"<rep:{tag}><rep:StartDate>{start}</rep:StartDate>{end_xml}</rep:{tag}>"


def flow_xml(
    operation: str,
    flow: str,
    persons: list[tuple[str, str]],
    *,
    reference: str | None = None,
    consultation: tuple[str, str | None] | None = None,
    effective: str | None = None,
    validity: tuple[str, str | None] | None = None,
    decision: tuple[str, str | None] | None = None,
    year: int | None = None,
    aid: str | None = None,
    payload: str | None = None,
) -> str:
    """A rep:CheckAccessRequest or rep:SendFlowRequest as a legacy client writes it, children in schema order."""
    return (
        f"<rep:{operation}Request>"
        + (f"<rep:Reference>{escape(reference)}</rep:Reference>" if reference else "")
        + f"<rep:Flow>{escape(flow)}</rep:Flow>"
        + "".join(f"<rep:Person><rep:SSIN>{s}</rep:SSIN><rep:Role>{r}</rep:Role></rep:Person>" for s, r in persons)
        + _period_xml("ConsultationPeriod", consultation)
        + (f"<rep:EffectiveDate>{effective}</rep:EffectiveDate>" if effective else "")
        + _period_xml("ValidityPeriod", validity)
        + _period_xml("DecisionPeriod", decision)
        + (f"<rep:DeliveryYear>{year}</rep:DeliveryYear>" if year is not None else "")
        + (f"<rep:Aid>{aid}</rep:Aid>" if aid else "")
        + (f"<rep:Payload>{payload}</rep:Payload>" if payload is not None else "")
        + f"</rep:{operation}Request>"
    )


def person_decisions(reply: Any) -> list[tuple[str, str, str, str, tuple[str, ...], list[Period], list[Period]]]:
    """(SSIN, Role, Allowed, Rule, reasons, SatisfiedBy, MissingDays) of each rep:PersonDecision, in order."""
    out = []
    for x in reply.element.findall("rep:PersonDecision", NS):
        out.append(
            (
                x.findtext("rep:SSIN", namespaces=NS),
                x.findtext("rep:Role", namespaces=NS),
                x.findtext("rep:Allowed", namespaces=NS),
                x.findtext("rep:Rule", namespaces=NS),
                tuple(r.text for r in x.findall("rep:Detail/rep:ReasonCode", NS)),
                [_period(e) for e in x.findall("rep:SatisfiedBy", NS)],
                [_period(e) for e in x.findall("rep:MissingDays", NS)],
            )
        )
    return out


def _period(element: Any) -> Period:
    end = element.findtext("rep:EndDate", namespaces=NS)
    return Period(d(element.findtext("rep:StartDate", namespaces=NS)[:10]), d(end[:10]) if end else None)


# -- the README's example -------------------------------------------------------------------------------


def test_the_readmes_access_control_example_prints_what_it_promises(gateway: Any) -> None:
    section = README.read_text(encoding="utf-8").split("## Access control: CheckAccess and SendFlow", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    promised = re.search(r"```text\n(.*?)```", section, re.S)
    assert code and promised, "README has lost its access-control example"
    example = code.group(1).replace("http://127.0.0.1:8080/soap/repertorium", gateway.endpoint)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(example, str(README), "exec"), {})
    assert printed.getvalue() == promised.group(1)


# -- R5.1: consult.generic, code 01 on the gateway's day ------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "ok"),
    [
        ("2014-12-01", "2015-01-10", True),  # the last integration day that passes: today
        ("2015-01-10", "2015-01-31", True),  # the first: today
        ("2014-12-01", "2015-01-09", False),  # ends the day before today
        ("2015-01-11", "2015-02-28", False),  # starts the day after today
    ],
)
def test_r5_1_consult_generic_needs_code_01_on_the_gateways_day(
    client_for: Clients, ssin: Callable[[], str], start: str, end: str, ok: bool
) -> None:
    client, person = client_for(), ssin()
    integrate(client, person, 1, start, end)
    answer = client.check_access("consult.generic", [(person, "SUBJECT")])
    [decision] = answer.persons
    assert (decision.ssin, decision.role, decision.rule) == (person, "SUBJECT", "R5.1")
    if ok:
        allowed(answer)
        assert decision.satisfied_by == (p(start, end),)
    else:
        denied(answer)
        assert not decision.allowed and decision.satisfied_by == ()
        assert [x.reason for x in decision.details] == ["NOT_INTEGRATED_ON_DAY"]
        assert decision.details[0].value("SSIN") == person
        assert decision.missing_days == (day("2015-01-10"),)


def test_r5_1_only_this_institutions_code_01_counts(client_for: Clients, ssin: Callable[[], str]) -> None:
    person = ssin()
    integrate(client_for("ocmw_b"), person, 1, "2015-01-01")  # another OCMW
    integrate(client_for(), person, 2, "2015-01-01")  # this OCMW, another code
    answer = client_for().check_access("consult.generic", [FlowPerson(person, "SUBJECT")])
    denied(answer)
    [decision] = answer.persons
    assert [x.reason for x in decision.details] == ["NOT_INTEGRATED"]
    assert decision.missing_days == (day("2015-01-10"),)
    allowed(client_for("ocmw_b").check_access("consult.generic", [(person, "SUBJECT")]))


def test_r5_1_over_the_wire_as_a_legacy_client_writes_it(wire: Any, soap: Any) -> None:
    person, stranger = soap.new_ssin(), soap.new_ssin()
    wire.call(soap.change("Integrate", [person], 1, "2015-01-10", "2015-01-10"))
    reply = wire.call(
        flow_xml("CheckAccess", "consult.generic", [(person, "SUBJECT")]),
        action='"urn:ksz-gateway:repertorium:v1/CheckAccess"',
    )
    assert (reply.ok, reply.return_code, reply.summary_reasons) == ("YES", 0, ())
    assert reply.element.findtext("rep:Decision", namespaces=NS) == "ALLOWED"
    assert reply.ticket.startswith("KSZGW-")
    assert person_decisions(reply) == [(person, "SUBJECT", "true", "R5.1", (), [day("2015-01-10")], [])]

    reply = wire.call(flow_xml("CheckAccess", "consult.generic", [(person, "SUBJECT"), (stranger, "SUBJECT")]))
    assert (reply.ok, reply.return_code, reply.summary_reasons) == ("NO", 10000, ("ACCESS_DENIED",))
    assert reply.element.findtext("rep:Decision", namespaces=NS) == "REFUSED"
    assert person_decisions(reply) == [
        (person, "SUBJECT", "true", "R5.1", (), [day("2015-01-10")], []),
        (stranger, "SUBJECT", "false", "R5.1", ("NOT_INTEGRATED",), [], [day("2015-01-10")]),
    ]


# -- R5.2: the pension cadastre, a day in common with the consultation period -----------------------------------


@pytest.mark.parametrize(
    ("window", "missing"),
    [
        (("2014-12-31", "2015-03-31"), None),  # the integration's last day is the window's first
        (("2014-06-01", "2014-12-01"), None),  # the integration's first day is the window's last
        (("2014-12-31", None), None),  # an open-ended window
        (("2015-01-01", "2015-03-31"), (p("2015-01-01", "2015-03-31"),)),  # starts the day after it ended
        (("2014-06-01", "2014-11-30"), (p("2014-06-01", "2014-11-30"),)),  # ends the day before it started
        (("2015-01-01", None), (p("2015-01-01"),)),
    ],
)
def test_r5_2_the_pension_cadastre_needs_one_day_in_common(
    client_for: Clients, ssin: Callable[[], str], window: tuple[str, str | None], missing: tuple[Period, ...] | None
) -> None:
    client, person = client_for(), ssin()
    integrate(client, person, 1, "2014-12-01", "2014-12-31")
    start, end = window
    answer = client.check_access("consult.pension-cadastre", [(person, "SUBJECT")], consultation_period=p(start, end))
    [decision] = answer.persons
    assert decision.rule == "R5.2"
    if missing is None:
        allowed(answer)
        assert decision.satisfied_by == (p("2014-12-01", "2014-12-31"),)
    else:
        denied(answer)
        assert [x.reason for x in decision.details] == ["NO_DAY_IN_COMMON"]
        assert decision.missing_days == missing


# -- R5.3: the living-wage form, code 01 on the day sent and on the effective date ------------------------------


@pytest.mark.parametrize(
    ("effective", "ok"),
    [("2015-01-05", True), ("2015-02-04", True), ("2015-01-04", False), ("2015-02-05", False)],
)
def test_r5_3_the_living_wage_form_needs_code_01_on_its_effective_date(
    client_for: Clients, ssin: Callable[[], str], effective: str, ok: bool
) -> None:
    client, main, partner = client_for(), ssin(), ssin()
    integrate(client, main, 1, "2015-01-05", "2015-02-04")
    integrate(client, partner, 1, "2014-12-10", "2015-02-09")  # code 01 runs two months at most
    answer = client.check_access(
        "form.living-wage", [(main, "MAIN"), (partner, "PARTNER")], effective_date=d(effective)
    )
    first, second = answer.persons
    assert [(x.ssin, x.role, x.rule) for x in answer.persons] == [(main, "MAIN", "R5.3"), (partner, "PARTNER", "R5.3")]
    assert second.allowed and second.satisfied_by == (p("2014-12-10", "2015-02-09"),)
    if ok:
        allowed(answer)
        assert first.satisfied_by == (p("2015-01-05", "2015-02-04"),)
    else:
        denied(answer)
        assert not first.allowed
        assert [x.reason for x in first.details] == ["NOT_INTEGRATED_ON_DAY"]
        assert first.details[0].value("Rule") == "R5.3"
        assert first.missing_days == (day(effective),)


def test_r5_3_a_partner_integrated_on_neither_day_misses_both(client_for: Clients, ssin: Callable[[], str]) -> None:
    client, main, partner = client_for(), ssin(), ssin()
    integrate(client, main, 1, "2015-01-01", "2015-02-28")
    integrate(client, partner, 1, "2015-01-11", "2015-01-19")  # between today and the effective date
    answer = client.check_access(
        "form.living-wage", [(main, "MAIN"), (partner, "PARTNER")], effective_date=d("2015-01-20")
    )
    denied(answer)
    decision = answer.persons[1]
    assert [x.reason for x in decision.details] == ["NOT_INTEGRATED_ON_DAY", "NOT_INTEGRATED_ON_DAY"]
    assert decision.missing_days == (day("2015-01-10"), day("2015-01-20"))


# -- R5.4: wet 65 forms, every beneficiary on the day sent and on the effective date ----------------------------


@pytest.mark.parametrize("flow", ["form.wet65.A", "form.wet65.B", "form.wet65.B1", "form.wet65.B2", "form.wet65.C"])
@pytest.mark.parametrize(("effective", "ok"), [("2015-01-31", True), ("2015-02-01", False)])
def test_r5_4_every_beneficiary_of_a_wet65_form_is_checked(
    client_for: Clients, ssin: Callable[[], str], flow: str, effective: str, ok: bool
) -> None:
    client = client_for()
    main, partner, child, other = ssin(), ssin(), ssin(), ssin()
    for person in (main, partner, other):
        integrate(client, person, 1, "2015-01-01", "2015-02-28")
    integrate(client, child, 1, "2014-12-01", "2015-01-31")  # its last day is the last effective date that passes
    answer = client.check_access(
        flow,
        [(main, "MAIN"), (partner, "PARTNER"), (child, "ADDITIONAL"), (other, "ADDITIONAL")],
        effective_date=d(effective),
        decision_period=(d(effective), None),
        aid="LIVING_WAGE",
    )
    assert [(x.role, x.rule) for x in answer.persons] == [
        ("MAIN", "R5.4"),
        ("PARTNER", "R5.4"),
        ("ADDITIONAL", "R5.4"),
        ("ADDITIONAL", "R5.4"),
    ]
    if ok:
        allowed(answer)
    else:
        denied(answer)
        assert [x.allowed for x in answer.persons] == [True, True, False, True]
        assert answer.persons[2].missing_days == (day("2015-02-01"),)
        assert [x.reason for x in answer.persons[2].details] == ["NOT_INTEGRATED_ON_DAY"]
    assert own_periods(client, main, 2) == [], "CheckAccess never integrates"


def test_r5_4_the_day_sent_is_checked_too(client_for: Clients, ssin: Callable[[], str]) -> None:
    client, main = client_for(), ssin()
    integrate(client, main, 1, "2015-01-11", "2015-02-28")  # starts the day after the form is sent
    answer = client.check_access("form.wet65.A", [(main, "MAIN")], effective_date=d("2015-01-15"))
    denied(answer)
    assert answer.persons[0].missing_days == (day("2015-01-10"),)


# -- R5.5: the heating allowance, today and a day of the delivery year --------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "year", "missing"),
    [
        ("2014-12-31", "2015-01-20", 2014, ()),  # the delivery year's last day is the only one in common
        ("2014-12-31", "2015-01-20", 2015, ()),
        ("2015-01-01", "2015-01-20", 2014, (p("2014-01-01", "2014-12-31"),)),  # starts the day after 2014
        ("2014-12-31", "2015-01-20", 2013, (p("2013-01-01", "2013-12-31"),)),
        ("2014-12-01", "2015-01-09", 2014, (day("2015-01-10"),)),  # the year matches, today does not
        ("2015-01-11", "2015-01-31", 2014, (p("2014-01-01", "2014-12-31"), day("2015-01-10"))),  # neither
    ],
)
def test_r5_5_the_heating_allowance_needs_today_and_a_day_of_the_delivery_year(
    client_for: Clients, ssin: Callable[[], str], start: str, end: str, year: int, missing: tuple[Period, ...]
) -> None:
    client, main = client_for(), ssin()
    integrate(client, main, 1, start, end)
    answer = client.check_access("form.heating-allowance", [(main, "MAIN")], delivery_year=year)
    [decision] = answer.persons
    assert decision.rule == "R5.5"
    if not missing:
        allowed(answer)
        assert decision.satisfied_by == (p(start, end),)
    else:
        denied(answer)
        assert decision.missing_days == missing
        assert set(x.reason for x in decision.details) <= {"NOT_INTEGRATED_ON_DAY", "NO_DAY_IN_COMMON"}


def test_r5_5_over_the_wire(wire: Any, soap: Any) -> None:
    main, partner = soap.new_ssin(), soap.new_ssin()
    wire.call(soap.change("Integrate", [main, partner], 1, "2014-12-31", "2015-01-10"))
    reply = wire.call(
        flow_xml("CheckAccess", "form.heating-allowance", [(main, "MAIN"), (partner, "PARTNER")], year=2014)
    )
    assert reply.ok == "YES"
    span = [p("2014-12-31", "2015-01-10")]
    assert person_decisions(reply) == [
        (main, "MAIN", "true", "R5.5", (), span, []),
        (partner, "PARTNER", "true", "R5.5", (), span, []),
    ]
    reply = wire.call(flow_xml("CheckAccess", "form.heating-allowance", [(main, "MAIN")], year=2013))
    assert person_decisions(reply) == [
        (main, "MAIN", "false", "R5.5", ("NO_DAY_IN_COMMON",), [], [p("2013-01-01", "2013-12-31")])
    ]


# -- R5.6: the multifunctional attestation, code 02/03 over all of its validity -----------------------------------


@pytest.mark.parametrize(
    ("validity", "missing"),
    [
        (("2015-01-01", "2015-06-30"), ()),  # exactly the integration
        (("2015-02-01", "2015-02-01"), ()),
        (("2014-12-31", "2015-06-30"), (day("2014-12-31"),)),  # starts the day before it
        (("2015-01-01", "2015-07-01"), (day("2015-07-01"),)),  # ends the day after it
        (("2015-03-01", None), (p("2015-07-01"),)),  # open-ended: every day from the day after it
    ],
)
def test_r5_6_an_attestation_needs_its_whole_validity_period_covered(
    client_for: Clients, ssin: Callable[[], str], validity: tuple[str, str | None], missing: tuple[Period, ...]
) -> None:
    client, person = client_for(), ssin()
    integrate(client, person, 2, "2015-01-01", "2015-06-30")
    start, end = validity
    answer = client.check_access(
        "attestation.multifunctional", [(person, "SUBJECT")], validity_period=p(start, end), aid="LIVING_WAGE"
    )
    [decision] = answer.persons
    assert decision.rule == "R5.6"
    if not missing:
        allowed(answer)
        assert decision.satisfied_by == (p("2015-01-01", "2015-06-30"),)
    else:
        denied(answer)
        assert [x.reason for x in decision.details] == ["PERIOD_NOT_COVERED"]
        assert decision.missing_days == missing


def test_r5_6_a_gap_of_one_day_is_named_and_the_aid_picks_the_code(
    client_for: Clients, ssin: Callable[[], str]
) -> None:
    client, person = client_for(), ssin()
    integrate(client, person, 3, "2015-01-01", "2015-03-31")
    integrate(client, person, 3, "2015-04-02", "2015-06-30")
    validity = p("2015-01-01", "2015-06-30")
    gap = client.check_access(
        "attestation.multifunctional", [(person, "SUBJECT")], validity_period=validity, aid="EQUIVALENT_LIVING_WAGE"
    )
    denied(gap)
    assert gap.persons[0].missing_days == (day("2015-04-01"),)

    wrong_code = client.check_access(
        "attestation.multifunctional", [(person, "SUBJECT")], validity_period=validity, aid="LIVING_WAGE"
    )
    denied(wrong_code)
    assert [x.reason for x in wrong_code.persons[0].details] == ["NOT_INTEGRATED"]
    assert wrong_code.persons[0].missing_days == (validity,)

    integrate(client, person, 3, "2015-04-01", "2015-04-01")
    covered = client.check_access(
        "attestation.multifunctional", [(person, "SUBJECT")], validity_period=validity, aid="EQUIVALENT_LIVING_WAGE"
    )
    allowed(covered)
    assert covered.persons[0].satisfied_by == (validity,)


# -- R6.1: forms B, B1 and B2 integrate by aid for the decision period --------------------------------------------


@pytest.mark.parametrize(
    ("flow", "aid", "code"),
    [
        ("form.wet65.B", "LIVING_WAGE", 2),
        ("form.wet65.B1", "EQUIVALENT_LIVING_WAGE", 3),
        ("form.wet65.B2", "OTHER_FINANCIAL_AID", 4),
        ("form.wet65.B", "EMPLOYMENT_ART60", 6),
    ],
)
def test_r6_1_a_form_b_integrates_every_beneficiary_in_the_aids_code(
    client_for: Clients, ssin: Callable[[], str], flow: str, aid: str, code: int
) -> None:
    client = client_for()
    main, partner, child = ssin(), ssin(), ssin()
    for person in (main, partner, child):
        integrate(client, person, 1, "2015-01-05", "2015-02-04")
    answer = client.send_flow(
        flow,
        [(main, "MAIN"), (partner, "PARTNER"), (child, "ADDITIONAL")],
        effective_date=d("2015-01-15"),
        decision_period=(d("2015-01-15"), None),  # no end: the code's maximum, one year
        aid=aid,
        payload=PAYLOAD,  # the default catalogue names no provider: nothing to forward to
    )
    allowed(answer)
    year = p("2015-01-15", "2016-01-14")
    assert [(i.ssin, i.code, i.period) for i in answer.integrations_made] == [
        (main, code, year),
        (partner, code, year),
        (child, code, year),
    ]
    assert answer.provider_response is None
    for person in (main, partner, child):
        assert own_periods(client, person, code) == [year]


@pytest.mark.parametrize(("end", "ok"), [("2016-01-14", True), ("2016-01-15", False)])
def test_r6_1_a_decision_period_past_the_codes_maximum_refuses_the_whole_form(
    client_for: Clients, ssin: Callable[[], str], end: str, ok: bool
) -> None:
    client, main, partner = client_for(), ssin(), ssin()
    integrate(client, main, 1, "2015-01-05", "2015-02-04")
    integrate(client, partner, 1, "2015-01-05", "2015-02-04")
    before = everything(client, main), everything(client, partner)
    answer = client.send_flow(
        "form.wet65.B",
        [(main, "MAIN"), (partner, "PARTNER")],
        effective_date=d("2015-01-15"),
        decision_period=(d("2015-01-15"), d(end)),
        aid="LIVING_WAGE",
    )
    if ok:
        allowed(answer)
        assert [(i.code, i.period) for i in answer.integrations_made] == [(2, p("2015-01-15", end))] * 2
        return
    assert (answer.decision, answer.ok) == ("REFUSED", "NO")
    assert [x.reason for x in answer.details] == ["PERIOD_EXCEEDS_MAXIMUM"]
    assert answer.details[0].value("MaximumEndDate") == "2016-01-14"
    assert all(x.allowed for x in answer.persons), "the persons passed; the decision period did not"
    assert answer.integrations_made == ()
    assert (everything(client, main), everything(client, partner)) == before


def test_a_refused_send_flow_changes_nothing_in_the_directory(client_for: Clients, ssin: Callable[[], str]) -> None:
    client, main, partner = client_for(), ssin(), ssin()
    integrate(client, main, 1, "2015-01-05", "2015-02-04")
    integrate(client, partner, 1, "2015-01-05", "2015-01-14")
    integrate(client_for("ocmw_b"), partner, 1, "2015-01-01", "2015-02-28")  # another OCMW's: does not count
    before = everything(client, main), everything(client, partner)
    answer = client.send_flow(
        "form.wet65.B",
        [(main, "MAIN"), (partner, "PARTNER")],
        effective_date=d("2015-01-15"),
        decision_period=(d("2015-01-15"), d("2015-12-31")),
        aid="LIVING_WAGE",
        payload=PAYLOAD,
    )
    denied(answer)
    assert [x.allowed for x in answer.persons] == [True, False]
    assert answer.persons[1].missing_days == (day("2015-01-15"),)
    assert (answer.integrations_made, answer.provider_response) == ((), None)
    assert (everything(client, main), everything(client, partner)) == before


def test_a_form_b_over_the_wire_lists_the_integrations_it_made(wire: Any, soap: Any) -> None:
    main = soap.new_ssin()
    wire.call(soap.change("Integrate", [main], 1, "2015-01-01", "2015-01-31"))
    reply = wire.call(
        flow_xml(
            "SendFlow",
            "form.wet65.B1",
            [(main, "MAIN")],
            effective="2015-01-31",
            decision=("2015-02-01", "2015-07-31"),
            aid="EMPLOYMENT_ART60",
            payload='<f:FormB1 xmlns:f="urn:example:forms"><f:Case>7</f:Case></f:FormB1>',
        ),
        action='"urn:ksz-gateway:repertorium:v1/SendFlow"',
    )
    assert (reply.ok, reply.element.findtext("rep:Decision", namespaces=NS)) == ("YES", "ALLOWED")
    made = reply.element.findall("rep:IntegrationMade", NS)
    assert [
        (m.findtext("rep:SSIN", namespaces=NS), m.findtext("rep:QualityCode", namespaces=NS), _period(m[2]))
        for m in made
    ] == [(main, "6", p("2015-02-01", "2015-07-31"))]
    assert reply.element.find("rep:ProviderResponse", NS) is None
    assert [etree.QName(c).localname for c in reply.element] == [
        "ResultSummary",
        "Ticket",
        "Decision",
        "PersonDecision",
        "IntegrationMade",
    ]


# -- R3.7: form C desintegrates no one -------------------------------------------------------------------------


def test_r3_7_a_form_c_desintegrates_no_one(client_for: Clients, ssin: Callable[[], str]) -> None:
    client, main, partner = client_for(), ssin(), ssin()
    for person in (main, partner):
        integrate(client, person, 1, "2015-01-01", "2015-01-31")
        integrate(client, person, 2, "2015-01-01", "2015-12-31")
    before = everything(client, main), everything(client, partner)
    answer = client.send_flow(
        "form.wet65.C", [(main, "MAIN"), (partner, "PARTNER")], effective_date=d("2015-01-31"), payload=PAYLOAD
    )
    allowed(answer)
    assert [x.rule for x in answer.persons] == ["R5.4", "R5.4"]
    assert answer.integrations_made == ()
    assert (everything(client, main), everything(client, partner)) == before

    late = client.send_flow("form.wet65.C", [(main, "MAIN")], effective_date=d("2015-02-01"))
    denied(late)
    assert late.persons[0].missing_days == (day("2015-02-01"),)
    assert everything(client, main) == before[0]


# -- R2.6: a new request integrates its main beneficiary in code 01 for 30 days -----------------------------------


def test_r2_6_a_new_request_integrates_the_main_beneficiary_for_thirty_days(
    client_for: Clients, ssin: Callable[[], str]
) -> None:
    client, main = client_for(), ssin()
    check = client.check_access("request.new", [(main, "MAIN")])
    allowed(check)
    assert [(x.ssin, x.rule, x.satisfied_by) for x in check.persons] == [(main, "R2.6", ())]
    assert own_periods(client, main, 1) == [], "CheckAccess makes no effect"

    answer = client.send_flow("request.new", [(main, "MAIN")])
    allowed(answer)
    thirty_days = p("2015-01-10", "2015-02-08")  # today and the 29 days after it
    assert [(i.ssin, i.code, i.period) for i in answer.integrations_made] == [(main, 1, thirty_days)]
    assert own_periods(client, main, 1) == [thirty_days]

    # The new integration's first and last days satisfy the forms; the day after it does not.
    allowed(client.check_access("consult.generic", [(main, "SUBJECT")]))
    last = client.check_access("form.living-wage", [(main, "MAIN")], effective_date=d("2015-02-08"))
    allowed(last)
    after = client.check_access("form.living-wage", [(main, "MAIN")], effective_date=d("2015-02-09"))
    denied(after)
    assert after.persons[0].missing_days == (day("2015-02-09"),)


def test_r2_6_a_new_request_takes_exactly_one_main_beneficiary(client_for: Clients, ssin: Callable[[], str]) -> None:
    client, main, partner = client_for(), ssin(), ssin()
    refused_for(client.send_flow("request.new", [(main, "MAIN"), (partner, "PARTNER")]), "INVALID_ROLE")
    refused_for(client.send_flow("request.new", [(main, "MAIN"), (partner, "MAIN")]), "INVALID_ROLE")
    assert own_periods(client, main, 1) == own_periods(client, partner, 1) == []


# -- R3.6: a desintegration that takes an attestation's days warns -------------------------------------------------


def test_r3_6_desintegrating_days_an_attestation_needs_names_the_attestation(
    client_for: Clients, ssin: Callable[[], str]
) -> None:
    client, person = client_for(), ssin()
    integrate(client, person, 2, "2015-01-01", "2015-12-31")
    validity = p("2015-02-01", "2015-03-31")
    attestation = client.send_flow(
        "attestation.multifunctional", [(person, "SUBJECT")], validity_period=validity, aid="LIVING_WAGE"
    )
    allowed(attestation)
    assert attestation.integrations_made == ()

    # The days just outside the validity period are free to go.
    for start, end in (("2015-01-01", "2015-01-31"), ("2015-04-01", "2015-04-30")):
        free = client.desintegrate([person], code=2, start=d(start), end=d(end))
        assert (free.ok, free.persons[0].status, free.persons[0].details) == ("YES", "DESINTEGRATED", ())

    # Its last day is not: applied, with a warning naming the attestation by its SendFlow's Ticket.
    risky = client.desintegrate([person], code=2, start=d("2015-03-31"), end=d("2015-03-31"))
    assert (risky.ok, risky.return_code) == ("WARNING", 1)
    [result] = risky.persons
    assert result.status == "DESINTEGRATED"
    assert result.periods == (p("2015-02-01", "2015-03-30"), p("2015-05-01", "2015-12-31"))
    [warning] = result.details
    assert (warning.severity, warning.reason) == ("WARNING", "ATTESTATION_AT_RISK")
    assert warning.value("AttestationTicket") == attestation.ticket
    assert warning.value("ValidityPeriod") == "2015-02-01/2015-03-31"


def test_r3_6_over_the_wire_from_the_first_day_on(wire: Any, soap: Any) -> None:
    person = soap.new_ssin()
    wire.call(soap.change("Integrate", [person], 3, "2015-01-01", "2015-12-31"))
    sent = wire.call(
        flow_xml(
            "SendFlow",
            "attestation.multifunctional",
            [(person, "SUBJECT")],
            validity=("2015-02-01", "2015-03-31"),
            aid="EQUIVALENT_LIVING_WAGE",
        )
    )
    assert sent.ok == "YES"
    reply = wire.call(soap.change("Desintegrate", [person], 3, "2015-02-01"))
    assert (reply.ok, reply.return_code) == ("WARNING", 1)
    [result] = reply.persons
    assert (result.status, result.reasons, result.severities) == (
        "DESINTEGRATED",
        ("ATTESTATION_AT_RISK",),
        ("WARNING",),
    )
    assert result.information == {"AttestationTicket": sent.ticket, "ValidityPeriod": "2015-02-01/2015-03-31"}
    assert result.periods == (p("2015-01-01", "2015-01-31"),)


def test_r3_6_an_attestation_only_checked_is_not_recorded(client_for: Clients, ssin: Callable[[], str]) -> None:
    client, person = client_for(), ssin()
    integrate(client, person, 2, "2015-01-01", "2015-12-31")
    checked = client.check_access(
        "attestation.multifunctional",
        [(person, "SUBJECT")],
        validity_period=p("2015-02-01", "2015-03-31"),
        aid="LIVING_WAGE",
    )
    allowed(checked)
    removed = client.desintegrate([person], code=2, start=d("2015-02-01"))
    assert (removed.ok, removed.persons[0].details) == ("YES", ())


# -- request-level refusals ----------------------------------------------------------------------------------


def test_a_flow_not_in_the_catalogue_is_unknown(client_for: Clients, ssin: Callable[[], str]) -> None:
    answer = client_for().check_access("form.wet65.Z", [(ssin(), "MAIN")])
    refused_for(answer, "UNKNOWN_FLOW")
    assert answer.details[0].value("Flow") == "form.wet65.Z"
    refused_for(client_for().send_flow("form.wet65.Z", [(ssin(), "MAIN")]), "UNKNOWN_FLOW")


@pytest.mark.parametrize(
    ("flow", "role", "field"),
    [
        ("form.living-wage", "MAIN", "EffectiveDate"),
        ("consult.pension-cadastre", "SUBJECT", "ConsultationPeriod"),
        ("form.heating-allowance", "MAIN", "DeliveryYear"),
        ("attestation.multifunctional", "SUBJECT", "ValidityPeriod"),
    ],
)
def test_a_date_the_flow_needs_is_missing(
    client_for: Clients, ssin: Callable[[], str], flow: str, role: str, field: str
) -> None:
    answer = client_for().check_access(flow, [(ssin(), role)], aid="LIVING_WAGE")
    refused_for(answer, "MISSING_FLOW_DATE")
    assert answer.details[0].value("FieldName") == field


def test_a_form_b_without_aid_or_decision_period_is_missing_a_flow_date(wire: Any, soap: Any) -> None:
    main = soap.new_ssin()
    reply = wire.call(flow_xml("SendFlow", "form.wet65.B", [(main, "MAIN")], effective="2015-01-15", aid="LIVING_WAGE"))
    assert (reply.ok, reply.summary_reasons) == ("NO", ("MISSING_FLOW_DATE",))
    assert reply.element.findtext("rep:Decision", namespaces=NS) == "REFUSED"
    assert reply.element.findall("rep:PersonDecision", NS) == []
    reply = wire.call(
        flow_xml("SendFlow", "form.wet65.B", [(main, "MAIN")], effective="2015-01-15", decision=("2015-01-15", None))
    )
    assert reply.summary_reasons == ("MISSING_FLOW_DATE",)


def test_an_aid_the_flow_has_no_code_for_is_not_applicable(client_for: Clients, ssin: Callable[[], str]) -> None:
    answer = client_for().check_access(
        "attestation.multifunctional",
        [(ssin(), "SUBJECT")],
        validity_period=p("2015-01-01", "2015-01-31"),
        aid="OTHER_FINANCIAL_AID",
    )
    refused_for(answer, "AID_NOT_APPLICABLE")
    assert answer.details[0].value("Aid") == "OTHER_FINANCIAL_AID"


@pytest.mark.parametrize(
    ("flow", "roles"),
    [
        ("consult.generic", ["MAIN"]),
        ("form.living-wage", ["MAIN", "ADDITIONAL"]),
        ("form.wet65.A", ["PARTNER"]),
        ("form.wet65.A", ["MAIN", "MAIN"]),
        ("attestation.multifunctional", ["PARTNER"]),
    ],
)
def test_a_role_the_flow_does_not_take_or_a_form_without_one_main_is_invalid(
    client_for: Clients, ssin: Callable[[], str], flow: str, roles: list[str]
) -> None:
    answer = client_for().check_access(
        flow,
        [(ssin(), role) for role in roles],
        effective_date=TODAY,
        validity_period=p("2015-01-01", "2015-01-31"),
        aid="LIVING_WAGE",
    )
    refused_for(answer, "INVALID_ROLE")


def test_a_period_that_ends_before_it_starts_is_refused_by_the_decision(
    client_for: Clients, ssin: Callable[[], str]
) -> None:
    answer = client_for().check_access(
        "attestation.multifunctional",
        [(ssin(), "SUBJECT")],
        validity_period=(d("2015-03-31"), d("2015-02-01")),
        aid="LIVING_WAGE",
    )
    refused_for(answer, "END_BEFORE_START")
    assert answer.details[0].value("FieldName") == "ValidityPeriod"


def test_an_institution_outside_sector_17_is_denied_these_flows(
    wire: Any, soap: Any, client_for: Clients, ssin: Callable[[], str]
) -> None:
    person = soap.new_ssin()
    integrate(client_for("family"), person, 1, "2015-01-01", "2015-01-31")
    reply = wire.call(flow_xml("CheckAccess", "consult.generic", [(person, "SUBJECT")]), who="family")
    assert (reply.ok, reply.return_code, reply.summary_reasons) == ("NO", 10000, ("ACCESS_DENIED",))
    assert reply.element.findtext("rep:Decision", namespaces=NS) == "REFUSED"
    assert reply.element.findall("rep:PersonDecision", NS) == []

    answer = client_for("employment").send_flow("request.new", [(person, "MAIN")])
    refused_for(answer, "ACCESS_DENIED")
    assert answer.details[0].value("Sector") == "18"
    assert [c for _, c, _ in everything(client_for(), person)] == [1]


def test_a_flow_reference_sent_again_gets_the_first_answer(client_for: Clients, ssin: Callable[[], str]) -> None:
    client, main = client_for(), ssin()
    reference = f"new-request-{main}"
    first = client.send_flow("request.new", [(main, "MAIN")], reference=reference)
    again = client.send_flow("request.new", [(main, "MAIN")], reference=reference)
    assert again == first
    other = client.check_access("consult.generic", [(main, "SUBJECT")], reference=reference)
    refused_for(other, "REFERENCE_REUSED")


def test_the_client_refuses_arguments_that_cannot_make_a_flow_request(client_for: Clients) -> None:
    client = client_for()
    with pytest.raises(InvalidRequest):
        client.check_access("consult.generic", [])
    with pytest.raises(InvalidRequest):
        client.check_access("consult.generic", [("85073003328", "BOSS")])
    with pytest.raises(InvalidRequest):
        client.check_access("consult.generic", ["85073003328"])  # type: ignore[list-item]
    with pytest.raises(InvalidRequest):
        client.check_access("attestation.multifunctional", [("85073003328", "SUBJECT")], aid="PENSION")
    with pytest.raises(InvalidRequest):
        client.send_flow("request.new", [("85073003328", "MAIN")], payload=b"<not-closed>")


# -- SendFlow with a provider -------------------------------------------------------------------------------


def _catalogue_with_provider(folder: Path, url: str) -> Path:
    data = json.loads(FLOWS_FILE.read_text(encoding="utf-8"))
    for flow in data["flows"]:
        if flow["id"] == "form.wet65.B":
            flow["provider"] = {"url": url, "soap_action": "urn:example:forms/SendFormB"}
    path = folder / "flows.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def demo_provider() -> Iterator[DemoProvider]:
    with DemoProvider() as running:
        yield running


@pytest.fixture
def provider(demo_provider: DemoProvider) -> Iterator[DemoProvider]:
    """The module's demo provider, acknowledging unless a test says otherwise (and back to that afterwards)."""
    demo_provider.mode, demo_provider.delay = "ok", 0.0
    yield demo_provider
    demo_provider.mode, demo_provider.delay = "ok", 0.0


@pytest.fixture(scope="module")
def forwarding_gateway(launch: Callable[..., Any], demo_provider: DemoProvider, tmp_path_factory: Any) -> Any:
    """A gateway whose catalogue (``--flows``) forwards form.wet65.B to the demo provider, waiting 2 s at most."""
    flows = _catalogue_with_provider(tmp_path_factory.mktemp("flows"), demo_provider.url)
    return launch("--flows", str(flows), "--provider-timeout", "2")


@pytest.fixture(scope="module")
def unreachable_gateway(launch: Callable[..., Any], tmp_path_factory: Any) -> Any:
    """A gateway whose catalogue forwards form.wet65.B to a loopback port nothing listens on."""
    flows = _catalogue_with_provider(tmp_path_factory.mktemp("flows"), f"http://127.0.0.1:{_closed_port()}/provider")
    return launch("--flows", str(flows), "--provider-timeout", "2")


def _form_b(client: RepertoriumClient, main: str, partner: str, payload: Any = PAYLOAD) -> FlowAnswer:
    return client.send_flow(
        "form.wet65.B",
        [(main, "MAIN"), FlowPerson(partner, "PARTNER")],
        effective_date=d("2015-01-15"),
        decision_period=(d("2015-02-01"), d("2015-07-31")),
        aid="LIVING_WAGE",
        payload=payload,
    )


def _c14n(xml: bytes) -> bytes:
    return bytes(etree.tostring(etree.fromstring(xml), method="c14n"))


def _household(client: RepertoriumClient, make: Callable[[], str]) -> tuple[str, str]:
    main, partner = make(), make()
    integrate(client, main, 1, "2015-01-05", "2015-02-04")
    integrate(client, partner, 1, "2015-01-05", "2015-02-04")
    return main, partner


def test_an_accepted_payload_reaches_the_provider_and_the_form_takes_effect(
    forwarding_gateway: Any, provider: DemoProvider, client_for: Clients, ssin: Callable[[], str]
) -> None:
    client = client_for(server=forwarding_gateway)
    main, partner = _household(client, ssin)
    received = len(provider.received)
    letter = etree.fromstring(b'<mail xmlns:f="urn:example:forms">' + PAYLOAD + b"</mail>")
    answer = _form_b(client, main, partner, payload=letter[0])  # an element of the caller's own document
    allowed(answer)
    assert [_c14n(x) for x in provider.received[received:]] == [_c14n(PAYLOAD)]
    assert len(letter) == 1, "the caller's document keeps its element"
    decision = p("2015-02-01", "2015-07-31")
    assert [(i.ssin, i.code, i.period) for i in answer.integrations_made] == [
        (main, 2, decision),
        (partner, 2, decision),
    ]
    assert own_periods(client, main, 2) == own_periods(client, partner, 2) == [decision]
    assert answer.provider_response is not None
    acknowledgement = etree.fromstring(answer.provider_response)
    assert acknowledgement.tag == "{urn:ksz-gateway:demo-provider}Acknowledgement"
    assert acknowledgement.findtext("prov:Ticket", namespaces=NS) == answer.ticket
    assert acknowledgement.findtext("prov:Accepted", namespaces=NS) == "true"


def test_a_refused_form_is_not_forwarded(
    forwarding_gateway: Any, provider: DemoProvider, client_for: Clients, ssin: Callable[[], str]
) -> None:
    client = client_for(server=forwarding_gateway)
    main, partner = ssin(), ssin()
    integrate(client, main, 1, "2015-01-05", "2015-02-04")
    received = len(provider.received)
    answer = _form_b(client, main, partner)
    denied(answer)
    assert len(provider.received) == received
    assert (answer.integrations_made, answer.provider_response) == ((), None)
    assert own_periods(client, main, 2) == []


def _unavailable(answer: FlowAnswer) -> None:
    assert (answer.ok, answer.return_code, answer.allowed) == ("NO", 10000, False)
    assert [x.reason for x in answer.details] == ["PROVIDER_UNAVAILABLE"]
    assert answer.details[0].value("Flow") == "form.wet65.B"
    assert [x.allowed for x in answer.persons] == [True, True], "access was granted; the provider failed"
    assert (answer.integrations_made, answer.provider_response) == ((), None)


def test_a_provider_answering_a_fault_leaves_the_directory_unchanged(
    forwarding_gateway: Any, provider: DemoProvider, client_for: Clients, ssin: Callable[[], str]
) -> None:
    client = client_for(server=forwarding_gateway)
    main, partner = _household(client, ssin)
    before = everything(client, main), everything(client, partner)
    provider.mode = "fault"
    answer = _form_b(client, main, partner)
    _unavailable(answer)
    assert "fault" in answer.details[0].diagnostic
    assert (everything(client, main), everything(client, partner)) == before


def test_a_provider_slower_than_the_timeout_leaves_the_directory_unchanged(
    forwarding_gateway: Any, provider: DemoProvider, client_for: Clients, ssin: Callable[[], str]
) -> None:
    client = client_for(server=forwarding_gateway)
    main, partner = _household(client, ssin)
    before = everything(client, main), everything(client, partner)
    received = len(provider.received)
    provider.mode, provider.delay = "slow", 4.0  # the gateway waits 2 s (--provider-timeout 2)
    answer = _form_b(client, main, partner)
    _unavailable(answer)
    assert "did not answer within 2 s" in answer.details[0].diagnostic
    assert (everything(client, main), everything(client, partner)) == before
    # The provider answers after all, to nobody: wait for it so the next test finds it free.
    deadline = time.monotonic() + 30
    while len(provider.received) == received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (everything(client, main), everything(client, partner)) == before


class _Announcing(DemoProvider):
    """The demo provider, slow, telling when a payload has reached it."""

    def __init__(self, delay: float) -> None:
        super().__init__(mode="slow", delay=delay)
        self.arrived = threading.Event()

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.arrived.set()
        return super()._app(environ, start_response)


def test_a_request_waiting_for_a_provider_leaves_the_worker_free_to_answer_others(
    launch: Callable[..., Any], client_for: Clients, ssin: Callable[[], str], tmp_path: Path
) -> None:
    # One worker that lets one thread at a time do the gateway's work (--active-threads 1): the SendFlow waiting
    # for the provider gives its turn up, so the Consult is answered while the provider still keeps it waiting.
    with _Announcing(delay=4.0) as slow:
        server = launch(
            "--flows",
            str(_catalogue_with_provider(tmp_path, slow.url)),
            "--provider-timeout",
            "8",
            "--threads",
            "4",
            "--active-threads",
            "1",
        )
        client = client_for(server=server)
        main, partner = _household(client, ssin)
        sent: list[FlowAnswer] = []
        flow = threading.Thread(target=lambda: sent.append(_form_b(client_for(server=server), main, partner)))
        flow.start()
        try:
            assert slow.arrived.wait(30), "the form never reached the provider"
            assert own_periods(client, main, 1) == [p("2015-01-05", "2015-02-04")]
            assert flow.is_alive(), "the Consult was answered only after the provider had answered"
        finally:
            flow.join(30)
    allowed(sent[0])  # the provider answered within the timeout: the form took effect


def test_a_provider_that_cannot_be_reached_leaves_the_directory_unchanged(
    unreachable_gateway: Any, client_for: Clients, ssin: Callable[[], str]
) -> None:
    client = client_for(server=unreachable_gateway)
    main, partner = _household(client, ssin)
    before = everything(client, main), everything(client, partner)
    answer = _form_b(client, main, partner)
    _unavailable(answer)
    assert "could not be reached" in answer.details[0].diagnostic
    assert (everything(client, main), everything(client, partner)) == before
    # Flows without a provider are not held up by it.
    allowed(
        client.send_flow(
            "form.wet65.B1",
            [(main, "MAIN")],
            effective_date=d("2015-01-15"),
            decision_period=(d("2015-02-01"), None),
            aid="LIVING_WAGE",
        )
    )


def test_a_forwarded_form_over_the_wire_returns_the_providers_answer(
    forwarding_gateway: Any, provider: DemoProvider, wire: Any, soap: Any
) -> None:
    main = soap.new_ssin()
    wire.call(soap.change("Integrate", [main], 1, "2015-01-01", "2015-01-31"), server=forwarding_gateway)
    received = len(provider.received)
    reply = wire.call(
        flow_xml(
            "SendFlow",
            "form.wet65.B",
            [(main, "MAIN")],
            effective="2015-01-31",
            decision=("2015-02-01", None),
            aid="LIVING_WAGE",
            payload="\n  <f:FormB xmlns:f='urn:example:forms'><f:Case>43</f:Case></f:FormB>\n",
        ),
        server=forwarding_gateway,
    )
    assert (reply.ok, reply.element.findtext("rep:Decision", namespaces=NS)) == ("YES", "ALLOWED")
    [forwarded] = provider.received[received:]
    assert _c14n(forwarded) == _c14n(b'<f:FormB xmlns:f="urn:example:forms"><f:Case>43</f:Case></f:FormB>')
    [answer] = reply.element.find("rep:ProviderResponse", NS)
    assert answer.findtext("prov:Ticket", namespaces=NS) == reply.ticket
    assert [etree.QName(c).localname for c in reply.element][-2:] == ["IntegrationMade", "ProviderResponse"]


# -- the operator's commands ---------------------------------------------------------------------------------


def _ksz_gateway() -> str:
    script = Path(sys.executable).with_name("ksz-gateway")
    return str(script if script.exists() else ROOT / ".venv" / "bin" / "ksz-gateway")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "malformed flow catalogue"),
        ('{"flows": [{"id": "x", "roles": ["BOSS"]}]}', "BOSS"),
        ('{"flows": [{"id": "x", "roles": ["MAIN"], "tests": [{"kind": "sometimes"}]}]}', "sometimes"),
        (
            '{"flows": [{"id": "x", "roles": ["MAIN"], "provider": {"url": "file:///etc/passwd"}}]}',
            "http:// or https://",
        ),
        (None, "Cannot read the flow catalogue"),
    ],
)
def test_serve_refuses_to_start_with_a_malformed_flow_catalogue(tmp_path: Path, content: str | None, says: str) -> None:
    flows = tmp_path / "flows.json"
    if content is not None:
        flows.write_text(content, encoding="utf-8")
    result = subprocess.run(
        [_ksz_gateway(), "serve", "--flows", str(flows), "--db", str(tmp_path / "d.db"), "--port", str(_closed_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert says in result.stderr and str(flows) in result.stderr
    assert not (tmp_path / "d.db").exists(), "nothing was opened"


def test_serve_says_which_flows_it_forwards(forwarding_gateway: Any) -> None:
    log = forwarding_gateway.log()
    assert "Flow catalogue:" in log and "forwarded to a provider: form.wet65.B" in log


@pytest.mark.parametrize("mode", ["ok", "fault"])
def test_the_provider_command_runs_a_demo_provider(mode: str) -> None:
    command = [_ksz_gateway(), "provider", "--port", "0", "--mode", mode]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        try:
            assert process.stdout is not None
            found = re.search(r"(http://127\.0\.0\.1:\d+/provider)", process.stdout.readline())
            assert found, "the provider command names its URL first"
            flow = Flow("form.wet65.B", "R5.4", (), (), provider_url=found.group(1), provider_action="urn:x/Send")
            if mode == "ok":
                answer = SoapProvider(10)(flow, PAYLOAD, "KSZGW-demo")
                assert answer is not None
                assert etree.fromstring(answer).findtext("prov:Ticket", namespaces=NS) == "KSZGW-demo"
            else:
                with pytest.raises(ProviderError, match="fault"):
                    SoapProvider(10)(flow, PAYLOAD, "KSZGW-demo")
        finally:
            process.terminate()
            process.wait(timeout=20)

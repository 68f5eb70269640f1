"""The access-control decision: RULES.md sections 5 and 6 (and R2.6, R3.6, R3.7), contract CheckAccess/SendFlow.

``decide`` is given only the requesting institution's own integrations (the service reads them); a person
known only in other codes, or only to other institutions, is therefore NOT_INTEGRATED here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from gateway.domain.access import (
    AccessDecision,
    AccessReason,
    FlowCatalogue,
    FlowDates,
    FlowPerson,
    PersonDecision,
    PlannedIntegration,
    Role,
    decide,
    load_flow_catalogue,
)
from gateway.domain.catalogue import OCMW_SECTOR, CatalogueError, load_catalogue
from gateway.domain.directory import Severity
from gateway.domain.periods import Period, PeriodSet

FLOWS = load_flow_catalogue()
CATALOGUE = load_catalogue()

# Valid SSINs (check digits: see test_ssin.py) and one with wrong check digits.
ANNA = "85073003328"
BERT = "06011512374"
CLEO = "00022900145"
DIRK = "90123100173"
INVALID = "85073003329"

MAIN, PARTNER, ADDITIONAL, SUBJECT = Role.MAIN, Role.PARTNER, Role.ADDITIONAL, Role.SUBJECT

CONTRACT_FLOW_IDS = {
    "consult.generic",
    "consult.pension-cadastre",
    "form.living-wage",
    "form.wet65.A",
    "form.wet65.B",
    "form.wet65.B1",
    "form.wet65.B2",
    "form.wet65.C",
    "form.heating-allowance",
    "attestation.multifunctional",
    "request.new",
}
RULE_OF_FLOW = {
    "consult.generic": "R5.1",
    "consult.pension-cadastre": "R5.2",
    "form.living-wage": "R5.3",
    "form.wet65.A": "R5.4",
    "form.wet65.B": "R5.4",
    "form.wet65.B1": "R5.4",
    "form.wet65.B2": "R5.4",
    "form.wet65.C": "R5.4",
    "form.heating-allowance": "R5.5",
    "attestation.multifunctional": "R5.6",
    "request.new": "R2.6",
}
WET65 = ["form.wet65.A", "form.wet65.B", "form.wet65.B1", "form.wet65.B2", "form.wet65.C"]
WET65_WITH_EFFECTS = ["form.wet65.B", "form.wet65.B1", "form.wet65.B2"]
TWO_DAY_FORMS = ["form.living-wage", *WET65]

Raw = tuple[str, str | None]
Integrations = Mapping[str, Mapping[int, PeriodSet]]


def d(text: str) -> date:
    return date.fromisoformat(text)


def p(start: str, end: str | None = None) -> Period:
    return Period(d(start), d(end) if end else None)


def ps(*pairs: Raw) -> PeriodSet:
    return tuple(p(s, e) for s, e in pairs)


def raw(period: Raw | None) -> tuple[date, date | None] | None:
    return None if period is None else (d(period[0]), d(period[1]) if period[1] else None)


def dates(
    today: str,
    *,
    consultation: Raw | None = None,
    effective: str | None = None,
    validity: Raw | None = None,
    decision: Raw | None = None,
    year: int | None = None,
    aid: str | None = None,
) -> FlowDates:
    return FlowDates(
        today=d(today),
        consultation_period=raw(consultation),
        effective_date=d(effective) if effective else None,
        validity_period=raw(validity),
        decision_period=raw(decision),
        delivery_year=year,
        aid=aid,
    )


def run(
    flow_id: str,
    persons: Sequence[tuple[str, Role]],
    when: FlowDates,
    integrations: Integrations | None = None,
    *,
    sector: int = OCMW_SECTOR,
    flows: FlowCatalogue = FLOWS,
) -> AccessDecision:
    return decide(
        flows,
        CATALOGUE,
        sector,
        flow_id,
        [FlowPerson(ssin, role) for ssin, role in persons],
        when,
        integrations or {},
    )


def code01(*pairs: Raw) -> dict[int, PeriodSet]:
    return {1: ps(*pairs)}


def person(decision: AccessDecision, ssin: str, index: int = 0) -> PersonDecision:
    return [pd for pd in decision.persons if pd.ssin == ssin][index]


def reasons(details: Sequence[Any]) -> list[str]:
    return [detail.reason for detail in details]


def information(detail: Any) -> dict[str, str]:
    return dict(detail.information)


def assert_request_refused(decision: AccessDecision, reason: AccessReason) -> None:
    """The request as a whole is refused: no person decided, nothing planned, one request-level reason."""
    assert not decision.allowed
    assert decision.persons == ()
    assert decision.effects == ()
    assert reasons(decision.details) == [reason]
    assert decision.details[0].severity is Severity.ERROR
    assert decision.attestation_code is None


def assert_person_allowed(pd: PersonDecision, satisfied_by: PeriodSet) -> None:
    assert pd.allowed
    assert pd.details == ()
    assert pd.missing_days == ()
    assert sorted(pd.satisfied_by) == sorted(satisfied_by)


def assert_person_refused(pd: PersonDecision, reason: AccessReason, missing_days: PeriodSet) -> None:
    assert not pd.allowed
    assert set(reasons(pd.details)) == {reason}
    assert pd.missing_days == missing_days
    assert pd.satisfied_by == ()


def assert_refused_for_persons(decision: AccessDecision) -> None:
    """Refused because of persons: every person decided, the summary reason ACCESS_DENIED, nothing planned."""
    assert not decision.allowed
    assert decision.persons
    assert reasons(decision.details) == [AccessReason.ACCESS_DENIED]
    assert decision.effects == ()
    assert decision.attestation_code is None


# --- the default catalogue: every flow, its rule, one allowed request each --------------------------------

TODAY = "2015-06-10"
EFFECTIVE = "2015-06-01"
AROUND = code01(("2015-05-15", "2015-07-14"))  # code 01 over today and the effective date

# Each flow with persons and dates that pass, the integrations that make them pass, and the effects.
ALLOWED = [
    pytest.param(
        "consult.generic",
        [(ANNA, SUBJECT)],
        dates(TODAY),
        {ANNA: AROUND},
        (),
        id="consult-generic-subject-integrated-today-is-allowed",
    ),
    pytest.param(
        "consult.pension-cadastre",
        [(ANNA, SUBJECT)],
        dates(TODAY, consultation=("2015-01-01", "2015-12-31")),
        {ANNA: AROUND},
        (),
        id="pension-cadastre-subject-with-a-day-in-the-consultation-period-is-allowed",
    ),
    pytest.param(
        "form.living-wage",
        [(ANNA, MAIN), (BERT, PARTNER)],
        dates(TODAY, effective=EFFECTIVE),
        {ANNA: AROUND, BERT: AROUND},
        (),
        id="living-wage-main-and-partner-on-both-days-are-allowed",
    ),
    *[
        pytest.param(
            flow,
            [(ANNA, MAIN), (BERT, PARTNER), (CLEO, ADDITIONAL)],
            dates(TODAY, effective=EFFECTIVE, decision=("2015-06-01", "2015-11-30"), aid="LIVING_WAGE"),
            {ANNA: AROUND, BERT: AROUND, CLEO: AROUND},
            (
                ()
                if flow in ("form.wet65.A", "form.wet65.C")
                else tuple(PlannedIntegration(s, 2, p("2015-06-01", "2015-11-30"), "R6.1") for s in (ANNA, BERT, CLEO))
            ),
            id=f"{flow.replace('.', '-')}-main-partner-and-additional-on-both-days-are-allowed",
        )
        for flow in WET65
    ],
    pytest.param(
        "form.heating-allowance",
        [(ANNA, MAIN), (BERT, PARTNER)],
        dates(TODAY, year=2015),
        {ANNA: AROUND, BERT: AROUND},
        (),
        id="heating-allowance-main-and-partner-today-and-in-the-delivery-year-are-allowed",
    ),
    pytest.param(
        "attestation.multifunctional",
        [(ANNA, SUBJECT)],
        dates(TODAY, validity=("2015-01-01", "2015-06-30"), aid="LIVING_WAGE"),
        {ANNA: {2: ps(("2015-01-01", "2015-12-31"))}},
        (),
        id="attestation-subject-in-code-02-over-the-validity-is-allowed",
    ),
    pytest.param(
        "request.new",
        [(ANNA, MAIN)],
        dates(TODAY),
        {},
        (PlannedIntegration(ANNA, 1, p("2015-06-10", "2015-07-09"), "R2.6"),),
        id="request-new-main-without-any-integration-is-allowed",
    ),
]


def test_the_default_catalogue_has_exactly_the_contracts_flow_ids() -> None:
    assert set(FLOWS.flows) == CONTRACT_FLOW_IDS
    assert FLOWS.sector == OCMW_SECTOR


@pytest.mark.parametrize(("flow_id", "rule"), sorted(RULE_OF_FLOW.items()))
def test_every_default_flow_names_its_rule(flow_id: str, rule: str) -> None:
    flow = FLOWS.get(flow_id)
    assert flow is not None
    assert flow.rule == rule


def test_the_allowed_table_covers_every_flow_of_the_default_catalogue() -> None:
    assert {case.values[0] for case in ALLOWED} == CONTRACT_FLOW_IDS


@pytest.mark.parametrize(("flow_id", "persons", "when", "integrations", "effects"), ALLOWED)
def test_a_request_meeting_its_flows_prerequisites_is_allowed_with_its_rule_and_effects(
    flow_id: str,
    persons: list[tuple[str, Role]],
    when: FlowDates,
    integrations: Integrations,
    effects: tuple[PlannedIntegration, ...],
) -> None:
    decision = run(flow_id, persons, when, integrations)
    assert decision.allowed
    assert decision.flow_id == flow_id
    assert decision.details == ()
    assert [(pd.ssin, pd.role) for pd in decision.persons] == persons
    for pd in decision.persons:
        assert pd.allowed
        assert pd.rule == RULE_OF_FLOW[flow_id]
        assert pd.details == ()
        assert pd.missing_days == ()
    assert decision.effects == effects


# --- R5.1 consult.generic: code 01 on today ----------------------------------------------------------------

GENERIC_PERIOD = ("2015-01-10", "2015-03-09")

ON_TODAY = [
    pytest.param("2015-01-10", True, id="allowed-on-the-first-day-of-the-code-01-period"),
    pytest.param("2015-02-01", True, id="allowed-on-a-day-inside-the-period"),
    pytest.param("2015-03-09", True, id="allowed-on-the-last-day-of-the-period"),
    pytest.param("2015-01-09", False, id="refused-on-the-day-before-the-period"),
    pytest.param("2015-03-10", False, id="refused-on-the-day-after-the-period"),
    pytest.param("2014-06-01", False, id="refused-long-before-the-period"),
]


@pytest.mark.parametrize(("today", "allowed"), ON_TODAY)
def test_consult_generic_needs_code_01_on_the_day_of_the_consultation(today: str, allowed: bool) -> None:
    decision = run("consult.generic", [(ANNA, SUBJECT)], dates(today), {ANNA: code01(GENERIC_PERIOD)})
    pd = person(decision, ANNA)
    assert pd.rule == "R5.1"
    assert decision.allowed is allowed
    if allowed:
        assert_person_allowed(pd, ps(GENERIC_PERIOD))
    else:
        assert_person_refused(pd, AccessReason.NOT_INTEGRATED_ON_DAY, (p(today, today),))
        assert_refused_for_persons(decision)


def test_a_refusal_names_the_person_the_code_and_the_rule() -> None:
    decision = run("consult.generic", [(ANNA, SUBJECT)], dates("2015-03-10"), {ANNA: code01(GENERIC_PERIOD)})
    detail = person(decision, ANNA).details[0]
    assert detail.severity is Severity.ERROR
    assert information(detail) == {"SSIN": ANNA, "QualityCode": "01", "Rule": "R5.1"}
    assert "2015-03-10" in detail.diagnostic
    assert information(decision.details[0]) == {"Flow": "consult.generic"}


def test_consult_generic_decides_each_subject_on_its_own() -> None:
    decision = run(
        "consult.generic",
        [(ANNA, SUBJECT), (BERT, SUBJECT)],
        dates("2015-02-01"),
        {ANNA: code01(GENERIC_PERIOD), BERT: code01(("2015-02-02", "2015-03-31"))},
    )
    assert_person_allowed(person(decision, ANNA), ps(GENERIC_PERIOD))
    assert_person_refused(person(decision, BERT), AccessReason.NOT_INTEGRATED_ON_DAY, ps(("2015-02-01", "2015-02-01")))
    assert_refused_for_persons(decision)


# --- R5.2 consult.pension-cadastre: a day of code 01 within the consultation period -------------------------

PENSION_INTEGRATION = ("2015-03-01", "2015-03-31")

PENSION = [
    pytest.param(("2015-01-01", "2015-03-01"), True, id="ending-on-the-first-integrated-day-is-allowed"),
    pytest.param(("2015-03-31", "2015-06-30"), True, id="starting-on-the-last-integrated-day-is-allowed"),
    pytest.param(("2015-03-10", "2015-03-12"), True, id="inside-the-integration-is-allowed"),
    pytest.param(("2015-01-01", "2015-12-31"), True, id="around-the-integration-is-allowed"),
    pytest.param(("2015-03-31", "2015-03-31"), True, id="a-single-common-day-is-allowed"),
    pytest.param(("2014-01-01", None), True, id="open-ended-from-before-is-allowed"),
    pytest.param(("2015-03-31", None), True, id="open-ended-from-the-last-integrated-day-is-allowed"),
    pytest.param(("2015-01-01", "2015-02-28"), False, id="ending-the-day-before-is-refused"),
    pytest.param(("2015-04-01", "2015-06-30"), False, id="starting-the-day-after-is-refused"),
    pytest.param(("2015-04-01", None), False, id="open-ended-from-the-day-after-is-refused"),
]


@pytest.mark.parametrize(("consultation", "allowed"), PENSION)
def test_the_pension_cadastre_needs_one_day_of_code_01_in_common_with_the_consultation_period(
    consultation: Raw, allowed: bool
) -> None:
    # Today lies outside the integration: R5.2 does not look at today.
    when = dates("2016-01-01", consultation=consultation)
    decision = run("consult.pension-cadastre", [(ANNA, SUBJECT)], when, {ANNA: code01(PENSION_INTEGRATION)})
    pd = person(decision, ANNA)
    assert pd.rule == "R5.2"
    assert decision.allowed is allowed
    if allowed:
        assert_person_allowed(pd, ps(PENSION_INTEGRATION))
    else:
        assert_person_refused(pd, AccessReason.NO_DAY_IN_COMMON, ps(consultation))
        assert_refused_for_persons(decision)


def test_the_pension_cadastre_is_satisfied_by_one_integration_period_that_overlaps() -> None:
    periods = ps(("2015-01-01", "2015-01-31"), ("2015-03-01", "2015-03-31"))
    when = dates(TODAY, consultation=("2014-12-01", "2015-12-31"))
    pd = person(run("consult.pension-cadastre", [(ANNA, SUBJECT)], when, {ANNA: {1: periods}}), ANNA)
    assert pd.allowed
    assert len(pd.satisfied_by) == 1
    assert pd.satisfied_by[0] in periods


# --- R5.3 and R5.4: the forms that need code 01 on today and on the effective date -------------------------

# One person's code-01 periods with today 2015-06-10 and EffectiveDate 2015-06-01, and what follows.
TWO_DAYS = [
    pytest.param(
        {1: ps(("2015-05-15", "2015-07-14"))},
        None,
        ps(("2015-05-15", "2015-07-14")),
        id="integrated-over-both-days",
    ),
    pytest.param(
        {1: ps(("2015-06-01", "2015-06-10"))},
        None,
        ps(("2015-06-01", "2015-06-10")),
        id="integrated-from-the-effective-date-to-today",
    ),
    pytest.param(
        {1: ps(("2015-05-25", "2015-06-01"), ("2015-06-10", "2015-06-20"))},
        None,
        ps(("2015-05-25", "2015-06-01"), ("2015-06-10", "2015-06-20")),
        id="integrated-on-each-day-in-another-period",
    ),
    pytest.param(
        {1: ps(("2015-06-02", "2015-07-31"))},
        (AccessReason.NOT_INTEGRATED_ON_DAY, ps(("2015-06-01", "2015-06-01"))),
        (),
        id="integrated-from-the-day-after-the-effective-date",
    ),
    pytest.param(
        {1: ps(("2015-05-01", "2015-06-09"))},
        (AccessReason.NOT_INTEGRATED_ON_DAY, ps(("2015-06-10", "2015-06-10"))),
        (),
        id="integrated-up-to-the-day-before-today",
    ),
    pytest.param(
        {1: ps(("2015-06-03", "2015-06-05"))},
        (AccessReason.NOT_INTEGRATED_ON_DAY, ps(("2015-06-01", "2015-06-01"), ("2015-06-10", "2015-06-10"))),
        (),
        id="integrated-only-between-the-two-days",
    ),
    pytest.param(
        {},
        (AccessReason.NOT_INTEGRATED, ps(("2015-06-01", "2015-06-01"), ("2015-06-10", "2015-06-10"))),
        (),
        id="not-integrated-at-all",
    ),
    pytest.param(
        {2: ps(("2015-01-01", "2015-12-31")), 5: ps(("2015-01-01", "2015-12-31"))},
        (AccessReason.NOT_INTEGRATED, ps(("2015-06-01", "2015-06-01"), ("2015-06-10", "2015-06-10"))),
        (),
        id="integrated-only-in-codes-02-and-05",
    ),
]

FORM_ROLES = [
    pytest.param(flow, role, id=f"{flow.replace('.', '-')}-{role.value.lower()}")
    for flow in TWO_DAY_FORMS
    for role in ((MAIN, PARTNER) if flow == "form.living-wage" else (MAIN, PARTNER, ADDITIONAL))
]
FORM_PERSONS = {MAIN: ANNA, PARTNER: BERT, ADDITIONAL: CLEO}
FORM_DATES = dates(TODAY, effective=EFFECTIVE, decision=("2015-06-01", "2015-11-30"), aid="LIVING_WAGE")


@pytest.mark.parametrize(("flow_id", "role"), FORM_ROLES)
@pytest.mark.parametrize(("periods", "refusal", "satisfied_by"), TWO_DAYS)
def test_each_checked_person_of_a_form_needs_code_01_on_today_and_on_the_effective_date(
    flow_id: str,
    role: Role,
    periods: dict[int, PeriodSet],
    refusal: tuple[AccessReason, PeriodSet] | None,
    satisfied_by: PeriodSet,
) -> None:
    roles = [r for r in (MAIN, PARTNER, ADDITIONAL) if r in FLOWS.flows[flow_id].roles]
    persons = [(FORM_PERSONS[r], r) for r in roles]
    integrations = {ssin: (periods if r is role else AROUND) for ssin, r in persons}
    decision = run(flow_id, persons, FORM_DATES, integrations)
    pd = person(decision, FORM_PERSONS[role])
    assert pd.rule == RULE_OF_FLOW[flow_id]
    for other, r in persons:
        if r is not role:
            assert_person_allowed(person(decision, other), AROUND[1])
    if refusal is None:
        assert_person_allowed(pd, satisfied_by)
        assert decision.allowed
    else:
        assert_person_refused(pd, *refusal)
        assert_refused_for_persons(decision)


def test_a_form_with_only_a_main_beneficiary_is_decided_on_the_main_alone() -> None:
    decision = run("form.living-wage", [(ANNA, MAIN)], FORM_DATES, {ANNA: AROUND})
    assert decision.allowed
    assert [pd.ssin for pd in decision.persons] == [ANNA]


def test_an_effective_date_after_today_must_be_covered_too() -> None:
    when = dates(TODAY, effective="2015-07-01")
    decision = run("form.living-wage", [(ANNA, MAIN)], when, {ANNA: code01(("2015-06-01", "2015-06-30"))})
    assert_person_refused(person(decision, ANNA), AccessReason.NOT_INTEGRATED_ON_DAY, ps(("2015-07-01", "2015-07-01")))


def test_an_effective_date_equal_to_today_missing_gives_the_day_once() -> None:
    when = dates(TODAY, effective=TODAY)
    decision = run("form.living-wage", [(ANNA, MAIN)], when, {ANNA: code01(("2015-01-01", "2015-02-28"))})
    assert_person_refused(person(decision, ANNA), AccessReason.NOT_INTEGRATED_ON_DAY, ps((TODAY, TODAY)))


def test_a_form_refusal_has_one_detail_per_failing_day() -> None:
    decision = run("form.living-wage", [(ANNA, MAIN)], FORM_DATES, {ANNA: code01(("2015-06-03", "2015-06-05"))})
    details = person(decision, ANNA).details
    assert reasons(details) == [AccessReason.NOT_INTEGRATED_ON_DAY] * 2
    assert "2015-06-10" in details[0].diagnostic
    assert "2015-06-01" in details[1].diagnostic


# --- SatisfiedBy: one integration period per required day when they differ ---------------------------------


def test_satisfied_by_lists_one_period_per_required_day_when_they_differ() -> None:
    today_period, effective_period = ("2015-06-05", "2015-06-30"), ("2015-04-01", "2015-04-30")
    when = dates(TODAY, effective="2015-04-15")
    decision = run("form.living-wage", [(ANNA, MAIN)], when, {ANNA: code01(today_period, effective_period)})
    assert_person_allowed(person(decision, ANNA), ps(today_period, effective_period))


def test_satisfied_by_lists_a_period_once_when_it_meets_every_required_day() -> None:
    decision = run("form.living-wage", [(ANNA, MAIN)], FORM_DATES, {ANNA: AROUND})
    assert person(decision, ANNA).satisfied_by == AROUND[1]


def test_satisfied_by_ignores_integration_periods_that_meet_no_required_day() -> None:
    periods = code01(("2015-01-01", "2015-01-31"), ("2015-05-15", "2015-07-14"), ("2015-09-01", "2015-09-30"))
    decision = run("consult.generic", [(ANNA, SUBJECT)], dates(TODAY), {ANNA: periods})
    assert person(decision, ANNA).satisfied_by == ps(("2015-05-15", "2015-07-14"))


# --- roles: forms take exactly one MAIN, each flow only its own roles (request-level INVALID_ROLE) ---------

INVALID_ROLES = [
    pytest.param("form.living-wage", [(ANNA, MAIN), (CLEO, ADDITIONAL)], id="living-wage-with-an-additional-person"),
    pytest.param(
        "form.living-wage",
        [(ANNA, MAIN), (BERT, PARTNER), (CLEO, ADDITIONAL)],
        id="living-wage-with-partner-and-an-additional-person",
    ),
    pytest.param("form.living-wage", [(ANNA, MAIN), (BERT, MAIN)], id="living-wage-with-two-mains"),
    pytest.param("form.living-wage", [(BERT, PARTNER)], id="living-wage-without-a-main"),
    pytest.param("form.living-wage", [(ANNA, SUBJECT)], id="living-wage-with-a-subject"),
    pytest.param("form.living-wage", [(ANNA, MAIN), (BERT, PARTNER), (CLEO, PARTNER)], id="living-wage-two-partners"),
    pytest.param("form.wet65.A", [(CLEO, ADDITIONAL)], id="wet65-a-without-a-main"),
    pytest.param("form.wet65.B", [(ANNA, MAIN), (BERT, MAIN), (CLEO, ADDITIONAL)], id="wet65-b-with-two-mains"),
    pytest.param("form.wet65.B1", [(BERT, PARTNER), (CLEO, ADDITIONAL)], id="wet65-b1-without-a-main"),
    pytest.param("form.wet65.B2", [(ANNA, MAIN), (BERT, SUBJECT)], id="wet65-b2-with-a-subject"),
    pytest.param("form.wet65.C", [(ANNA, SUBJECT)], id="wet65-c-with-only-a-subject"),
    pytest.param("form.heating-allowance", [(ANNA, MAIN), (CLEO, ADDITIONAL)], id="heating-with-an-additional-person"),
    pytest.param("form.heating-allowance", [(ANNA, MAIN), (BERT, MAIN)], id="heating-with-two-mains"),
    pytest.param("consult.generic", [(ANNA, MAIN)], id="consult-generic-with-a-main"),
    pytest.param("consult.pension-cadastre", [(ANNA, PARTNER)], id="pension-cadastre-with-a-partner"),
    pytest.param("attestation.multifunctional", [(ANNA, MAIN)], id="attestation-with-a-main"),
    pytest.param("request.new", [(ANNA, MAIN), (BERT, PARTNER)], id="request-new-with-a-partner"),
    pytest.param("request.new", [(ANNA, MAIN), (BERT, MAIN)], id="request-new-with-two-mains"),
    pytest.param("request.new", [(ANNA, SUBJECT)], id="request-new-with-a-subject"),
]

EVERYTHING = dates(
    TODAY,
    consultation=("2015-01-01", "2015-12-31"),
    effective=EFFECTIVE,
    validity=("2015-06-01", "2015-06-30"),
    decision=("2015-06-01", "2015-11-30"),
    year=2015,
    aid="LIVING_WAGE",
)
EVERYONE = {s: {1: AROUND[1], 2: ps(("2015-01-01", "2015-12-31"))} for s in (ANNA, BERT, CLEO, DIRK)}


@pytest.mark.parametrize(("flow_id", "persons"), INVALID_ROLES)
def test_a_role_the_flow_does_not_take_or_not_exactly_one_main_refuses_the_request_as_a_whole(
    flow_id: str, persons: list[tuple[str, Role]]
) -> None:
    # Every person is integrated and every date is given: only the roles are wrong.
    assert_request_refused(run(flow_id, persons, EVERYTHING, EVERYONE), AccessReason.INVALID_ROLE)


def test_an_invalid_role_refusal_names_the_role_and_the_person() -> None:
    decision = run("form.living-wage", [(ANNA, MAIN), (CLEO, ADDITIONAL)], EVERYTHING, EVERYONE)
    assert information(decision.details[0]) == {"Role": "ADDITIONAL", "SSIN": CLEO}


def test_a_consultation_may_name_several_subjects() -> None:
    decision = run("consult.generic", [(ANNA, SUBJECT), (BERT, SUBJECT)], EVERYTHING, EVERYONE)
    assert decision.allowed
    assert len(decision.persons) == 2


# --- dates and Aid the flow needs (request-level MISSING_FLOW_DATE, AID_NOT_APPLICABLE) ---------------------

MISSING_DATES = [
    pytest.param("consult.pension-cadastre", [(ANNA, SUBJECT)], "consultation", "ConsultationPeriod", id="pension"),
    pytest.param("form.living-wage", [(ANNA, MAIN)], "effective", "EffectiveDate", id="living-wage-effective-date"),
    *[pytest.param(flow, [(ANNA, MAIN)], "effective", "EffectiveDate", id=f"{flow}-effective-date") for flow in WET65],
    *[
        pytest.param(flow, [(ANNA, MAIN)], "decision", "DecisionPeriod", id=f"{flow}-decision-period")
        for flow in WET65_WITH_EFFECTS
    ],
    *[pytest.param(flow, [(ANNA, MAIN)], "aid", "Aid", id=f"{flow}-aid") for flow in WET65_WITH_EFFECTS],
    pytest.param("form.heating-allowance", [(ANNA, MAIN)], "year", "DeliveryYear", id="heating-delivery-year"),
    pytest.param(
        "attestation.multifunctional", [(ANNA, SUBJECT)], "validity", "ValidityPeriod", id="attestation-validity"
    ),
    pytest.param("attestation.multifunctional", [(ANNA, SUBJECT)], "aid", "Aid", id="attestation-aid"),
]


@pytest.mark.parametrize(("flow_id", "persons", "left_out", "field_name"), MISSING_DATES)
def test_a_date_or_aid_the_flow_needs_that_is_missing_refuses_the_request_as_a_whole(
    flow_id: str, persons: list[tuple[str, Role]], left_out: str, field_name: str
) -> None:
    given: dict[str, Any] = {
        "consultation": ("2015-01-01", "2015-12-31"),
        "effective": EFFECTIVE,
        "validity": ("2015-06-01", "2015-06-30"),
        "decision": ("2015-06-01", "2015-11-30"),
        "year": 2015,
        "aid": "LIVING_WAGE",
    }
    del given[left_out]
    decision = run(flow_id, persons, dates(TODAY, **given), EVERYONE)
    assert_request_refused(decision, AccessReason.MISSING_FLOW_DATE)
    assert information(decision.details[0]) == {"FieldName": field_name}


@pytest.mark.parametrize(
    "flow_id", ["consult.generic", "form.wet65.A", "form.wet65.C", "request.new"], ids=lambda f: f"{f}-needs-no-aid"
)
def test_a_flow_that_needs_no_aid_nor_decision_period_is_decided_without_them(flow_id: str) -> None:
    role = SUBJECT if flow_id.startswith("consult") else MAIN
    decision = run(flow_id, [(ANNA, role)], dates(TODAY, effective=EFFECTIVE), {ANNA: AROUND})
    assert decision.allowed


REVERSED = [
    pytest.param(
        "consult.pension-cadastre",
        [(ANNA, SUBJECT)],
        {"consultation": ("2015-06-30", "2015-06-01")},
        id="pension-cadastre-consultation-period-ending-before-it-starts",
    ),
    pytest.param(
        "attestation.multifunctional",
        [(ANNA, SUBJECT)],
        {"validity": ("2015-06-30", "2015-06-29"), "aid": "LIVING_WAGE"},
        id="attestation-validity-period-ending-the-day-before-it-starts",
    ),
    pytest.param(
        "form.wet65.B",
        [(ANNA, MAIN)],
        {"effective": EFFECTIVE, "decision": ("2015-06-01", "2015-05-31"), "aid": "LIVING_WAGE"},
        id="wet65-b-decision-period-ending-before-it-starts",
    ),
]


@pytest.mark.parametrize(("flow_id", "persons", "given"), REVERSED)
def test_a_period_that_ends_before_it_starts_refuses_the_request_as_a_whole(
    flow_id: str, persons: list[tuple[str, Role]], given: dict[str, Any]
) -> None:
    assert_request_refused(run(flow_id, persons, dates(TODAY, **given), EVERYONE), AccessReason.END_BEFORE_START)


def test_a_one_day_period_does_not_end_before_it_starts() -> None:
    when = dates(TODAY, consultation=(TODAY, TODAY))
    assert run("consult.pension-cadastre", [(ANNA, SUBJECT)], when, {ANNA: AROUND}).allowed


# --- R5.5 heating allowance: code 01 today and a day in common with the delivery year ----------------------

HEATING_TODAY = "2016-03-10"
TODAYS_PERIOD = ("2016-03-01", "2016-04-30")
YEAR_2015 = ps(("2015-01-01", "2015-12-31"))
HEATING = [
    pytest.param(
        ps(("2014-12-01", "2015-01-01"), TODAYS_PERIOD),
        None,
        id="a-period-ending-on-january-1-of-the-delivery-year-passes",
    ),
    pytest.param(
        ps(("2015-12-31", "2016-02-28"), TODAYS_PERIOD),
        None,
        id="a-period-starting-on-december-31-of-the-delivery-year-passes",
    ),
    pytest.param(ps(("2015-12-15", "2016-04-30")), None, id="one-period-over-the-year-end-and-today-passes"),
    pytest.param(
        ps(("2014-11-01", "2014-12-31"), TODAYS_PERIOD),
        (AccessReason.NO_DAY_IN_COMMON, YEAR_2015),
        id="a-period-ending-on-december-31-of-the-previous-year-fails-for-the-whole-year",
    ),
    pytest.param(
        ps(("2016-01-01", "2016-04-30")),
        (AccessReason.NO_DAY_IN_COMMON, YEAR_2015),
        id="a-period-starting-on-january-1-of-the-next-year-fails-for-the-whole-year",
    ),
    pytest.param(
        ps(("2015-03-01", "2015-04-30")),
        (AccessReason.NOT_INTEGRATED_ON_DAY, ps((HEATING_TODAY, HEATING_TODAY))),
        id="integrated-in-the-delivery-year-but-not-today-fails-for-today",
    ),
    pytest.param(
        ps(("2014-01-01", "2014-02-28")),
        (AccessReason.NOT_INTEGRATED_ON_DAY, ps(("2015-01-01", "2015-12-31"), (HEATING_TODAY, HEATING_TODAY))),
        id="integrated-neither-today-nor-in-the-delivery-year-fails-for-both",
    ),
    pytest.param(
        (),
        (AccessReason.NOT_INTEGRATED, ps(("2015-01-01", "2015-12-31"), (HEATING_TODAY, HEATING_TODAY))),
        id="not-integrated-at-all-misses-today-and-the-whole-year",
    ),
]


@pytest.mark.parametrize("role", [MAIN, PARTNER], ids=["main", "partner"])
@pytest.mark.parametrize(("periods", "refusal"), HEATING)
def test_the_heating_allowance_needs_code_01_today_and_a_day_in_the_delivery_year(
    role: Role, periods: PeriodSet, refusal: tuple[AccessReason, PeriodSet] | None
) -> None:
    persons = [(ANNA, MAIN), (BERT, PARTNER)]
    checked = ANNA if role is MAIN else BERT
    other = BERT if role is MAIN else ANNA
    integrations = {checked: {1: periods}, other: code01(("2015-12-01", "2016-05-31"))}
    decision = run("form.heating-allowance", persons, dates(HEATING_TODAY, year=2015), integrations)
    pd = person(decision, checked)
    assert pd.rule == "R5.5"
    assert person(decision, other).allowed
    if refusal is None:
        assert_person_allowed(pd, periods)
        assert decision.allowed
    else:
        reason, missing_days = refusal
        assert not pd.allowed
        assert reason in reasons(pd.details)
        assert pd.missing_days == missing_days
        assert_refused_for_persons(decision)


def test_the_heating_allowance_failing_both_tests_gives_both_reasons() -> None:
    when = dates(HEATING_TODAY, year=2015)
    decision = run("form.heating-allowance", [(ANNA, MAIN)], when, {ANNA: code01(("2014-01-01", "2014-02-28"))})
    assert reasons(person(decision, ANNA).details) == [
        AccessReason.NOT_INTEGRATED_ON_DAY,
        AccessReason.NO_DAY_IN_COMMON,
    ]


# --- R5.6 the multifunctional attestation: code 02 or 03 by Aid over the whole validity period -------------

VALIDITY = ("2015-01-01", "2015-06-30")
ATTESTATION = [
    pytest.param({"own": ps(("2014-07-01", "2015-06-30"))}, None, id="a-period-ending-on-the-last-valid-day"),
    pytest.param({"own": ps(("2015-01-01", "2015-12-31"))}, None, id="a-period-starting-on-the-first-valid-day"),
    pytest.param({"own": ps(VALIDITY)}, None, id="a-period-equal-to-the-validity"),
    pytest.param(
        {"own": ps(("2014-10-01", "2015-03-31"), ("2015-04-15", "2015-09-30"))},
        (AccessReason.PERIOD_NOT_COVERED, ps(("2015-04-01", "2015-04-14"))),
        id="a-gap-inside-misses-exactly-the-gap",
    ),
    pytest.param(
        {"own": ps(("2015-01-02", "2015-12-31"))},
        (AccessReason.PERIOD_NOT_COVERED, ps(("2015-01-01", "2015-01-01"))),
        id="starting-the-day-after-the-validity-starts-misses-its-first-day",
    ),
    pytest.param(
        {"own": ps(("2014-07-01", "2015-06-29"))},
        (AccessReason.PERIOD_NOT_COVERED, ps(("2015-06-30", "2015-06-30"))),
        id="ending-the-day-before-the-validity-ends-misses-its-last-day",
    ),
    pytest.param(
        {"own": ps(("2015-02-01", "2015-02-28"))},
        (AccessReason.PERIOD_NOT_COVERED, ps(("2015-01-01", "2015-01-31"), ("2015-03-01", "2015-06-30"))),
        id="a-period-inside-misses-the-days-on-both-sides",
    ),
    pytest.param(
        {"own": ps(("2014-01-01", "2014-06-30"))},
        (AccessReason.PERIOD_NOT_COVERED, ps(VALIDITY)),
        id="a-period-before-the-validity-misses-all-of-it",
    ),
    pytest.param(
        {"other": ps(("2014-01-01", "2015-12-31"))},
        (AccessReason.NOT_INTEGRATED, ps(VALIDITY)),
        id="the-other-aid-code-over-all-of-it-does-not-count",
    ),
    pytest.param(
        {"own": ps(("2014-10-01", "2015-03-31")), "other": ps(("2015-04-01", "2015-12-31"))},
        (AccessReason.PERIOD_NOT_COVERED, ps(("2015-04-01", "2015-06-30"))),
        id="the-other-aid-code-does-not-fill-a-gap",
    ),
    pytest.param({}, (AccessReason.NOT_INTEGRATED, ps(VALIDITY)), id="no-integration-at-all"),
]
AID_CODES = [
    pytest.param("LIVING_WAGE", 2, 3, id="living-wage-code-02"),
    pytest.param("EQUIVALENT_LIVING_WAGE", 3, 2, id="equivalent-living-wage-code-03"),
]


@pytest.mark.parametrize(("aid", "own_code", "other_code"), AID_CODES)
@pytest.mark.parametrize(("periods", "refusal"), ATTESTATION)
def test_an_attestation_needs_the_aids_code_over_its_whole_validity_period(
    aid: str,
    own_code: int,
    other_code: int,
    periods: dict[str, PeriodSet],
    refusal: tuple[AccessReason, PeriodSet] | None,
) -> None:
    codes = {own_code: periods.get("own", ()), other_code: periods.get("other", ())}
    when = dates(TODAY, validity=VALIDITY, aid=aid)
    decision = run("attestation.multifunctional", [(ANNA, SUBJECT)], when, {ANNA: codes})
    pd = person(decision, ANNA)
    assert pd.rule == "R5.6"
    if refusal is None:
        assert_person_allowed(pd, periods["own"])
        assert decision.allowed
        assert decision.attestation_code == own_code
        assert decision.attestation_validity == p(*VALIDITY)
        assert decision.effects == ()
    else:
        assert_person_refused(pd, *refusal)
        assert_refused_for_persons(decision)
        assert decision.attestation_validity is None
        assert information(pd.details[0])["QualityCode"] == f"{own_code:02d}"


def test_an_open_ended_validity_period_is_never_covered_by_bounded_integrations() -> None:
    when = dates(TODAY, validity=("2015-01-01", None), aid="LIVING_WAGE")
    decision = run(
        "attestation.multifunctional", [(ANNA, SUBJECT)], when, {ANNA: {2: ps(("2014-07-01", "2015-06-30"))}}
    )
    assert_person_refused(person(decision, ANNA), AccessReason.PERIOD_NOT_COVERED, (p("2015-07-01"),))


@pytest.mark.parametrize("aid", ["OTHER_FINANCIAL_AID", "EMPLOYMENT_ART60"])
def test_an_attestation_for_an_aid_without_a_code_is_refused_as_not_applicable(aid: str) -> None:
    when = dates(TODAY, validity=VALIDITY, aid=aid)
    everything = {ANNA: {c: ps(("2014-01-01", "2015-12-31")) for c in (1, 2, 3, 4, 6)}}
    decision = run("attestation.multifunctional", [(ANNA, SUBJECT)], when, everything)
    assert_request_refused(decision, AccessReason.AID_NOT_APPLICABLE)
    assert information(decision.details[0]) == {"Aid": aid}


@pytest.mark.parametrize("flow_id", sorted(CONTRACT_FLOW_IDS - {"attestation.multifunctional"}))
def test_only_the_attestation_records_an_attestation(flow_id: str) -> None:
    flow = FLOWS.flows[flow_id]
    persons = [(ANNA, flow.roles[0])]
    decision = run(flow_id, persons, EVERYTHING, EVERYONE)
    assert decision.allowed
    assert decision.attestation_code is None
    assert decision.attestation_validity is None


# --- R6.1 effects of forms B, B1, B2; none for A and C (R3.7) ---------------------------------------------

AID_TO_CODE = [
    pytest.param("LIVING_WAGE", 2, id="living-wage-in-code-02"),
    pytest.param("EQUIVALENT_LIVING_WAGE", 3, id="equivalent-living-wage-in-code-03"),
    pytest.param("OTHER_FINANCIAL_AID", 4, id="other-financial-aid-in-code-04"),
    pytest.param("EMPLOYMENT_ART60", 6, id="employment-art60-in-code-06"),
]
HOUSEHOLD = [(ANNA, MAIN), (BERT, PARTNER), (CLEO, ADDITIONAL), (DIRK, ADDITIONAL)]
HOUSEHOLD_INTEGRATED = {ssin: AROUND for ssin, _ in HOUSEHOLD}


@pytest.mark.parametrize("flow_id", WET65_WITH_EFFECTS)
@pytest.mark.parametrize(("aid", "code"), AID_TO_CODE)
def test_forms_b_b1_and_b2_integrate_every_person_in_the_aids_code_for_the_decision_period(
    flow_id: str, aid: str, code: int
) -> None:
    when = dates(TODAY, effective=EFFECTIVE, decision=("2015-06-01", "2015-12-31"), aid=aid)
    decision = run(flow_id, HOUSEHOLD, when, HOUSEHOLD_INTEGRATED)
    assert decision.allowed
    assert decision.effects == tuple(
        PlannedIntegration(ssin, code, p("2015-06-01", "2015-12-31"), "R6.1") for ssin, _ in HOUSEHOLD
    )


DECISION_PERIODS = [
    pytest.param(("2015-06-01", None), p("2015-06-01", "2016-05-31"), id="without-an-end-runs-for-one-year"),
    pytest.param(("2015-06-01", "2016-05-31"), p("2015-06-01", "2016-05-31"), id="ending-on-the-maximum-is-kept"),
    pytest.param(("2015-06-01", "2015-06-01"), p("2015-06-01", "2015-06-01"), id="a-single-day-is-kept"),
    pytest.param(("2015-01-31", None), p("2015-01-31", "2016-01-30"), id="from-january-31-ends-january-30"),
    pytest.param(("2016-02-29", None), p("2016-02-29", "2017-02-27"), id="from-a-leap-day-ends-clamped-minus-one"),
    pytest.param(("2014-12-01", None), p("2014-12-01", "2015-11-30"), id="starting-before-today"),
]


@pytest.mark.parametrize("flow_id", WET65_WITH_EFFECTS)
@pytest.mark.parametrize(("decision_period", "planned"), DECISION_PERIODS)
def test_an_effects_period_follows_the_integration_rules_of_its_code(
    flow_id: str, decision_period: Raw, planned: Period
) -> None:
    for aid, code in (("LIVING_WAGE", 2), ("EMPLOYMENT_ART60", 6)):
        when = dates(TODAY, effective=EFFECTIVE, decision=decision_period, aid=aid)
        decision = run(flow_id, [(ANNA, MAIN), (BERT, PARTNER)], when, {ANNA: AROUND, BERT: AROUND})
        assert decision.allowed
        assert decision.effects == (
            PlannedIntegration(ANNA, code, planned, "R6.1"),
            PlannedIntegration(BERT, code, planned, "R6.1"),
        )


@pytest.mark.parametrize("flow_id", WET65_WITH_EFFECTS)
@pytest.mark.parametrize(
    ("decision_period", "latest"),
    [
        pytest.param(("2015-06-01", "2016-06-01"), "2016-05-31", id="one-day-past-the-maximum"),
        pytest.param(("2016-02-29", "2017-02-28"), "2017-02-27", id="one-day-past-the-clamped-maximum"),
        pytest.param(("2015-06-01", "2020-01-01"), "2016-05-31", id="years-past-the-maximum"),
    ],
)
def test_a_decision_period_past_the_codes_maximum_refuses_the_whole_form(
    flow_id: str, decision_period: Raw, latest: str
) -> None:
    when = dates(TODAY, effective=EFFECTIVE, decision=decision_period, aid="OTHER_FINANCIAL_AID")
    decision = run(flow_id, HOUSEHOLD, when, HOUSEHOLD_INTEGRATED)
    assert not decision.allowed
    assert decision.effects == ()
    assert reasons(decision.details) == [AccessReason.PERIOD_EXCEEDS_MAXIMUM]
    assert information(decision.details[0]) == {"MaximumEndDate": latest}
    # Every person met the prerequisite: the refusal is the form's, not a person's.
    assert all(pd.allowed for pd in decision.persons)


@pytest.mark.parametrize("flow_id", WET65_WITH_EFFECTS)
def test_a_form_b_refused_for_a_person_plans_no_integration(flow_id: str) -> None:
    when = dates(TODAY, effective=EFFECTIVE, decision=("2015-06-01", None), aid="LIVING_WAGE")
    integrations = {**HOUSEHOLD_INTEGRATED, DIRK: code01(("2015-06-02", "2015-07-31"))}
    decision = run(flow_id, HOUSEHOLD, when, integrations)
    assert_refused_for_persons(decision)
    assert_person_refused(person(decision, DIRK), AccessReason.NOT_INTEGRATED_ON_DAY, ps((EFFECTIVE, EFFECTIVE)))


@pytest.mark.parametrize("flow_id", WET65_WITH_EFFECTS)
@pytest.mark.parametrize("aid", ["BREAD_AND_BUTTER", ""])
def test_a_form_b_with_an_aid_the_effect_has_no_code_for_is_not_applicable(flow_id: str, aid: str) -> None:
    when = dates(TODAY, effective=EFFECTIVE, decision=("2015-06-01", None), aid=aid)
    assert_request_refused(run(flow_id, HOUSEHOLD, when, HOUSEHOLD_INTEGRATED), AccessReason.AID_NOT_APPLICABLE)


@pytest.mark.parametrize("flow_id", ["form.wet65.A", "form.wet65.C"])
@pytest.mark.parametrize(("aid", "code"), AID_TO_CODE)
def test_forms_a_and_c_integrate_nobody_and_c_desintegrates_nobody(flow_id: str, aid: str, code: int) -> None:
    when = dates(TODAY, effective=EFFECTIVE, decision=("2015-06-01", None), aid=aid)
    decision = run(flow_id, HOUSEHOLD, when, HOUSEHOLD_INTEGRATED)
    assert decision.allowed
    assert decision.effects == ()
    assert FLOWS.flows[flow_id].effects == ()


# --- R2.6 request.new: code 01 for [today, today + 29 days], no integration needed -------------------------

NEW_REQUEST = [
    pytest.param("2015-06-10", "2015-07-09", id="mid-year"),
    pytest.param("2015-12-15", "2016-01-13", id="over-the-year-end"),
    pytest.param("2016-02-01", "2016-03-01", id="over-a-leap-february"),
    pytest.param("2015-02-01", "2015-03-02", id="over-a-common-february"),
]


@pytest.mark.parametrize(("today", "last"), NEW_REQUEST)
@pytest.mark.parametrize(
    "integrations",
    [pytest.param({}, id="not-integrated"), pytest.param({ANNA: code01(("2010-01-01", "2010-02-28"))}, id="long-ago")],
)
def test_a_new_request_integrates_its_main_in_code_01_for_thirty_days(
    today: str, last: str, integrations: Integrations
) -> None:
    decision = run("request.new", [(ANNA, MAIN)], dates(today), integrations)
    assert decision.allowed
    pd = person(decision, ANNA)
    assert pd.rule == "R2.6"
    assert pd.satisfied_by == ()
    assert decision.effects == (PlannedIntegration(ANNA, 1, p(today, last), "R2.6"),)
    assert (d(last) - d(today)).days == 29


def test_a_new_request_for_an_invalid_ssin_is_refused_and_plans_nothing() -> None:
    decision = run("request.new", [(INVALID, MAIN)], dates(TODAY))
    assert_refused_for_persons(decision)
    assert reasons(person(decision, INVALID).details) == [AccessReason.INVALID_SSIN]


# --- request-level refusals: unknown flow, institution outside sector 17 -----------------------------------


@pytest.mark.parametrize(
    "flow_id",
    ["consult.unknown", "form.wet65.D", "CONSULT.GENERIC", "consult.generic ", ""],
    ids=["unknown-consultation", "form-d", "upper-case", "trailing-space", "empty"],
)
def test_a_flow_id_not_in_the_catalogue_is_refused_as_unknown(flow_id: str) -> None:
    decision = run(flow_id, [(ANNA, SUBJECT)], EVERYTHING, EVERYONE)
    assert_request_refused(decision, AccessReason.UNKNOWN_FLOW)
    assert information(decision.details[0]) == {"Flow": flow_id}


@pytest.mark.parametrize("sector", [7, 18, 0], ids=["child-benefit", "employment", "sector-0"])
@pytest.mark.parametrize("flow_id", sorted(CONTRACT_FLOW_IDS))
def test_an_institution_outside_sector_17_is_denied_every_flow(flow_id: str, sector: int) -> None:
    persons = [(ANNA, FLOWS.flows[flow_id].roles[0])]
    decision = run(flow_id, persons, EVERYTHING, EVERYONE, sector=sector)
    assert_request_refused(decision, AccessReason.ACCESS_DENIED)
    assert information(decision.details[0]) == {"Sector": str(sector)}


# --- NOT_INTEGRATED: no qualifying integration of this institution at all ----------------------------------

Y2015 = ("2015-01-01", "2015-12-31")
NOT_INTEGRATED = [
    pytest.param("consult.generic", SUBJECT, ps((TODAY, TODAY)), id="consult-generic-misses-today"),
    pytest.param("consult.pension-cadastre", SUBJECT, ps(Y2015), id="pension-cadastre-misses-the-consultation-period"),
    pytest.param(
        "form.living-wage", PARTNER, ps((EFFECTIVE, EFFECTIVE), (TODAY, TODAY)), id="living-wage-misses-both-days"
    ),
    *[
        pytest.param(flow, ADDITIONAL, ps((EFFECTIVE, EFFECTIVE), (TODAY, TODAY)), id=f"{flow}-misses-both-days")
        for flow in WET65
    ],
    pytest.param("form.heating-allowance", MAIN, ps(Y2015), id="heating-misses-the-delivery-year-which-holds-today"),
    pytest.param(
        "attestation.multifunctional", SUBJECT, ps(("2015-06-01", "2015-06-30")), id="attestation-misses-the-validity"
    ),
]


@pytest.mark.parametrize(("flow_id", "role", "missing_days"), NOT_INTEGRATED)
def test_a_person_without_any_qualifying_integration_is_not_integrated_and_misses_every_required_day(
    flow_id: str, role: Role, missing_days: PeriodSet
) -> None:
    persons = [(ANNA, MAIN), (DIRK, role)] if role is not MAIN and role is not SUBJECT else [(DIRK, role)]
    # DIRK is known to this institution only in codes that do not qualify for the flow (02 only where the
    # flow asks for code 01): the same as when only another institution has integrated him.
    wrong = {c: ps(("2014-01-01", "2015-12-31")) for c in (3, 5, 7)}
    if flow_id != "attestation.multifunctional":
        wrong[2] = ps(("2014-01-01", "2015-12-31"))
    integrations = {ANNA: AROUND, DIRK: wrong}
    decision = run(flow_id, persons, EVERYTHING, integrations)
    pd = person(decision, DIRK)
    assert_person_refused(pd, AccessReason.NOT_INTEGRATED, missing_days)
    assert information(pd.details[0])["SSIN"] == DIRK
    assert_refused_for_persons(decision)


def test_a_person_integrated_only_in_code_02_is_not_integrated_for_a_consultation() -> None:
    # decide() sees only the requesting institution's integrations; another institution's code 01 would
    # simply not be passed in, exactly like this code 02 that never qualifies for consult.generic.
    decision = run("consult.generic", [(ANNA, SUBJECT)], dates(TODAY), {ANNA: {2: ps(Y2015)}})
    assert_person_refused(person(decision, ANNA), AccessReason.NOT_INTEGRATED, ps((TODAY, TODAY)))


def test_a_person_with_code_01_outside_the_required_days_is_integrated_but_not_on_the_day() -> None:
    decision = run("consult.generic", [(ANNA, SUBJECT)], dates(TODAY), {ANNA: code01(("2010-01-01", "2010-02-28"))})
    assert_person_refused(person(decision, ANNA), AccessReason.NOT_INTEGRATED_ON_DAY, ps((TODAY, TODAY)))


def test_an_open_ended_consultation_period_without_integration_is_missing_from_its_start_on() -> None:
    when = dates(TODAY, consultation=("2015-01-01", None))
    decision = run("consult.pension-cadastre", [(ANNA, SUBJECT)], when, {})
    assert_person_refused(person(decision, ANNA), AccessReason.NOT_INTEGRATED, (p("2015-01-01"),))


# --- SSINs: invalid ones and repeats are refused per person ------------------------------------------------

INVALID_SSINS = [
    pytest.param(INVALID, id="wrong-check-digits"),
    pytest.param("8507300332", id="ten-digits"),
    pytest.param("850730033280", id="twelve-digits"),
    pytest.param("8507300332X", id="a-letter"),
    pytest.param("85133003370", id="right-check-digits-but-month-13"),
    pytest.param("85023003390", id="right-check-digits-but-february-30"),
]


@pytest.mark.parametrize("ssin", INVALID_SSINS)
def test_an_invalid_ssin_is_refused_for_that_person_while_the_others_are_decided(ssin: str) -> None:
    decision = run("consult.generic", [(ANNA, SUBJECT), (ssin, SUBJECT)], dates(TODAY), {ANNA: AROUND, ssin: AROUND})
    assert_person_allowed(person(decision, ANNA), AROUND[1])
    bad = person(decision, ssin)
    assert_person_refused(bad, AccessReason.INVALID_SSIN, ())
    assert information(bad.details[0]) == {"SSIN": ssin}
    assert_refused_for_persons(decision)


def test_an_invalid_partner_refuses_the_form_but_the_main_is_still_decided() -> None:
    persons = [(ANNA, MAIN), (INVALID, PARTNER)]
    decision = run("form.living-wage", persons, FORM_DATES, {ANNA: AROUND, INVALID: AROUND})
    assert person(decision, ANNA).allowed
    assert reasons(person(decision, INVALID).details) == [AccessReason.INVALID_SSIN]
    assert_refused_for_persons(decision)


DUPLICATES = [
    pytest.param("consult.generic", [(ANNA, SUBJECT), (ANNA, SUBJECT)], id="the-same-subject-twice"),
    pytest.param("form.living-wage", [(ANNA, MAIN), (ANNA, PARTNER)], id="the-main-again-as-partner"),
    pytest.param(
        "form.wet65.A", [(ANNA, MAIN), (BERT, PARTNER), (BERT, ADDITIONAL)], id="the-partner-again-as-additional"
    ),
]


@pytest.mark.parametrize(("flow_id", "persons"), DUPLICATES)
def test_an_ssin_named_twice_is_refused_on_its_repeat(flow_id: str, persons: list[tuple[str, Role]]) -> None:
    decision = run(flow_id, persons, FORM_DATES, {ANNA: AROUND, BERT: AROUND})
    assert [pd.ssin for pd in decision.persons] == [ssin for ssin, _ in persons]
    first, repeat = decision.persons[-2], decision.persons[-1]
    assert first.allowed
    assert not repeat.allowed
    assert reasons(repeat.details) == [AccessReason.DUPLICATE_PERSON]
    assert_refused_for_persons(decision)


# --- the flow catalogue loader --------------------------------------------------------------------------------


def custom_catalogue() -> dict[str, Any]:
    return {
        "sector": 17,
        "flows": [
            {
                "id": "consult.debt",
                "rule": "LOCAL.1",
                "roles": ["SUBJECT"],
                "codes": [7, 8],
                "tests": [{"kind": "on_day", "date": "today"}],
            },
            {
                "id": "form.guidance",
                "rule": "LOCAL.2",
                "form": True,
                "roles": ["MAIN", "PARTNER"],
                "checked": ["MAIN"],
                "codes": [9],
                "tests": [{"kind": "covers", "period": "ConsultationPeriod"}],
                "effects": [{"rule": "LOCAL.3", "roles": ["MAIN", "PARTNER"], "code": 5, "period": "DecisionPeriod"}],
            },
        ],
    }


@pytest.mark.parametrize("as_path", [True, False], ids=["path", "string"])
def test_a_custom_catalogue_is_loaded_from_a_file(tmp_path: Path, as_path: bool) -> None:
    file = tmp_path / "flows.json"
    file.write_text(json.dumps(custom_catalogue()), encoding="utf-8")
    flows = load_flow_catalogue(file if as_path else str(file))
    assert set(flows.flows) == {"consult.debt", "form.guidance"}
    debt = flows.flows["consult.debt"]
    assert debt.checked == (SUBJECT,)
    assert debt.codes == (7, 8)


def test_a_custom_catalogue_decides_by_its_own_codes_tests_and_effects(tmp_path: Path) -> None:
    file = tmp_path / "flows.json"
    file.write_text(json.dumps(custom_catalogue()), encoding="utf-8")
    flows = load_flow_catalogue(file)
    debt = run("consult.debt", [(ANNA, SUBJECT)], dates(TODAY), {ANNA: {8: ps(Y2015)}}, flows=flows)
    assert debt.allowed
    assert person(debt, ANNA).rule == "LOCAL.1"
    assert not run("consult.debt", [(ANNA, SUBJECT)], dates(TODAY), {ANNA: AROUND}, flows=flows).allowed
    generic = run("consult.generic", [(ANNA, SUBJECT)], dates(TODAY), {}, flows=flows)
    assert_request_refused(generic, AccessReason.UNKNOWN_FLOW)

    when = dates(TODAY, consultation=("2015-01-01", "2015-06-30"), decision=("2015-07-01", None))
    # The partner is not checked (not in "checked"); the main needs code 09 over the whole period.
    guidance = run("form.guidance", [(ANNA, MAIN), (BERT, PARTNER)], when, {ANNA: {9: ps(Y2015)}}, flows=flows)
    assert guidance.allowed
    assert person(guidance, BERT).allowed
    assert guidance.effects == (
        PlannedIntegration(ANNA, 5, p("2015-07-01", "2016-06-30"), "LOCAL.3"),
        PlannedIntegration(BERT, 5, p("2015-07-01", "2016-06-30"), "LOCAL.3"),
    )


def test_a_custom_catalogue_of_another_sector_admits_that_sector_only(tmp_path: Path) -> None:
    file = tmp_path / "flows.json"
    file.write_text(json.dumps({**custom_catalogue(), "sector": 7}), encoding="utf-8")
    flows = load_flow_catalogue(file)
    integrations = {ANNA: {8: ps(Y2015)}}
    assert run("consult.debt", [(ANNA, SUBJECT)], dates(TODAY), integrations, sector=7, flows=flows).allowed
    refused = run("consult.debt", [(ANNA, SUBJECT)], dates(TODAY), integrations, sector=17, flows=flows)
    assert_request_refused(refused, AccessReason.ACCESS_DENIED)


def _break(change: str) -> dict[str, Any]:
    data = custom_catalogue()
    debt, guidance = data["flows"]
    effect = guidance["effects"][0]
    if change == "unknown-test-kind":
        debt["tests"] = [{"kind": "during", "date": "today"}]
    elif change == "unknown-date-name":
        debt["tests"] = [{"kind": "on_day", "date": "Yesterday"}]
    elif change == "on-day-of-a-period-name":
        debt["tests"] = [{"kind": "on_day", "date": "ConsultationPeriod"}]
    elif change == "unknown-period-name":
        debt["tests"] = [{"kind": "overlap", "period": "HeatingSeason"}]
    elif change == "covers-of-a-date-name":
        debt["tests"] = [{"kind": "covers", "period": "today"}]
    elif change == "effect-with-code-and-codes-by-aid":
        effect["codes_by_aid"] = {"LIVING_WAGE": 2}
    elif change == "effect-without-code":
        del effect["code"]
    elif change == "effect-with-unknown-period":
        effect["period"] = "Forever"
    elif change == "duplicate-flow-id":
        guidance["id"] = "consult.debt"
    elif change == "unknown-role":
        debt["roles"] = ["BENEFICIARY"]
    elif change == "flow-without-id":
        del debt["id"]
    elif change == "no-flows":
        del data["flows"]
    elif change == "flow-that-is-not-an-object":
        data["flows"].append("consult.generic")
    elif change == "provider-that-is-not-an-object":
        debt["provider"] = "http://provider.example/soap"
    elif change == "codes-by-aid-that-is-a-list":
        debt["codes_by_aid"] = [2, 3]
    elif change == "code-that-is-not-a-number":
        debt["codes"] = ["one"]
    else:
        raise AssertionError(change)
    return data


MALFORMED = [
    "unknown-test-kind",
    "unknown-date-name",
    "on-day-of-a-period-name",
    "unknown-period-name",
    "covers-of-a-date-name",
    "effect-with-code-and-codes-by-aid",
    "effect-without-code",
    "effect-with-unknown-period",
    "duplicate-flow-id",
    "unknown-role",
    "flow-without-id",
    "no-flows",
    "flow-that-is-not-an-object",
    "provider-that-is-not-an-object",
    "codes-by-aid-that-is-a-list",
    "code-that-is-not-a-number",
]


@pytest.mark.parametrize("change", MALFORMED)
def test_a_malformed_catalogue_file_raises_a_catalogue_error(tmp_path: Path, change: str) -> None:
    file = tmp_path / "flows.json"
    file.write_text(json.dumps(_break(change)), encoding="utf-8")
    with pytest.raises(CatalogueError, match="malformed flow catalogue"):
        load_flow_catalogue(file)


def test_a_catalogue_file_that_is_not_json_raises_a_catalogue_error(tmp_path: Path) -> None:
    file = tmp_path / "flows.json"
    file.write_text('{"flows": [', encoding="utf-8")
    with pytest.raises(CatalogueError, match="malformed flow catalogue"):
        load_flow_catalogue(file)


def test_the_duplicate_flow_error_names_the_flow(tmp_path: Path) -> None:
    file = tmp_path / "flows.json"
    file.write_text(json.dumps(_break("duplicate-flow-id")), encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"consult\.debt"):
        load_flow_catalogue(file)


@pytest.mark.parametrize("year", [0, -1, 10000])
def test_a_delivery_year_that_is_no_calendar_year_refuses_the_request_as_a_whole(year: int) -> None:
    decision = run(
        "form.heating-allowance",
        [(ANNA, MAIN)],
        dates(HEATING_TODAY, year=year),
        {ANNA: code01((HEATING_TODAY, HEATING_TODAY))},
    )
    assert_request_refused(decision, AccessReason.INVALID_FLOW_DATE)


def test_an_aid_is_checked_against_the_codes_of_every_effect_of_a_custom_flow() -> None:
    custom = FlowCatalogue.from_dict(
        {
            "flows": [
                {
                    "id": "form.custom",
                    "roles": ["MAIN"],
                    "checked": [],
                    "form": True,
                    "effects": [
                        {"roles": ["MAIN"], "codes_by_aid": {"LIVING_WAGE": 2}, "period": "DecisionPeriod"},
                        {"roles": ["MAIN"], "codes_by_aid": {"EMPLOYMENT_ART60": 6}, "period": "DecisionPeriod"},
                    ],
                }
            ]
        }
    )
    when = dates(TODAY, decision=("2015-06-01", "2015-11-30"), aid="OTHER_FINANCIAL_AID")
    assert_request_refused(run("form.custom", [(ANNA, MAIN)], when, flows=custom), AccessReason.AID_NOT_APPLICABLE)

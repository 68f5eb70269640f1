"""Properties of the access-control decision, checked against a naive day-by-day model of RULES.md section 5.

The model knows each default flow's prerequisite from the contract's table (written out below, not read from
the catalogue) and works on Python sets of day ordinals. Days are drawn within 2015-01-01 .. 2016-12-31; an
open end stands for every day up to HORIZON, later than any drawn day, the same way for integrations, windows
and the decision's MissingDays.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from gateway.domain.access import (
    AccessDecision,
    AccessReason,
    FlowDates,
    FlowPerson,
    PersonDecision,
    Role,
    decide,
    load_flow_catalogue,
)
from gateway.domain.catalogue import OCMW_SECTOR, load_catalogue
from gateway.domain.periods import Period, PeriodSet, add_months, normalize

FLOWS = load_flow_catalogue()
CATALOGUE = load_catalogue()

FIRST = date(2015, 1, 1)
LAST = date(2016, 12, 31)
HORIZON = date(2018, 12, 31)

# A fifth of the profile's examples for each of the 10 flows with a prerequisite: twice as many as another test, in all.
PER_FLOW = settings(max_examples=max(10, settings.default.max_examples // 5))

SSINS = ("85073003328", "06011512374", "00022900145")

# The contract's default catalogue as the model reads it: the date tests and the qualifying codes.
MODEL_TESTS: dict[str, tuple[tuple[str, str], ...]] = {
    "consult.generic": (("on_day", "today"),),
    "consult.pension-cadastre": (("overlap", "ConsultationPeriod"),),
    "form.living-wage": (("on_day", "today"), ("on_day", "EffectiveDate")),
    **{
        f"form.wet65.{form}": (("on_day", "today"), ("on_day", "EffectiveDate")) for form in ("A", "B", "B1", "B2", "C")
    },
    "form.heating-allowance": (("on_day", "today"), ("overlap", "DeliveryYear")),
    "attestation.multifunctional": (("covers", "ValidityPeriod"),),
}
ATTESTATION_CODES = {"LIVING_WAGE": 2, "EQUIVALENT_LIVING_WAGE": 3}
EFFECT_CODES = {"LIVING_WAGE": 2, "EQUIVALENT_LIVING_WAGE": 3, "OTHER_FINANCIAL_AID": 4, "EMPLOYMENT_ART60": 6}
FAILURE = {
    "on_day": AccessReason.NOT_INTEGRATED_ON_DAY,
    "overlap": AccessReason.NO_DAY_IN_COMMON,
    "covers": AccessReason.PERIOD_NOT_COVERED,
}
# Codes that never qualify for any default flow, to add as noise (02 and 03 are added where they do not count).
OTHER_CODES = (4, 5, 6, 7, 8, 9, 30, 31, 40)


def qualifying(flow_id: str, aid: str) -> tuple[int, ...]:
    return (ATTESTATION_CODES[aid],) if flow_id == "attestation.multifunctional" else (1,)


def model(items: Iterable[Period]) -> set[int]:
    out: set[int] = set()
    for p in items:
        last = HORIZON if p.end is None else p.end
        assert last <= HORIZON
        out.update(range(p.start.toordinal(), last.toordinal() + 1))
    return out


# --- drawing requests -------------------------------------------------------------------------------------


def day_near(draw: st.DrawFn, anchors: list[date], before: int, after: int) -> date:
    anchor = draw(st.sampled_from(anchors))
    day = anchor + timedelta(days=draw(st.integers(-before, after)))
    return min(max(day, FIRST), LAST)


def window(draw: st.DrawFn, anchors: list[date]) -> tuple[date, date | None]:
    start = day_near(draw, anchors, 60, 60)
    if draw(st.integers(0, 5)) == 0:
        return start, None
    return start, min(start + timedelta(days=draw(st.integers(0, 200))), LAST)


def period_set(draw: st.DrawFn, anchors: list[date]) -> PeriodSet:
    """A stored set of one code: normalized, mostly short bounded periods near the request's dates."""
    items = []
    for _ in range(draw(st.integers(0, 4))):
        shape = draw(st.integers(0, 9))
        if shape == 0:  # open-ended
            items.append(Period(day_near(draw, anchors, 90, 30), None))
        elif shape <= 2:  # over all the request's days, ending or starting on one of them when the offset is 0
            low, high = min(max(min(anchors), FIRST), LAST), min(max(anchors), LAST)
            start = max(low - timedelta(days=draw(st.integers(0, 10))), FIRST)
            items.append(Period(start, max(start, min(high + timedelta(days=draw(st.integers(0, 10))), LAST))))
        elif shape <= 5:  # around one of the request's days, often wide enough to cover a window
            anchor = min(max(draw(st.sampled_from(anchors)), FIRST), LAST)
            start = max(anchor - timedelta(days=draw(st.integers(0, 90))), FIRST)
            items.append(Period(start, min(anchor + timedelta(days=draw(st.integers(0, 250))), LAST)))
        else:  # short, anywhere near
            start = day_near(draw, anchors, 90, 30)
            items.append(Period(start, min(start + timedelta(days=draw(st.integers(0, 60))), LAST)))
    return normalize(items)


@dataclass(frozen=True)
class Scenario:
    flow_id: str
    persons: tuple[FlowPerson, ...]
    dates: FlowDates
    integrations: Mapping[str, Mapping[int, PeriodSet]]
    noise: Mapping[str, Mapping[int, PeriodSet]]  # integrations in codes that do not qualify for this request

    def decide(self, integrations: Mapping[str, Mapping[int, PeriodSet]] | None = None) -> AccessDecision:
        return decide(
            FLOWS,
            CATALOGUE,
            OCMW_SECTOR,
            self.flow_id,
            self.persons,
            self.dates,
            self.integrations if integrations is None else integrations,
        )

    def with_noise(self) -> dict[str, dict[int, PeriodSet]]:
        out: dict[str, dict[int, PeriodSet]] = {}
        for ssin in {*self.integrations, *self.noise}:
            out[ssin] = {**self.noise.get(ssin, {}), **self.integrations.get(ssin, {})}
        return out


@st.composite
def scenarios(draw: st.DrawFn, flow_ids: tuple[str, ...] = tuple(sorted(MODEL_TESTS))) -> Scenario:
    flow_id = draw(st.sampled_from(flow_ids))
    days = st.integers(FIRST.toordinal(), LAST.toordinal()).map(date.fromordinal)
    today = draw(days)
    effective = day_near(draw, [today], 60, 30)
    year = draw(st.integers(2015, 2016))
    consultation = window(draw, [today])
    validity = window(draw, [today])
    if flow_id == "attestation.multifunctional":
        aid = draw(st.sampled_from(sorted(ATTESTATION_CODES)))
    else:
        aid = draw(st.sampled_from(sorted(EFFECT_CODES)))
    decision_period = (day_near(draw, [today], 30, 30), None)  # never past the maximum: one year from its start
    when = FlowDates(
        today=today,
        consultation_period=consultation,
        effective_date=effective,
        validity_period=validity,
        decision_period=decision_period,
        delivery_year=year,
        aid=aid,
    )

    if flow_id.startswith(("consult.", "attestation.")):
        roles = [Role.SUBJECT] * draw(st.integers(1, 2))
    else:
        roles = [Role.MAIN]
        if draw(st.booleans()):
            roles.append(Role.PARTNER)
        if flow_id.startswith("form.wet65.") and draw(st.booleans()):
            roles.append(Role.ADDITIONAL)
    persons = tuple(FlowPerson(ssin, role) for ssin, role in zip(SSINS, roles, strict=False))

    anchors = [today, effective, date(year, 1, 1), date(year, 12, 31), consultation[0], validity[0]]
    anchors += [end for _, end in (consultation, validity) if end is not None]
    codes = qualifying(flow_id, aid)
    noise_codes = [c for c in (1, 2, 3, *OTHER_CODES) if c not in codes]
    integrations: dict[str, dict[int, PeriodSet]] = {}
    noise: dict[str, dict[int, PeriodSet]] = {}
    for person in persons:
        integrations[person.ssin] = {c: period_set(draw, anchors) for c in codes}
        extra = draw(st.lists(st.sampled_from(noise_codes), max_size=3, unique=True))
        noise[person.ssin] = {c: period_set(draw, anchors) or (Period(FIRST, LAST),) for c in extra}
    return Scenario(flow_id, persons, when, integrations, noise)


# --- the model --------------------------------------------------------------------------------------------


def required(dates: FlowDates, name: str) -> set[int]:
    """The days a date test looks at, as the model sees them."""
    if name == "today":
        return {dates.today.toordinal()}
    if name == "EffectiveDate":
        assert dates.effective_date is not None
        return {dates.effective_date.toordinal()}
    if name == "DeliveryYear":
        assert dates.delivery_year is not None
        return model([Period(date(dates.delivery_year, 1, 1), date(dates.delivery_year, 12, 31))])
    raw = dates.consultation_period if name == "ConsultationPeriod" else dates.validity_period
    assert raw is not None
    return model([Period(*raw)])


@dataclass(frozen=True)
class Expected:
    allowed: bool
    reasons: frozenset[str]
    missing: set[int]


def expect(flow_id: str, dates: FlowDates, own: Mapping[int, PeriodSet]) -> Expected:
    """One person's outcome by the model: each test on sets of days, in the qualifying codes only."""
    covered = model(p for c in qualifying(flow_id, dates.aid or "") for p in own.get(c, ()))
    missing: set[int] = set()
    reasons: set[str] = set()
    for kind, name in MODEL_TESTS[flow_id]:
        days = required(dates, name)
        # on_day and covers: the required days not covered; overlap: all of them unless one is covered.
        lacking = (set() if days & covered else days) if kind == "overlap" else days - covered
        if lacking:
            missing |= lacking
            reasons.add(FAILURE[kind])
    if not covered:
        reasons = {AccessReason.NOT_INTEGRATED}
    return Expected(not missing, frozenset(reasons), missing)


def by_ssin(decision: AccessDecision) -> dict[str, PersonDecision]:
    return {pd.ssin: pd for pd in decision.persons}


# --- the properties ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("flow_id", sorted(MODEL_TESTS))
@PER_FLOW
@given(data=st.data())
def test_a_request_is_allowed_exactly_when_every_person_passes_every_test_of_the_model(
    flow_id: str, data: st.DataObject
) -> None:
    s = data.draw(scenarios((flow_id,)), label="scenario")
    decision = s.decide()
    expected = {p.ssin: expect(s.flow_id, s.dates, s.integrations[p.ssin]) for p in s.persons}
    event(f"{s.flow_id}: {'allowed' if decision.allowed else 'refused'}")
    assert [(pd.ssin, pd.role) for pd in decision.persons] == [(p.ssin, p.role) for p in s.persons]
    for ssin, pd in by_ssin(decision).items():
        assert pd.allowed is expected[ssin].allowed, (ssin, pd)
        assert frozenset(d.reason for d in pd.details) == expected[ssin].reasons
    assert decision.allowed is all(e.allowed for e in expected.values())
    if decision.allowed:
        assert decision.details == ()
    else:
        assert [d.reason for d in decision.details] == [AccessReason.ACCESS_DENIED]
        assert decision.effects == ()


@pytest.mark.parametrize("flow_id", sorted(MODEL_TESTS))
@PER_FLOW
@given(data=st.data())
def test_missing_days_are_exactly_the_required_days_not_covered(flow_id: str, data: st.DataObject) -> None:
    """on_day: the day itself; overlap: the whole window when there is no day in common; covers: the gaps."""
    s = data.draw(scenarios((flow_id,)), label="scenario")
    for ssin, pd in by_ssin(s.decide()).items():
        expected = expect(s.flow_id, s.dates, s.integrations[ssin])
        assert normalize(pd.missing_days) == pd.missing_days
        assert model(pd.missing_days) == expected.missing
        if pd.allowed:
            assert pd.missing_days == ()


@pytest.mark.parametrize("flow_id", sorted(MODEL_TESTS))
@PER_FLOW
@given(data=st.data())
def test_satisfied_by_periods_are_qualifying_integrations_that_meet_the_required_days(
    flow_id: str, data: st.DataObject
) -> None:
    s = data.draw(scenarios((flow_id,)), label="scenario")
    codes = qualifying(s.flow_id, s.dates.aid or "")
    for ssin, pd in by_ssin(s.decide()).items():
        if not pd.allowed:
            assert pd.satisfied_by == ()
            continue
        stored = [p for c in codes for p in s.integrations[ssin].get(c, ())]
        windows = [(kind, required(s.dates, name)) for kind, name in MODEL_TESTS[s.flow_id]]
        assert len(set(pd.satisfied_by)) == len(pd.satisfied_by), "no period is listed twice"
        for p in pd.satisfied_by:
            assert p in stored, f"{p} is not one of the person's qualifying integrations"
            assert any(model([p]) & days for _, days in windows), f"{p} meets none of the required days"
        shown = model(pd.satisfied_by)
        for kind, days in windows:
            if kind == "covers":
                assert days <= shown
            else:
                assert days & shown
        if all(kind != "covers" for kind, _ in windows):
            assert len(pd.satisfied_by) <= len(windows), "one period per required day or period at most"


@given(scenarios())
def test_integrations_in_codes_that_do_not_qualify_never_change_the_decision(s: Scenario) -> None:
    assert s.decide(s.with_noise()) == s.decide()


@given(scenarios())
def test_an_allowed_form_b_plans_each_person_in_the_aids_code_for_a_year_and_nothing_else_plans(
    s: Scenario,
) -> None:
    decision = s.decide()
    if s.flow_id in ("form.wet65.B", "form.wet65.B1", "form.wet65.B2") and decision.allowed:
        assert s.dates.decision_period is not None and s.dates.aid is not None
        start = s.dates.decision_period[0]
        period = Period(start, add_months(start, 12) - timedelta(days=1))
        assert [(e.ssin, e.code, e.period) for e in decision.effects] == [
            (p.ssin, EFFECT_CODES[s.dates.aid], period) for p in s.persons
        ]
    else:
        assert decision.effects == ()

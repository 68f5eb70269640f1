"""The reference directory's operations: integrate (R2), desintegrate (R3), consult (R4), the summary rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import pytest

from gateway.domain.catalogue import DEFAULT_CATALOGUE_FILE, DEMO_CATALOGUE_FILE, OCMW_SECTOR, load_catalogue
from gateway.domain.directory import (
    Attestation,
    Detail,
    DirectoryRequest,
    Institution,
    Integration,
    Ok,
    PersonOutcome,
    Reason,
    Severity,
    Status,
    Summary,
    consult,
    desintegrate,
    integrate,
    new_request_period,
    persons_to_read,
    resolve_integration_period,
    summarize,
)
from gateway.domain.periods import Period, PeriodSet

CATALOGUE = load_catalogue()
DEMO_CATALOGUE = load_catalogue([DEFAULT_CATALOGUE_FILE, DEMO_CATALOGUE_FILE])

# Valid SSINs (check digits: see test_ssin.py) and one with wrong check digits.
ANNA = "85073003328"
BERT = "06011512374"
CLEO = "00022900145"
INVALID = "85073003329"


def d(text: str) -> date:
    return date.fromisoformat(text)


def p(start: str, end: str | None = None) -> Period:
    return Period(d(start), d(end) if end else None)


def ps(*pairs: tuple[str, str | None]) -> PeriodSet:
    return tuple(p(s, e) for s, e in pairs)


def request(code: int, start: str, end: str | None, *ssins: str) -> DirectoryRequest:
    return DirectoryRequest(code=code, start=d(start), end=d(end) if end else None, ssins=ssins)


def do_integrate(
    code: int, start: str, end: str | None, *ssins: str, current: Mapping[str, PeriodSet] | None = None
) -> tuple[PersonOutcome, ...]:
    return integrate(CATALOGUE, OCMW_SECTOR, request(code, start, end, *ssins), current or {})


def do_desintegrate(
    code: int,
    start: str,
    end: str | None,
    *ssins: str,
    current: Mapping[str, PeriodSet] | None = None,
    attestations: Mapping[str, Sequence[Attestation]] | None = None,
) -> tuple[PersonOutcome, ...]:
    return desintegrate(CATALOGUE, OCMW_SECTOR, request(code, start, end, *ssins), current or {}, attestations)


def only(outcomes: tuple[PersonOutcome, ...]) -> PersonOutcome:
    assert len(outcomes) == 1
    return outcomes[0]


def reasons(outcome: PersonOutcome) -> list[str]:
    return [detail.reason for detail in outcome.details]


def information(detail: Detail) -> dict[str, str]:
    return dict(detail.information)


# --- R2.2 no end date: the code's maximum period ---------------------------------------------------------

NO_END = [
    pytest.param(1, "2014-12-01", "2015-01-31", id="01-manual-example"),
    pytest.param(2, "2015-03-01", "2016-02-29", id="02-one-year"),
    pytest.param(9, "2015-01-01", "2019-12-31", id="09-five-years"),
    pytest.param(31, "2015-01-31", "2015-02-27", id="31-one-month-clamped"),
    pytest.param(40, "2015-03-10", "2015-12-31", id="40-calendar-year"),
]


@pytest.mark.parametrize(("code", "start", "end"), NO_END)
def test_integrating_without_an_end_date_runs_for_the_codes_maximum_period(code: int, start: str, end: str) -> None:
    outcome = only(do_integrate(code, start, None, ANNA))
    assert outcome.status is Status.INTEGRATED
    assert outcome.details == ()
    assert outcome.periods == ps((start, end))
    assert outcome.changed is True
    assert outcome.succeeded


@pytest.mark.parametrize(("code", "start", "end"), NO_END)
def test_integrating_up_to_exactly_the_maximum_end_is_allowed(code: int, start: str, end: str) -> None:
    outcome = only(do_integrate(code, start, end, ANNA))
    assert outcome.status is Status.INTEGRATED
    assert outcome.periods == ps((start, end))


def test_integrating_a_shorter_period_keeps_the_requested_end() -> None:
    outcome = only(do_integrate(1, "2015-01-01", "2015-01-10", ANNA))
    assert outcome.periods == ps(("2015-01-01", "2015-01-10"))


def test_integrating_a_single_day_is_allowed() -> None:
    outcome = only(do_integrate(1, "2015-01-01", "2015-01-01", ANNA))
    assert outcome.status is Status.INTEGRATED
    assert outcome.periods == ps(("2015-01-01", "2015-01-01"))


# --- R2.3 refusals: end before start, end past the maximum ---------------------------------------------


def test_an_end_before_the_start_is_refused_for_every_person() -> None:
    current = {ANNA: ps(("2015-01-01", "2015-01-10"))}
    outcomes = do_integrate(1, "2015-02-01", "2015-01-31", ANNA, BERT, current=current)
    assert [o.status for o in outcomes] == [Status.REFUSED, Status.REFUSED]
    for outcome in outcomes:
        assert reasons(outcome) == [Reason.END_BEFORE_START]
        assert outcome.details[0].severity is Severity.ERROR
        assert outcome.changed is False
    assert outcomes[0].periods == current[ANNA]
    assert outcomes[1].periods == ()


EXCEEDING = [
    pytest.param(1, "2014-12-01", "2015-02-01", "2015-01-31", id="01-one-day-too-long"),
    pytest.param(2, "2015-01-01", "2016-01-01", "2015-12-31", id="02"),
    pytest.param(9, "2015-01-01", "2020-01-01", "2019-12-31", id="09"),
    pytest.param(31, "2015-01-31", "2015-02-28", "2015-02-27", id="31-clamped"),
    pytest.param(40, "2015-03-10", "2016-01-01", "2015-12-31", id="40-next-year"),
]


@pytest.mark.parametrize(("code", "start", "end", "latest"), EXCEEDING)
def test_an_end_past_the_maximum_is_refused_naming_the_latest_allowed_end(
    code: int, start: str, end: str, latest: str
) -> None:
    outcome = only(do_integrate(code, start, end, ANNA))
    assert outcome.status is Status.REFUSED
    assert reasons(outcome) == [Reason.PERIOD_EXCEEDS_MAXIMUM]
    detail = outcome.details[0]
    assert detail.severity is Severity.ERROR
    assert information(detail) == {"MaximumEndDate": latest}
    assert latest in detail.diagnostic


def test_a_period_past_the_maximum_is_never_shortened_silently() -> None:
    current = {ANNA: ps(("2014-01-01", "2014-01-31"))}
    outcome = only(do_integrate(1, "2014-12-01", "2015-06-30", ANNA, current=current))
    assert outcome.status is Status.REFUSED
    assert outcome.periods == current[ANNA]
    assert outcome.changed is False


def test_resolving_an_integration_period_gives_the_period_or_the_refusal() -> None:
    assert resolve_integration_period(CATALOGUE, OCMW_SECTOR, 1, d("2014-12-01"), None) == p("2014-12-01", "2015-01-31")
    refusal = resolve_integration_period(CATALOGUE, OCMW_SECTOR, 1, d("2014-12-01"), d("2015-02-01"))
    assert isinstance(refusal, Detail)
    assert refusal.reason == Reason.PERIOD_EXCEEDS_MAXIMUM


# --- R2.4 one result per person -------------------------------------------------------------------------


def test_an_invalid_ssin_does_not_refuse_the_other_persons() -> None:
    outcomes = do_integrate(1, "2015-01-01", None, ANNA, INVALID, BERT)
    assert [o.ssin for o in outcomes] == [ANNA, INVALID, BERT]
    assert [o.status for o in outcomes] == [Status.INTEGRATED, Status.REFUSED, Status.INTEGRATED]
    refused = outcomes[1]
    assert reasons(refused) == [Reason.INVALID_SSIN]
    assert INVALID in refused.details[0].diagnostic
    assert information(refused.details[0]) == {"SSIN": INVALID}
    assert refused.periods is None
    assert refused.changed is False
    assert outcomes[0].periods == outcomes[2].periods == ps(("2015-01-01", "2015-02-28"))


def test_an_invalid_ssin_in_a_refused_request_carries_both_reasons() -> None:
    outcomes = do_integrate(1, "2015-01-01", "2015-12-31", INVALID, ANNA)
    assert reasons(outcomes[0]) == [Reason.INVALID_SSIN, Reason.PERIOD_EXCEEDS_MAXIMUM]
    assert reasons(outcomes[1]) == [Reason.PERIOD_EXCEEDS_MAXIMUM]


def test_each_person_starts_from_their_own_current_periods() -> None:
    current = {ANNA: ps(("2015-01-01", "2015-01-31")), BERT: ps(("2015-03-01", "2015-03-10"))}
    outcomes = do_integrate(1, "2015-02-01", "2015-02-28", ANNA, BERT, CLEO, current=current)
    assert outcomes[0].periods == ps(("2015-01-01", "2015-02-28"))
    assert outcomes[1].periods == ps(("2015-02-01", "2015-03-10"))
    assert outcomes[2].periods == ps(("2015-02-01", "2015-02-28"))


def test_persons_to_read_are_the_distinct_valid_ssins_in_request_order() -> None:
    assert persons_to_read([BERT, INVALID, ANNA, BERT, "x"]) == (BERT, ANNA)


# --- R2.5 merging and already covered -------------------------------------------------------------------

MERGES = [
    pytest.param(
        (("2015-01-01", "2015-01-20"),), ("2015-01-10", "2015-02-10"), (("2015-01-01", "2015-02-10"),), id="overlap"
    ),
    pytest.param(
        (("2015-01-01", "2015-01-31"),), ("2015-02-01", "2015-02-10"), (("2015-01-01", "2015-02-10"),), id="adjacent"
    ),
    pytest.param(
        (("2015-02-01", "2015-02-10"),),
        ("2015-01-01", "2015-01-31"),
        (("2015-01-01", "2015-02-10"),),
        id="adjacent-before",
    ),
    pytest.param(
        (("2015-01-01", "2015-01-10"), ("2015-01-20", "2015-01-31")),
        ("2015-01-11", "2015-01-19"),
        (("2015-01-01", "2015-01-31"),),
        id="fills-a-gap",
    ),
    pytest.param(
        (("2015-01-10", "2015-01-15"),),
        ("2015-01-01", "2015-01-31"),
        (("2015-01-01", "2015-01-31"),),
        id="swallows-an-existing-period",
    ),
    pytest.param(
        (("2015-01-01", "2015-01-10"),),
        ("2015-01-12", "2015-01-20"),
        (("2015-01-01", "2015-01-10"), ("2015-01-12", "2015-01-20")),
        id="one-day-apart-stays-separate",
    ),
]


@pytest.mark.parametrize(("existing", "new", "expected"), MERGES)
def test_a_new_period_that_overlaps_or_touches_an_existing_one_merges_with_it(
    existing: tuple[tuple[str, str], ...], new: tuple[str, str], expected: tuple[tuple[str, str], ...]
) -> None:
    outcome = only(do_integrate(1, *new, ANNA, current={ANNA: ps(*existing)}))
    assert outcome.status is Status.INTEGRATED
    assert outcome.periods == ps(*expected)
    assert outcome.changed is True


ALREADY = [
    pytest.param((("2015-01-01", "2015-01-31"),), ("2015-01-01", "2015-01-31"), id="same"),
    pytest.param((("2015-01-01", "2015-01-31"),), ("2015-01-10", "2015-01-20"), id="inside"),
    pytest.param(
        (("2015-01-01", "2015-01-15"), ("2015-01-16", "2015-01-31")), ("2015-01-10", "2015-01-20"), id="across-pieces"
    ),
]


@pytest.mark.parametrize(("existing", "new"), ALREADY)
def test_integrating_a_period_already_covered_changes_nothing_and_says_so(
    existing: tuple[tuple[str, str], ...], new: tuple[str, str]
) -> None:
    outcome = only(do_integrate(1, *new, ANNA, current={ANNA: ps(*existing)}))
    assert outcome.status is Status.ALREADY_INTEGRATED
    assert reasons(outcome) == [Reason.ALREADY_INTEGRATED]
    assert outcome.details[0].severity is Severity.INFORMATION
    assert outcome.changed is False
    assert outcome.periods == ps(("2015-01-01", "2015-01-31"))
    assert outcome.succeeded
    assert not outcome.warned


def test_a_period_covered_only_in_part_is_integrated_not_already_integrated() -> None:
    outcome = only(do_integrate(1, "2015-01-20", "2015-02-05", ANNA, current={ANNA: ps(("2015-01-01", "2015-01-31"))}))
    assert outcome.status is Status.INTEGRATED
    assert outcome.periods == ps(("2015-01-01", "2015-02-05"))


def test_a_prolongation_merges_into_a_period_longer_than_the_maximum() -> None:
    current = {ANNA: ps(("2014-12-01", "2015-01-31"))}
    outcome = only(do_integrate(1, "2015-02-01", None, ANNA, current=current))
    assert outcome.status is Status.INTEGRATED
    assert outcome.periods == ps(("2014-12-01", "2015-03-31"))
    period = outcome.periods[0]
    assert period.days() is not None and period.days() > 62


def test_a_new_request_integrates_for_thirty_days_from_today() -> None:
    period = new_request_period(d("2015-01-10"))
    assert period == p("2015-01-10", "2015-02-08")
    assert period.days() == 30


def test_a_new_request_period_fits_within_the_maximum_of_code_01() -> None:
    period = new_request_period(d("2015-01-31"))
    assert period.end is not None
    outcome = only(do_integrate(1, "2015-01-31", period.end.isoformat(), ANNA))
    assert outcome.status is Status.INTEGRATED
    assert outcome.periods == (period,)


# --- R1.4 and unknown codes -----------------------------------------------------------------------------


@pytest.mark.parametrize("code", [11, 12])
def test_codes_11_and_12_cannot_be_integrated_by_request(code: int) -> None:
    outcomes = do_integrate(code, "2015-01-01", "2015-01-31", ANNA, BERT)
    for outcome in outcomes:
        assert outcome.status is Status.REFUSED
        assert reasons(outcome) == [Reason.MANUAL_INTEGRATION_NOT_ALLOWED]
        assert outcome.changed is False


@pytest.mark.parametrize("code", [11, 12])
def test_codes_11_and_12_cannot_be_desintegrated_by_request(code: int) -> None:
    current = {ANNA: ps(("2015-01-01", None))}
    outcome = only(do_desintegrate(code, "2015-01-01", None, ANNA, current=current))
    assert outcome.status is Status.REFUSED
    assert reasons(outcome) == [Reason.MANUAL_INTEGRATION_NOT_ALLOWED]
    assert outcome.periods == current[ANNA]
    assert outcome.changed is False


@pytest.mark.parametrize("code", [0, 10, 13, 99])
def test_an_unknown_quality_code_is_refused_for_integrate_and_desintegrate(code: int) -> None:
    for outcome in (
        only(do_integrate(code, "2015-01-01", "2015-01-31", ANNA)),
        only(do_desintegrate(code, "2015-01-01", "2015-01-31", ANNA)),
    ):
        assert outcome.status is Status.REFUSED
        assert reasons(outcome) == [Reason.UNKNOWN_QUALITY_CODE]
        assert information(outcome.details[0]) == {"QualityCode": str(code)}


def test_a_quality_code_is_looked_up_in_the_institutions_own_sector() -> None:
    req = request(2, "2015-01-01", None, ANNA)
    refused = only(integrate(DEMO_CATALOGUE, 7, req, {}))
    assert reasons(refused) == [Reason.UNKNOWN_QUALITY_CODE]
    allowed = only(integrate(DEMO_CATALOGUE, 7, request(1, "2015-01-01", None, ANNA), {}))
    assert allowed.status is Status.INTEGRATED
    assert allowed.periods == ps(("2015-01-01", "2015-12-31"))


# --- duplicate persons ----------------------------------------------------------------------------------


def test_a_person_named_twice_is_handled_once_and_the_repeat_is_refused() -> None:
    outcomes = do_integrate(1, "2015-01-01", "2015-01-31", ANNA, BERT, ANNA)
    assert [o.status for o in outcomes] == [Status.INTEGRATED, Status.INTEGRATED, Status.REFUSED]
    assert reasons(outcomes[0]) == []
    assert reasons(outcomes[2]) == [Reason.DUPLICATE_PERSON]
    assert information(outcomes[2].details[0]) == {"SSIN": ANNA}
    assert outcomes[2].periods == outcomes[0].periods == ps(("2015-01-01", "2015-01-31"))
    assert outcomes[2].changed is False


def test_a_repeated_person_in_a_desintegration_is_refused_on_the_repeat_only() -> None:
    current = {ANNA: ps(("2015-01-01", "2015-01-31"))}
    outcomes = do_desintegrate(1, "2015-01-10", None, ANNA, ANNA, current=current)
    assert [o.status for o in outcomes] == [Status.DESINTEGRATED, Status.REFUSED]
    assert reasons(outcomes[1]) == [Reason.DUPLICATE_PERSON]
    assert outcomes[1].periods == ps(("2015-01-01", "2015-01-09"))


def test_a_person_repeated_in_a_refused_request_is_still_reported_as_a_duplicate() -> None:
    outcomes = do_integrate(1, "2015-01-01", "2016-01-01", ANNA, ANNA)
    assert reasons(outcomes[0]) == [Reason.PERIOD_EXCEEDS_MAXIMUM]
    assert reasons(outcomes[1]) == [Reason.DUPLICATE_PERSON]


# --- R3 desintegration ----------------------------------------------------------------------------------


def test_desintegrating_without_an_end_removes_everything_from_the_start_on() -> None:
    current = {ANNA: ps(("2015-01-01", "2015-01-31"), ("2015-03-01", "2015-03-31"), ("2016-01-01", "2016-12-31"))}
    outcome = only(do_desintegrate(9, "2015-01-15", None, ANNA, current=current))
    assert outcome.status is Status.DESINTEGRATED
    assert outcome.periods == ps(("2015-01-01", "2015-01-14"))
    assert outcome.changed is True
    assert outcome.details == ()


def test_desintegrating_from_the_first_day_removes_the_whole_period() -> None:
    current = {ANNA: ps(("2015-01-01", "2015-01-31"))}
    outcome = only(do_desintegrate(1, "2015-01-01", None, ANNA, current=current))
    assert outcome.status is Status.DESINTEGRATED
    assert outcome.periods == ()


def test_desintegrating_the_middle_of_a_period_splits_it_in_two() -> None:
    current = {ANNA: ps(("2015-01-01", "2015-12-31"))}
    outcome = only(do_desintegrate(2, "2015-05-01", "2015-05-31", ANNA, current=current))
    assert outcome.status is Status.DESINTEGRATED
    assert outcome.periods == ps(("2015-01-01", "2015-04-30"), ("2015-06-01", "2015-12-31"))


def test_desintegrating_with_an_end_removes_only_the_days_up_to_that_end() -> None:
    current = {ANNA: ps(("2015-01-01", "2015-01-31"), ("2015-03-01", "2015-03-31"))}
    outcome = only(do_desintegrate(1, "2015-01-20", "2015-03-10", ANNA, current=current))
    assert outcome.periods == ps(("2015-01-01", "2015-01-19"), ("2015-03-11", "2015-03-31"))


MANUAL_EXAMPLE = {ANNA: ps(("2014-12-01", "2015-01-31"))}


def test_the_manuals_example_integrates_code_01_for_two_months() -> None:
    outcome = only(do_integrate(1, "2014-12-01", None, ANNA))
    assert outcome.periods == MANUAL_EXAMPLE[ANNA]


def test_the_manuals_example_desintegrating_from_1_january_without_end_leaves_december() -> None:
    outcome = only(do_desintegrate(1, "2015-01-01", None, ANNA, current=MANUAL_EXAMPLE))
    assert outcome.status is Status.DESINTEGRATED
    assert outcome.periods == ps(("2014-12-01", "2014-12-31"))


def test_the_manuals_example_desintegrating_1_to_14_january_leaves_two_periods() -> None:
    outcome = only(do_desintegrate(1, "2015-01-01", "2015-01-14", ANNA, current=MANUAL_EXAMPLE))
    assert outcome.status is Status.DESINTEGRATED
    assert outcome.periods == ps(("2014-12-01", "2014-12-31"), ("2015-01-15", "2015-01-31"))


NOTHING = [
    pytest.param((), ("2015-01-01", None), id="no-periods"),
    pytest.param((("2015-01-01", "2015-01-31"),), ("2015-02-01", None), id="removal-after"),
    pytest.param((("2015-01-01", "2015-01-31"),), ("2014-12-01", "2014-12-31"), id="removal-before"),
    pytest.param(
        (("2015-01-01", "2015-01-10"), ("2015-01-20", "2015-01-31")), ("2015-01-11", "2015-01-19"), id="in-a-gap"
    ),
]


@pytest.mark.parametrize(("existing", "removal"), NOTHING)
def test_nothing_to_remove_is_not_an_error_and_says_so(
    existing: tuple[tuple[str, str], ...], removal: tuple[str, str | None]
) -> None:
    outcome = only(do_desintegrate(1, *removal, ANNA, current={ANNA: ps(*existing)}))
    assert outcome.status is Status.NOTHING_TO_REMOVE
    assert reasons(outcome) == [Reason.NOTHING_TO_REMOVE]
    assert outcome.details[0].severity is Severity.INFORMATION
    assert outcome.periods == ps(*existing)
    assert outcome.changed is False
    assert outcome.succeeded


def test_desintegrating_with_an_end_before_the_start_is_refused() -> None:
    current = {ANNA: ps(("2015-01-01", "2015-01-31"))}
    outcome = only(do_desintegrate(1, "2015-01-20", "2015-01-10", ANNA, current=current))
    assert outcome.status is Status.REFUSED
    assert reasons(outcome) == [Reason.END_BEFORE_START]
    assert outcome.periods == current[ANNA]
    assert outcome.changed is False


def test_desintegration_gives_each_person_their_own_result() -> None:
    current = {ANNA: ps(("2015-01-01", "2015-01-31"))}
    outcomes = do_desintegrate(1, "2015-01-10", None, ANNA, INVALID, BERT, current=current)
    assert [o.status for o in outcomes] == [Status.DESINTEGRATED, Status.REFUSED, Status.NOTHING_TO_REMOVE]
    assert reasons(outcomes[1]) == [Reason.INVALID_SSIN]


def test_desintegration_has_no_maximum_period() -> None:
    current = {ANNA: ps(("2015-01-01", "2015-02-28"))}
    outcome = only(do_desintegrate(1, "2015-01-01", "2030-12-31", ANNA, current=current))
    assert outcome.status is Status.DESINTEGRATED
    assert outcome.periods == ()


# --- R3.6 attestation at risk ---------------------------------------------------------------------------

LIVING_WAGE = {ANNA: ps(("2015-01-01", "2015-12-31"))}
ATTESTATION = Attestation(ticket="T-0001", ssin=ANNA, code=2, validity=p("2015-03-01", "2015-06-30"))


@pytest.mark.parametrize(
    "removal",
    [
        pytest.param(("2015-06-30", None), id="last-day-of-validity-on"),
        pytest.param(("2015-01-01", "2015-03-01"), id="up-to-first-day-of-validity"),
        pytest.param(("2015-04-01", "2015-04-01"), id="one-day-inside"),
        pytest.param(("2014-01-01", None), id="everything"),
    ],
)
def test_removing_days_an_attestation_needs_warns_and_names_the_attestation(removal: tuple[str, str | None]) -> None:
    outcome = only(do_desintegrate(2, *removal, ANNA, current=LIVING_WAGE, attestations={ANNA: [ATTESTATION]}))
    assert outcome.status is Status.DESINTEGRATED
    assert outcome.changed is True
    assert outcome.warned
    assert reasons(outcome) == [Reason.ATTESTATION_AT_RISK]
    detail = outcome.details[0]
    assert detail.severity is Severity.WARNING
    assert information(detail) == {"AttestationTicket": "T-0001", "ValidityPeriod": "2015-03-01/2015-06-30"}
    assert "T-0001" in detail.diagnostic


@pytest.mark.parametrize(
    "removal",
    [
        pytest.param(("2015-07-01", None), id="after-validity"),
        pytest.param(("2015-01-01", "2015-02-28"), id="before-validity"),
    ],
)
def test_removing_days_outside_the_attestations_validity_gives_no_warning(removal: tuple[str, str | None]) -> None:
    outcome = only(do_desintegrate(2, *removal, ANNA, current=LIVING_WAGE, attestations={ANNA: [ATTESTATION]}))
    assert outcome.status is Status.DESINTEGRATED
    assert outcome.details == ()
    assert not outcome.warned


def test_a_removal_window_over_the_validity_without_integrated_days_there_gives_no_warning() -> None:
    current = {ANNA: ps(("2015-07-01", "2015-12-31"))}
    outcome = only(do_desintegrate(2, "2015-01-01", None, ANNA, current=current, attestations={ANNA: [ATTESTATION]}))
    assert outcome.status is Status.DESINTEGRATED
    assert outcome.periods == ()
    assert outcome.details == ()


def test_removing_days_of_another_code_gives_no_warning() -> None:
    equivalent = Attestation(ticket="T-0003", ssin=ANNA, code=3, validity=p("2015-03-01", "2015-06-30"))
    outcome = only(do_desintegrate(2, "2015-01-01", None, ANNA, current=LIVING_WAGE, attestations={ANNA: [equivalent]}))
    assert outcome.status is Status.DESINTEGRATED
    assert outcome.details == ()


def test_a_code_03_attestation_warns_when_code_03_days_are_removed() -> None:
    equivalent = Attestation(ticket="T-0003", ssin=ANNA, code=3, validity=p("2015-03-01", "2015-06-30"))
    outcome = only(do_desintegrate(3, "2015-01-01", None, ANNA, current=LIVING_WAGE, attestations={ANNA: [equivalent]}))
    assert reasons(outcome) == [Reason.ATTESTATION_AT_RISK]


def test_another_persons_attestation_gives_no_warning() -> None:
    current = {ANNA: LIVING_WAGE[ANNA], BERT: LIVING_WAGE[ANNA]}
    outcomes = do_desintegrate(2, "2015-01-01", None, ANNA, BERT, current=current, attestations={BERT: [ATTESTATION]})
    assert outcomes[0].details == ()
    assert reasons(outcomes[1]) == [Reason.ATTESTATION_AT_RISK]


def test_each_attestation_at_risk_gets_its_own_warning() -> None:
    second = Attestation(ticket="T-0002", ssin=ANNA, code=2, validity=p("2015-09-01", "2015-09-30"))
    outcome = only(
        do_desintegrate(2, "2015-01-01", None, ANNA, current=LIVING_WAGE, attestations={ANNA: [ATTESTATION, second]})
    )
    tickets = [information(detail)["AttestationTicket"] for detail in outcome.details]
    assert tickets == ["T-0001", "T-0002"]


def test_nothing_to_remove_gives_no_attestation_warning() -> None:
    outcome = only(do_desintegrate(2, "2015-01-01", None, ANNA, current={}, attestations={ANNA: [ATTESTATION]}))
    assert outcome.status is Status.NOTHING_TO_REMOVE
    assert reasons(outcome) == [Reason.NOTHING_TO_REMOVE]


# --- R4 consultation ------------------------------------------------------------------------------------

OCMW_A = Institution("0212345668", "OCMW Demostad", 17)
OCMW_B = Institution("0212345767", "OCMW Voorbeeldgem", 17)
FAMILY = Institution("0212345866", "Kinderbijslagfonds Demo", 7)
EMPLOYMENT = Institution("0212345965", "Arbeidsbemiddeling Demo", 18)


def integration(institution: Institution, code: int, start: str, end: str | None = None) -> Integration:
    return Integration(institution, ANNA, code, p(start, end))


DIRECTORY = [
    integration(OCMW_B, 2, "2015-01-01", "2015-12-31"),
    integration(EMPLOYMENT, 1, "2015-02-01", "2015-07-31"),
    integration(OCMW_A, 2, "2015-06-01", "2015-06-30"),
    integration(OCMW_A, 1, "2015-03-01", "2015-03-31"),
    integration(FAMILY, 1, "2014-01-01", "2014-12-31"),
    integration(OCMW_A, 1, "2015-01-01", "2015-01-31"),
    integration(OCMW_A, 11, "2013-01-01"),
]


def keys(found: tuple[Integration, ...]) -> list[tuple[str, int, str]]:
    return [(i.institution.id, i.code, i.period.start.isoformat()) for i in found]


def test_consultation_lists_every_institutions_integrations_ordered_by_institution_code_and_start() -> None:
    found = consult(DIRECTORY, p("2015-01-01", "2015-12-31"))
    assert keys(found) == [
        ("0212345668", 1, "2015-01-01"),
        ("0212345668", 1, "2015-03-01"),
        ("0212345668", 2, "2015-06-01"),
        ("0212345668", 11, "2013-01-01"),
        ("0212345767", 2, "2015-01-01"),
        ("0212345965", 1, "2015-02-01"),
    ]


def test_consultation_orders_codes_as_numbers_not_as_text() -> None:
    found = consult([integration(OCMW_A, 11, "2015-01-01"), integration(OCMW_A, 2, "2015-01-01")], p("2015-01-01"))
    assert [i.code for i in found] == [2, 11]


def test_consultation_filters_by_quality_code() -> None:
    found = consult(DIRECTORY, p("2015-01-01", "2015-12-31"), code=1)
    assert keys(found) == [
        ("0212345668", 1, "2015-01-01"),
        ("0212345668", 1, "2015-03-01"),
        ("0212345965", 1, "2015-02-01"),
    ]


def test_consultation_filters_by_sector() -> None:
    found = consult(DIRECTORY, p("2014-01-01", "2015-12-31"), sector=7)
    assert keys(found) == [("0212345866", 1, "2014-01-01")]


def test_consultation_filters_by_code_and_sector_together() -> None:
    found = consult(DIRECTORY, p("2015-01-01", "2015-12-31"), code=2, sector=17)
    assert keys(found) == [("0212345668", 2, "2015-06-01"), ("0212345767", 2, "2015-01-01")]


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        pytest.param(("2015-02-01", "2015-02-28"), False, id="between"),
        pytest.param(("2015-01-31", "2015-01-31"), True, id="last-day"),
        pytest.param(("2015-02-01", None), True, id="open-window-reaches-a-later-period"),
        pytest.param(("2015-03-31", None), True, id="open-window-from-last-day"),
        pytest.param(("2015-04-01", None), False, id="open-window-after"),
        pytest.param(("2014-12-01", "2014-12-31"), False, id="before"),
    ],
)
def test_consultation_keeps_the_integrations_that_overlap_the_window(
    window: tuple[str, str | None], expected: bool
) -> None:
    candidates = [
        integration(OCMW_A, 1, "2015-01-01", "2015-01-31"),
        integration(OCMW_A, 1, "2015-03-01", "2015-03-31"),
    ]
    found = consult(candidates, p(*window))
    assert bool(found) is expected


def test_an_open_ended_integration_overlaps_every_later_window() -> None:
    found = consult([integration(OCMW_A, 11, "2013-01-01")], p("2040-01-01", "2040-01-31"))
    assert len(found) == 1
    assert found[0].period.end is None


def test_an_open_ended_integration_does_not_overlap_an_earlier_window() -> None:
    assert consult([integration(OCMW_A, 11, "2013-01-01")], p("2012-01-01", "2012-12-31")) == ()


def test_consultation_of_nothing_finds_nothing() -> None:
    assert consult([], p("2015-01-01")) == ()


# --- summary rule ---------------------------------------------------------------------------------------


def outcome(status: Status, *details: Detail) -> PersonOutcome:
    return PersonOutcome(ANNA, status, details, ())


WARNING = Detail(Severity.WARNING, Reason.ATTESTATION_AT_RISK, "warned")
INFO = Detail(Severity.INFORMATION, Reason.ALREADY_INTEGRATED, "info")
ERROR = Detail(Severity.ERROR, Reason.INVALID_SSIN, "refused")

SUMMARIES = [
    pytest.param([outcome(Status.INTEGRATED)], Ok.YES, 0, id="integrated"),
    pytest.param([outcome(Status.INTEGRATED), outcome(Status.DESINTEGRATED)], Ok.YES, 0, id="all-succeeded"),
    pytest.param([outcome(Status.ALREADY_INTEGRATED, INFO)], Ok.YES, 0, id="already-integrated-is-success"),
    pytest.param([outcome(Status.NOTHING_TO_REMOVE, INFO)], Ok.YES, 0, id="nothing-to-remove-is-success"),
    pytest.param([outcome(Status.DESINTEGRATED, WARNING)], Ok.WARNING, 1, id="warning"),
    pytest.param([outcome(Status.INTEGRATED), outcome(Status.REFUSED, ERROR)], Ok.WARNING, 1, id="some-refused"),
    pytest.param(
        [outcome(Status.REFUSED, ERROR), outcome(Status.NOTHING_TO_REMOVE, INFO)], Ok.WARNING, 1, id="refused-and-info"
    ),
    pytest.param([outcome(Status.REFUSED, ERROR)], Ok.NO, 10000, id="refused"),
    pytest.param([outcome(Status.REFUSED, ERROR), outcome(Status.REFUSED, ERROR)], Ok.NO, 10000, id="all-refused"),
    pytest.param([], Ok.NO, 10000, id="nobody"),
]


@pytest.mark.parametrize(("outcomes", "ok", "return_code"), SUMMARIES)
def test_the_summary_is_yes_warning_or_no_with_its_return_code(
    outcomes: list[PersonOutcome], ok: Ok, return_code: int
) -> None:
    assert summarize(outcomes) == Summary(ok, return_code)


def test_a_request_with_an_invalid_person_among_valid_ones_summarizes_as_warning() -> None:
    assert summarize(do_integrate(1, "2015-01-01", None, ANNA, INVALID)).ok is Ok.WARNING


def test_a_request_refused_as_a_whole_summarizes_as_no() -> None:
    assert summarize(do_integrate(1, "2015-01-01", "2016-01-01", ANNA, BERT)) == Summary(Ok.NO, 10000)


def test_a_repeat_of_an_integration_summarizes_as_yes() -> None:
    first = do_integrate(1, "2015-01-01", None, ANNA)
    again = do_integrate(1, "2015-01-01", None, ANNA, current={ANNA: first[0].periods or ()})
    assert again[0].status is Status.ALREADY_INTEGRATED
    assert summarize(again) == Summary(Ok.YES, 0)


def test_a_desintegration_with_an_attestation_warning_summarizes_as_warning() -> None:
    outcomes = do_desintegrate(2, "2015-01-01", None, ANNA, current=LIVING_WAGE, attestations={ANNA: [ATTESTATION]})
    assert summarize(outcomes) == Summary(Ok.WARNING, 1)

"""Periods, maximum periods and the directory's operations at the edges of the calendar (0001-01-01, 9999-12-31).

The model of a period set is the set of the ordinals of its days; an open end stands for every day up to
``LAST_DAY``, since the calendar has no day after it. Maximum ends are also computed without ``datetime``, as
(year, month, day) triples that may pass the year 9999, so the model knows which ones the calendar cannot hold.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.catalogue import OCMW_SECTOR, MaxPeriod, load_catalogue
from gateway.domain.directory import DirectoryRequest, Reason, Status, desintegrate, integrate
from gateway.domain.periods import (
    LAST_DAY,
    Period,
    add_months,
    covers,
    intersect,
    missing,
    normalize,
    subtract,
    union,
)
from gateway.errors import DateOutOfRange, RequestError

LAST = LAST_DAY.toordinal()
FIRST = date.min.toordinal()
CATALOGUE = load_catalogue()
SSIN = "90010100123"  # a valid SSIN: check digits 97 - (900101001 mod 97) = 23

near_the_end = st.integers(LAST - 120, LAST)
near_the_start = st.integers(FIRST, FIRST + 120)


def periods_within(ordinals: st.SearchStrategy[int], top: int, *, open_ended: bool) -> st.SearchStrategy[Period]:
    @st.composite
    def draw_period(draw: st.DrawFn) -> Period:
        start = draw(ordinals)
        ends = st.integers(start, top)
        end = draw(st.one_of(st.none(), ends) if open_ended else ends)
        return Period(date.fromordinal(start), None if end is None else date.fromordinal(end))

    return draw_period()


late_periods = periods_within(near_the_end, LAST, open_ended=True)
early_periods = periods_within(near_the_start, FIRST + 120, open_ended=False)  # open, they would span the ages
any_periods = st.one_of(late_periods, early_periods)


def model(items: Iterable[Period]) -> set[int]:
    days: set[int] = set()
    for p in items:
        days.update(range(p.start.toordinal(), (LAST if p.end is None else p.end.toordinal()) + 1))
    return days


def assert_normalized(result: tuple[Period, ...]) -> None:
    for p in result:
        assert p.end is None or p.end <= LAST_DAY
    for a, b in pairwise(result):
        assert a.end is not None, "only the last period may be open-ended"
        assert a.end.toordinal() + 1 < b.start.toordinal(), f"{a} and {b} overlap or touch"


@given(st.lists(any_periods, max_size=6), any_periods)
def test_set_operations_near_both_ends_of_the_calendar_keep_exactly_the_right_days(
    items: list[Period], other: Period
) -> None:
    days, window = model(items), model([other])
    for result, expected in (
        (normalize(items), days),
        (union(items, [other]), days | window),
        (subtract(items, other), days - window),
        (intersect(items, other), days & window),
        (missing(items, other), window - days),
    ):
        assert_normalized(result)
        assert model(result) == expected
    assert covers(items, other) == (window <= days)


@given(st.lists(late_periods, max_size=6), late_periods)
def test_an_end_on_the_last_day_is_kept_and_an_open_end_comes_only_from_an_open_period(
    items: list[Period], other: Period
) -> None:
    some_open = any(p.end is None for p in [*items, other])
    for result in (normalize([*items, other]), intersect(items, other), subtract(items, other)):
        if any(p.end is None for p in result):
            assert some_open
    closed = [p for p in items if p.end is not None]
    assert all(p.end is not None for p in normalize(closed))


def test_a_period_ending_on_the_last_day_is_not_open_ended() -> None:
    last_month = Period(date(9999, 12, 1), LAST_DAY)
    assert normalize([last_month]) == (last_month,)
    assert union([last_month], [Period(date(9999, 11, 1), date(9999, 11, 30))]) == (
        Period(date(9999, 11, 1), LAST_DAY),
    )
    assert union([last_month], [Period(date(9999, 12, 20))]) == (Period(date(9999, 12, 1)),)
    assert subtract([Period(date(9999, 12, 1))], Period(date(9999, 12, 10), LAST_DAY)) == (
        Period(date(9999, 12, 1), date(9999, 12, 9)),
    )
    assert missing([last_month], Period(date(9999, 12, 1))) == ()
    assert covers([Period(date(9999, 12, 1))], last_month)


# -- months past the end of the calendar ------------------------------------------------------------------


def _days_in(year: int, month: int) -> int:
    return 29 if month == 2 and calendar.isleap(year) else [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]


def _later(day: date, months: int) -> tuple[int, int, int]:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return year, month + 1, min(day.day, _days_in(year, month + 1))


def _day_before(y: int, m: int, d: int) -> tuple[int, int, int]:
    if d > 1:
        return y, m, d - 1
    y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return y, m, _days_in(y, m)


late_days = st.integers(date(9990, 1, 1).toordinal(), LAST).map(date.fromordinal)


@given(late_days, st.integers(0, 120))
def test_add_months_is_refused_exactly_when_the_day_would_leave_the_calendar(day: date, months: int) -> None:
    expected = _later(day, months)
    if expected[0] > 9999:
        with pytest.raises(DateOutOfRange):
            add_months(day, months)
    else:
        assert add_months(day, months) == date(*expected)


@given(late_days, st.integers(1, 60))
def test_a_maximum_end_after_the_last_day_is_refused_and_every_other_one_is_exact(day: date, months: int) -> None:
    expected = _day_before(*_later(day, months))
    if expected > (9999, 12, 31):
        with pytest.raises(DateOutOfRange):
            MaxPeriod(months=months).max_end(day)
    else:
        assert MaxPeriod(months=months).max_end(day) == date(*expected)
    assert MaxPeriod(calendar_year=True).max_end(day) == date(day.year, 12, 31)
    assert MaxPeriod().max_end(day) is None


def test_twelve_months_from_the_first_of_january_9999_end_on_the_last_day() -> None:
    assert MaxPeriod(months=12).max_end(date(9999, 1, 1)) == LAST_DAY
    with pytest.raises(DateOutOfRange):
        MaxPeriod(months=12).max_end(date(9999, 1, 2))


def test_date_out_of_range_is_the_callers_fault_and_a_value_error() -> None:
    assert issubclass(DateOutOfRange, RequestError) and issubclass(DateOutOfRange, ValueError)
    assert DateOutOfRange.code == Reason.DATE_OUT_OF_RANGE


# -- the directory's operations near the last day ---------------------------------------------------------

codes = st.sampled_from([1, 2, 7, 31, 40])


@given(codes, late_days, st.one_of(st.none(), late_days), st.lists(late_periods, max_size=3))
def test_integrating_near_the_last_day_integrates_or_refuses_with_a_reason(
    code: int, start: date, end: date | None, current: list[Period]
) -> None:
    request = DirectoryRequest(code, start, end, (SSIN,))
    (outcome,) = integrate(CATALOGUE, OCMW_SECTOR, request, {SSIN: normalize(current)})
    reasons = {d.reason for d in outcome.details}
    if outcome.status is Status.REFUSED:
        assert reasons <= {Reason.END_BEFORE_START, Reason.PERIOD_EXCEEDS_MAXIMUM, Reason.DATE_OUT_OF_RANGE}
        if Reason.DATE_OUT_OF_RANGE in reasons:
            assert end is None
    else:
        assert outcome.periods is not None
        assert_normalized(outcome.periods)
        if end is not None:
            assert model(outcome.periods) >= model([Period(start, end)])
        if all(p.end is not None for p in current):  # every one of these codes has a maximum: nothing open
            assert all(p.end is not None for p in outcome.periods), outcome.periods


@given(codes, late_days, st.one_of(st.none(), late_days), st.lists(late_periods, max_size=3))
def test_desintegrating_near_the_last_day_never_fails(
    code: int, start: date, end: date | None, current: list[Period]
) -> None:
    request = DirectoryRequest(code, start, end, (SSIN,))
    (outcome,) = desintegrate(CATALOGUE, OCMW_SECTOR, request, {SSIN: normalize(current)})
    if end is not None and end < start:
        assert outcome.status is Status.REFUSED
        return
    assert outcome.periods is not None
    assert model(outcome.periods) == model(current) - model([Period(start, end)])


@pytest.mark.parametrize(
    ("code", "start", "end", "status", "periods"),
    [
        (2, "9999-12-31", None, Status.REFUSED, ()),
        (2, "9999-12-01", "9999-12-31", Status.INTEGRATED, (Period(date(9999, 12, 1), LAST_DAY),)),
        (2, "9999-01-01", None, Status.INTEGRATED, (Period(date(9999, 1, 1), LAST_DAY),)),
        (1, "9999-12-31", "9999-12-31", Status.INTEGRATED, (Period(LAST_DAY, LAST_DAY),)),
        (40, "9999-12-31", None, Status.INTEGRATED, (Period(LAST_DAY, LAST_DAY),)),
        (7, "9999-06-30", None, Status.REFUSED, ()),
    ],
)
def test_the_cases_once_answered_with_a_server_fault(
    code: int, start: str, end: str | None, status: Status, periods: tuple[Period, ...]
) -> None:
    request = DirectoryRequest(code, date.fromisoformat(start), end and date.fromisoformat(end), (SSIN,))
    (outcome,) = integrate(CATALOGUE, OCMW_SECTOR, request, {})
    assert outcome.status is status
    if status is Status.REFUSED:
        (detail,) = outcome.details
        assert detail.reason == Reason.DATE_OUT_OF_RANGE
        assert dict(detail.information)["MaximumEndDate"] == "9999-12-31"
        assert "9999-12-31" in detail.diagnostic
    else:
        assert outcome.periods == periods


def test_a_day_after_the_last_cannot_be_made() -> None:
    with pytest.raises(OverflowError):
        LAST_DAY + timedelta(days=1)  # the calendar itself: why the directory stops at LAST_DAY

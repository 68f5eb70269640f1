"""Properties of period sets and of the directory's operations, checked against a naive model.

The model of a period set is the Python set of the ordinals of its days. Days are drawn within
2000-01-01 .. 2001-12-31; an open end stands for every day up to HORIZON, a day after every drawn day and
after every day an operation can produce from them, so the model treats open ends the same way everywhere.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date, timedelta
from itertools import pairwise

from hypothesis import event, given
from hypothesis import strategies as st

from gateway.domain.catalogue import OCMW_SECTOR, load_catalogue
from gateway.domain.directory import DirectoryRequest, Reason, Status, desintegrate, integrate, summarize
from gateway.domain.directory import Ok as SummaryOk
from gateway.domain.periods import (
    Period,
    add_months,
    covers,
    covers_day,
    intersect,
    missing,
    normalize,
    overlaps,
    subtract,
    union,
)

FIRST = date(2000, 1, 1)
LAST = date(2001, 12, 31)
HORIZON = date(2003, 12, 31)


days = st.integers(FIRST.toordinal(), LAST.toordinal()).map(date.fromordinal)


@st.composite
def periods(draw: st.DrawFn, open_ended: bool = True) -> Period:
    start = draw(days)
    ends = st.integers(start.toordinal(), LAST.toordinal()).map(date.fromordinal)
    end = draw(st.one_of(st.none(), ends) if open_ended else ends)
    return Period(start, end)


period_lists = st.lists(periods(), max_size=6)


def model(items: Iterable[Period], horizon: date = HORIZON) -> set[int]:
    out: set[int] = set()
    for p in items:
        last = horizon if p.end is None else p.end
        assert last <= horizon
        out.update(range(p.start.toordinal(), last.toordinal() + 1))
    return out


def assert_normalized(result: object, horizon: date = HORIZON) -> None:
    """Sorted by start, pairwise disjoint, never adjacent; only the last period may be open-ended."""
    assert isinstance(result, tuple)
    for p in result:
        assert isinstance(p, Period)
        assert p.end is None or p.end < horizon
    for a, b in pairwise(result):
        assert a.end is not None, "only the last period may be open-ended"
        assert a.end + timedelta(days=1) < b.start, f"{a} and {b} overlap or touch"


# --- period sets against the model ----------------------------------------------------------------------


@given(period_lists)
def test_normalize_keeps_exactly_the_same_days_as_a_normalized_set(items: list[Period]) -> None:
    result = normalize(items)
    assert_normalized(result)
    assert model(result) == model(items)
    assert normalize(result) == result


@given(period_lists)
def test_normalize_does_not_depend_on_the_order_of_its_input(items: list[Period]) -> None:
    assert normalize(items) == normalize(reversed(items))


@given(period_lists, period_lists)
def test_union_holds_the_days_of_either_set(a: list[Period], b: list[Period]) -> None:
    result = union(a, b)
    assert_normalized(result)
    assert model(result) == model(a) | model(b)


@given(period_lists, periods())
def test_subtract_removes_exactly_the_days_of_the_removal(items: list[Period], removal: Period) -> None:
    result = subtract(items, removal)
    assert_normalized(result)
    assert model(result) == model(items) - model([removal])


@given(period_lists, periods())
def test_intersect_keeps_exactly_the_days_inside_the_window(items: list[Period], window: Period) -> None:
    result = intersect(items, window)
    assert_normalized(result)
    assert model(result) == model(items) & model([window])


@given(period_lists, periods())
def test_missing_lists_exactly_the_uncovered_days_of_the_window(items: list[Period], window: Period) -> None:
    result = missing(items, window)
    assert_normalized(result)
    assert model(result) == model([window]) - model(items)


@given(period_lists, periods())
def test_covers_holds_exactly_when_every_day_of_the_window_is_covered(items: list[Period], window: Period) -> None:
    assert covers(items, window) is (model([window]) <= model(items))


@given(period_lists, days)
def test_covers_day_holds_exactly_when_the_day_is_in_the_set(items: list[Period], day: date) -> None:
    assert covers_day(items, day) is (day.toordinal() in model(items))


@given(periods(), periods())
def test_overlaps_holds_exactly_when_two_periods_share_a_day(a: Period, b: Period) -> None:
    assert overlaps(a, b) is bool(model([a]) & model([b]))


@given(period_lists, periods())
def test_subtracting_and_intersecting_split_a_set_into_two_disjoint_halves(items: list[Period], window: Period) -> None:
    inside, outside = intersect(items, window), subtract(items, window)
    assert not model(inside) & model(outside)
    assert union(inside, outside) == normalize(items)


def naive_add_months(day: date, months: int) -> date:
    year, month = day.year, day.month
    for _ in range(months):
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@given(days, st.integers(0, 72))
def test_add_months_agrees_with_stepping_month_by_month(day: date, months: int) -> None:
    assert add_months(day, months) == naive_add_months(day, months)


# --- integrate / desintegrate sequences against the model -----------------------------------------------

CATALOGUE = load_catalogue()
ANNA = "85073003328"
BERT = "06011512374"
MONTHS = {1: 2, 2: 12, 9: 60, 31: 1}
# Integrations of these codes end by 2006-12-30 at the latest; an open removal reaches this horizon.
FAR = date(2007, 12, 31)


def model_max_end(code: int, start: date) -> date:
    if code == 40:
        return date(start.year, 12, 31)
    return naive_add_months(start, MONTHS[code]) - timedelta(days=1)


def day_range(start: date, last: date) -> set[int]:
    return set(range(start.toordinal(), last.toordinal() + 1))


@st.composite
def operations(draw: st.DrawFn) -> tuple[str, date, date | None, tuple[str, ...]]:
    kind = draw(st.sampled_from(["integrate", "integrate", "desintegrate"]))
    start = draw(days)
    after_start = st.integers(start.toordinal(), LAST.toordinal()).map(date.fromordinal)
    short = st.integers(start.toordinal(), min(start.toordinal() + 70, LAST.toordinal())).map(date.fromordinal)
    end = draw(st.one_of(st.none(), short, after_start, days))
    ssins = tuple(draw(st.lists(st.sampled_from([ANNA, BERT]), min_size=1, max_size=3)))
    return kind, start, end, ssins


@given(st.sampled_from([1, 2, 9, 31, 40]), st.lists(operations(), min_size=1, max_size=12))
def test_integrate_and_desintegrate_sequences_agree_with_a_set_of_days(
    code: int, steps: list[tuple[str, date, date | None, tuple[str, ...]]]
) -> None:
    stored: dict[str, tuple[Period, ...]] = {}
    expected: dict[str, set[int]] = {ANNA: set(), BERT: set()}

    for kind, start, end, ssins in steps:
        request = DirectoryRequest(code=code, start=start, end=end, ssins=ssins)
        if kind == "integrate":
            outcomes = integrate(CATALOGUE, OCMW_SECTOR, request, stored)
        else:
            outcomes = desintegrate(CATALOGUE, OCMW_SECTOR, request, stored)
        assert [o.ssin for o in outcomes] == list(ssins)

        # What the model says about the whole request.
        refusal: Reason | None = None
        wanted: set[int] = set()
        if end is not None and end < start:
            refusal = Reason.END_BEFORE_START
        elif kind == "integrate":
            max_end = model_max_end(code, start)
            if end is not None and end > max_end:
                refusal = Reason.PERIOD_EXCEEDS_MAXIMUM
            else:
                wanted = day_range(start, end or max_end)
        else:
            wanted = day_range(start, end or FAR)

        handled: set[str] = set()
        for outcome in outcomes:
            ssin = outcome.ssin
            before = stored.get(ssin, ())
            assert outcome.periods is not None
            assert_normalized(outcome.periods, FAR)
            if ssin in handled:
                assert outcome.status is Status.REFUSED
                assert [detail.reason for detail in outcome.details] == [Reason.DUPLICATE_PERSON]
                assert not outcome.changed
                assert model(outcome.periods, FAR) == expected[ssin]
                continue
            handled.add(ssin)

            if refusal is not None:
                assert outcome.status is Status.REFUSED
                assert [detail.reason for detail in outcome.details] == [refusal]
                assert outcome.periods == before
                assert not outcome.changed
            elif kind == "integrate":
                if wanted <= expected[ssin]:
                    assert outcome.status is Status.ALREADY_INTEGRATED
                else:
                    assert outcome.status is Status.INTEGRATED
                    expected[ssin] |= wanted
            elif wanted & expected[ssin]:
                assert outcome.status is Status.DESINTEGRATED
                expected[ssin] -= wanted
            else:
                assert outcome.status is Status.NOTHING_TO_REMOVE

            event(f"{kind}: {outcome.status}")
            assert outcome.changed is (outcome.status in (Status.INTEGRATED, Status.DESINTEGRATED))
            if not outcome.changed:
                assert outcome.periods == before
            assert model(outcome.periods, FAR) == expected[ssin]
            stored[ssin] = outcome.periods

        summary = summarize(outcomes)
        if refusal is not None:
            assert summary.ok is SummaryOk.NO
        elif len(set(ssins)) < len(ssins):
            assert summary.ok is SummaryOk.WARNING
        else:
            assert summary.ok is SummaryOk.YES

"""Periods of whole days, both ends included, with an optional open end (RULES.md R1.1, R2.5, R3.2-R3.3)."""

from __future__ import annotations

from datetime import date

import pytest

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


def d(text: str) -> date:
    return date.fromisoformat(text)


def p(start: str, end: str | None = None) -> Period:
    return Period(d(start), d(end) if end else None)


def ps(*pairs: tuple[str, str | None]) -> tuple[Period, ...]:
    return tuple(p(s, e) for s, e in pairs)


# --- Period ---------------------------------------------------------------------------------------------


def test_a_period_that_ends_before_it_starts_is_rejected() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        Period(d("2015-01-02"), d("2015-01-01"))


def test_a_period_of_one_day_starts_and_ends_on_the_same_day() -> None:
    one = p("2015-01-01", "2015-01-01")
    assert one.days() == 1
    assert one.contains(d("2015-01-01"))
    assert not one.contains(d("2015-01-02"))


def test_a_period_counts_both_of_its_ends() -> None:
    assert p("2015-01-01", "2015-01-31").days() == 31
    assert p("2016-02-01", "2016-02-29").days() == 29


def test_an_open_ended_period_has_no_day_count_and_contains_every_later_day() -> None:
    open_ended = p("2015-01-01")
    assert open_ended.end is None
    assert open_ended.days() is None
    assert open_ended.contains(d("9999-12-31"))
    assert not open_ended.contains(d("2014-12-31"))


def test_a_period_prints_as_start_slash_end_and_an_open_end_as_nothing() -> None:
    assert str(p("2015-01-01", "2015-01-31")) == "2015-01-01/2015-01-31"
    assert str(p("2015-01-01")) == "2015-01-01/"


# --- normalize / union ------------------------------------------------------------------------------------

NORMALIZE_CASES = [
    pytest.param((), (), id="empty"),
    pytest.param(
        (("2015-01-01", "2015-01-10"),),
        (("2015-01-01", "2015-01-10"),),
        id="single",
    ),
    pytest.param(
        (("2015-01-01", "2015-01-10"), ("2015-01-05", "2015-01-20")),
        (("2015-01-01", "2015-01-20"),),
        id="overlapping",
    ),
    pytest.param(
        (("2015-01-01", "2015-01-10"), ("2015-01-11", "2015-01-20")),
        (("2015-01-01", "2015-01-20"),),
        id="adjacent",
    ),
    pytest.param(
        (("2015-01-01", "2015-01-10"), ("2015-01-12", "2015-01-20")),
        (("2015-01-01", "2015-01-10"), ("2015-01-12", "2015-01-20")),
        id="one-day-gap-stays-apart",
    ),
    pytest.param(
        (("2015-01-01", "2015-01-31"), ("2015-01-10", "2015-01-12")),
        (("2015-01-01", "2015-01-31"),),
        id="nested",
    ),
    pytest.param(
        (("2015-01-10", "2015-01-12"), ("2015-01-01", "2015-01-31")),
        (("2015-01-01", "2015-01-31"),),
        id="nested-given-first",
    ),
    pytest.param(
        (("2015-03-01", "2015-03-31"), ("2015-01-01", "2015-01-31"), ("2015-02-01", "2015-02-10")),
        (("2015-01-01", "2015-02-10"), ("2015-03-01", "2015-03-31")),
        id="unsorted",
    ),
    pytest.param(
        (("2015-01-01", "2015-01-31"), ("2015-01-15", None)),
        (("2015-01-01", None),),
        id="open-ended-swallows-later-days",
    ),
    pytest.param(
        (("2015-02-01", None), ("2015-01-01", "2015-01-31")),
        (("2015-01-01", None),),
        id="adjacent-to-open-ended",
    ),
    pytest.param(
        (("2015-01-01", None), ("2016-01-01", "2016-12-31")),
        (("2015-01-01", None),),
        id="finite-inside-open-ended",
    ),
    pytest.param(
        (("2015-01-01", None), ("2014-01-01", None)),
        (("2014-01-01", None),),
        id="two-open-ended",
    ),
    pytest.param(
        (("2015-01-01", "2015-01-10"), ("2015-01-01", "2015-01-10")),
        (("2015-01-01", "2015-01-10"),),
        id="duplicates",
    ),
    pytest.param(
        (("2015-01-01", "2015-01-10"), ("2015-01-20", "2015-01-25"), ("2015-01-09", "2015-01-21")),
        (("2015-01-01", "2015-01-25"),),
        id="bridge-joins-two",
    ),
]


@pytest.mark.parametrize(("given", "expected"), NORMALIZE_CASES)
def test_normalize_merges_overlapping_and_adjacent_periods_into_a_sorted_set(
    given: tuple[tuple[str, str | None], ...], expected: tuple[tuple[str, str | None], ...]
) -> None:
    assert normalize(ps(*given)) == ps(*expected)


def test_normalize_accepts_any_iterable_and_returns_a_tuple() -> None:
    result = normalize(iter([p("2015-01-05", "2015-01-06"), p("2015-01-01", "2015-01-02")]))
    assert isinstance(result, tuple)
    assert result == ps(("2015-01-01", "2015-01-02"), ("2015-01-05", "2015-01-06"))


def test_union_of_two_sets_merges_across_them() -> None:
    a = ps(("2015-01-01", "2015-01-10"), ("2015-03-01", "2015-03-10"))
    b = ps(("2015-01-11", "2015-02-28"))
    assert union(a, b) == ps(("2015-01-01", "2015-03-10"))


# --- subtract -------------------------------------------------------------------------------------------

JANUARY = (("2015-01-01", "2015-01-31"),)

SUBTRACT_CASES = [
    pytest.param(JANUARY, ("2014-12-01", "2014-12-31"), JANUARY, id="removal-before"),
    pytest.param(JANUARY, ("2015-02-01", "2015-02-28"), JANUARY, id="removal-after"),
    pytest.param(JANUARY, ("2014-12-31", "2014-12-31"), JANUARY, id="removal-ends-the-day-before"),
    pytest.param(JANUARY, ("2015-02-01", None), JANUARY, id="open-removal-after"),
    pytest.param(JANUARY, ("2014-12-01", "2015-01-10"), (("2015-01-11", "2015-01-31"),), id="cuts-the-start"),
    pytest.param(JANUARY, ("2015-01-20", "2015-02-10"), (("2015-01-01", "2015-01-19"),), id="cuts-the-end"),
    pytest.param(
        JANUARY,
        ("2015-01-10", "2015-01-14"),
        (("2015-01-01", "2015-01-09"), ("2015-01-15", "2015-01-31")),
        id="inside-splits",
    ),
    pytest.param(
        JANUARY,
        ("2015-01-01", "2015-01-01"),
        (("2015-01-02", "2015-01-31"),),
        id="first-day-only",
    ),
    pytest.param(
        JANUARY,
        ("2015-01-31", "2015-01-31"),
        (("2015-01-01", "2015-01-30"),),
        id="last-day-only",
    ),
    pytest.param(JANUARY, ("2015-01-01", "2015-01-31"), (), id="exactly-all"),
    pytest.param(JANUARY, ("2014-01-01", "2016-01-01"), (), id="covering-all"),
    pytest.param(JANUARY, ("2015-01-15", None), (("2015-01-01", "2015-01-14"),), id="open-removal-inside"),
    pytest.param(JANUARY, ("2014-01-01", None), (), id="open-removal-before"),
    pytest.param(
        (("2015-01-01", None),),
        ("2015-02-01", "2015-02-28"),
        (("2015-01-01", "2015-01-31"), ("2015-03-01", None)),
        id="open-period-split",
    ),
    pytest.param(
        (("2015-01-01", None),),
        ("2015-03-01", None),
        (("2015-01-01", "2015-02-28"),),
        id="open-period-open-removal",
    ),
    pytest.param(
        (("2015-01-01", None),),
        ("2014-01-01", "2015-01-31"),
        (("2015-02-01", None),),
        id="open-period-cut-start",
    ),
    pytest.param(
        (("2015-01-01", "2015-01-10"), ("2015-01-20", "2015-01-31"), ("2015-03-01", "2015-03-31")),
        ("2015-01-05", "2015-01-25"),
        (("2015-01-01", "2015-01-04"), ("2015-01-26", "2015-01-31"), ("2015-03-01", "2015-03-31")),
        id="across-several",
    ),
    pytest.param(
        (("2015-01-20", "2015-01-31"), ("2015-01-01", "2015-01-19")),
        ("2015-01-10", "2015-01-10"),
        (("2015-01-01", "2015-01-09"), ("2015-01-11", "2015-01-31")),
        id="unnormalized-input",
    ),
    pytest.param((), ("2015-01-01", None), (), id="empty"),
]


@pytest.mark.parametrize(("given", "removal", "expected"), SUBTRACT_CASES)
def test_subtract_removes_exactly_the_days_of_the_removal(
    given: tuple[tuple[str, str | None], ...],
    removal: tuple[str, str | None],
    expected: tuple[tuple[str, str | None], ...],
) -> None:
    assert subtract(ps(*given), p(*removal)) == ps(*expected)


# --- intersect --------------------------------------------------------------------------------------------

INTERSECT_CASES = [
    pytest.param(JANUARY, ("2015-02-01", "2015-02-28"), (), id="disjoint"),
    pytest.param(JANUARY, ("2015-01-31", "2015-02-28"), (("2015-01-31", "2015-01-31"),), id="one-day"),
    pytest.param(JANUARY, ("2015-01-10", "2015-01-12"), (("2015-01-10", "2015-01-12"),), id="window-inside"),
    pytest.param(JANUARY, ("2014-01-01", "2016-01-01"), JANUARY, id="window-around"),
    pytest.param(JANUARY, ("2015-01-15", None), (("2015-01-15", "2015-01-31"),), id="open-window"),
    pytest.param(
        (("2015-01-01", None),),
        ("2015-03-01", "2015-03-31"),
        (("2015-03-01", "2015-03-31"),),
        id="open-period",
    ),
    pytest.param((("2015-01-01", None),), ("2015-03-01", None), (("2015-03-01", None),), id="both-open"),
    pytest.param(
        (("2015-01-01", "2015-01-10"), ("2015-01-20", "2015-01-31")),
        ("2015-01-05", "2015-01-25"),
        (("2015-01-05", "2015-01-10"), ("2015-01-20", "2015-01-25")),
        id="several",
    ),
]


@pytest.mark.parametrize(("given", "window", "expected"), INTERSECT_CASES)
def test_intersect_keeps_only_the_days_inside_the_window(
    given: tuple[tuple[str, str | None], ...],
    window: tuple[str, str | None],
    expected: tuple[tuple[str, str | None], ...],
) -> None:
    assert intersect(ps(*given), p(*window)) == ps(*expected)


# --- overlaps ---------------------------------------------------------------------------------------------

OVERLAP_CASES = [
    pytest.param(("2015-01-01", "2015-01-31"), ("2015-01-31", "2015-02-28"), True, id="share-last-day"),
    pytest.param(("2015-01-01", "2015-01-31"), ("2015-02-01", "2015-02-28"), False, id="adjacent"),
    pytest.param(("2015-01-01", "2015-01-31"), ("2014-12-01", "2014-12-31"), False, id="before"),
    pytest.param(("2015-01-01", "2015-01-31"), ("2015-01-10", "2015-01-10"), True, id="nested"),
    pytest.param(("2015-01-01", None), ("2099-01-01", "2099-01-01"), True, id="open-and-far-future"),
    pytest.param(("2015-01-01", None), ("2014-01-01", "2014-12-31"), False, id="open-and-before"),
    pytest.param(("2015-01-01", None), ("2016-01-01", None), True, id="both-open"),
]


@pytest.mark.parametrize(("a", "b", "expected"), OVERLAP_CASES)
def test_two_periods_overlap_when_they_share_at_least_one_day(
    a: tuple[str, str | None], b: tuple[str, str | None], expected: bool
) -> None:
    assert overlaps(p(*a), p(*b)) is expected
    assert overlaps(p(*b), p(*a)) is expected


# --- missing / covers -----------------------------------------------------------------------------------

MISSING_CASES = [
    pytest.param((), ("2015-01-01", "2015-01-31"), (("2015-01-01", "2015-01-31"),), id="nothing-covered"),
    pytest.param(JANUARY, ("2015-01-01", "2015-01-31"), (), id="exactly-covered"),
    pytest.param(JANUARY, ("2015-01-10", "2015-01-20"), (), id="window-inside"),
    pytest.param(JANUARY, ("2014-12-30", "2015-01-05"), (("2014-12-30", "2014-12-31"),), id="gap-before"),
    pytest.param(JANUARY, ("2015-01-25", "2015-02-02"), (("2015-02-01", "2015-02-02"),), id="gap-after"),
    pytest.param(
        (("2015-01-01", "2015-01-10"), ("2015-01-20", "2015-01-31")),
        ("2015-01-01", "2015-01-31"),
        (("2015-01-11", "2015-01-19"),),
        id="gap-in-the-middle",
    ),
    pytest.param(
        (("2015-01-05", "2015-01-10"),),
        ("2015-01-01", "2015-01-31"),
        (("2015-01-01", "2015-01-04"), ("2015-01-11", "2015-01-31")),
        id="gaps-on-both-sides",
    ),
    pytest.param(JANUARY, ("2015-01-01", None), (("2015-02-01", None),), id="open-window"),
    pytest.param((("2015-01-01", None),), ("2015-06-01", None), (), id="open-window-open-cover"),
    pytest.param(
        (("2015-01-10", None),),
        ("2015-01-01", None),
        (("2015-01-01", "2015-01-09"),),
        id="open-cover-starting-late",
    ),
]


@pytest.mark.parametrize(("given", "window", "expected"), MISSING_CASES)
def test_missing_lists_the_days_of_the_window_that_are_not_covered(
    given: tuple[tuple[str, str | None], ...],
    window: tuple[str, str | None],
    expected: tuple[tuple[str, str | None], ...],
) -> None:
    assert missing(ps(*given), p(*window)) == ps(*expected)
    assert covers(ps(*given), p(*window)) is (expected == ())


def test_two_adjacent_periods_together_cover_a_window_across_their_border() -> None:
    assert covers(ps(("2015-01-01", "2015-01-15"), ("2015-01-16", "2015-01-31")), p("2015-01-10", "2015-01-20"))


def test_a_one_day_gap_means_the_window_is_not_covered() -> None:
    assert not covers(ps(("2015-01-01", "2015-01-14"), ("2015-01-16", "2015-01-31")), p("2015-01-01", "2015-01-31"))


COVERS_DAY_CASES = [
    pytest.param(JANUARY, "2015-01-01", True, id="first-day"),
    pytest.param(JANUARY, "2015-01-31", True, id="last-day"),
    pytest.param(JANUARY, "2014-12-31", False, id="day-before"),
    pytest.param(JANUARY, "2015-02-01", False, id="day-after"),
    pytest.param((("2015-01-01", None),), "2099-12-31", True, id="open-ended"),
    pytest.param((("2015-01-01", "2015-01-10"), ("2015-01-20", "2015-01-31")), "2015-01-15", False, id="gap"),
    pytest.param((), "2015-01-15", False, id="empty"),
]


@pytest.mark.parametrize(("given", "day", "expected"), COVERS_DAY_CASES)
def test_covers_day_says_whether_a_single_day_is_covered(
    given: tuple[tuple[str, str | None], ...], day: str, expected: bool
) -> None:
    assert covers_day(ps(*given), d(day)) is expected


# --- add_months -----------------------------------------------------------------------------------------

ADD_MONTHS_CASES = [
    pytest.param("2015-01-15", 1, "2015-02-15", id="same-day-next-month"),
    pytest.param("2015-01-31", 1, "2015-02-28", id="clamped-to-february"),
    pytest.param("2016-01-31", 1, "2016-02-29", id="clamped-to-leap-february"),
    pytest.param("2016-02-29", 12, "2017-02-28", id="leap-day-plus-a-year"),
    pytest.param("2016-02-29", 48, "2020-02-29", id="leap-day-plus-four-years"),
    pytest.param("2015-03-31", 1, "2015-04-30", id="clamped-to-thirty"),
    pytest.param("2015-12-01", 1, "2016-01-01", id="year-roll-over"),
    pytest.param("2015-11-30", 2, "2016-01-30", id="year-roll-over-by-two"),
    pytest.param("2015-12-31", 2, "2016-02-29", id="roll-over-into-leap-february"),
    pytest.param("2014-12-01", 2, "2015-02-01", id="manual-example-code-01"),
    pytest.param("2015-01-01", 12, "2016-01-01", id="one-year"),
    pytest.param("2015-06-15", 60, "2020-06-15", id="five-years"),
    pytest.param("2015-06-15", 0, "2015-06-15", id="zero-months"),
    pytest.param("2015-03-31", -1, "2015-02-28", id="backwards-clamped"),
    pytest.param("2015-01-15", -1, "2014-12-15", id="backwards-year-roll-over"),
]


@pytest.mark.parametrize(("start", "months", "expected"), ADD_MONTHS_CASES)
def test_add_months_lands_on_the_same_calendar_day_clamped_to_a_shorter_month(
    start: str, months: int, expected: str
) -> None:
    assert add_months(d(start), months) == d(expected)


def test_a_period_reads_as_its_days_in_sentences_and_an_open_one_reads_onwards() -> None:
    assert Period(date(2015, 1, 1), date(2015, 1, 31)).describe() == "2015-01-01/2015-01-31"
    assert Period(date(2015, 1, 1)).describe() == "2015-01-01 onwards"
    assert str(Period(date(2015, 1, 1))) == "2015-01-01/"

"""Periods of whole calendar days, both ends included, with an optional open end.

Invariant: a *period set* (what this module returns) is a tuple of periods sorted by start, pairwise
disjoint and never adjacent; every function below takes any iterable of periods and returns such a set.
Days run from ``date.min`` to ``LAST_DAY`` (9999-12-31), the last day the directory holds: no function here
ever computes a day beyond them, and a period ending on ``LAST_DAY`` stays distinct from an open-ended one
(they hold the same days, but only the second has no end). Date arithmetic that would leave the calendar
raises ``DateOutOfRange``.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from gateway.errors import DateOutOfRange

__all__ = [
    "LAST_DAY",
    "ONE_DAY",
    "Period",
    "PeriodSet",
    "add_months",
    "covers",
    "covers_day",
    "intersect",
    "missing",
    "normalize",
    "overlaps",
    "parse_day",
    "subtract",
    "union",
]

ONE_DAY = timedelta(days=1)
LAST_DAY = date.max  # the directory's last day: 9999-12-31
_LAST = LAST_DAY.toordinal()
_OPEN = _LAST + 1  # internal stand-in for an open end, as an ordinal: after every day, never a day itself


@dataclass(frozen=True, order=True, slots=True)
class Period:
    """The days ``start`` .. ``end``, both included; ``end is None`` means open-ended (no end)."""

    start: date
    end: date | None = None

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")

    @property
    def last(self) -> date:
        """The last day, with ``LAST_DAY`` for an open end (the same days; for comparisons only)."""
        return LAST_DAY if self.end is None else self.end

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.last

    def days(self) -> int | None:
        """Number of days in the period, ``None`` when open-ended."""
        return None if self.end is None else (self.end - self.start).days + 1

    def __str__(self) -> str:
        return f"{self.start.isoformat()}/{self.end.isoformat() if self.end else ''}"

    def describe(self) -> str:
        """The period for a sentence a person reads: ``2015-01-01/2015-01-31``, or ``2015-01-01 onwards``."""
        return str(self) if self.end is not None else f"{self.start.isoformat()} onwards"


PeriodSet = tuple[Period, ...]


def _span(p: Period) -> tuple[int, int]:
    """The period as ordinals (first day, last day), ``_OPEN`` as the last of an open-ended one."""
    return p.start.toordinal(), _OPEN if p.end is None else p.end.toordinal()


def _make(first: int, last: int) -> Period:
    return Period(date.fromordinal(first), None if last == _OPEN else date.fromordinal(last))


def _spans(periods: Iterable[Period]) -> list[tuple[int, int]]:
    """The normalized set of ``periods`` as spans: sorted, disjoint, never adjacent."""
    merged: list[tuple[int, int]] = []
    for first, last in sorted(_span(p) for p in periods):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def normalize(periods: Iterable[Period]) -> PeriodSet:
    """Merge overlapping and adjacent periods into a sorted set of disjoint, non-adjacent periods."""
    return tuple(_make(first, last) for first, last in _spans(periods))


def union(a: Iterable[Period], b: Iterable[Period]) -> PeriodSet:
    return normalize([*a, *b])


def subtract(periods: Iterable[Period], removal: Period) -> PeriodSet:
    """The days of ``periods`` outside ``removal``; a period that straddles it splits in two."""
    gone_first, gone_last = _span(removal)
    out: list[Period] = []
    for first, last in _spans(periods):
        if last < gone_first or first > gone_last:
            out.append(_make(first, last))
            continue
        if first < gone_first:
            out.append(_make(first, gone_first - 1))
        if last > gone_last and gone_last < _LAST:  # after LAST_DAY there is no day left to keep
            out.append(_make(gone_last + 1, last))
    return tuple(out)


def intersect(periods: Iterable[Period], window: Period) -> PeriodSet:
    """The days of ``periods`` inside ``window``."""
    window_first, window_last = _span(window)
    out: list[Period] = []
    for first, last in _spans(periods):
        first, last = max(first, window_first), min(last, window_last)
        if first <= last:
            out.append(_make(first, last))
    return tuple(out)


def overlaps(a: Period, b: Period) -> bool:
    """True when ``a`` and ``b`` have at least one day in common."""
    return a.start <= b.last and b.start <= a.last


def missing(periods: Iterable[Period], window: Period) -> PeriodSet:
    """The days of ``window`` that ``periods`` do not cover."""
    window_first, window_last = _span(window)
    window_last = min(window_last, _LAST)  # an open window's days end with the calendar
    gaps: list[Period] = []
    cursor = window_first  # the first day not yet accounted for
    for p in intersect(periods, window):
        first, last = _span(p)
        if first > cursor:
            gaps.append(_make(cursor, first - 1))
        cursor = last + 1
    if cursor <= window_last:
        gaps.append(_make(cursor, _OPEN if window.end is None else window_last))
    return tuple(gaps)


def covers(periods: Iterable[Period], window: Period) -> bool:
    """True when every day of ``window`` lies in ``periods``."""
    return not missing(periods, window)


def covers_day(periods: Iterable[Period], day: date) -> bool:
    return any(p.contains(day) for p in periods)


def add_months(day: date, months: int) -> date:
    """The same calendar day ``months`` later, clamped to the end of a shorter month (31 Jan + 1 = 28 Feb).

    Raises ``DateOutOfRange`` when that day would fall outside the years 1 to 9999.
    """
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    if not 1 <= year <= LAST_DAY.year:
        raise DateOutOfRange(
            f"{months} month{'s' if months != 1 else ''} from {day.isoformat()} is a day of the year {year}, "
            f"outside the calendar the directory holds (0001-01-01 to {LAST_DAY.isoformat()})."
        )
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def parse_day(text: str, what: str = "date") -> date:
    """The calendar day an operator or a data file writes as ``YYYY-MM-DD``; ``ValueError`` names ``what`` it is."""
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} {text!r} is not an ISO date (YYYY-MM-DD)") from exc

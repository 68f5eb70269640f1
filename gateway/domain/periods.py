"""Periods of whole calendar days, both ends included, with an optional open end.

Invariant: a *period set* (what this module returns) is a tuple of periods sorted by start, pairwise
disjoint and never adjacent; every function below takes any iterable of periods and returns such a set.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = [
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
_OPEN = date.max  # internal stand-in for an open end; never leaves this module as an end date


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
        """The last day, with ``date.max`` for an open end (for comparisons only)."""
        return _OPEN if self.end is None else self.end

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


def _make(start: date, last: date) -> Period:
    return Period(start, None if last == _OPEN else last)


def _next_day(day: date) -> date:
    return _OPEN if day == _OPEN else day + ONE_DAY


def normalize(periods: Iterable[Period]) -> PeriodSet:
    """Merge overlapping and adjacent periods into a sorted set of disjoint, non-adjacent periods."""
    ordered = sorted(periods, key=lambda p: p.start)
    merged: list[tuple[date, date]] = []
    for p in ordered:
        if merged and p.start <= _next_day(merged[-1][1]):
            start, last = merged[-1]
            merged[-1] = (start, max(last, p.last))
        else:
            merged.append((p.start, p.last))
    return tuple(_make(s, e) for s, e in merged)


def union(a: Iterable[Period], b: Iterable[Period]) -> PeriodSet:
    return normalize([*a, *b])


def subtract(periods: Iterable[Period], removal: Period) -> PeriodSet:
    """The days of ``periods`` outside ``removal``; a period that straddles it splits in two."""
    out: list[Period] = []
    for p in normalize(periods):
        if p.last < removal.start or p.start > removal.last:
            out.append(p)
            continue
        if p.start < removal.start:
            out.append(Period(p.start, removal.start - ONE_DAY))
        if removal.last != _OPEN and p.last > removal.last:
            out.append(_make(removal.last + ONE_DAY, p.last))
    return tuple(out)


def intersect(periods: Iterable[Period], window: Period) -> PeriodSet:
    """The days of ``periods`` inside ``window``."""
    out: list[Period] = []
    for p in normalize(periods):
        start, last = max(p.start, window.start), min(p.last, window.last)
        if start <= last:
            out.append(_make(start, last))
    return tuple(out)


def overlaps(a: Period, b: Period) -> bool:
    """True when ``a`` and ``b`` have at least one day in common."""
    return a.start <= b.last and b.start <= a.last


def missing(periods: Iterable[Period], window: Period) -> PeriodSet:
    """The days of ``window`` that ``periods`` do not cover."""
    gaps: list[Period] = []
    cursor: date | None = window.start
    for p in intersect(periods, window):
        if cursor is not None and p.start > cursor:
            gaps.append(Period(cursor, p.start - ONE_DAY))
        cursor = None if p.last == _OPEN else p.last + ONE_DAY
        if cursor is not None and cursor > window.last:
            cursor = None
    if cursor is not None and cursor <= window.last:
        gaps.append(_make(cursor, window.last))
    return tuple(gaps)


def covers(periods: Iterable[Period], window: Period) -> bool:
    """True when every day of ``window`` lies in ``periods``."""
    return not missing(periods, window)


def covers_day(periods: Iterable[Period], day: date) -> bool:
    return any(p.contains(day) for p in periods)


def add_months(day: date, months: int) -> date:
    """The same calendar day ``months`` later, clamped to the end of a shorter month (31 Jan + 1 = 28 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def parse_day(text: str, what: str = "date") -> date:
    """The calendar day an operator or a data file writes as ``YYYY-MM-DD``; ``ValueError`` names ``what`` it is."""
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} {text!r} is not an ISO date (YYYY-MM-DD)") from exc

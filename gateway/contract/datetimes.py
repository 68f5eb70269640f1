"""Instants read from messages (``wsu:Created`` and the like): ISO 8601 text as an aware datetime in UTC.

Invariant: ``utc_instant`` returns an aware datetime in UTC for every text it accepts; any other text —
malformed, longer than any instant, or an instant that leaves the years 1 to 9999 once moved to UTC, such as
``9999-12-31T23:59:59-14:00`` or ``0001-01-01T00:00:00+14:00`` — raises ``ValueError`` (``DateOutOfRange`` for
the last kind), never ``OverflowError``, so a caller's one ``except ValueError`` answers the sender.
"""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.errors import DateOutOfRange

__all__ = ["MAX_INSTANT_CHARS", "utc_instant"]

MAX_INSTANT_CHARS = 64  # "9999-12-31T23:59:59.999999999+14:00" has 35; anything far longer is not an instant


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def utc_instant(text: str) -> datetime:
    """``text`` (ISO 8601; without an offset it is taken as UTC) as an aware datetime in UTC."""
    if len(text) > MAX_INSTANT_CHARS:
        raise ValueError(f"{_shown(text)} ({len(text)} characters) is not an ISO 8601 date and time")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{_shown(text)} is not an ISO 8601 date and time") from exc
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise DateOutOfRange(
            f"{_shown(text)} is an instant outside the years 1 to 9999 in UTC, which no clock of this gateway "
            "can compare"
        ) from exc

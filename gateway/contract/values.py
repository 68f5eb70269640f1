"""Values of the contracts' simple types read from elements that already validated: a calendar day of xs:date.

Invariant: every reader of the contracts (the v1 codec, the legacy front's SSDN reader) turns an xs:date into
the same calendar day, the timezone suffix ignored, and one the gateway cannot hold (outside the years 1 to
9999, which xs:date allows) into a ``SchemaViolation`` that names the element.
"""

from __future__ import annotations

import re
from datetime import date

from lxml import etree

from gateway.errors import SchemaViolation

__all__ = ["calendar_day"]

_DATE = re.compile(r"\s*(-?\d{4,})-(\d\d)-(\d\d)(?:Z|[+-]\d\d:\d\d)?\s*")


def calendar_day(element: etree._Element) -> date:
    """An xs:date's calendar day; a timezone suffix is ignored (contract: the calendar day is what counts)."""
    text = element.text or ""
    match = _DATE.fullmatch(text)
    try:
        if match is None:
            raise ValueError(text)
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as exc:
        path = element.getroottree().getpath(element)
        raise SchemaViolation(
            f"The date {text.strip()!r} in {path} is outside the years 1 to 9999 this gateway handles.",
            path=path,
            line=element.sourceline,
        ) from exc

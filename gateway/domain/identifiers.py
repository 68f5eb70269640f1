"""SSIN (INSZ / NISS) validation: national register and BIS numbers, both centuries, unknown month or day.

Invariant: ``check_ssin`` accepts a number only when its check digits match for one century and its date
part names a possible birth date (month or day ``00`` standing for unknown).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

__all__ = ["SsinCheck", "check_ssin", "is_valid_ssin"]


@dataclass(frozen=True, slots=True)
class SsinCheck:
    """The outcome of checking one SSIN: ``valid`` with details, or the ``reason`` it was refused."""

    ssin: str
    valid: bool
    reason: str = ""
    kind: str = ""  # "national-register" or "bis"
    birth_date: date | None = None  # None when month or day is unknown
    century: int | None = None  # 1900 or 2000


def _refuse(ssin: str, reason: str) -> SsinCheck:
    return SsinCheck(ssin=ssin, valid=False, reason=reason)


def check_ssin(ssin: str) -> SsinCheck:
    """Check an SSIN and say why it is refused when it is."""
    if len(ssin) != 11 or not ssin.isascii() or not ssin.isdigit():
        return _refuse(ssin, f"SSIN {ssin!r} must be exactly 11 digits")
    body, check = int(ssin[:9]), int(ssin[9:])
    if check == 97 - (body % 97):
        century = 1900
    elif check == 97 - ((2_000_000_000 + body) % 97):
        century = 2000
    else:
        return _refuse(ssin, f"SSIN {ssin} has wrong check digits {ssin[9:]}")

    yy, mm, dd = int(ssin[0:2]), int(ssin[2:4]), int(ssin[4:6])
    kind = "national-register"
    if mm >= 40:
        kind, mm = "bis", mm - 40
    elif mm >= 20:
        kind, mm = "bis", mm - 20
    if mm > 12:
        return _refuse(ssin, f"SSIN {ssin} has an impossible birth month {ssin[2:4]}")
    year = century + yy
    if mm == 0:
        # Month unknown: a known day can still be at most 31.
        if dd > 31:
            return _refuse(ssin, f"SSIN {ssin} has an impossible birth day {ssin[4:6]}")
        return SsinCheck(ssin=ssin, valid=True, kind=kind, century=century)
    if dd > calendar.monthrange(year, mm)[1]:
        return _refuse(ssin, f"SSIN {ssin} has an impossible birth date (day {ssin[4:6]} of {year}-{mm:02d})")
    birth = date(year, mm, dd) if dd else None
    return SsinCheck(ssin=ssin, valid=True, kind=kind, birth_date=birth, century=century)


def is_valid_ssin(ssin: str) -> bool:
    return check_ssin(ssin).valid

"""What a console form or query string says, read strictly: fields, days, periods, years.

Invariant: reading a form decides nothing about the directory; it only turns text into the values a use case
takes, or raises a ``FormError`` naming the field and what is wrong with it (a date that is no date, a period's
end without its start). Whether a period, a code or a person is acceptable is the use case's to say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import parse_qs

__all__ = ["MAX_BODY_BYTES", "Form", "FormError", "parse_form"]

MAX_BODY_BYTES = 64 * 1024
MAX_FIELDS = 400


class FormError(Exception):
    """A field the console cannot read: ``key`` names the sentence in ``i18n.TEXTS``, ``values`` fill it in
    (``field`` itself is the key of the field's label, translated when shown)."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True, slots=True)
class Form:
    """The fields of a form or a query string, each with every value it was sent with."""

    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def one(self, name: str) -> str:
        """The field's first value, stripped, or ``""``."""
        values = self.fields.get(name, ())
        return values[0].strip() if values else ""

    def every(self, name: str) -> tuple[str, ...]:
        return tuple(v.strip() for v in self.fields.get(name, ()))

    def day(self, name: str, label: str, *, required: bool = False) -> date | None:
        text = self.one(name)
        if not text:
            if required:
                raise FormError("date_required", field=label)
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise FormError("bad_date", field=label, value=text) from None

    def period(self, prefix: str, label: str) -> tuple[date, date | None] | None:
        """``prefix_start`` and ``prefix_end`` as a raw period (its order is the rules' to judge), or None."""
        start = self.day(f"{prefix}_start", label)
        end = self.day(f"{prefix}_end", label)
        if start is None:
            if end is not None:
                raise FormError("end_without_start", field=label)
            return None
        return start, end

    def year(self, name: str, label: str) -> int | None:
        text = self.one(name)
        if not text:
            return None
        if not (text.isascii() and text.isdigit() and len(text) <= 4):
            raise FormError("bad_year", field=label, value=text)
        return int(text)


def parse_form(text: str) -> Form | None:
    """A ``application/x-www-form-urlencoded`` body or query string; None when it is not one."""
    try:
        parsed = parse_qs(text, keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_FIELDS)
    except ValueError:
        return None
    return Form({k: tuple(v) for k, v in parsed.items()})

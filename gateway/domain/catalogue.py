"""The catalogue of sectors and quality codes with each code's maximum period (RULES.md section 1).

Invariant: a catalogue is immutable data; which sectors and codes exist comes from data files, never code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from gateway.domain.periods import LAST_DAY, add_months
from gateway.errors import CatalogueError, DateOutOfRange

__all__ = [
    "DEFAULT_CATALOGUE_FILE",
    "DEMO_CATALOGUE_FILE",
    "OCMW_SECTOR",
    "Catalogue",
    "CatalogueError",
    "MaxPeriod",
    "QualityCode",
    "load_catalogue",
    "read_data_file",
]

OCMW_SECTOR = 17
DEFAULT_CATALOGUE_FILE = "quality-codes.json"
DEMO_CATALOGUE_FILE = "demo-quality-codes.json"


@dataclass(frozen=True, slots=True)
class MaxPeriod:
    """How long one request may integrate a code: N months (R1.2), the calendar year (R1.3) or unlimited."""

    months: int | None = None
    calendar_year: bool = False

    @property
    def unlimited(self) -> bool:
        return self.months is None and not self.calendar_year

    def max_end(self, begin: date) -> date | None:
        """The latest end allowed for a period starting on ``begin``; ``None`` when there is no limit.

        Raises ``DateOutOfRange`` when that end would lie after ``LAST_DAY``, the directory's last day.
        """
        if self.calendar_year:
            return date(begin.year, 12, 31)
        if self.months is None:
            return None
        try:
            return add_months(begin, self.months) - timedelta(days=1)
        except DateOutOfRange:
            if begin.day == 1 and begin.year * 12 + begin.month - 1 + self.months == (LAST_DAY.year + 1) * 12:
                return LAST_DAY  # the day before 10000-01-01, which itself is past the calendar
            raise

    def describe(self) -> str:
        if self.calendar_year:
            return "the calendar year"
        if self.months is None:
            return "unlimited"
        return f"{self.months} month{'s' if self.months != 1 else ''}"


@dataclass(frozen=True, slots=True)
class QualityCode:
    sector: int
    code: int
    label: str
    max_period: MaxPeriod
    manual: bool = True


@dataclass(frozen=True)
class Catalogue:
    """Sectors by number (with their names) and quality codes by ``(sector, code)``."""

    sectors: Mapping[int, str] = field(default_factory=dict)
    codes: Mapping[tuple[int, int], QualityCode] = field(default_factory=dict)

    def code(self, sector: int, code: int) -> QualityCode | None:
        return self.codes.get((sector, code))

    def codes_of(self, sector: int) -> tuple[QualityCode, ...]:
        return tuple(q for (s, _), q in sorted(self.codes.items()) if s == sector)

    def merged(self, other: Catalogue) -> Catalogue:
        """This catalogue with ``other``'s sectors and codes added (``other`` wins on a clash)."""
        return Catalogue({**self.sectors, **other.sectors}, {**self.codes, **other.codes})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Catalogue:
        sectors: dict[int, str] = {}
        codes: dict[tuple[int, int], QualityCode] = {}
        try:
            for s in data["sectors"]:
                sector = int(s["sector"])
                sectors[sector] = str(s.get("name", f"sector {sector}"))
                for c in s["codes"]:
                    code = int(c["code"])
                    codes[(sector, code)] = QualityCode(
                        sector=sector,
                        code=code,
                        label=str(c.get("label", "")),
                        max_period=_parse_max(c["max"]),
                        manual=_flag(c.get("manual", True), "manual"),
                    )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise CatalogueError(f"malformed quality-code catalogue: {exc!r}") from exc
        return cls(sectors, codes)

    def to_dict(self) -> dict[str, Any]:
        out = []
        for sector, name in sorted(self.sectors.items()):
            entries = []
            for q in self.codes_of(sector):
                mp: dict[str, Any]
                if q.max_period.calendar_year:
                    mp = {"calendar_year": True}
                elif q.max_period.months is None:
                    mp = {"unlimited": True}
                else:
                    mp = {"months": q.max_period.months}
                entries.append({"code": q.code, "label": q.label, "max": mp, "manual": q.manual})
            out.append({"sector": sector, "name": name, "codes": entries})
        return {"sectors": out}


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, not {value!r}")
    return value


def _parse_max(spec: Mapping[str, Any]) -> MaxPeriod:
    if spec.get("calendar_year"):
        return MaxPeriod(calendar_year=True)
    if spec.get("unlimited"):
        return MaxPeriod()
    months = int(spec["months"])
    if months <= 0:
        raise ValueError(f"months must be positive, not {months}")
    return MaxPeriod(months=months)


def read_data_file(source: str | Path, what: str) -> Any:
    """The JSON of a data file: the name of a file shipped in ``gateway/data`` (a string without a ``/``), or any
    other path. ``CatalogueError`` names ``what`` it should have been when it is not JSON; ``OSError`` when the
    file cannot be read."""
    shipped = resources.files("gateway.data").joinpath(str(source))
    if isinstance(source, str) and "/" not in source and shipped.is_file():
        text = shipped.read_text(encoding="utf-8")
    else:
        text = Path(source).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CatalogueError(f"malformed {what} {source}: {exc}") from exc


def load_catalogue(sources: Iterable[str | Path] = (DEFAULT_CATALOGUE_FILE,)) -> Catalogue:
    """Load and merge catalogue files: the name of a file shipped in ``gateway/data``, or a path."""
    result = Catalogue()
    for source in sources:
        result = result.merged(Catalogue.from_dict(read_data_file(source, "quality-code catalogue")))
    return result

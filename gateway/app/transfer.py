"""Bulk transfer of the directory as CSV: the operator's import and export of integrations.

Invariant: an import applies only lines that pass every check (institution known, SSIN valid, code in the
catalogue of the institution's sector, ISO dates, end not before start) and names every other line with its
number and reason, in file order; the store merges what it applies (R2.5). What ``export_csv`` writes,
``import_csv`` reads back to the same directory.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import IO

from gateway.app.ports import ImportRow, InstitutionRecord, Store
from gateway.domain.catalogue import Catalogue
from gateway.domain.identifiers import check_ssin
from gateway.domain.periods import Period, parse_day

__all__ = [
    "CSV_HEADER",
    "PROGRESS_LINES",
    "ImportReport",
    "Rejected",
    "export_csv",
    "import_csv",
    "parse_line",
]

CSV_HEADER = ("institution", "ssin", "code", "start", "end")
PROGRESS_LINES = 1000  # how often an import reports its progress, in lines read


def parse_line(
    fields: list[str], institutions: Mapping[str, InstitutionRecord], catalogue: Catalogue
) -> ImportRow | str:
    """One CSV line as an ``ImportRow``, or the reason it is rejected."""
    if len(fields) not in (4, 5):
        return f"expected 5 columns ({','.join(CSV_HEADER)}), found {len(fields)}"
    institution_id, ssin, code_text, start_text = (f.strip() for f in fields[:4])
    end_text = fields[4].strip() if len(fields) == 5 else ""
    institution = institutions.get(institution_id)
    if institution is None:
        return f"unknown institution {institution_id!r}"
    check = check_ssin(ssin)
    if not check.valid:
        return check.reason
    try:
        code = int(code_text)
    except ValueError:
        return f"quality code {code_text!r} is not a number"
    if catalogue.code(institution.sector, code) is None:
        return f"quality code {code:02d} is not in the catalogue of sector {institution.sector}"
    try:
        start = parse_day(start_text, "start date")
        end = parse_day(end_text, "end date") if end_text else None
    except ValueError as exc:
        return str(exc)
    if end is not None and end < start:
        return f"end date {end.isoformat()} lies before start date {start.isoformat()}"
    return ImportRow(institution_id, ssin, code, Period(start, end))


class _KnownGood:
    """The common line taken at speed: ``parse_line``'s checks, with what repeats in a large file (the valid
    SSINs, the days, the codes of each institution's sector in the spellings ``1`` and ``01``) remembered. It
    answers an ``ImportRow`` only for a line that ``parse_line`` takes to the same row, and ``None`` for any
    other (then ``parse_line`` decides, and names the reason): a rejected line is reported as before."""

    def __init__(self, institutions: Mapping[str, InstitutionRecord], catalogue: Catalogue) -> None:
        self._codes: dict[tuple[str, str], int] = {}
        for institution in institutions.values():
            if institution.id != institution.id.strip():
                continue  # parse_line strips the field first: leave such an id to it
            for sector, code in catalogue.codes:
                if sector == institution.sector:
                    for text in (str(code), f"{code:02d}"):
                        self._codes[(institution.id, text)] = code
        self._ssins: set[str] = set()
        self._days: dict[str, date] = {}

    def _day(self, text: str) -> date | None:
        day = self._days.get(text)
        if day is None:
            try:
                day = self._days[text] = date.fromisoformat(text)  # as parse_day does
            except ValueError:
                return None
        return day

    def __call__(self, fields: list[str]) -> ImportRow | None:
        if len(fields) != 5:
            return None
        institution_id, ssin, code_text, start_text, end_text = fields
        code = self._codes.get((institution_id, code_text))
        if code is None:
            return None
        if ssin not in self._ssins:
            if not check_ssin(ssin).valid:
                return None
            self._ssins.add(ssin)
        start = self._day(start_text)
        if start is None:
            return None
        if end_text:
            end = self._day(end_text)
            if end is None or end < start:
                return None
            return ImportRow(institution_id, ssin, code, Period(start, end))
        return ImportRow(institution_id, ssin, code, Period(start))


@dataclass(frozen=True, slots=True)
class ImportReport:
    """Where an import stands, or what it did: bytes of the file read, rows taken, lines rejected, seconds spent."""

    bytes_read: int
    rows: int
    rejected: int
    seconds: float

    @property
    def rows_per_second(self) -> float | None:
        return self.rows / self.seconds if self.seconds > 0 and self.rows else None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A line an import did not apply: its number in the file and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def import_csv(
    store: Store,
    lines: Iterable[bytes],
    on_reject: Callable[[Rejected], None],
    on_progress: Callable[[ImportReport], None] | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> ImportReport:
    """Merge the good rows of CSV ``lines`` (UTF-8, an optional BOM and header line) into the directory, read
    lazily; ``on_reject`` hears of each bad line as it is met, ``on_progress`` how far the import got, every
    ``PROGRESS_LINES`` rows, at each reject and at the end of the file."""
    institutions = {r.id: r for r in store.institutions()}
    catalogue = store.catalogue()
    known_good = _KnownGood(institutions, catalogue)
    started = clock()
    size = taken = rejected = 0

    def report() -> ImportReport:
        return ImportReport(size, taken, rejected, clock() - started)

    def decoded() -> Iterator[str]:
        nonlocal size
        for number, raw in enumerate(lines):
            size += len(raw)
            text = raw.decode("utf-8", errors="replace")
            yield text.removeprefix("\ufeff") if number == 0 else text

    def rows() -> Iterator[ImportRow]:
        nonlocal taken, rejected
        reader = csv.reader(decoded())
        first = True
        for fields in reader:
            parsed: ImportRow | str | None = None if first else known_good(fields)
            if parsed is None:
                if not fields or all(not f.strip() for f in fields):
                    continue
                if first:
                    first = False
                    if fields[0].strip().lower() == CSV_HEADER[0]:
                        continue  # the optional header line
                parsed = parse_line(fields, institutions, catalogue)
            if isinstance(parsed, str):
                rejected += 1
                on_reject(Rejected(reader.line_num, parsed))
                if on_progress is not None:
                    on_progress(report())
                continue
            taken += 1
            if on_progress is not None and taken % PROGRESS_LINES == 0:
                on_progress(report())
            yield parsed
        if on_progress is not None:
            on_progress(report())

    imported = store.import_integrations(rows())
    return ImportReport(size, imported, rejected, clock() - started)


def export_csv(store: Store, out: IO[str]) -> int:
    """Write every integration as CSV with a header (what ``import_csv`` reads back); return the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    count = 0
    for row in store.export_integrations():
        p = row.period
        writer.writerow(
            (row.institution_id, row.ssin, f"{row.code:02d}", p.start.isoformat(), p.end.isoformat() if p.end else "")
        )
        count += 1
    return count

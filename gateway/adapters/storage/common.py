"""What every store shares: the catalogue's row form, timestamps in UTC, JSON, the import's batches and merge,
and the nonces' retention.

Invariant: a value written by one store reads back equal through another; catalogue rows map to and from the
domain's ``Catalogue`` only here, timestamps are stored as UTC, an import merges (R2.5) in batches of
``IMPORT_BATCH`` rows, one transaction each, and a nonce is kept ``NONCE_RETENTION`` at least.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, TypeVar

from gateway.app.ports import ImportRow, Superseded
from gateway.domain.catalogue import Catalogue, MaxPeriod, QualityCode
from gateway.domain.periods import Period, PeriodSet, normalize

__all__ = [
    "IMPORT_BATCH",
    "NONCE_PRUNE_INTERVAL_SECONDS",
    "NONCE_RETENTION",
    "CodeRow",
    "PeriodKey",
    "PruneSchedule",
    "at_once",
    "batched",
    "catalogue_from_rows",
    "catalogue_rows",
    "dump_json",
    "import_in_batches",
    "merges",
    "utc",
]

IMPORT_BATCH = 50_000  # rows merged per import transaction (its write lock held about a second on an idle machine)
NONCE_RETENTION = timedelta(minutes=10)  # twice the WS-Security window: older nonces are refused as stale anyway
NONCE_PRUNE_INTERVAL_SECONDS = 60.0


class PruneSchedule:
    """Says when stale nonces are due to be deleted again: at most once a minute per store (thread-safe enough:
    an extra prune now and then is harmless)."""

    def __init__(self, interval: float = NONCE_PRUNE_INTERVAL_SECONDS) -> None:
        self._interval = interval
        self._next = 0.0

    def due(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self._interval
        return True

    def stale_before(self, now: datetime) -> datetime | None:
        """When a prune is due: the moment before which a nonce created is stale at ``now``; else None."""
        return utc(now) - NONCE_RETENTION if self.due() else None


T = TypeVar("T")

# (sector, code, label, max_months, calendar_year, manual)
CodeRow = tuple[int, int, str, int | None, bool, bool]


def catalogue_rows(catalogue: Catalogue) -> tuple[list[tuple[int, str]], list[CodeRow]]:
    """The catalogue as rows of ``sectors`` and ``quality_codes``."""
    sectors = sorted(catalogue.sectors.items())
    codes = [
        (q.sector, q.code, q.label, q.max_period.months, q.max_period.calendar_year, q.manual)
        for _, q in sorted(catalogue.codes.items())
    ]
    return sectors, codes


def catalogue_from_rows(sectors: Iterable[Sequence[Any]], codes: Iterable[Sequence[Any]]) -> Catalogue:
    """The catalogue read back from rows of ``sectors`` and ``quality_codes`` (in the engine's value types)."""
    by_code: dict[tuple[int, int], QualityCode] = {}
    for sector, code, label, months, calendar_year, manual in codes:
        limit = MaxPeriod(months=None if calendar_year else months, calendar_year=bool(calendar_year))
        by_code[(int(sector), int(code))] = QualityCode(int(sector), int(code), str(label), limit, bool(manual))
    return Catalogue({int(s): str(n) for s, n in sectors}, by_code)


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# ``json.dumps(value, separators=(",", ":"), ensure_ascii=False)``, its encoder made once rather than per call.
_dump = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@contextmanager
def at_once(superseded: Callable[[], bool]) -> Iterator[None]:
    """``Transaction.tentatively`` of a store that does not pipeline: ``superseded`` is asked before the block
    begins, while nothing of it has reached the database."""
    if superseded():
        raise Superseded("superseded before it began")
    yield


def dump_json(value: Mapping[str, Any]) -> str:
    return _dump(value)


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


# (institution, SSIN, code): the key of one set of periods
PeriodKey = tuple[str, str, int]


def import_in_batches(rows: Iterable[ImportRow], merge: Callable[[list[ImportRow]], None]) -> int:
    """Hand ``rows`` to ``merge`` in batches of ``IMPORT_BATCH`` (one transaction each); return how many."""
    count = 0
    for batch in batched(rows, IMPORT_BATCH):
        merge(batch)
        count += len(batch)
    return count


def merges(
    batch: Iterable[ImportRow], current: Callable[[PeriodKey], PeriodSet]
) -> Iterator[tuple[PeriodKey, PeriodSet, PeriodSet]]:
    """Each key that ``batch`` changes, with its periods before and after merging the rows in (R2.5)."""
    grouped: dict[PeriodKey, list[Period]] = {}
    for row in batch:
        grouped.setdefault((row.institution_id, row.ssin, row.code), []).append(row.period)
    for key, new in grouped.items():
        old = current(key)
        merged = normalize([*old, *new])
        if merged != old:
            yield key, old, merged

"""The directory in this process's memory: the storage port without a database, for fast use-case tests.

Invariant: it keeps what the SQL stores keep. A transaction commits all of its writes or none: each write notes
how to undo itself, and a block that raises undoes them, newest first. Transactions run one at a time (one lock,
as SQLite's ``BEGIN IMMEDIATE``), so a read-decide-write never races another, and reads outside a transaction
never see one half done. The engines' constraints hold, and a write that would break one is refused before it
changes anything, with the ``InternalError`` a driver's constraint violation becomes: a known institution,
identifiers of ten and eleven digits, disjoint periods, one audit record per ticket, one answer per Reference,
one attestation per ticket and person, codes of known sectors. A value read back is never the object written:
JSON goes through its text and timestamps come back in UTC, as from a database. The audit trail is chained as
the SQL stores chain it (``gateway.app.audit_chain``), numbered without gaps in commit order.

``memory:`` opens a private directory; ``memory:NAME`` the process's directory of that name, shared by every
store opened on it for as long as one of them exists (so a store closed and opened again finds what was
committed, as with a file). Nothing survives the process, so nothing is at rest: secrets stay in clear and a key
file, if given, is not used.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from functools import partial
from itertools import pairwise
from typing import TypeVar

from gateway.adapters.storage import MEMORY_SCHEME, common
from gateway.adapters.storage.at_rest import SecretCipher
from gateway.adapters.storage.common import PruneSchedule, at_once, dump_json, utc
from gateway.adapters.storage.migrations import latest_version
from gateway.app.audit_chain import GENESIS, ChainedRecord, Checkpoint, Signer, content_digest, link_hash
from gateway.app.ports import (
    AuditRecord,
    AuthFailure,
    CertificateRecord,
    ImportRow,
    InstitutionRecord,
    NonceClaim,
    StoredAnswer,
)
from gateway.domain.catalogue import Catalogue
from gateway.domain.directory import Attestation, Integration
from gateway.domain.periods import Period, PeriodSet
from gateway.errors import InstitutionExists, InternalError, NonceReplayed, StorageError, UnknownInstitution

__all__ = ["MemoryStore", "MemoryTransaction"]

K = TypeVar("K")
V = TypeVar("V")

# (seq, ticket, institution, operation, at in UTC, reference, request as JSON text, outcome as JSON text,
#  the previous record's hash, this record's hash): a record of the audit chain (gateway.app.audit_chain)
_AuditRow = tuple[int, str, str, str, datetime, str | None, str, str, str | None, str | None]


class _Directory:
    """The tables of one memory directory, and the lock that lets one transaction in at a time."""

    def __init__(self) -> None:
        self.lock = threading.RLock()  # reentrant: a thread inside its transaction may still read
        self.writer: int | None = None  # the thread whose transaction is open
        self.sectors: dict[int, str] = {}
        self.codes: dict[tuple[int, int], common.CodeRow] = {}
        self.institutions: dict[str, InstitutionRecord] = {}
        self.periods: dict[str, dict[tuple[str, int], PeriodSet]] = {}  # ssin -> (institution, code) -> set
        self.attestations: dict[tuple[str, str], tuple[Attestation, ...]] = {}  # (institution, ssin)
        self.attested: set[tuple[str, str]] = set()  # (ticket, ssin): the attestations' key
        self.audit: list[_AuditRow] = []
        self.checkpoints: dict[int, Checkpoint] = {}  # seq -> the signed checkpoint of that record
        self.tickets: set[str] = set()
        self.answers: dict[tuple[str, str], tuple[str, str, str]] = {}  # -> (operation, fingerprint, JSON)
        self.nonces: dict[tuple[str, str], datetime] = {}  # (institution, nonce) -> created
        self.certificates: dict[str, CertificateRecord] = {}  # fingerprint -> record
        self.auth_failures: list[AuthFailure] = []  # in the order recorded, times in UTC


_NAMED: weakref.WeakValueDictionary[str, _Directory] = weakref.WeakValueDictionary()
_NAMED_LOCK = threading.Lock()


def _digits(text: str, count: int) -> bool:
    return len(text) == count and text.isascii() and text.isdigit()


class MemoryTransaction:
    """The port's unit of work on a memory directory whose lock it holds; it remembers how to undo each write."""

    def __init__(self, directory: _Directory, prune: PruneSchedule, where: str, signer: Signer | None = None) -> None:
        self._d = directory
        self._signer = signer
        self._prune = prune
        self._where = where
        self._undo: list[Callable[[], object]] = []

    # -- writing, undoably ---------------------------------------------------------------------------------

    def _refuse(self, what: str) -> InternalError:
        return InternalError(f"{self._where} refused a write that breaks one of its constraints: {what}")

    def _put(self, table: dict[K, V], key: K, value: V) -> None:
        self._undo.append(partial(table.__setitem__, key, table[key]) if key in table else partial(table.pop, key))
        table[key] = value

    def _drop(self, table: dict[K, V], key: K) -> None:
        if key in table:
            self._undo.append(partial(table.__setitem__, key, table.pop(key)))

    def _rollback(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _known(self, institution_id: str) -> None:
        if institution_id not in self._d.institutions:
            raise self._refuse(f"no institution {institution_id}")

    # -- the port ------------------------------------------------------------------------------------------

    def institution(self, institution_id: str) -> InstitutionRecord | None:
        return self._d.institutions.get(institution_id)

    def read_periods(self, institution_id: str, code: int, ssins: Sequence[str]) -> dict[str, PeriodSet]:
        found: dict[str, PeriodSet] = {}
        for ssin in sorted(set(ssins)):
            periods = self._d.periods.get(ssin, {}).get((institution_id, code))
            if periods:
                found[ssin] = periods
        return found

    def write_periods(self, institution_id: str, code: int, ssin: str, periods: PeriodSet) -> None:
        ordered = tuple(sorted(periods, key=lambda p: p.start))
        persons = self._d.periods.setdefault(ssin, {})
        if not ordered:
            self._drop(persons, (institution_id, code))
            return
        self._known(institution_id)
        if not _digits(ssin, 11):
            raise self._refuse(f"SSIN {ssin!r} is not 11 digits")
        for before, after in pairwise(ordered):
            if after.start <= before.last:
                raise self._refuse(f"periods_disjoint: {before} and {after} overlap")
        self._put(persons, (institution_id, code), ordered)

    def integrations_of(
        self, ssin: str, window: Period, code: int | None = None, sector: int | None = None
    ) -> list[Integration]:
        found: list[Integration] = []
        for (institution_id, c), periods in sorted(self._d.periods.get(ssin, {}).items()):
            institution = self._d.institutions[institution_id].institution
            if (code is not None and c != code) or (sector is not None and institution.sector != sector):
                continue
            found.extend(
                Integration(institution, ssin, c, p)
                for p in periods
                if p.start <= window.last and p.last >= window.start
            )
        return found

    def periods_and_attestations(
        self, institution_id: str, code: int, ssins: Sequence[str]
    ) -> tuple[dict[str, PeriodSet], dict[str, list[Attestation]]]:
        return self.read_periods(institution_id, code, ssins), self.attestations_of(institution_id, ssins)

    def attestations_of(self, institution_id: str, ssins: Sequence[str]) -> dict[str, list[Attestation]]:
        found: dict[str, list[Attestation]] = {}
        for ssin in sorted(set(ssins)):
            recorded = self._d.attestations.get((institution_id, ssin))
            if recorded:
                found[ssin] = sorted(recorded, key=lambda a: (a.validity.start, a.ticket))
        return found

    def record_attestation(self, institution_id: str, attestation: Attestation) -> None:
        self._known(institution_id)
        ticket = (attestation.ticket, attestation.ssin)
        if ticket in self._d.attested:
            raise self._refuse(f"attestation {attestation.ticket} of {attestation.ssin} is recorded already")
        person = (institution_id, attestation.ssin)
        self._put(self._d.attestations, person, (*self._d.attestations.get(person, ()), attestation))
        self._d.attested.add(ticket)
        self._undo.append(partial(self._d.attested.discard, ticket))

    def add_audit(self, record: AuditRecord) -> None:
        if record.ticket in self._d.tickets:
            raise self._refuse(f"ticket {record.ticket} is audited already")
        request, outcome = dump_json(record.request), dump_json(record.outcome)
        self._d.tickets.add(record.ticket)
        self._undo.append(partial(self._d.tickets.discard, record.ticket))
        tail = self._d.audit[-1] if self._d.audit else None
        seq, prev = (1, GENESIS) if tail is None else (tail[0] + 1, tail[9] or "")
        chain_hash = link_hash(seq, prev, content_digest(record))
        row = (
            seq,
            record.ticket,
            record.institution_id,
            record.operation,
            utc(record.at),
            record.reference,
            request,
            outcome,
            prev,
            chain_hash,
        )
        self._d.audit.append(row)
        self._undo.append(self._d.audit.pop)
        if self._signer is not None and self._signer.due(seq) and seq not in self._d.checkpoints:
            self._put(self._d.checkpoints, seq, self._signer.checkpoint(seq, chain_hash, utc(record.at)))

    def find_answer(self, institution_id: str, reference: str) -> StoredAnswer | None:
        stored = self._d.answers.get((institution_id, reference))
        return None if stored is None else StoredAnswer(stored[0], stored[1], json.loads(stored[2]))

    def find_answer_later(self, institution_id: str, reference: str) -> Callable[[], StoredAnswer | None]:
        found = self.find_answer(institution_id, reference)
        return lambda: found

    def tentatively(self, superseded: Callable[[], bool]) -> AbstractContextManager[None]:
        return at_once(superseded)  # an engine that pipelines asks later (``PostgresTransaction``)

    def save_answer(self, institution_id: str, reference: str, answer: StoredAnswer) -> None:
        key = (institution_id, reference)
        if key in self._d.answers:
            raise self._refuse(f"Reference {reference!r} of institution {institution_id} is answered already")
        self._put(self._d.answers, key, (answer.operation, answer.fingerprint, dump_json(answer.answer)))

    def claim_nonce_deferred(self, claim: NonceClaim) -> None:
        if not self.claim_nonce(claim):
            raise NonceReplayed(f"nonce replayed by institution {claim.institution_id}")

    def claim_nonce(self, claim: NonceClaim) -> bool:
        key = (claim.institution_id, claim.nonce)
        inserted = key not in self._d.nonces
        if inserted:
            self._put(self._d.nonces, key, utc(claim.created))
        stale = self._prune.stale_before(claim.now)
        if stale is not None:
            for old in [k for k, created in self._d.nonces.items() if created < stale]:
                self._drop(self._d.nonces, old)
        return inserted

    def certificate(self, fingerprint: str) -> CertificateRecord | None:
        return self._d.certificates.get(fingerprint)

    # -- the operator's writes -----------------------------------------------------------------------------

    def _add_certificate(self, record: CertificateRecord) -> bool:
        if record.institution_id not in self._d.institutions:
            raise UnknownInstitution(f"no institution {record.institution_id}")
        if len(record.fingerprint) != 64 or record.fingerprint.strip("0123456789abcdef"):
            raise self._refuse(f"fingerprint {record.fingerprint!r} is not 64 lowercase hex digits")
        if record.not_after < record.not_before:
            raise self._refuse("a certificate that expires before it is valid")
        if record.fingerprint in self._d.certificates:
            return False
        stored = dataclasses.replace(record, not_before=utc(record.not_before), not_after=utc(record.not_after))
        self._put(self._d.certificates, record.fingerprint, stored)
        return True

    def _remove_certificate(self, institution_id: str, fingerprint: str) -> bool:
        found = self._d.certificates.get(fingerprint)
        if found is None or found.institution_id != institution_id:
            return False
        self._drop(self._d.certificates, fingerprint)
        return True

    def _add_institution(self, record: InstitutionRecord) -> None:
        if not _digits(record.id, 10):
            raise self._refuse(f"institution id {record.id!r} is not 10 digits")
        if record.id in self._d.institutions:
            raise InstitutionExists(f"institution {record.id} already exists")
        self._put(self._d.institutions, record.id, record)

    def _change_institution(
        self, institution_id: str, change: Callable[[InstitutionRecord], InstitutionRecord]
    ) -> bool:
        record = self._d.institutions.get(institution_id)
        if record is not None:
            self._put(self._d.institutions, institution_id, change(record))
        return record is not None

    def _save_catalogue(self, catalogue: Catalogue) -> None:
        sectors, codes = common.catalogue_rows(catalogue)
        known = set(self._d.sectors) | {s for s, _ in sectors}
        for row in codes:
            if row[0] not in known:
                raise self._refuse(f"quality code {row[1]} names no known sector {row[0]}")
            if row[3] is not None and row[3] <= 0:
                raise self._refuse(f"quality code {row[0]}/{row[1]} has a maximum of {row[3]} months")
        for sector, name in sectors:
            self._put(self._d.sectors, sector, name)
        for row in codes:
            self._put(self._d.codes, (row[0], row[1]), row)

    def _merge(self, batch: Sequence[ImportRow]) -> None:
        def current(key: common.PeriodKey) -> PeriodSet:
            institution_id, ssin, code = key
            return self._d.periods.get(ssin, {}).get((institution_id, code), ())

        for (institution_id, ssin, code), _, merged in common.merges(batch, current):
            self.write_periods(institution_id, code, ssin, merged)


class MemoryStore:
    """A directory in memory (``memory:`` or ``memory:NAME``); safe for many threads of one process."""

    def __init__(
        self, url: str = MEMORY_SCHEME, *, cipher: SecretCipher | None = None, audit_signer: Signer | None = None
    ) -> None:
        if not url.startswith(MEMORY_SCHEME):
            raise ValueError(f"a memory store's URL starts with {MEMORY_SCHEME!r}, not {url!r}")
        self.url = url
        name = url.removeprefix(MEMORY_SCHEME)
        with _NAMED_LOCK:
            directory = _NAMED.get(name) if name else None
            if directory is None:
                directory = _Directory()
                if name:
                    _NAMED[name] = directory
        self._directory = directory
        self._where = f"the memory directory {url}"
        self._prune = PruneSchedule()
        self._signer = audit_signer
        self._closed = False

    def __repr__(self) -> str:
        return f"MemoryStore({self.url!r})"

    def _open(self) -> _Directory:
        if self._closed:
            raise StorageError(f"{self._where} is closed")
        return self._directory

    # -- the unit of work ----------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[MemoryTransaction]:
        directory = self._open()
        me = threading.get_ident()
        if directory.writer == me:
            raise StorageError("a transaction is already open in this thread; transactions do not nest")
        with directory.lock:
            directory.writer = me
            tx = MemoryTransaction(directory, self._prune, self._where, self._signer)
            try:
                yield tx
            except BaseException:
                tx._rollback()
                raise
            finally:
                directory.writer = None

    def upgrade(self) -> int:
        with self.transaction() as tx:
            if not self._directory.sectors:
                from gateway.domain.catalogue import load_catalogue

                tx._save_catalogue(load_catalogue())
        return latest_version()

    def schema_version(self) -> int:
        """The newest version once ``upgrade`` has loaded the catalogue, 0 before (a memory store has no schema)."""
        directory = self._open()
        with directory.lock:
            return latest_version() if directory.sectors else 0

    def count_integrations(self) -> int:
        directory = self._open()
        with directory.lock:
            return sum(len(periods) for keyed in directory.periods.values() for periods in keyed.values())

    # -- the operator's administration ---------------------------------------------------------------------

    def add_institution(self, record: InstitutionRecord) -> None:
        with self.transaction() as tx:
            tx._add_institution(record)

    def institutions(self) -> list[InstitutionRecord]:
        directory = self._open()
        with directory.lock:
            return sorted(directory.institutions.values(), key=lambda r: r.id)

    def set_secret(self, institution_id: str, secret: str) -> bool:
        with self.transaction() as tx:
            return tx._change_institution(institution_id, lambda r: dataclasses.replace(r, secret=secret))

    def seal_secrets(self) -> int:
        """Nothing is at rest in memory: nothing to seal."""
        self._open()
        return 0

    def reseal_secrets(self, cipher: SecretCipher) -> int:
        """Nothing is at rest in memory: nothing to seal again."""
        self._open()
        return 0

    def probe(self) -> None:
        self._open()

    def set_enabled(self, institution_id: str, enabled: bool) -> bool:
        with self.transaction() as tx:
            return tx._change_institution(institution_id, lambda r: dataclasses.replace(r, enabled=enabled))

    def add_certificate(self, record: CertificateRecord) -> bool:
        with self.transaction() as tx:
            return tx._add_certificate(record)

    def remove_certificate(self, institution_id: str, fingerprint: str) -> bool:
        with self.transaction() as tx:
            return tx._remove_certificate(institution_id, fingerprint)

    def certificates(self) -> list[CertificateRecord]:
        directory = self._open()
        with directory.lock:
            return sorted(directory.certificates.values(), key=lambda r: (r.institution_id, r.fingerprint))

    # -- failed authentications ----------------------------------------------------------------------------

    def record_auth_failure(self, failure: AuthFailure, prune_before: datetime | None = None) -> None:
        directory = self._open()
        with directory.lock:
            if prune_before is not None:
                stale = utc(prune_before)
                directory.auth_failures[:] = [f for f in directory.auth_failures if f.at >= stale]
            directory.auth_failures.append(dataclasses.replace(failure, at=utc(failure.at)))

    def auth_failures(
        self,
        *,
        since: datetime | None = None,
        institution: str | None = None,
        address: str | None = None,
        limit: int | None = None,
    ) -> list[AuthFailure]:
        directory = self._open()
        with directory.lock:
            found = [
                f
                for f in directory.auth_failures
                if (since is None or f.at >= utc(since))
                and (institution is None or f.institution == institution)
                and (address is None or f.address == address)
            ]
        found.reverse()
        found.sort(key=lambda f: f.at, reverse=True)  # stable: among equal times, the newest recorded first
        return found if limit is None else found[:limit]

    def failing_addresses(self, since: datetime) -> list[tuple[str, datetime]]:
        directory = self._open()
        newest: dict[str, datetime] = {}
        with directory.lock:
            for f in directory.auth_failures:
                if not f.cleared and f.at >= utc(since):
                    newest[f.address] = max(f.at, newest.get(f.address, f.at))
        return list(newest.items())

    def clear_auth_failures(self, address: str, institution: str | None = None) -> int:
        directory = self._open()
        changed = 0
        with directory.lock:
            for n, f in enumerate(directory.auth_failures):
                if f.address == address and not f.cleared and (institution is None or f.institution == institution):
                    directory.auth_failures[n] = dataclasses.replace(f, cleared=True)
                    changed += 1
        return changed

    def catalogue(self) -> Catalogue:
        directory = self._open()
        with directory.lock:
            return common.catalogue_from_rows(directory.sectors.items(), directory.codes.values())

    def save_catalogue(self, catalogue: Catalogue) -> None:
        with self.transaction() as tx:
            tx._save_catalogue(catalogue)

    # -- bulk ----------------------------------------------------------------------------------------------

    def import_integrations(self, rows: Iterable[ImportRow]) -> int:
        """Merge rows in batches of ``IMPORT_BATCH``, one transaction each (R2.5 per key), as the SQL stores."""

        def merge(batch: list[ImportRow]) -> None:
            with self.transaction() as tx:
                tx._merge(batch)

        return common.import_in_batches(rows, merge)

    def export_integrations(self) -> Iterator[ImportRow]:
        """Every period, ordered by institution, SSIN, code and start (as they stand when the export begins)."""
        directory = self._open()
        with directory.lock:
            rows = [
                ImportRow(institution_id, ssin, code, p)
                for ssin, keyed in directory.periods.items()
                for (institution_id, code), periods in keyed.items()
                for p in periods
            ]
        rows.sort(key=lambda r: (r.institution_id, r.ssin, r.code, r.period.start))
        yield from rows

    def audit_log(
        self,
        institution_id: str | None = None,
        *,
        ticket: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[AuditRecord]:
        """The audit trail in commit order (as it stands when the reading begins), filtered as the SQL stores do."""
        for row in self._audit_rows():
            record = _record(row)
            if (
                (institution_id is None or record.institution_id == institution_id)
                and (ticket is None or record.ticket == ticket)
                and (since is None or record.at >= utc(since))
                and (until is None or record.at < utc(until))
            ):
                yield record

    def audit_chain(self) -> Iterator[ChainedRecord]:
        for row in self._audit_rows():
            yield ChainedRecord(row[0], _record(row), row[8], row[9])

    def audit_checkpoints(self) -> Iterator[Checkpoint]:
        directory = self._open()
        with directory.lock:
            marks = sorted(directory.checkpoints.items())
        for _, mark in marks:
            yield mark

    def checkpoint_audit(self, signer: Signer, at: datetime) -> Checkpoint | None:
        with self.transaction() as tx:
            directory = self._directory
            if not directory.audit:
                return None
            seq, chain_hash = directory.audit[-1][0], directory.audit[-1][9]
            if seq not in directory.checkpoints:
                tx._put(directory.checkpoints, seq, signer.checkpoint(seq, chain_hash or "", utc(at)))
            return directory.checkpoints[seq]

    def _audit_rows(self) -> list[_AuditRow]:
        directory = self._open()
        with directory.lock:
            return list(directory.audit)

    def close(self) -> None:
        self._closed = True


def _record(row: _AuditRow) -> AuditRecord:
    _, ticket, inst, operation, at, reference, request, outcome, _, _ = row
    return AuditRecord(ticket, inst, operation, at, reference, json.loads(request), json.loads(outcome))

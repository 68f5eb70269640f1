"""The embedded directory: the storage port on one SQLite file (WAL), for a single machine.

Invariant: every write runs in ``BEGIN IMMEDIATE``, so writers, whatever process or thread they run in,
take the database's write lock before their first read and commit one after another: a read-decide-write
never works on periods another writer is changing (no lost update). Each thread has its own connection.

Writers queue on an OS file lock (``<file>-writer.lock``) before ``BEGIN IMMEDIATE``: a waiting worker then
sleeps in the kernel and wakes the moment the lock is free, instead of polling SQLite's busy handler (which
sleeps 1, 2, 5, 10 ms at a time and left a third of the machine idle under load). WAL with
``synchronous=NORMAL`` by default: a commit survives any crash of the process (the SIGKILL test), and only
the last transactions before a power cut can be lost; ``synchronous="FULL"`` buys that too, at an fsync a
commit.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from gateway.adapters.storage.common import (
    IMPORT_BATCH,
    NONCE_RETENTION,
    PruneSchedule,
    batched,
    catalogue_from_rows,
    catalogue_rows,
    dump_json,
    utc,
)
from gateway.adapters.storage.migrations import MIGRATIONS, latest_version
from gateway.app.ports import AuditRecord, ImportRow, InstitutionRecord, NonceClaim, StoredAnswer
from gateway.domain.catalogue import Catalogue
from gateway.domain.directory import Attestation, Institution, Integration
from gateway.domain.periods import Period, PeriodSet, normalize
from gateway.errors import InstitutionExists, StorageError

__all__ = ["SqliteStore", "SqliteTransaction"]

_PAGE = 5_000
_IN_CHUNK = 500  # well under SQLite's limit of bound parameters


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _day(text: str) -> date:
    return date.fromisoformat(text)


def _period(start: str, end: str | None) -> Period:
    return Period(_day(start), None if end is None else _day(end))


def _stamp(moment: datetime) -> str:
    """A UTC timestamp as fixed-width ISO text, so text order is time order."""
    return utc(moment).isoformat(timespec="microseconds")


def _institution(row: Sequence[Any]) -> InstitutionRecord:
    return InstitutionRecord(
        id=str(row[0]), name=str(row[1]), sector=int(row[2]), secret=str(row[3]), enabled=bool(row[4])
    )


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


class SqliteTransaction:
    """The port's unit of work on one SQLite connection that holds the write lock (``BEGIN IMMEDIATE``)."""

    def __init__(self, conn: sqlite3.Connection, prune: PruneSchedule) -> None:
        self._conn = conn
        self._prune = prune

    def institution(self, institution_id: str) -> InstitutionRecord | None:
        row = self._conn.execute(
            "SELECT id, name, sector, secret, enabled FROM institutions WHERE id = ?", (institution_id,)
        ).fetchone()
        return None if row is None else _institution(row)

    def read_periods(self, institution_id: str, code: int, ssins: Sequence[str]) -> dict[str, PeriodSet]:
        # The write lock taken by BEGIN IMMEDIATE already keeps every person stable until commit.
        found: dict[str, list[Period]] = {}
        wanted = sorted(set(ssins))
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            rows = self._conn.execute(
                "SELECT ssin, start_date, end_date FROM periods "
                f"WHERE institution_id = ? AND code = ? AND ssin IN ({_placeholders(len(chunk))}) "
                "ORDER BY ssin, start_date",
                (institution_id, code, *chunk),
            )
            for ssin, start_date, end_date in rows:
                found.setdefault(ssin, []).append(_period(start_date, end_date))
        return {ssin: tuple(periods) for ssin, periods in found.items()}

    def write_periods(self, institution_id: str, code: int, ssin: str, periods: PeriodSet) -> None:
        _replace_periods(self._conn, institution_id, code, ssin, periods)

    def integrations_of(
        self, ssin: str, window: Period, code: int | None = None, sector: int | None = None
    ) -> list[Integration]:
        rows = self._conn.execute(
            "SELECT p.institution_id, i.name, i.sector, p.code, p.start_date, p.end_date "
            "FROM periods p JOIN institutions i ON i.id = p.institution_id "
            "WHERE p.ssin = :ssin AND p.start_date <= :last AND (p.end_date IS NULL OR p.end_date >= :first) "
            "AND (:code IS NULL OR p.code = :code) AND (:sector IS NULL OR i.sector = :sector) "
            "ORDER BY p.institution_id, p.code, p.start_date",
            {
                "ssin": ssin,
                "first": window.start.isoformat(),
                "last": window.last.isoformat(),
                "code": code,
                "sector": sector,
            },
        )
        return [
            Integration(Institution(inst, name, int(sec)), ssin, int(c), _period(start, end))
            for inst, name, sec, c, start, end in rows
        ]

    def attestations_of(self, institution_id: str, ssins: Sequence[str]) -> dict[str, list[Attestation]]:
        found: dict[str, list[Attestation]] = {}
        wanted = sorted(set(ssins))
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            rows = self._conn.execute(
                "SELECT ticket, ssin, code, valid_from, valid_to FROM attestations "
                f"WHERE institution_id = ? AND ssin IN ({_placeholders(len(chunk))}) "
                "ORDER BY ssin, valid_from, ticket",
                (institution_id, *chunk),
            )
            for ticket, ssin, code, valid_from, valid_to in rows:
                found.setdefault(ssin, []).append(Attestation(ticket, ssin, int(code), _period(valid_from, valid_to)))
        return found

    def record_attestation(self, institution_id: str, attestation: Attestation) -> None:
        self._conn.execute(
            "INSERT INTO attestations (ticket, institution_id, ssin, code, valid_from, valid_to) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                attestation.ticket,
                institution_id,
                attestation.ssin,
                attestation.code,
                attestation.validity.start.isoformat(),
                _iso(attestation.validity.end),
            ),
        )

    def add_audit(self, record: AuditRecord) -> None:
        self._conn.execute(
            "INSERT INTO audit (ticket, institution_id, operation, at, reference, request_json, outcome_json) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                record.ticket,
                record.institution_id,
                record.operation,
                _stamp(record.at),
                record.reference,
                dump_json(record.request),
                dump_json(record.outcome),
            ),
        )

    def find_answer(self, institution_id: str, reference: str) -> StoredAnswer | None:
        # Held write lock: a concurrent request with the same Reference waits for this one to commit.
        row = self._conn.execute(
            "SELECT operation, fingerprint, answer_json FROM answers WHERE institution_id = ? AND reference = ?",
            (institution_id, reference),
        ).fetchone()
        return None if row is None else StoredAnswer(row[0], row[1], json.loads(row[2]))

    def save_answer(self, institution_id: str, reference: str, answer: StoredAnswer) -> None:
        self._conn.execute(
            "INSERT INTO answers (institution_id, reference, operation, fingerprint, answer_json) "
            "VALUES (?, ?, ?, ?, ?)",
            (institution_id, reference, answer.operation, answer.fingerprint, dump_json(answer.answer)),
        )

    def claim_nonce(self, claim: NonceClaim) -> bool:
        inserted = self._conn.execute(
            "INSERT INTO nonces (institution_id, nonce, created) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (claim.institution_id, claim.nonce, _stamp(claim.created)),
        ).rowcount
        if self._prune.due():
            self._conn.execute("DELETE FROM nonces WHERE created < ?", (_stamp(utc(claim.now) - NONCE_RETENTION),))
        return bool(inserted == 1)


def _replace_periods(
    conn: sqlite3.Connection, institution_id: str, code: int, ssin: str, periods: Iterable[Period]
) -> None:
    conn.execute("DELETE FROM periods WHERE institution_id = ? AND ssin = ? AND code = ?", (institution_id, ssin, code))
    conn.executemany(
        "INSERT INTO periods (institution_id, ssin, code, start_date, end_date) VALUES (?, ?, ?, ?, ?)",
        [(institution_id, ssin, code, p.start.isoformat(), _iso(p.end)) for p in periods],
    )


class SqliteStore:
    """The directory in one SQLite file, created on first use; safe for many threads and processes."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_ms: int = 30_000, synchronous: str = "NORMAL"):
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"unknown synchronous mode {synchronous!r}")
        self.url = os.fspath(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._synchronous = synchronous.upper()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[tuple[int, sqlite3.Connection]] = []
        self._closed = False
        self._prune = PruneSchedule()
        self._gates: list[tuple[int, int]] = []

    def __repr__(self) -> str:
        return f"SqliteStore({self.url!r})"

    # -- connections -------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.url,
                isolation_level=None,  # we issue BEGIN / COMMIT ourselves
                check_same_thread=False,  # used by one thread; only close() may come from another
                timeout=self._busy_timeout_ms / 1000,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA cache_size = -32768")  # KiB: 32 MiB of pages per connection
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the SQLite directory {self.url}: {exc}") from exc
        return conn

    def _conn(self) -> sqlite3.Connection:
        pid = os.getpid()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == pid and not self._closed:
            return conn
        # First use in this thread, or in a child process that inherited the parent's thread state.
        with self._lock:
            if self._closed:
                raise StorageError(f"the SQLite directory {self.url} is closed")
            conn = self._connect()
            self._connections.append((pid, conn))
        self._local.conn, self._local.pid = conn, pid
        return conn

    def _gate(self) -> int | None:
        """This thread's descriptor of the writers' lock file (``None`` for an in-memory database)."""
        if self.url == ":memory:":
            return None
        pid = os.getpid()
        fd: int | None = getattr(self._local, "gate", None)
        if fd is not None and getattr(self._local, "gate_pid", None) == pid:
            return fd
        try:
            fd = os.open(f"{self.url}-writer.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot open the writers' lock of {self.url}: {exc}") from exc
        with self._lock:
            self._gates.append((pid, fd))
        self._local.gate, self._local.gate_pid = fd, pid
        return fd

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        if conn.in_transaction:
            raise StorageError("a transaction is already open in this thread; transactions do not nest")
        gate = self._gate()
        if gate is not None:
            fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            with self._locked(conn):
                yield conn
        finally:
            if gate is not None:
                fcntl.flock(gate, fcntl.LOCK_UN)

    @contextmanager
    def _locked(self, conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot start a transaction on {self.url}: {exc}") from exc
        try:
            yield conn
        except sqlite3.Error as exc:
            conn.rollback()
            raise StorageError(f"the SQLite directory {self.url} refused a write: {exc}") from exc
        except BaseException:
            conn.rollback()
            raise
        try:
            conn.commit()
        except sqlite3.Error as exc:
            conn.rollback()
            raise StorageError(f"cannot commit to the SQLite directory {self.url}: {exc}") from exc

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read the SQLite directory {self.url}: {exc}") from exc

    # -- schema ------------------------------------------------------------------------------------------

    def upgrade(self) -> int:
        parent = Path(self.url).parent
        if self.url != ":memory:" and not parent.is_dir():
            raise StorageError(f"the folder of the SQLite directory {self.url} does not exist")
        with self._write() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            current = int(conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])
            if current > latest_version():
                raise StorageError(
                    f"the directory {self.url} has schema version {current}, newer than this gateway knows "
                    f"({latest_version()}); upgrade the gateway"
                )
            for migration in MIGRATIONS:
                if migration.version <= current:
                    continue
                for statement in migration.sqlite:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.description, _stamp(datetime.now(UTC))),
                )
            if conn.execute("SELECT count(*) FROM sectors").fetchone()[0] == 0:
                from gateway.domain.catalogue import load_catalogue

                _save_catalogue(conn, load_catalogue())
        return latest_version()

    # -- the unit of work --------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[SqliteTransaction]:
        with self._write() as conn:
            yield SqliteTransaction(conn, self._prune)

    def use_nonce(self, institution_id: str, nonce: str, created: datetime, now: datetime) -> bool:
        with self.transaction() as tx:
            return tx.claim_nonce(NonceClaim(institution_id, nonce, created, now))

    # -- the operator's administration -------------------------------------------------------------------

    def add_institution(self, record: InstitutionRecord) -> None:
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM institutions WHERE id = ?", (record.id,)).fetchone():
                raise InstitutionExists(f"institution {record.id} already exists")
            conn.execute(
                "INSERT INTO institutions (id, name, sector, secret, enabled) VALUES (?, ?, ?, ?, ?)",
                (record.id, record.name, record.sector, record.secret, int(record.enabled)),
            )

    def institutions(self) -> list[InstitutionRecord]:
        rows = self._read("SELECT id, name, sector, secret, enabled FROM institutions ORDER BY id")
        return [_institution(r) for r in rows]

    def set_secret(self, institution_id: str, secret: str) -> bool:
        with self._write() as conn:
            return (
                conn.execute("UPDATE institutions SET secret = ? WHERE id = ?", (secret, institution_id)).rowcount == 1
            )

    def set_enabled(self, institution_id: str, enabled: bool) -> bool:
        with self._write() as conn:
            return (
                conn.execute(
                    "UPDATE institutions SET enabled = ? WHERE id = ?", (int(enabled), institution_id)
                ).rowcount
                == 1
            )

    def catalogue(self) -> Catalogue:
        sectors = self._read("SELECT sector, name FROM sectors")
        codes = self._read("SELECT sector, code, label, max_months, calendar_year, manual FROM quality_codes")
        return catalogue_from_rows(sectors, codes)

    def save_catalogue(self, catalogue: Catalogue) -> None:
        with self._write() as conn:
            _save_catalogue(conn, catalogue)

    # -- bulk --------------------------------------------------------------------------------------------

    def import_integrations(self, rows: Iterable[ImportRow]) -> int:
        """Merge rows in batches of ``IMPORT_BATCH``, one short transaction each (R2.5 per key)."""
        count = 0
        for batch in batched(rows, IMPORT_BATCH):
            grouped: dict[tuple[str, str, int], list[Period]] = {}
            for row in batch:
                grouped.setdefault((row.institution_id, row.ssin, row.code), []).append(row.period)
            with self._write() as conn:
                stale: list[tuple[str, str, int]] = []
                fresh: list[tuple[str, str, int, str, str | None]] = []
                for (institution_id, ssin, code), new in grouped.items():
                    old = tuple(
                        _period(s, e)
                        for s, e in conn.execute(
                            "SELECT start_date, end_date FROM periods "
                            "WHERE institution_id = ? AND ssin = ? AND code = ? ORDER BY start_date",
                            (institution_id, ssin, code),
                        )
                    )
                    merged = normalize([*old, *new])
                    if merged != old:
                        if old:
                            stale.append((institution_id, ssin, code))
                        fresh.extend((institution_id, ssin, code, p.start.isoformat(), _iso(p.end)) for p in merged)
                # Keys are distinct within a batch: every stale set goes before any new one comes in.
                conn.executemany("DELETE FROM periods WHERE institution_id = ? AND ssin = ? AND code = ?", stale)
                conn.executemany(
                    "INSERT INTO periods (institution_id, ssin, code, start_date, end_date) VALUES (?, ?, ?, ?, ?)",
                    fresh,
                )
            count += len(batch)
        return count

    def export_integrations(self) -> Iterator[ImportRow]:
        """Every period, ordered by institution, SSIN, code and start, read page by page."""
        last: tuple[str, str, int, str] | None = None
        while True:
            if last is None:
                page = self._read(
                    "SELECT institution_id, ssin, code, start_date, end_date FROM periods "
                    "ORDER BY institution_id, ssin, code, start_date LIMIT ?",
                    (_PAGE,),
                )
            else:
                page = self._read(
                    "SELECT institution_id, ssin, code, start_date, end_date FROM periods "
                    "WHERE (institution_id, ssin, code, start_date) > (?, ?, ?, ?) "
                    "ORDER BY institution_id, ssin, code, start_date LIMIT ?",
                    (*last, _PAGE),
                )
            for institution_id, ssin, code, start, end in page:
                yield ImportRow(institution_id, ssin, int(code), _period(start, end))
            if len(page) < _PAGE:
                return
            last = tuple(page[-1][:4])

    def audit_log(self, institution_id: str | None = None) -> Iterator[AuditRecord]:
        after = 0
        while True:
            page = self._read(
                "SELECT seq, ticket, institution_id, operation, at, reference, request_json, outcome_json "
                "FROM audit WHERE seq > ? AND (? IS NULL OR institution_id = ?) ORDER BY seq LIMIT ?",
                (after, institution_id, institution_id, _PAGE),
            )
            for seq, ticket, inst, operation, at, reference, request, outcome in page:
                after = seq
                yield AuditRecord(
                    ticket=ticket,
                    institution_id=inst,
                    operation=operation,
                    at=datetime.fromisoformat(at),
                    reference=reference,
                    request=json.loads(request),
                    outcome=json.loads(outcome),
                )
            if len(page) < _PAGE:
                return

    def close(self) -> None:
        pid = os.getpid()
        with self._lock:
            self._closed = True
            mine = [c for p, c in self._connections if p == pid]
            gates = [fd for p, fd in self._gates if p == pid]
            self._connections, self._gates = [], []
        for conn in mine:
            conn.close()
        for fd in gates:
            os.close(fd)


def _save_catalogue(conn: sqlite3.Connection, catalogue: Catalogue) -> None:
    sectors, codes = catalogue_rows(catalogue)
    conn.executemany(
        "INSERT INTO sectors (sector, name) VALUES (?, ?) ON CONFLICT (sector) DO UPDATE SET name = excluded.name",
        sectors,
    )
    conn.executemany(
        "INSERT INTO quality_codes (sector, code, label, max_months, calendar_year, manual) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sector, code) DO UPDATE SET label = excluded.label, "
        "max_months = excluded.max_months, calendar_year = excluded.calendar_year, manual = excluded.manual",
        [(s, c, label, months, int(cy), int(manual)) for s, c, label, months, cy, manual in codes],
    )

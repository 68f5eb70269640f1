"""The shared directory: the storage port on PostgreSQL, for many processes and machines at once.

Invariant: a read-decide-write on a person never races another: ``read_periods`` takes a transaction-level
advisory lock per (institution, person, code) in one global order (sorted keys, so no deadlock between two
requests) before it reads, ``find_answer`` locks its (institution, Reference) the same way, and an EXCLUDE
constraint lets no two periods of one institution, person and code overlap, whoever writes them.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from gateway.adapters.storage.common import (
    IMPORT_BATCH,
    NONCE_RETENTION,
    PruneSchedule,
    batched,
    catalogue_from_rows,
    catalogue_rows,
    utc,
)
from gateway.adapters.storage.migrations import MIGRATIONS, latest_version
from gateway.app.ports import AuditRecord, ImportRow, InstitutionRecord, NonceClaim, StoredAnswer
from gateway.domain.catalogue import Catalogue
from gateway.domain.directory import Attestation, Institution, Integration
from gateway.domain.periods import Period, PeriodSet
from gateway.errors import InstitutionExists, StorageError

__all__ = ["PostgresStore", "PostgresTransaction", "lock_key", "with_schema"]

Connection = psycopg.Connection[TupleRow]

_PAGE = 5_000


def lock_key(*parts: str) -> int:
    """A signed 64-bit advisory-lock key for ``parts`` (the first part names the kind of lock)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


_MIGRATION_LOCK = lock_key("ksz-gateway", "schema migration")
# Held shared by every transaction that reads periods to change them, exclusively by a bulk import batch:
# an import batch merges thousands of persons without taking thousands of person locks.
_IMPORT_LOCK = lock_key("ksz-gateway", "bulk import")


def with_schema(url: str, schema: str) -> str:
    """``url`` with ``search_path`` set to ``schema`` (through libpq's ``options``), other options kept."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = " ".join([v for k, v in query if k == "options"] + [f"-csearch_path={schema}"])
    query = [(k, v) for k, v in query if k != "options"] + [("options", options)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _period(start: date, end: date | None) -> Period:
    return Period(start, end)


def _institution(row: Sequence[Any]) -> InstitutionRecord:
    return InstitutionRecord(
        id=str(row[0]), name=str(row[1]), sector=int(row[2]), secret=str(row[3]), enabled=bool(row[4])
    )


class PostgresTransaction:
    """The port's unit of work on one pooled connection inside ``BEGIN`` .. ``COMMIT`` (read committed)."""

    def __init__(self, conn: Connection, prune: PruneSchedule) -> None:
        self._conn = conn
        self._prune = prune

    def institution(self, institution_id: str) -> InstitutionRecord | None:
        row = self._conn.execute(
            "SELECT id, name, sector, secret, enabled FROM institutions WHERE id = %s", (institution_id,)
        ).fetchone()
        return None if row is None else _institution(row)

    def read_periods(self, institution_id: str, code: int, ssins: Sequence[str]) -> dict[str, PeriodSet]:
        wanted = sorted(set(ssins))
        if not wanted:
            return {}
        keys = sorted({lock_key("periods", institution_id, s, str(code)) for s in wanted})
        self._conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (_IMPORT_LOCK,))
        # unnest yields the array in order, so the locks are taken in ascending key order.
        self._conn.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", (keys,))
        found: dict[str, list[Period]] = {}
        # One person (the usual request) is a primary-key probe on equalities, whatever the plan. For several,
        # ``ssin = ANY(...)`` is never prepared: a cached generic plan scans all of the institution's periods in
        # that code instead of probing the key per person (measured: its cost grew with the table).
        if len(wanted) == 1:
            rows = self._conn.execute(
                "SELECT ssin, start_date, end_date FROM periods "
                "WHERE institution_id = %s AND ssin = %s AND code = %s ORDER BY start_date",
                (institution_id, wanted[0], code),
            )
        else:
            rows = self._conn.execute(
                "SELECT ssin, start_date, end_date FROM periods "
                "WHERE institution_id = %s AND code = %s AND ssin = ANY(%s::text[]) ORDER BY ssin, start_date",
                (institution_id, code, wanted),
                prepare=False,
            )
        for ssin, start, end in rows:
            found.setdefault(ssin, []).append(_period(start, end))
        return {ssin: tuple(periods) for ssin, periods in found.items()}

    def write_periods(self, institution_id: str, code: int, ssin: str, periods: PeriodSet) -> None:
        self._conn.execute(
            "DELETE FROM periods WHERE institution_id = %s AND ssin = %s AND code = %s",
            (institution_id, ssin, code),
        )
        if periods:
            self._conn.execute(
                "INSERT INTO periods (institution_id, ssin, code, start_date, end_date) "
                "SELECT %s, %s, %s, s, e FROM unnest(%s::date[], %s::date[]) AS t (s, e)",
                (institution_id, ssin, code, [p.start for p in periods], [p.end for p in periods]),
            )

    def integrations_of(
        self, ssin: str, window: Period, code: int | None = None, sector: int | None = None
    ) -> list[Integration]:
        rows = self._conn.execute(
            "SELECT p.institution_id, i.name, i.sector, p.code, p.start_date, p.end_date "
            "FROM periods p JOIN institutions i ON i.id = p.institution_id "
            "WHERE p.ssin = %(ssin)s AND p.start_date <= %(last)s "
            "AND (p.end_date IS NULL OR p.end_date >= %(first)s) "
            "AND (%(code)s::integer IS NULL OR p.code = %(code)s) "
            "AND (%(sector)s::integer IS NULL OR i.sector = %(sector)s) "
            "ORDER BY p.institution_id, p.code, p.start_date",
            {"ssin": ssin, "first": window.start, "last": window.last, "code": code, "sector": sector},
        )
        return [
            Integration(Institution(inst, name, int(sec)), ssin, int(c), _period(start, end))
            for inst, name, sec, c, start, end in rows
        ]

    def attestations_of(self, institution_id: str, ssins: Sequence[str]) -> dict[str, list[Attestation]]:
        found: dict[str, list[Attestation]] = {}
        rows = self._conn.execute(
            "SELECT ticket, ssin, code, valid_from, valid_to FROM attestations "
            "WHERE institution_id = %s AND ssin = ANY(%s::text[]) ORDER BY ssin, valid_from, ticket",
            (institution_id, sorted(set(ssins))),
        )
        for ticket, ssin, code, valid_from, valid_to in rows:
            found.setdefault(ssin, []).append(Attestation(ticket, ssin, int(code), _period(valid_from, valid_to)))
        return found

    def record_attestation(self, institution_id: str, attestation: Attestation) -> None:
        self._conn.execute(
            "INSERT INTO attestations (ticket, institution_id, ssin, code, valid_from, valid_to) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (
                attestation.ticket,
                institution_id,
                attestation.ssin,
                attestation.code,
                attestation.validity.start,
                attestation.validity.end,
            ),
        )

    def add_audit(self, record: AuditRecord) -> None:
        self._conn.execute(
            "INSERT INTO audit (ticket, institution_id, operation, at, reference, request_json, outcome_json) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                record.ticket,
                record.institution_id,
                record.operation,
                utc(record.at),
                record.reference,
                Jsonb(record.request),
                Jsonb(record.outcome),
            ),
        )

    def find_answer(self, institution_id: str, reference: str) -> StoredAnswer | None:
        # A second request with this Reference waits here until the first commits, then sees its answer.
        self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("answer", institution_id, reference),))
        row = self._conn.execute(
            "SELECT operation, fingerprint, answer_json FROM answers WHERE institution_id = %s AND reference = %s",
            (institution_id, reference),
        ).fetchone()
        return None if row is None else StoredAnswer(row[0], row[1], row[2])

    def save_answer(self, institution_id: str, reference: str, answer: StoredAnswer) -> None:
        self._conn.execute(
            "INSERT INTO answers (institution_id, reference, operation, fingerprint, answer_json) "
            "VALUES (%s, %s, %s, %s, %s)",
            (institution_id, reference, answer.operation, answer.fingerprint, Jsonb(answer.answer)),
        )

    def claim_nonce(self, claim: NonceClaim) -> bool:
        inserted = self._conn.execute(
            "INSERT INTO nonces (institution_id, nonce, created) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (claim.institution_id, claim.nonce, utc(claim.created)),
        ).rowcount
        if self._prune.due():
            self._conn.execute("DELETE FROM nonces WHERE created < %s", (utc(claim.now) - NONCE_RETENTION,))
        return bool(inserted == 1)


_IMPORT_MERGE = """
WITH incoming (institution_id, ssin, code, start_date, end_date) AS (
    SELECT * FROM unnest(%s::text[], %s::text[], %s::integer[], %s::date[], %s::date[])
),
touched AS (
    SELECT DISTINCT institution_id, ssin, code FROM incoming
),
existing AS (
    DELETE FROM periods p USING touched t
    WHERE p.institution_id = t.institution_id AND p.ssin = t.ssin AND p.code = t.code
    RETURNING p.institution_id, p.ssin, p.code, p.start_date, p.end_date
),
merged AS (
    -- range_agg coalesces overlapping and (dates being discrete) adjacent ranges: R2.5.
    SELECT institution_id, ssin, code, unnest(range_agg(daterange(start_date, end_date, '[]'))) AS r
    FROM (SELECT * FROM existing UNION ALL SELECT * FROM incoming) AS every_period
    GROUP BY institution_id, ssin, code
)
INSERT INTO periods (institution_id, ssin, code, start_date, end_date)
SELECT institution_id, ssin, code, lower(r), upper(r) - 1 FROM merged
"""


class PostgresStore:
    """The directory in a PostgreSQL database (or one schema of it); the pool opens on first use."""

    def __init__(self, url: str, *, schema: str | None = None, min_size: int = 1, max_size: int = 8) -> None:
        self.url = with_schema(url, schema) if schema else url
        self._min_size = min_size
        self._max_size = max_size
        self._lock = threading.Lock()
        self._pool: ConnectionPool | None = None
        self._pool_pid = 0
        self._closed = False
        self._prune = PruneSchedule()

    def __repr__(self) -> str:
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        return f"PostgresStore('{parts.scheme}://{host}{':' + str(parts.port) if parts.port else ''}{parts.path}')"

    # -- connections -------------------------------------------------------------------------------------

    def _get_pool(self) -> ConnectionPool:
        pool, pid = self._pool, os.getpid()
        if pool is not None and self._pool_pid == pid:
            return pool
        with self._lock:
            if self._closed:
                raise StorageError("the PostgreSQL directory is closed")
            if self._pool is None or self._pool_pid != pid:
                # A forked child never touches the parent's connections: it opens its own pool.
                pool = ConnectionPool(
                    self.url,
                    min_size=self._min_size,
                    max_size=self._max_size,
                    kwargs={"autocommit": True},
                    open=False,
                    name="ksz-gateway",
                )
                try:
                    pool.open(wait=True, timeout=30.0)
                except psycopg.Error as exc:
                    pool.close()
                    raise StorageError(f"cannot reach the PostgreSQL directory {self!r}: {exc}") from exc
                self._pool, self._pool_pid = pool, pid
            return self._pool

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        pool = self._get_pool()
        try:
            with pool.connection() as conn, conn.transaction():
                yield conn
        except psycopg.Error as exc:
            raise StorageError(f"the PostgreSQL directory {self!r} failed: {exc}") from exc

    def _read(self, query: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[TupleRow]:
        pool = self._get_pool()
        try:
            with pool.connection() as conn:
                return conn.execute(query, params).fetchall()
        except psycopg.Error as exc:
            raise StorageError(f"cannot read the PostgreSQL directory {self!r}: {exc}") from exc

    # -- schema ------------------------------------------------------------------------------------------

    def upgrade(self) -> int:
        with self._tx() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            _ensure_schema(conn)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
                "description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
            current = int(row[0]) if row else 0
            if current > latest_version():
                raise StorageError(
                    f"the directory {self!r} has schema version {current}, newer than this gateway knows "
                    f"({latest_version()}); upgrade the gateway"
                )
            pending = [m for m in MIGRATIONS if m.version > current]
            if pending:
                public = conn.execute("SELECT to_regnamespace('public') IS NOT NULL").fetchone()
                # In public, so that dropping one schema (a test run's) never drops the extension.
                conn.execute(
                    "CREATE EXTENSION IF NOT EXISTS btree_gist"
                    + (" WITH SCHEMA public" if public and public[0] else "")
                )
            for migration in pending:
                for statement in migration.postgres:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version (version, description) VALUES (%s, %s)",
                    (migration.version, migration.description),
                )
            empty = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM sectors)").fetchone()
            if empty and empty[0]:
                from gateway.domain.catalogue import load_catalogue

                _save_catalogue(conn, load_catalogue())
        return latest_version()

    # -- the unit of work --------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[PostgresTransaction]:
        with self._tx() as conn:
            yield PostgresTransaction(conn, self._prune)

    def use_nonce(self, institution_id: str, nonce: str, created: datetime, now: datetime) -> bool:
        with self.transaction() as tx:
            return tx.claim_nonce(NonceClaim(institution_id, nonce, created, now))

    # -- the operator's administration -------------------------------------------------------------------

    def add_institution(self, record: InstitutionRecord) -> None:
        with self._tx() as conn:
            added = conn.execute(
                "INSERT INTO institutions (id, name, sector, secret, enabled) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (id) DO NOTHING",
                (record.id, record.name, record.sector, record.secret, record.enabled),
            ).rowcount
            if added != 1:
                raise InstitutionExists(f"institution {record.id} already exists")

    def institutions(self) -> list[InstitutionRecord]:
        rows = self._read("SELECT id, name, sector, secret, enabled FROM institutions ORDER BY id")
        return [_institution(r) for r in rows]

    def set_secret(self, institution_id: str, secret: str) -> bool:
        with self._tx() as conn:
            return (
                conn.execute("UPDATE institutions SET secret = %s WHERE id = %s", (secret, institution_id)).rowcount
                == 1
            )

    def set_enabled(self, institution_id: str, enabled: bool) -> bool:
        with self._tx() as conn:
            return (
                conn.execute("UPDATE institutions SET enabled = %s WHERE id = %s", (enabled, institution_id)).rowcount
                == 1
            )

    def catalogue(self) -> Catalogue:
        sectors = self._read("SELECT sector, name FROM sectors")
        codes = self._read("SELECT sector, code, label, max_months, calendar_year, manual FROM quality_codes")
        return catalogue_from_rows(
            [(int(s), str(n)) for s, n in sectors],
            [(int(s), int(c), str(lb), m, bool(cy), bool(mn)) for s, c, lb, m, cy, mn in codes],
        )

    def save_catalogue(self, catalogue: Catalogue) -> None:
        with self._tx() as conn:
            _save_catalogue(conn, catalogue)

    # -- bulk --------------------------------------------------------------------------------------------

    def import_integrations(self, rows: Iterable[ImportRow]) -> int:
        """Merge rows in batches of ``IMPORT_BATCH``, one short transaction each, set-based in SQL (R2.5)."""
        count = 0
        for batch in batched(rows, IMPORT_BATCH):
            with self._tx() as conn:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_IMPORT_LOCK,))
                conn.execute(
                    _IMPORT_MERGE,
                    (
                        [r.institution_id for r in batch],
                        [r.ssin for r in batch],
                        [r.code for r in batch],
                        [r.period.start for r in batch],
                        [r.period.end for r in batch],
                    ),
                )
            count += len(batch)
        return count

    def export_integrations(self) -> Iterator[ImportRow]:
        """Every period, ordered by institution, SSIN, code and start, read page by page."""
        last: Sequence[Any] | None = None
        while True:
            if last is None:
                page = self._read(
                    "SELECT institution_id, ssin, code, start_date, end_date FROM periods "
                    "ORDER BY institution_id, ssin, code, start_date LIMIT %s",
                    (_PAGE,),
                )
            else:
                page = self._read(
                    "SELECT institution_id, ssin, code, start_date, end_date FROM periods "
                    "WHERE (institution_id, ssin, code, start_date) > (%s, %s, %s, %s) "
                    "ORDER BY institution_id, ssin, code, start_date LIMIT %s",
                    (*last, _PAGE),
                )
            for institution_id, ssin, code, start, end in page:
                yield ImportRow(institution_id, ssin, int(code), _period(start, end))
            if len(page) < _PAGE:
                return
            last = page[-1][:4]

    def audit_log(self, institution_id: str | None = None) -> Iterator[AuditRecord]:
        """The audit trail by sequence number: for any two changes of one person, their commit order."""
        after = 0
        while True:
            page = self._read(
                "SELECT seq, ticket, institution_id, operation, at, reference, request_json, outcome_json "
                "FROM audit WHERE seq > %s AND (%s::text IS NULL OR institution_id = %s) ORDER BY seq LIMIT %s",
                (after, institution_id, institution_id, _PAGE),
            )
            for seq, ticket, inst, operation, at, reference, request, outcome in page:
                after = seq
                yield AuditRecord(
                    ticket=ticket,
                    institution_id=inst,
                    operation=operation,
                    at=at.astimezone(UTC),
                    reference=reference,
                    request=request,
                    outcome=outcome,
                )
            if len(page) < _PAGE:
                return

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None and self._pool_pid == os.getpid():
            pool.close()


def _ensure_schema(conn: Connection) -> None:
    """Create the first schema of ``search_path`` when it does not exist yet (one schema per test run)."""
    row = conn.execute("SELECT current_schema()").fetchone()
    if row is not None and row[0] is not None:
        return
    path = conn.execute("SHOW search_path").fetchone()
    names = [n.strip().strip('"') for n in (path[0] if path else "").split(",") if n.strip()]
    if not names:
        raise StorageError("the PostgreSQL search_path names no schema to create the directory in")
    name = names[0]
    if name == "$user":
        user = conn.execute("SELECT current_user").fetchone()
        name = str(user[0]) if user else name
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(name)))


def _save_catalogue(conn: Connection, catalogue: Catalogue) -> None:
    sectors, codes = catalogue_rows(catalogue)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO sectors (sector, name) VALUES (%s, %s) "
            "ON CONFLICT (sector) DO UPDATE SET name = excluded.name",
            sectors,
        )
        cur.executemany(
            "INSERT INTO quality_codes (sector, code, label, max_months, calendar_year, manual) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (sector, code) DO UPDATE SET label = excluded.label, "
            "max_months = excluded.max_months, calendar_year = excluded.calendar_year, manual = excluded.manual",
            codes,
        )

"""What the SQL engines share: the storage port over a DB-API cursor, each statement written once.

Invariant: every statement the port needs is written here once, in qmark style (``?``), and runs through the
engine's ``Dialect``, which alone knows its placeholders, how it stores dates, timestamps, JSON and flags,
which locks a read-decide-write takes beyond the transaction's own, and which statements it runs its own tuned
way. A driver's exception leaves a store only as one of the project's errors, translated in one place
(``SqlStore._translated``) from the dialect's table, whose keys cover every class the driver raises.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, date, datetime
from types import ModuleType
from typing import Any, ClassVar, Protocol

from gateway.adapters.storage.common import (
    PeriodKey,
    PruneSchedule,
    catalogue_from_rows,
    catalogue_rows,
    dump_json,
    import_in_batches,
    merges,
    utc,
)
from gateway.adapters.storage.migrations import MIGRATIONS, latest_version
from gateway.app.ports import AuditRecord, CertificateRecord, ImportRow, InstitutionRecord, NonceClaim, StoredAnswer
from gateway.domain.catalogue import Catalogue
from gateway.domain.directory import Attestation, Institution, Integration
from gateway.domain.periods import Period, PeriodSet
from gateway.errors import GatewayError, InstitutionExists, InternalError, StorageError, UnknownInstitution

__all__ = [
    "Cursor",
    "Dialect",
    "ErrorTable",
    "SqlStore",
    "SqlTransaction",
    "db_api_errors",
    "translate",
    "translation_of",
]

PAGE = 5_000  # rows a read of the whole directory (export, audit trail) fetches at a time

Row = Sequence[Any]

# A driver's exception class -> the project's error it becomes and what it says of the directory.
ErrorTable = Mapping[type[Exception], tuple[type[GatewayError], str]]

# What PEP 249's exception classes mean for the directory; every driver module exports them by these names.
# A constraint violation is the gateway's own bug (the domain keeps every rule the schema checks), not an
# unavailable database; a retry or an operator can mend what is "unavailable".
_DB_API_MEANING: Mapping[str, tuple[type[GatewayError], str]] = {
    "Error": (StorageError, "failed"),
    "DatabaseError": (StorageError, "failed"),  # e.g. a file that is not a database
    "OperationalError": (StorageError, "is unavailable"),  # cannot connect or open, locked, timeouts, disk full
    "InternalError": (StorageError, "failed inside the engine"),
    "IntegrityError": (InternalError, "refused a write that breaks one of its constraints"),
    "DataError": (InternalError, "refused a value"),
    "ProgrammingError": (InternalError, "was used wrongly"),
    "InterfaceError": (InternalError, "was used wrongly"),
    "NotSupportedError": (InternalError, "was asked for what it does not support"),
    "Warning": (InternalError, "was used wrongly"),
}


def db_api_errors(driver: ModuleType, nearer: ErrorTable | None = None) -> ErrorTable:
    """The table of a PEP 249 ``driver``: its standard classes as above, and ``nearer`` ones that mean otherwise."""
    return {**{getattr(driver, name): meaning for name, meaning in _DB_API_MEANING.items()}, **(nearer or {})}


class Cursor(Protocol):
    """The part of a DB-API 2.0 cursor the stores use (``sqlite3.Cursor``, ``psycopg.Cursor``)."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, statement: Any, params: Any = ..., /) -> Any: ...

    def executemany(self, statement: Any, rows: Any, /) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


def translation_of(table: ErrorTable, error: type[BaseException]) -> type[Exception] | None:
    """The key of ``table`` that translates ``error``: the nearest class in its MRO (None: not the driver's)."""
    return next((cls for cls in error.__mro__ if cls in table), None)


def translate(table: ErrorTable, exc: Exception, where: str) -> GatewayError:
    """The project's error for the driver's ``exc``, its message naming ``where`` and the driver's words."""
    key = translation_of(table, type(exc))
    assert key is not None, f"{type(exc).__name__} is not in the table"
    kind, says = table[key]
    return kind(f"{where} {says}: {exc}")


_SELECT_INSTITUTION = "SELECT id, name, sector, secret, enabled FROM institutions"
_PERIOD_KEY = "institution_id = ? AND ssin = ? AND code = ?"
_DELETE_PERIODS = f"DELETE FROM periods WHERE {_PERIOD_KEY}"
_INSERT_PERIOD = "INSERT INTO periods (institution_id, ssin, code, start_date, end_date) VALUES (?, ?, ?, ?, ?)"
_PERIOD_COLUMNS = "institution_id, ssin, code, start_date"


def _institution(row: Row) -> InstitutionRecord:
    return InstitutionRecord(
        id=str(row[0]), name=str(row[1]), sector=int(row[2]), secret=str(row[3]), enabled=bool(row[4])
    )


_SELECT_CERTIFICATE = "SELECT fingerprint, institution_id, subject, not_before, not_after FROM certificates"


def _certificate(dialect: Dialect, row: Row) -> CertificateRecord:
    return CertificateRecord(
        str(row[0]), str(row[1]), str(row[2]), dialect.read_stamp(row[3]), dialect.read_stamp(row[4])
    )


class Dialect:
    """How one engine speaks: placeholders, value types, extra locks and tuned statements.

    The defaults are plain DB-API in qmark style with values as the driver gives them; an engine overrides
    what it does otherwise. Statements in ``?`` style go through ``execute``; an engine's own statements may
    be written in its own style and run on the cursor directly.
    """

    engine: ClassVar[str]
    errors: ClassVar[ErrorTable]
    schema_version_table: ClassVar[str]  # CREATE TABLE IF NOT EXISTS schema_version (...)
    chunk: ClassVar[int] = 500  # values a membership test binds at most

    @property
    def foreign(self) -> tuple[type[Exception], ...]:
        """Every exception class this engine's table translates (for ``except``)."""
        return tuple(self.errors)

    # -- statements ----------------------------------------------------------------------------------------

    def execute(self, cur: Cursor, statement: str, params: Sequence[Any] = ()) -> Cursor:
        cur.execute(statement, params)
        return cur

    def executemany(self, cur: Cursor, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            cur.executemany(statement, rows)

    def select_among(self, cur: Cursor, statement: str, params: Sequence[Any], values: Sequence[str]) -> Sequence[Row]:
        """The rows of ``statement``, whose ``{among}`` tests a column for membership in ``values``."""
        found: list[Row] = []
        for start in range(0, len(values), self.chunk):
            chunk = values[start : start + self.chunk]
            among = f"IN ({','.join('?' * len(chunk))})"
            found.extend(self.execute(cur, statement.format(among=among), (*params, *chunk)).fetchall())
        return found

    # -- value types ---------------------------------------------------------------------------------------

    def day(self, value: date | None) -> Any:
        return value

    def read_day(self, raw: Any) -> date:
        assert isinstance(raw, date)
        return raw

    def period(self, start: Any, end: Any) -> Period:
        return Period(self.read_day(start), None if end is None else self.read_day(end))

    def stamp(self, moment: datetime) -> Any:
        return utc(moment)

    def read_stamp(self, raw: Any) -> datetime:
        assert isinstance(raw, datetime)
        return raw.astimezone(UTC)

    def json(self, value: Mapping[str, Any]) -> Any:
        return dump_json(value)

    def read_json(self, raw: Any) -> Any:
        return json.loads(raw)

    def flag(self, value: bool) -> Any:
        return value

    # -- locks ---------------------------------------------------------------------------------------------

    def lock_persons(self, cur: Cursor, institution_id: str, code: int, ssins: Sequence[str]) -> None:
        """Keep these persons' periods in ``code`` unchanged by others until the transaction ends (by default
        the write transaction's own lock does)."""

    def lock_reference(self, cur: Cursor, institution_id: str, reference: str) -> None:
        """Make a second request with this Reference wait until this transaction ends (by default the write
        transaction's own lock does)."""

    # -- schema and bulk -----------------------------------------------------------------------------------

    def prepare_upgrade(self, cur: Cursor) -> None:
        """Serialize ``upgrade`` between processes and make the schema's home exist (by default the write
        transaction's own lock serializes, and the database is the home)."""

    def prepare_migrations(self, cur: Cursor) -> None:
        """What the engine needs before its first pending migration runs (by default nothing)."""

    def merge_import(self, cur: Cursor, batch: Sequence[ImportRow]) -> None:
        """Merge ``batch`` into the directory (R2.5 per key): each key read, merged and written again."""

        def current(key: PeriodKey) -> PeriodSet:
            rows = self.execute(cur, f"SELECT start_date, end_date FROM periods WHERE {_PERIOD_KEY}", key).fetchall()
            return tuple(self.period(start, end) for start, end in rows)

        stale: list[PeriodKey] = []
        fresh: list[tuple[Any, ...]] = []
        for key, old, merged in merges(batch, current):
            if old:
                stale.append(key)
            fresh.extend((*key, self.day(p.start), self.day(p.end)) for p in merged)
        # Keys are distinct within a batch: every stale set goes before any new one comes in.
        self.executemany(cur, _DELETE_PERIODS, stale)
        self.executemany(cur, _INSERT_PERIOD, fresh)


class SqlTransaction:
    """The port's unit of work on one cursor inside an engine's write transaction."""

    def __init__(self, cur: Cursor, dialect: Dialect, prune: PruneSchedule) -> None:
        self._cur = cur
        self._dialect = dialect
        self._prune = prune

    def _run(self, statement: str, params: Sequence[Any] = ()) -> Cursor:
        return self._dialect.execute(self._cur, statement, params)

    def institution(self, institution_id: str) -> InstitutionRecord | None:
        row = self._run(f"{_SELECT_INSTITUTION} WHERE id = ?", (institution_id,)).fetchone()
        return None if row is None else _institution(row)

    def read_periods(self, institution_id: str, code: int, ssins: Sequence[str]) -> dict[str, PeriodSet]:
        wanted = sorted(set(ssins))
        if not wanted:
            return {}
        self._dialect.lock_persons(self._cur, institution_id, code, wanted)
        found: dict[str, list[Period]] = {}
        rows = self._dialect.select_among(
            self._cur,
            "SELECT ssin, start_date, end_date FROM periods "
            "WHERE institution_id = ? AND code = ? AND ssin {among} ORDER BY ssin, start_date",
            (institution_id, code),
            wanted,
        )
        for ssin, start, end in rows:
            found.setdefault(ssin, []).append(self._dialect.period(start, end))
        return {ssin: tuple(periods) for ssin, periods in found.items()}

    def write_periods(self, institution_id: str, code: int, ssin: str, periods: PeriodSet) -> None:
        day = self._dialect.day
        self._run(_DELETE_PERIODS, (institution_id, ssin, code))
        rows = [(institution_id, ssin, code, day(p.start), day(p.end)) for p in periods]
        self._dialect.executemany(self._cur, _INSERT_PERIOD, rows)

    def integrations_of(
        self, ssin: str, window: Period, code: int | None = None, sector: int | None = None
    ) -> list[Integration]:
        day = self._dialect.day
        rows = self._run(
            "SELECT p.institution_id, i.name, i.sector, p.code, p.start_date, p.end_date "
            "FROM periods p JOIN institutions i ON i.id = p.institution_id "
            "WHERE p.ssin = ? AND p.start_date <= ? AND (p.end_date IS NULL OR p.end_date >= ?) "
            "AND (CAST(? AS INTEGER) IS NULL OR p.code = ?) AND (CAST(? AS INTEGER) IS NULL OR i.sector = ?) "
            "ORDER BY p.institution_id, p.code, p.start_date",
            (ssin, day(window.last), day(window.start), code, code, sector, sector),
        ).fetchall()
        return [
            Integration(Institution(inst, name, int(sec)), ssin, int(c), self._dialect.period(start, end))
            for inst, name, sec, c, start, end in rows
        ]

    def attestations_of(self, institution_id: str, ssins: Sequence[str]) -> dict[str, list[Attestation]]:
        found: dict[str, list[Attestation]] = {}
        rows = self._dialect.select_among(
            self._cur,
            "SELECT ticket, ssin, code, valid_from, valid_to FROM attestations "
            "WHERE institution_id = ? AND ssin {among} ORDER BY ssin, valid_from, ticket",
            (institution_id,),
            sorted(set(ssins)),
        )
        for ticket, ssin, code, valid_from, valid_to in rows:
            validity = self._dialect.period(valid_from, valid_to)
            found.setdefault(ssin, []).append(Attestation(ticket, ssin, int(code), validity))
        return found

    def record_attestation(self, institution_id: str, attestation: Attestation) -> None:
        validity = attestation.validity
        self._run(
            "INSERT INTO attestations (ticket, institution_id, ssin, code, valid_from, valid_to) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                attestation.ticket,
                institution_id,
                attestation.ssin,
                attestation.code,
                self._dialect.day(validity.start),
                self._dialect.day(validity.end),
            ),
        )

    def add_audit(self, record: AuditRecord) -> None:
        self._run(
            "INSERT INTO audit (ticket, institution_id, operation, at, reference, request_json, outcome_json) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                record.ticket,
                record.institution_id,
                record.operation,
                self._dialect.stamp(record.at),
                record.reference,
                self._dialect.json(record.request),
                self._dialect.json(record.outcome),
            ),
        )

    def find_answer(self, institution_id: str, reference: str) -> StoredAnswer | None:
        self._dialect.lock_reference(self._cur, institution_id, reference)
        row = self._run(
            "SELECT operation, fingerprint, answer_json FROM answers WHERE institution_id = ? AND reference = ?",
            (institution_id, reference),
        ).fetchone()
        return None if row is None else StoredAnswer(row[0], row[1], self._dialect.read_json(row[2]))

    def save_answer(self, institution_id: str, reference: str, answer: StoredAnswer) -> None:
        self._run(
            "INSERT INTO answers (institution_id, reference, operation, fingerprint, answer_json) "
            "VALUES (?, ?, ?, ?, ?)",
            (institution_id, reference, answer.operation, answer.fingerprint, self._dialect.json(answer.answer)),
        )

    def claim_nonce(self, claim: NonceClaim) -> bool:
        stamp = self._dialect.stamp
        inserted = self._run(
            "INSERT INTO nonces (institution_id, nonce, created) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (claim.institution_id, claim.nonce, stamp(claim.created)),
        ).rowcount
        stale = self._prune.stale_before(claim.now)
        if stale is not None:
            self._run("DELETE FROM nonces WHERE created < ?", (stamp(stale),))
        return bool(inserted == 1)

    def certificate(self, fingerprint: str) -> CertificateRecord | None:
        row = self._run(f"{_SELECT_CERTIFICATE} WHERE fingerprint = ?", (fingerprint,)).fetchone()
        return None if row is None else _certificate(self._dialect, row)


class SqlStore(ABC):
    """The port's store on an SQL engine: the engine opens connections and transactions, the dialect speaks."""

    url: str

    def __init__(self, url: str, dialect: Dialect, place: str) -> None:
        self.url = url
        self._dialect = dialect
        self._where = f"the {dialect.engine} directory {place}"
        self._prune = PruneSchedule()

    # -- what each engine provides -------------------------------------------------------------------------

    @abstractmethod
    def _begin(self) -> AbstractContextManager[Cursor]:
        """A cursor inside a write transaction that commits when the block ends and rolls back if it raises."""

    @abstractmethod
    def _cursor(self) -> AbstractContextManager[Cursor]:
        """A cursor for reads outside any transaction."""

    @abstractmethod
    def close(self) -> None: ...

    # -- the boundary --------------------------------------------------------------------------------------

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except self._dialect.foreign as exc:
            raise translate(self._dialect.errors, exc, self._where) from exc

    @contextmanager
    def _write(self) -> Iterator[Cursor]:
        with self._translated(), self._begin() as cur:
            yield cur

    def _read(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._translated(), self._cursor() as cur:
            return self._dialect.execute(cur, statement, params).fetchall()

    # -- schema --------------------------------------------------------------------------------------------

    def upgrade(self) -> int:
        with self._write() as cur:
            self._dialect.prepare_upgrade(cur)
            cur.execute(self._dialect.schema_version_table)
            found = self._dialect.execute(cur, "SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
            current = int(found[0])
            if current > latest_version():
                raise StorageError(
                    f"{self._where} has schema version {current}, newer than this gateway knows "
                    f"({latest_version()}); upgrade the gateway"
                )
            pending = [m for m in MIGRATIONS if m.version > current]
            if pending:
                self._dialect.prepare_migrations(cur)
            for migration in pending:
                for statement in migration.statements[self._dialect.engine]:
                    cur.execute(statement)
                self._dialect.execute(
                    cur,
                    "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.description, self._dialect.stamp(datetime.now(UTC))),
                )
            if self._dialect.execute(cur, "SELECT count(*) FROM sectors").fetchone()[0] == 0:
                from gateway.domain.catalogue import load_catalogue

                self._save_catalogue(cur, load_catalogue())
        return latest_version()

    # -- the unit of work ----------------------------------------------------------------------------------

    def schema_version(self) -> int:
        return int(self._read("SELECT coalesce(max(version), 0) FROM schema_version")[0][0])

    def count_integrations(self) -> int:
        return int(self._read("SELECT count(*) FROM periods")[0][0])

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        with self._write() as cur:
            yield SqlTransaction(cur, self._dialect, self._prune)

    # -- the operator's administration ---------------------------------------------------------------------

    def add_institution(self, record: InstitutionRecord) -> None:
        with self._write() as cur:
            added = self._dialect.execute(
                cur,
                "INSERT INTO institutions (id, name, sector, secret, enabled) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO NOTHING",
                (record.id, record.name, record.sector, record.secret, self._dialect.flag(record.enabled)),
            ).rowcount
            if added != 1:
                raise InstitutionExists(f"institution {record.id} already exists")

    def institutions(self) -> list[InstitutionRecord]:
        return [_institution(r) for r in self._read(f"{_SELECT_INSTITUTION} ORDER BY id")]

    def _update_institution(self, column: str, value: Any, institution_id: str) -> bool:
        with self._write() as cur:
            statement = f"UPDATE institutions SET {column} = ? WHERE id = ?"
            return bool(self._dialect.execute(cur, statement, (value, institution_id)).rowcount == 1)

    def set_secret(self, institution_id: str, secret: str) -> bool:
        return self._update_institution("secret", secret, institution_id)

    def set_enabled(self, institution_id: str, enabled: bool) -> bool:
        return self._update_institution("enabled", self._dialect.flag(enabled), institution_id)

    def add_certificate(self, record: CertificateRecord) -> bool:
        stamp = self._dialect.stamp
        with self._write() as cur:
            known = self._dialect.execute(cur, "SELECT 1 FROM institutions WHERE id = ?", (record.institution_id,))
            if known.fetchone() is None:
                raise UnknownInstitution(f"no institution {record.institution_id}")
            added = self._dialect.execute(
                cur,
                "INSERT INTO certificates (fingerprint, institution_id, subject, not_before, not_after) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO NOTHING",
                (
                    record.fingerprint,
                    record.institution_id,
                    record.subject,
                    stamp(record.not_before),
                    stamp(record.not_after),
                ),
            ).rowcount
            return bool(added == 1)

    def remove_certificate(self, institution_id: str, fingerprint: str) -> bool:
        with self._write() as cur:
            statement = "DELETE FROM certificates WHERE institution_id = ? AND fingerprint = ?"
            return bool(self._dialect.execute(cur, statement, (institution_id, fingerprint)).rowcount == 1)

    def certificates(self) -> list[CertificateRecord]:
        rows = self._read(f"{_SELECT_CERTIFICATE} ORDER BY institution_id, fingerprint")
        return [_certificate(self._dialect, r) for r in rows]

    def catalogue(self) -> Catalogue:
        sectors = self._read("SELECT sector, name FROM sectors")
        codes = self._read("SELECT sector, code, label, max_months, calendar_year, manual FROM quality_codes")
        return catalogue_from_rows(sectors, codes)

    def save_catalogue(self, catalogue: Catalogue) -> None:
        with self._write() as cur:
            self._save_catalogue(cur, catalogue)

    def _save_catalogue(self, cur: Cursor, catalogue: Catalogue) -> None:
        sectors, codes = catalogue_rows(catalogue)
        flag = self._dialect.flag
        self._dialect.executemany(
            cur,
            "INSERT INTO sectors (sector, name) VALUES (?, ?) ON CONFLICT (sector) DO UPDATE SET name = excluded.name",
            sectors,
        )
        self._dialect.executemany(
            cur,
            "INSERT INTO quality_codes (sector, code, label, max_months, calendar_year, manual) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sector, code) DO UPDATE SET label = excluded.label, "
            "max_months = excluded.max_months, calendar_year = excluded.calendar_year, manual = excluded.manual",
            [(s, c, label, months, flag(cy), flag(manual)) for s, c, label, months, cy, manual in codes],
        )

    # -- bulk ----------------------------------------------------------------------------------------------

    def import_integrations(self, rows: Iterable[ImportRow]) -> int:
        """Merge rows in batches of ``IMPORT_BATCH``, one short transaction each (R2.5 per key)."""

        def merge(batch: list[ImportRow]) -> None:
            with self._write() as cur:
                self._dialect.merge_import(cur, batch)

        return import_in_batches(rows, merge)

    def export_integrations(self) -> Iterator[ImportRow]:
        """Every period, ordered by institution, SSIN, code and start, read page by page."""
        after = ""
        last: Sequence[Any] = ()
        while True:
            page = self._read(
                f"SELECT {_PERIOD_COLUMNS}, end_date FROM periods {after}ORDER BY {_PERIOD_COLUMNS} LIMIT ?",
                (*last, PAGE),
            )
            for institution_id, ssin, code, start, end in page:
                yield ImportRow(institution_id, ssin, int(code), self._dialect.period(start, end))
            if len(page) < PAGE:
                return
            after, last = f"WHERE ({_PERIOD_COLUMNS}) > (?, ?, ?, ?) ", tuple(page[-1][:4])

    def audit_log(self, institution_id: str | None = None) -> Iterator[AuditRecord]:
        """The audit trail by sequence number: for any two changes of one person, their commit order."""
        after = 0
        while True:
            page = self._read(
                "SELECT seq, ticket, institution_id, operation, at, reference, request_json, outcome_json "
                "FROM audit WHERE seq > ? AND (CAST(? AS TEXT) IS NULL OR institution_id = ?) ORDER BY seq LIMIT ?",
                (after, institution_id, institution_id, PAGE),
            )
            for seq, ticket, inst, operation, at, reference, request, outcome in page:
                after = seq
                yield AuditRecord(
                    ticket=ticket,
                    institution_id=inst,
                    operation=operation,
                    at=self._dialect.read_stamp(at),
                    reference=reference,
                    request=self._dialect.read_json(request),
                    outcome=self._dialect.read_json(outcome),
                )
            if len(page) < PAGE:
                return

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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, date, datetime
from types import ModuleType
from typing import Any, ClassVar, Protocol

from gateway.adapters.storage.at_rest import SEALED_PREFIX, SecretCipher, SecretColumn, is_sealed
from gateway.adapters.storage.common import (
    PeriodKey,
    PruneSchedule,
    at_once,
    catalogue_from_rows,
    catalogue_rows,
    dump_json,
    import_in_batches,
    merges,
    utc,
)
from gateway.adapters.storage.migrations import MIGRATIONS, latest_version
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
from gateway.domain.directory import Attestation, Institution, Integration
from gateway.domain.periods import Period, PeriodSet
from gateway.errors import (
    GatewayError,
    InstitutionExists,
    InternalError,
    NonceReplayed,
    StorageError,
    UnknownInstitution,
)

__all__ = [
    "Cursor",
    "Dialect",
    "ErrorTable",
    "SqlStore",
    "SqlTransaction",
    "db_api_errors",
    "replayed",
    "translate",
    "translation_of",
]

PAGE = 5_000  # rows a read of the whole directory (export, audit trail) fetches at a time

Row = Sequence[Any]
Rows = Callable[[], Sequence[Row]]  # rows asked for, given when called (an engine may wait for them only then)

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
_SEALED_TEST = (len(SEALED_PREFIX), SEALED_PREFIX)  # substr(secret, 1, ?) = ?: the secret is sealed


def _institution(row: Row, secrets: SecretColumn) -> InstitutionRecord:
    return InstitutionRecord(
        id=str(row[0]),
        name=str(row[1]),
        sector=int(row[2]),
        secret=secrets.read(str(row[0]), str(row[3])),
        enabled=bool(row[4]),
    )


_SELECT_CERTIFICATE = "SELECT fingerprint, institution_id, subject, not_before, not_after FROM certificates"


_AUDIT_FIELDS = "ticket, institution_id, operation, at, reference, request_json, outcome_json"
_INSERT_AUDIT = f"INSERT INTO audit (seq, {_AUDIT_FIELDS}, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_CHECKPOINT = (
    "INSERT INTO audit_checkpoints (seq, hash, at, mac) VALUES (?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING"
)


def _audit_record(dialect: Dialect, row: Row) -> AuditRecord:
    """An audit record from its stored ``_AUDIT_FIELDS``."""
    ticket, inst, operation, at, reference, request, outcome = row
    return AuditRecord(
        ticket=ticket,
        institution_id=inst,
        operation=operation,
        at=dialect.read_stamp(at),
        reference=reference,
        request=dialect.read_json(request),
        outcome=dialect.read_json(outcome),
    )


def _chained(dialect: Dialect, row: Row) -> ChainedRecord:
    """A record of the chain from ``seq, _AUDIT_FIELDS, prev_hash, hash``; one whose fields no longer read back
    (text edited into something that is no timestamp or no JSON) comes without its record."""
    try:
        record: AuditRecord | None = _audit_record(dialect, row[1:8])
    except (ValueError, TypeError, AttributeError, AssertionError):
        record = None
    return ChainedRecord(int(row[0]), record, row[8], row[9], ticket=None if row[1] is None else str(row[1]))


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
    lock_rows: ClassVar[str] = ""  # appended to a SELECT whose rows the transaction will update

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

    def select_among_later(self, cur: Cursor, statement: str, params: Sequence[Any], values: Sequence[str]) -> Rows:
        """``select_among``, its rows given when asked for: an engine that pipelines its statements waits for them
        only then, together with whatever else was sent before (by default they are read at once)."""
        rows = self.select_among(cur, statement, params, values)
        return lambda: rows

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

    def append_audit(self, cur: Cursor, values: Sequence[Any], digest: str) -> tuple[int, str]:
        """Append a record (its ``_AUDIT_FIELDS`` values, its content digest) to the chain; its number and hash.
        By default the write transaction's own lock keeps others from appending until it ends (SQLite's
        ``BEGIN IMMEDIATE``): the tail is read, the hash computed, the record inserted."""
        tail = self.execute(cur, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (1, GENESIS) if tail is None else (int(tail[0]) + 1, str(tail[1] or ""))
        chain_hash = link_hash(seq, prev, digest)
        self.execute(cur, _INSERT_AUDIT, (seq, *values, prev, chain_hash))
        return seq, chain_hash

    def append_audit_later(self, cur: Cursor, values: Sequence[Any], digest: str) -> Callable[[], tuple[int, str]]:
        """``append_audit``, its number and hash given when asked for (by default at once)."""
        chained = self.append_audit(cur, values, digest)
        return lambda: chained

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


def replayed(claim: NonceClaim) -> NonceReplayed:
    """The refusal of a nonce ``claim``'s institution used before."""
    return NonceReplayed(f"nonce replayed by institution {claim.institution_id}")


class SqlTransaction:
    """The port's unit of work on one cursor inside an engine's write transaction."""

    def __init__(
        self, cur: Cursor, dialect: Dialect, prune: PruneSchedule, secrets: SecretColumn, signer: Signer | None = None
    ) -> None:
        self._cur = cur
        self._dialect = dialect
        self._prune = prune
        self._secrets = secrets
        self._signer = signer

    def _run(self, statement: str, params: Sequence[Any] = ()) -> Cursor:
        return self._dialect.execute(self._cur, statement, params)

    def institution(self, institution_id: str) -> InstitutionRecord | None:
        row = self._run(f"{_SELECT_INSTITUTION} WHERE id = ?", (institution_id,)).fetchone()
        return None if row is None else _institution(row, self._secrets)

    def read_periods(self, institution_id: str, code: int, ssins: Sequence[str]) -> dict[str, PeriodSet]:
        return self._periods_later(institution_id, code, ssins)()

    def _periods_later(
        self, institution_id: str, code: int, ssins: Sequence[str]
    ) -> Callable[[], dict[str, PeriodSet]]:
        wanted = sorted(set(ssins))
        if not wanted:
            return dict
        self._dialect.lock_persons(self._cur, institution_id, code, wanted)
        rows = self._dialect.select_among_later(
            self._cur,
            "SELECT ssin, start_date, end_date FROM periods "
            "WHERE institution_id = ? AND code = ? AND ssin {among} ORDER BY ssin, start_date",
            (institution_id, code),
            wanted,
        )

        def periods() -> dict[str, PeriodSet]:
            found: dict[str, list[Period]] = {}
            for ssin, start, end in rows():
                found.setdefault(ssin, []).append(self._dialect.period(start, end))
            return {ssin: tuple(periods) for ssin, periods in found.items()}

        return periods

    def periods_and_attestations(
        self, institution_id: str, code: int, ssins: Sequence[str]
    ) -> tuple[dict[str, PeriodSet], dict[str, list[Attestation]]]:
        periods = self._periods_later(institution_id, code, ssins)
        attestations = self._attestations_later(institution_id, ssins)
        return periods(), attestations()

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
        return self._attestations_later(institution_id, ssins)()

    def _attestations_later(
        self, institution_id: str, ssins: Sequence[str]
    ) -> Callable[[], dict[str, list[Attestation]]]:
        rows = self._dialect.select_among_later(
            self._cur,
            "SELECT ticket, ssin, code, valid_from, valid_to FROM attestations "
            "WHERE institution_id = ? AND ssin {among} ORDER BY ssin, valid_from, ticket",
            (institution_id,),
            sorted(set(ssins)),
        )

        def attestations() -> dict[str, list[Attestation]]:
            found: dict[str, list[Attestation]] = {}
            for ticket, ssin, code, valid_from, valid_to in rows():
                validity = self._dialect.period(valid_from, valid_to)
                found.setdefault(ssin, []).append(Attestation(ticket, ssin, int(code), validity))
            return found

        return attestations

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
        values = (
            record.ticket,
            record.institution_id,
            record.operation,
            self._dialect.stamp(record.at),
            record.reference,
            self._dialect.json(record.request),
            self._dialect.json(record.outcome),
        )
        chained = self._dialect.append_audit_later(self._cur, values, content_digest(record))
        if self._signer is None:
            return  # the record's number and hash are not needed: an engine that pipelines need not wait for them
        seq, chain_hash = chained()
        if self._signer.due(seq):
            mark = self._signer.checkpoint(seq, chain_hash, record.at)
            self._run(_INSERT_CHECKPOINT, (mark.seq, mark.hash, self._dialect.stamp(mark.at), mark.mac))

    def find_answer(self, institution_id: str, reference: str) -> StoredAnswer | None:
        return self._stored_answer(self._answer_row_later(institution_id, reference).fetchone())

    def find_answer_later(self, institution_id: str, reference: str) -> Callable[[], StoredAnswer | None]:
        found = self.find_answer(institution_id, reference)  # at once: the transaction's statements share a cursor
        return lambda: found

    def _answer_row_later(self, institution_id: str, reference: str) -> Cursor:
        self._dialect.lock_reference(self._cur, institution_id, reference)
        return self._run(
            "SELECT operation, fingerprint, answer_json FROM answers WHERE institution_id = ? AND reference = ?",
            (institution_id, reference),
        )

    def _stored_answer(self, row: Any) -> StoredAnswer | None:
        return None if row is None else StoredAnswer(row[0], row[1], self._dialect.read_json(row[2]))

    def tentatively(self, superseded: Callable[[], bool]) -> AbstractContextManager[None]:
        return at_once(superseded)  # an engine that pipelines asks later (``PostgresTransaction``)

    def save_answer(self, institution_id: str, reference: str, answer: StoredAnswer) -> None:
        self._run(
            "INSERT INTO answers (institution_id, reference, operation, fingerprint, answer_json) "
            "VALUES (?, ?, ?, ?, ?)",
            (institution_id, reference, answer.operation, answer.fingerprint, self._dialect.json(answer.answer)),
        )

    def claim_nonce(self, claim: NonceClaim) -> bool:
        inserted = self._run(
            "INSERT INTO nonces (institution_id, nonce, created) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (claim.institution_id, claim.nonce, self._dialect.stamp(claim.created)),
        ).rowcount
        self._prune_nonces(claim)
        return bool(inserted == 1)

    def claim_nonce_deferred(self, claim: NonceClaim) -> None:
        if not self.claim_nonce(claim):
            raise replayed(claim)

    def _prune_nonces(self, claim: NonceClaim) -> None:
        stale = self._prune.stale_before(claim.now)
        if stale is not None:
            self._run("DELETE FROM nonces WHERE created < ?", (self._dialect.stamp(stale),))

    def certificate(self, fingerprint: str) -> CertificateRecord | None:
        row = self._run(f"{_SELECT_CERTIFICATE} WHERE fingerprint = ?", (fingerprint,)).fetchone()
        return None if row is None else _certificate(self._dialect, row)


class SqlStore(ABC):
    """The port's store on an SQL engine: the engine opens connections and transactions, the dialect speaks."""

    url: str

    def __init__(
        self,
        url: str,
        dialect: Dialect,
        place: str,
        cipher: SecretCipher | None = None,
        audit_signer: Signer | None = None,
    ) -> None:
        self.url = url
        self._dialect = dialect
        self._where = f"the {dialect.engine} directory {place}"
        self._prune = PruneSchedule()
        self._secrets = SecretColumn(cipher, self._where)
        self._signer = audit_signer

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
                if migration.then == "chain_audit":
                    self._chain_audit(cur)
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
            yield SqlTransaction(cur, self._dialect, self._prune, self._secrets, self._signer)

    # -- the operator's administration ---------------------------------------------------------------------

    def add_institution(self, record: InstitutionRecord) -> None:
        with self._write() as cur:
            added = self._dialect.execute(
                cur,
                "INSERT INTO institutions (id, name, sector, secret, enabled) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO NOTHING",
                (
                    record.id,
                    record.name,
                    record.sector,
                    self._stored_secret(cur, record.secret),
                    self._dialect.flag(record.enabled),
                ),
            ).rowcount
            if added != 1:
                raise InstitutionExists(f"institution {record.id} already exists")

    def institutions(self) -> list[InstitutionRecord]:
        return [_institution(r, self._secrets) for r in self._read(f"{_SELECT_INSTITUTION} ORDER BY id")]

    def _update_institution(self, column: str, value: Any, institution_id: str) -> bool:
        with self._write() as cur:
            if column == "secret":
                value = self._stored_secret(cur, value)
            statement = f"UPDATE institutions SET {column} = ? WHERE id = ?"
            return bool(self._dialect.execute(cur, statement, (value, institution_id)).rowcount == 1)

    def set_secret(self, institution_id: str, secret: str) -> bool:
        return self._update_institution("secret", secret, institution_id)

    # -- secrets at rest -----------------------------------------------------------------------------------

    def _stored_secret(self, cur: Cursor, secret: str) -> str:
        """``secret`` as the column keeps it; in clear only while no other secret is sealed."""
        if self._secrets.cipher is None:
            sealed = self._dialect.execute(
                cur, "SELECT 1 FROM institutions WHERE substr(secret, 1, ?) = ? LIMIT 1", _SEALED_TEST
            )
            if sealed.fetchone() is not None:
                raise self._secrets.refuse_clear_beside_sealed()
        return self._secrets.write(secret)

    def seal_secrets(self) -> int:
        """Check that every secret opens (``StorageError`` naming the first that does not), then seal those
        stored in clear, in one transaction; how many were sealed (0 without a key)."""
        rows = self._read("SELECT id, secret FROM institutions ORDER BY id")
        for institution_id, stored in rows:
            self._secrets.read(str(institution_id), str(stored))  # each one must open
        if self._secrets.cipher is None or all(is_sealed(str(stored)) for _, stored in rows):
            return 0
        with self._write() as cur:
            clear = self._dialect.execute(
                cur,
                f"SELECT id, secret FROM institutions WHERE substr(secret, 1, ?) <> ? ORDER BY id"
                f"{self._dialect.lock_rows}",
                _SEALED_TEST,
            ).fetchall()
            sealed = [(self._secrets.write(str(stored)), str(i)) for i, stored in clear]
            self._dialect.executemany(cur, "UPDATE institutions SET secret = ? WHERE id = ?", sealed)
            return len(sealed)

    def reseal_secrets(self, cipher: SecretCipher) -> int:
        """Every secret opened with this store's key (or read in clear) and sealed again by ``cipher``, in one
        transaction; how many. Nothing is written unless every secret opens."""
        target = SecretColumn(cipher, self._where)
        with self._write() as cur:
            rows = self._dialect.execute(
                cur, f"SELECT id, secret FROM institutions ORDER BY id{self._dialect.lock_rows}"
            ).fetchall()
            resealed = [(target.write(self._secrets.read(str(i), str(stored))), str(i)) for i, stored in rows]
            self._dialect.executemany(cur, "UPDATE institutions SET secret = ? WHERE id = ?", resealed)
            return len(resealed)

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

    # -- failed authentications ----------------------------------------------------------------------------

    def record_auth_failure(self, failure: AuthFailure, prune_before: datetime | None = None) -> None:
        stamp = self._dialect.stamp
        with self._write() as cur:
            if prune_before is not None:
                self._dialect.execute(cur, "DELETE FROM auth_failures WHERE at < ?", (stamp(prune_before),))
            self._dialect.execute(
                cur,
                "INSERT INTO auth_failures (at, front, institution, address, kind, cleared) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    stamp(failure.at),
                    failure.front,
                    failure.institution,
                    failure.address,
                    failure.kind,
                    self._dialect.flag(failure.cleared),
                ),
            )

    def auth_failures(
        self,
        *,
        since: datetime | None = None,
        institution: str | None = None,
        address: str | None = None,
        limit: int | None = None,
    ) -> list[AuthFailure]:
        stamp = self._dialect.stamp
        rows = self._read(
            "SELECT at, front, institution, address, kind, cleared FROM auth_failures "
            "WHERE (CAST(? AS TEXT) IS NULL OR address = ?) AND (CAST(? AS TEXT) IS NULL OR institution = ?) "
            "AND at >= ? ORDER BY at DESC, seq DESC LIMIT ?",
            (
                address,
                address,
                institution,
                institution,
                stamp(since if since is not None else datetime(1, 1, 1, tzinfo=UTC)),
                limit if limit is not None else 2**62,
            ),
        )
        return [
            AuthFailure(self._dialect.read_stamp(at), front, inst, addr, kind, bool(cleared))
            for at, front, inst, addr, kind, cleared in rows
        ]

    def failing_addresses(self, since: datetime) -> list[tuple[str, datetime]]:
        rows = self._read(
            "SELECT address, max(at) FROM auth_failures WHERE at >= ? AND cleared = ? GROUP BY address",
            (self._dialect.stamp(since), self._dialect.flag(False)),
        )
        return [(str(address), self._dialect.read_stamp(at)) for address, at in rows]

    def clear_auth_failures(self, address: str, institution: str | None = None) -> int:
        flag = self._dialect.flag
        with self._write() as cur:
            changed = self._dialect.execute(
                cur,
                "UPDATE auth_failures SET cleared = ? WHERE address = ? AND cleared = ? "
                "AND (CAST(? AS TEXT) IS NULL OR institution = ?)",
                (flag(True), address, flag(False), institution, institution),
            ).rowcount
            return int(changed)

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

    def audit_log(
        self,
        institution_id: str | None = None,
        *,
        ticket: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[AuditRecord]:
        """The audit trail by sequence number: for any two changes of one person, their commit order."""
        where, params = "", list[Any]()
        for condition, value in (
            ("institution_id = ?", institution_id),
            ("ticket = ?", ticket),
            ("at >= ?", None if since is None else self._dialect.stamp(since)),
            ("at < ?", None if until is None else self._dialect.stamp(until)),
        ):
            if value is not None:
                where, params = f"{where} AND {condition}", [*params, value]
        after = 0
        while True:
            page = self._read(
                f"SELECT seq, {_AUDIT_FIELDS} FROM audit WHERE seq > ?{where} ORDER BY seq LIMIT ?",
                (after, *params, PAGE),
            )
            for row in page:
                after = row[0]
                yield _audit_record(self._dialect, row[1:])
            if len(page) < PAGE:
                return

    def audit_chain(self) -> Iterator[ChainedRecord]:
        after = -(2**62)  # a record moved below 1 is read too, and named
        while True:
            page = self._read(
                f"SELECT seq, {_AUDIT_FIELDS}, prev_hash, hash FROM audit WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, PAGE),
            )
            for row in page:
                after = row[0]
                yield _chained(self._dialect, row)
            if len(page) < PAGE:
                return

    def audit_checkpoints(self) -> Iterator[Checkpoint]:
        after = -(2**62)
        while True:
            page = self._read(
                "SELECT seq, hash, at, mac FROM audit_checkpoints WHERE seq > ? ORDER BY seq LIMIT ?", (after, PAGE)
            )
            for seq, chain_hash, at, mac in page:
                after = seq
                yield Checkpoint(int(seq), str(chain_hash), self._dialect.read_stamp(at), str(mac))
            if len(page) < PAGE:
                return

    def checkpoint_audit(self, signer: Signer, at: datetime) -> Checkpoint | None:
        with self._write() as cur:
            tail = self._dialect.execute(cur, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            if tail is None:
                return None
            mark = signer.checkpoint(int(tail[0]), str(tail[1]), at)
            self._dialect.execute(
                cur, _INSERT_CHECKPOINT, (mark.seq, mark.hash, self._dialect.stamp(mark.at), mark.mac)
            )
            stored = self._dialect.execute(
                cur, "SELECT seq, hash, at, mac FROM audit_checkpoints WHERE seq = ?", (mark.seq,)
            ).fetchone()
        return Checkpoint(int(stored[0]), str(stored[1]), self._dialect.read_stamp(stored[2]), str(stored[3]))

    def _chain_audit(self, cur: Cursor) -> None:
        """Migration 3's data step: the records already there numbered 1, 2, ... in their order, and chained."""
        done, prev, last = 0, GENESIS, -(2**62)
        while True:
            page = self._dialect.execute(
                cur, f"SELECT seq, {_AUDIT_FIELDS} FROM audit WHERE seq > ? ORDER BY seq LIMIT ?", (last, PAGE)
            ).fetchall()
            changes = []
            for row in page:
                # Numbers only shrink, in ascending order, so a new number is always free when it is taken.
                done += 1
                chain_hash = link_hash(done, prev, content_digest(_audit_record(self._dialect, row[1:])))
                changes.append((done, prev, chain_hash, row[0]))
                prev, last = chain_hash, row[0]
            self._dialect.executemany(cur, "UPDATE audit SET seq = ?, prev_hash = ?, hash = ? WHERE seq = ?", changes)
            if len(page) < PAGE:
                return

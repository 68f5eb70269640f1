"""The shared directory: the storage port on PostgreSQL, for many processes and machines at once.

Invariant: a read-decide-write on a person never races another: ``read_periods`` takes a transaction-level
advisory lock per (institution, person, code) in one global order (sorted keys, so no deadlock between two
requests) before it reads, ``find_answer`` locks its (institution, Reference) the same way, and an EXCLUDE
constraint lets no two periods of one institution, person and code overlap, whoever writes them. An audit
record is appended to the audit chain by one statement (``audit_append``) under one more advisory lock, taken
last in the transaction and held until it ends, so chain order is commit order. Values keep
their own types (date, timestamptz, jsonb, boolean); a connection comes from a pool opened on first use.

A request's transaction waits on the server twice (``PostgresTransaction``, in pipeline mode): statements go out
as they are made and nobody waits for them until a result is read, so BEGIN, the nonce claim, the locks and the
first read share one round trip, and the writes, the audit append and the COMMIT the second (the chain lock is
held for that one only). The nonce is claimed by a plain INSERT: a replay breaks the nonces' primary key, the
server skips everything after it up to the wait, and the wait raises ``NonceReplayed``; nothing commits.

A lost database costs a request ``timeout`` at most (about a second in ``serve``): the pool waits no longer for a
connection, and the request fails with ``StorageError``. The pool drops a connection the server closed before
handing it out, and keeps trying to connect in the background, a few seconds apart at most, so the directory
serves again, without a restart, soon after the database is back.
"""

from __future__ import annotations

import hashlib
import math
import os
import select
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import psycopg.errors
from psycopg import sql
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from gateway.adapters.storage.at_rest import SecretCipher
from gateway.adapters.storage.sql import (
    Cursor,
    Dialect,
    ErrorTable,
    Row,
    Rows,
    SqlStore,
    SqlTransaction,
    db_api_errors,
    replayed,
)
from gateway.app.audit_chain import Signer
from gateway.app.ports import ImportRow, NonceClaim, StoredAnswer, Superseded
from gateway.errors import StorageError

__all__ = [
    "POOL_SIZE",
    "POOL_TIMEOUT",
    "POSTGRES_ERRORS",
    "PostgresDialect",
    "PostgresStore",
    "lock_key",
    "with_schema",
]

# Every class psycopg raises (one per SQLSTATE) and its pool's (OperationalErrors) is a subclass of one of
# PEP 249's; the few whose meaning differs from their class's are named here.
POSTGRES_ERRORS: ErrorTable = db_api_errors(
    psycopg,
    {
        PoolTimeout: (StorageError, "gave no connection in time"),
        psycopg.errors.UndefinedTable: (StorageError, "has no directory schema (run `ksz-gateway db upgrade`)"),
        psycopg.errors.InsufficientPrivilege: (StorageError, "refused access"),
    },
)


def lock_key(*parts: str) -> int:
    """A signed 64-bit advisory-lock key for ``parts`` (the first part names the kind of lock)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


_MIGRATION_LOCK = lock_key("ksz-gateway", "schema migration")
# Held shared by every transaction that reads periods to change them, exclusively by a bulk import batch:
# an import batch merges thousands of persons without taking thousands of person locks.
_IMPORT_LOCK = lock_key("ksz-gateway", "bulk import")
# Held by the transaction that appends to the audit chain, from its append until it ends: chain order is commit
# order, and two workers never fork the chain. Taken last in every transaction (after the person and Reference
# locks, the nonce and its pruning), so it never waits inside a cycle.
_AUDIT_CHAIN_LOCK = lock_key("ksz-gateway", "audit chain")


def with_schema(url: str, schema: str) -> str:
    """``url`` with ``search_path`` set to ``schema`` (through libpq's ``options``), other options kept."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = " ".join([v for k, v in query if k == "options"] + [f"-csearch_path={schema}"])
    query = [(k, v) for k, v in query if k != "options"] + [("options", options)]
    return urlunsplit(parts._replace(query=urlencode(query)))


# The import's batch goes to a temporary table by COPY (text format, one stream), then one statement merges it.
_IMPORT_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS import_rows "
    "(institution_id text, ssin text, code integer, start_date date, end_date date) ON COMMIT DELETE ROWS"
)
_IMPORT_COPY = "COPY import_rows (institution_id, ssin, code, start_date, end_date) FROM STDIN"
_IMPORT_MERGE = """
WITH touched AS (
    SELECT DISTINCT institution_id, ssin, code FROM import_rows
),
existing AS (
    DELETE FROM periods p USING touched t
    WHERE p.institution_id = t.institution_id AND p.ssin = t.ssin AND p.code = t.code
    RETURNING p.institution_id, p.ssin, p.code, p.start_date, p.end_date
),
merged AS (
    -- range_agg coalesces overlapping and (dates being discrete) adjacent ranges: R2.5.
    SELECT institution_id, ssin, code, unnest(range_agg(daterange(start_date, end_date, '[]'))) AS r
    FROM (SELECT * FROM existing UNION ALL SELECT * FROM import_rows) AS every_period
    GROUP BY institution_id, ssin, code
)
INSERT INTO periods (institution_id, ssin, code, start_date, end_date)
SELECT institution_id, ssin, code, lower(r), upper(r) - 1 FROM merged
"""


def _copy_field(text: str) -> str:
    """``text`` as a field of COPY's text format: backslash, tab, newline and carriage return escaped."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_text(batch: Sequence[ImportRow]) -> str:
    """``batch`` in COPY's text format. SSINs are digits, codes numbers, days ISO text: only the institutions'
    identifiers (a handful per batch) are escaped, once each."""
    ids: dict[str, str] = {}
    null = "\\N"
    return "".join(
        f"{ids.get(r.institution_id) or ids.setdefault(r.institution_id, _copy_field(r.institution_id))}\t"
        f"{r.ssin}\t{r.code}\t{r.period.start.isoformat()}\t{r.period.end.isoformat() if r.period.end else null}\n"
        for r in batch
    )


class PostgresDialect(Dialect):
    """PostgreSQL: ``%s`` placeholders, native value types, advisory locks, a set-based import merge."""

    engine = "PostgreSQL"
    errors = POSTGRES_ERRORS
    lock_rows = " FOR UPDATE"
    schema_version_table = (
        "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
        "description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}

    def _text(self, statement: str) -> str:
        """``statement`` in psycopg's format style (``?`` -> ``%s``, a literal ``%`` doubled), computed once."""
        text = self._texts.get(statement)
        if text is None:
            text = self._texts[statement] = statement.replace("%", "%%").replace("?", "%s")
        return text

    def execute(self, cur: Cursor, statement: str, params: Sequence[Any] = ()) -> Cursor:
        # What execute returns holds the result: the cursor itself, or in a transaction the statement's own result.
        return cast(Cursor, cur.execute(self._text(statement), params))

    def executemany(self, cur: Cursor, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            cur.executemany(self._text(statement), rows)

    def select_among(self, cur: Cursor, statement: str, params: Sequence[Any], values: Sequence[str]) -> Sequence[Row]:
        return self.select_among_later(cur, statement, params, values)()

    def select_among_later(self, cur: Cursor, statement: str, params: Sequence[Any], values: Sequence[str]) -> Rows:
        # One person (the usual request) is a primary-key probe on equalities, whatever the plan. For several,
        # ``= ANY(...)`` is never prepared: a cached generic plan scans all of the institution's periods in
        # that code instead of probing the key per person (measured: its cost grew with the table).
        if not values:
            return list
        if len(values) == 1:
            one = self.execute(cur, statement.format(among="= ?"), (*params, values[0]))
            return one.fetchall
        text = self._text(statement.format(among="= ANY(?::text[])"))
        every = _psycopg(cur).execute(text, (*params, list(values)), prepare=False)
        return every.fetchall

    def json(self, value: Mapping[str, Any]) -> Jsonb:
        return Jsonb(value)

    def read_json(self, raw: Any) -> Any:
        return raw

    def lock_persons(self, cur: Cursor, institution_id: str, code: int, ssins: Sequence[str]) -> None:
        keys = sorted({lock_key("periods", institution_id, s, str(code)) for s in ssins})
        cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (_IMPORT_LOCK,))
        # unnest yields the array in order, so the locks are taken in ascending key order.
        cur.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", (keys,))

    def lock_reference(self, cur: Cursor, institution_id: str, reference: str) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("answer", institution_id, reference),))

    def append_audit(self, cur: Cursor, values: Sequence[Any], digest: str) -> tuple[int, str]:
        return self.append_audit_later(cur, values, digest)()

    def append_audit_later(self, cur: Cursor, values: Sequence[Any], digest: str) -> Callable[[], tuple[int, str]]:
        """One statement: ``audit_append`` (migration 3) locks the chain, reads its tail, and inserts the record
        with its number and hash."""
        appended = cur.execute(
            "SELECT chained_seq, chained_hash FROM audit_append(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (_AUDIT_CHAIN_LOCK, *values, digest),
        )

        def chained() -> tuple[int, str]:
            row = appended.fetchone()
            return int(row[0]), str(row[1])

        return chained

    def prepare_upgrade(self, cur: Cursor) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        _ensure_schema(cur)

    def prepare_migrations(self, cur: Cursor) -> None:
        public = cur.execute("SELECT to_regnamespace('public') IS NOT NULL").fetchone()
        # In public, so that dropping one schema (a test run's) never drops the extension.
        cur.execute("CREATE EXTENSION IF NOT EXISTS btree_gist" + (" WITH SCHEMA public" if public[0] else ""))

    def merge_import(self, cur: Cursor, batch: Sequence[ImportRow]) -> None:
        """The whole batch copied in and merged by one statement, under the import lock (R2.5 by ``range_agg``)."""
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_IMPORT_LOCK,))
        cur.execute(_IMPORT_TABLE)
        with _psycopg(cur).copy(_IMPORT_COPY) as copy:
            copy.write(_copy_text(batch))
        cur.execute(_IMPORT_MERGE)


def _psycopg(cur: Cursor) -> psycopg.Cursor[TupleRow]:
    return cast(psycopg.Cursor[TupleRow], cur)


def _ensure_schema(cur: Cursor) -> None:
    """Create the first schema of ``search_path`` when it does not exist yet (one schema per test run)."""
    row = cur.execute("SELECT current_schema()").fetchone()
    if row is not None and row[0] is not None:
        return
    path = cur.execute("SHOW search_path").fetchone()
    names = [n.strip().strip('"') for n in (path[0] if path else "").split(",") if n.strip()]
    if not names:
        raise StorageError("the PostgreSQL search_path names no schema to create the directory in")
    name = names[0]
    if name == "$user":
        user = cur.execute("SELECT current_user").fetchone()
        name = str(user[0]) if user else name
    cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(name)))


class _Result:
    """One statement's result in a pipelined transaction: reading it waits, first, for everything sent so far."""

    __slots__ = ("_cur", "_line")

    def __init__(self, line: _Pipeline, cur: psycopg.Cursor[TupleRow]) -> None:
        self._line, self._cur = line, cur

    @property
    def rowcount(self) -> int:
        self._line.wait()
        return self._cur.rowcount

    def fetchone(self) -> Any:
        self._line.wait()
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        self._line.wait()
        return self._cur.fetchall()


class _Pipeline:
    """The cursor of a transaction on a connection in pipeline mode: each statement goes to the server at once,
    nobody waits for it; reading a result waits for every statement sent so far with one Sync, one round trip.

    A statement that fails makes the server skip every later one up to the Sync, and the wait raise its error.
    """

    def __init__(self, conn: psycopg.Connection[Any], pipeline: psycopg.Pipeline) -> None:
        self._conn, self._pipeline = conn, pipeline
        self._sent = False  # statements sent since the last wait
        self.claim: NonceClaim | None = None  # the nonce claimed in the transaction, if any
        self.after_wait: Callable[[], None] | None = None  # asked once, right after the next wait

    def execute(self, statement: Any, params: Any = (), /, *, prepare: bool | None = None) -> _Result:
        cur = self._conn.cursor()
        cur.execute(statement, params, prepare=prepare)
        self._sent = True
        return _Result(self, cur)

    def executemany(self, statement: Any, rows: Any, /) -> None:
        self._conn.cursor().executemany(statement, rows)  # in the open pipeline: no Sync of its own
        self._sent = True

    def wait(self) -> None:
        if self._sent:
            self._sent = False
            with self.replay_refused():
                self._pipeline.sync()
        then, self.after_wait = self.after_wait, None
        if then is not None:
            then()

    @contextmanager
    def replay_refused(self) -> Iterator[None]:
        """The nonce's primary key refusing the claim is the claimed nonce's replay."""
        try:
            yield
        except psycopg.errors.UniqueViolation as exc:
            if self.claim is not None and exc.diag.table_name == "nonces":
                raise replayed(self.claim) from exc
            raise

    # The rest of the DB-API cursor: a result is read from what ``execute`` returned, never from here.
    @property
    def rowcount(self) -> int:
        raise AssertionError("read a pipelined statement's result from what execute returned")

    def fetchone(self) -> Any:
        raise AssertionError("read a pipelined statement's result from what execute returned")

    def fetchall(self) -> list[Any]:
        raise AssertionError("read a pipelined statement's result from what execute returned")


class PostgresTransaction(SqlTransaction):
    """The unit of work in two round trips: whatever the first read needs goes out with it (BEGIN, the nonce,
    the locks), and the writes go out with the COMMIT. A replayed nonce is refused by the nonces' primary key:
    the server skips everything after it, the first wait raises ``NonceReplayed``, and nothing commits."""

    _cur: _Pipeline

    def claim_nonce_deferred(self, claim: NonceClaim) -> None:
        self._cur.claim = claim
        self._run(
            "INSERT INTO nonces (institution_id, nonce, created) VALUES (?, ?, ?)",
            (claim.institution_id, claim.nonce, self._dialect.stamp(claim.created)),
        )
        self._prune_nonces(claim)

    def find_answer_later(self, institution_id: str, reference: str) -> Callable[[], StoredAnswer | None]:
        """The Reference's lock and lookup go out now, with the nonce; the answer is read with the next wait."""
        found = self._answer_row_later(institution_id, reference)
        answer: list[StoredAnswer | None] = []

        def later() -> StoredAnswer | None:
            if not answer:
                answer.append(self._stored_answer(found.fetchone()))
            return answer[0]

        return later

    @contextmanager
    def tentatively(self, superseded: Callable[[], bool]) -> Iterator[None]:
        """The block runs after a savepoint, and ``superseded`` is asked right after its first wait, which answers
        what was sent before the block too (a Reference's lookup): a Reference answered before costs no round trip
        of its own. A block that never waits is asked at its end (one wait more). Superseded, the block's work is
        rolled back to the savepoint; its locks are kept until the transaction ends."""
        line = self._cur
        line.execute("SAVEPOINT tentative")

        def ask() -> None:
            if superseded():
                raise Superseded("superseded by what its first wait answered")

        line.after_wait = ask
        try:
            yield
            if line.after_wait is ask:  # the block never waited
                line.after_wait = None
                ask()
        except Superseded:
            line.execute("ROLLBACK TO SAVEPOINT tentative")
            raise
        finally:
            line.after_wait = None


POOL_SIZE = 8  # connections a store's pool opens at most, unless told more
POOL_TIMEOUT = 30.0  # seconds a request waits for a connection, unless told otherwise (serve: --db-timeout)

# A background connection attempt that fails is retried after 1, 2, 4 ... seconds; giving up after this long
# lets the next request that finds no connection start a fresh attempt at once, so recovery never waits for a
# long back-off.
_RECONNECT_SECONDS = 5.0


def _suspect(conn: psycopg.Connection[Any]) -> bool:
    """Whether an idle connection may be gone: closed, broken, or with something to read (an idle connection has
    nothing to read; the server's goodbye or an end of file makes it readable)."""
    if conn.closed or conn.broken:
        return True
    waiting = select.poll()  # not select(): a worker's descriptors may number past its FD_SETSIZE of 1024
    waiting.register(conn.fileno(), select.POLLIN)
    return bool(waiting.poll(0))  # readable, hung up or in error


class PostgresStore(SqlStore):
    """The directory in a PostgreSQL database (or one schema of it); the pool opens on first use."""

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = POOL_SIZE,
        timeout: float = POOL_TIMEOUT,
        cipher: SecretCipher | None = None,
        audit_signer: Signer | None = None,
    ) -> None:
        url = with_schema(url, schema) if schema else url
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        # Named without user, password or options: the place shows in messages and logs.
        self._place = f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"
        super().__init__(url, PostgresDialect(), self._place, cipher, audit_signer)
        self._min_size = min_size
        self._max_size = max_size
        self._timeout = timeout
        self._lock = threading.Lock()
        self._pool: ConnectionPool | None = None
        self._pool_pid = 0
        self._closed = False

    def __repr__(self) -> str:
        return f"PostgresStore({self._place!r})"

    # -- connections ---------------------------------------------------------------------------------------

    def _get_pool(self) -> ConnectionPool:
        pool, pid = self._pool, os.getpid()
        if pool is not None and self._pool_pid == pid:
            return pool
        with self._lock:
            if self._closed:
                raise StorageError(f"{self._where} is closed")
            if self._pool is None or self._pool_pid != pid:
                # A forked child never touches the parent's connections: it opens its own pool.
                pool = ConnectionPool(
                    self.url,
                    min_size=self._min_size,
                    max_size=self._max_size,
                    kwargs={"autocommit": True, "connect_timeout": self._connect_timeout},
                    open=False,
                    timeout=self._timeout,
                    name="ksz-gateway",
                    check=self._ready_or_dropped,
                    reconnect_timeout=_RECONNECT_SECONDS,
                )
                try:
                    pool.open(wait=True, timeout=self._timeout)
                except BaseException:
                    pool.close()
                    raise
                self._pool, self._pool_pid = pool, pid
            return self._pool

    def _ready_or_dropped(self, conn: psycopg.Connection[Any]) -> None:
        """The pool's check before it hands a connection out: raise if the server closed it.

        A healthy connection costs a ``poll`` with no wait, not a round trip per request; a suspect one is
        checked with a round trip. When one was gone, the others idle beside it most likely went with it (a
        restarted server, a cut link): they are all checked at once, so the request waits for a fresh connection
        instead of meeting them one by one (psycopg_pool backs off a second between two failed checks).
        """
        if not _suspect(conn):
            return
        try:
            ConnectionPool.check_connection(conn)
        except Exception:
            pool = self._pool
            if pool is not None and self._pool_pid == os.getpid():
                pool.check()
            raise

    @property
    def _connect_timeout(self) -> int:
        return max(2, math.ceil(self._timeout))  # libpq's connect_timeout: whole seconds, 2 at least

    def probe(self) -> None:
        """Connect once, outside the pool (whose attempts retry and log): ``StorageError`` saying why not."""
        try:
            with psycopg.connect(self.url, autocommit=True, connect_timeout=self._connect_timeout) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())  # libpq's words, on one line
            raise StorageError(f"{self._where} is unavailable: {reason}") from exc

    @contextmanager
    def _begin(self) -> Iterator[Cursor]:
        with self._get_pool().connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield cur

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        """A request's transaction, pipelined (``PostgresTransaction``): it waits on the server where a read needs
        its rows, and once more when it commits."""
        with self._translated(), self._get_pool().connection() as conn:
            line: _Pipeline | None = None
            try:
                with conn.pipeline() as pipeline:
                    line = _Pipeline(conn, pipeline)
                    line.execute("BEGIN")
                    yield PostgresTransaction(
                        cast(Cursor, line), self._dialect, self._prune, self._secrets, self._signer
                    )
                    line.execute("COMMIT")
                    # leaving the pipeline sends the COMMIT and the writes before it, and waits: the last round trip
            except psycopg.errors.UniqueViolation as exc:
                if line is None or line.claim is None or exc.diag.table_name != "nonces":
                    raise
                raise replayed(line.claim) from exc
            finally:
                if not conn.broken and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    with suppress(psycopg.Error):
                        conn.execute("ROLLBACK")

    @contextmanager
    def _cursor(self) -> Iterator[Cursor]:
        with self._get_pool().connection() as conn, conn.cursor() as cur:
            yield cur

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None and self._pool_pid == os.getpid():
            pool.close()

"""The embedded directory: the storage port on one SQLite file (WAL), for a single machine.

Invariant: every write runs in ``BEGIN IMMEDIATE``, so writers, whatever process or thread they run in,
take the database's write lock before their first read and commit one after another: a read-decide-write
never works on periods another writer is changing (no lost update). Each thread has its own connection.

Writers queue on an OS file lock (``<file>-writer.lock``) before ``BEGIN IMMEDIATE``: a waiting worker then
sleeps in the kernel and wakes the moment the lock is free, instead of polling SQLite's busy handler (which
sleeps 1, 2, 5, 10 ms at a time and left a third of the machine idle under load). WAL with
``synchronous=NORMAL`` by default: a commit survives any crash of the process (the SIGKILL test), and only
the last transactions before a power cut can be lost; ``synchronous="FULL"`` buys that too, at an fsync a
commit. SQLite has no date, timestamp, JSON or boolean type: dates are ISO text, timestamps fixed-width
UTC ISO text (so text order is time order), JSON its text, flags 0 and 1.

Checkpoints run off the request path: each process that uses the store has one background thread, on a
connection of its own, that copies the WAL back into the database (``PRAGMA wal_checkpoint(PASSIVE)``, which
never waits for a writer nor makes one wait) every ``checkpoint_seconds``, and truncates the WAL once it is
wholly copied and larger than ``wal_limit_bytes``. Request connections checkpoint themselves only when the WAL
has grown past ``wal_limit_bytes`` (their ``wal_autocheckpoint``), should the thread fall behind, so the WAL
stays bounded either way; ``journal_size_limit`` gives the space back when the WAL restarts. ``close`` stops
the thread and closes its connection.

The file, its ``-wal`` and ``-shm`` (SQLite gives them the database's mode) and the writers' lock are created
0600, whatever the umask: the directory holds every institution's secret. A file found with a looser mode is
left as the operator made it (``exposed_files`` names it, ``serve`` says so).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from gateway.adapters.storage.at_rest import SecretCipher, create_private, exposed_mode
from gateway.adapters.storage.common import utc
from gateway.adapters.storage.sql import Cursor, Dialect, ErrorTable, SqlStore, db_api_errors
from gateway.app.audit_chain import Signer
from gateway.app.ports import ImportRow
from gateway.errors import StorageError

__all__ = ["CHECKPOINT_SECONDS", "SQLITE_ERRORS", "WAL_LIMIT_BYTES", "SqliteDialect", "SqliteStore"]

# sqlite3 raises PEP 249's classes only; a missing schema ("no such table") is an OperationalError: the
# directory is unavailable until ``db upgrade``.
SQLITE_ERRORS: ErrorTable = db_api_errors(sqlite3)


class SqliteDialect(Dialect):
    """SQLite: qmark statements as written, values as text and integers; its write lock is the only lock."""

    engine = "SQLite"
    errors = SQLITE_ERRORS
    schema_version_table = (
        "CREATE TABLE IF NOT EXISTS schema_version ("
        "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )

    def day(self, value: date | None) -> str | None:
        return None if value is None else value.isoformat()

    def read_day(self, raw: Any) -> date:
        return date.fromisoformat(raw)

    def stamp(self, moment: datetime) -> str:
        return utc(moment).isoformat(timespec="microseconds")

    def read_stamp(self, raw: Any) -> datetime:
        return datetime.fromisoformat(raw)

    def flag(self, value: bool) -> int:
        return int(value)

    def merge_import(self, cur: Cursor, batch: Sequence[ImportRow]) -> None:
        """The batch merged with the periods stored under its keys: read and deleted set-based, merged in one
        sweep, inserted in key order. The importing connection keeps a larger page cache (256 MiB): every
        batch touches most pages of the table and its index (measured: 15 % less time at a million rows)."""
        cur.execute(f"PRAGMA cache_size = -{_IMPORT_CACHE_KIB}")
        cur.execute(_IMPORT_KEYS)
        cur.executemany(
            "INSERT OR IGNORE INTO temp.import_keys VALUES (?, ?, ?)",
            list({(r.institution_id, r.ssin, r.code) for r in batch}),  # the table orders them
        )
        spans = [
            (
                r.institution_id,
                r.ssin,
                r.code,
                r.period.start.toordinal(),
                r.period.end.toordinal() if r.period.end else _OPEN,
            )
            for r in batch
        ]
        ordinals: dict[str, int] = {}

        def ordinal(text: str) -> int:
            found = ordinals.get(text)
            if found is None:
                found = ordinals[text] = date.fromisoformat(text).toordinal()
            return found

        for institution_id, ssin, code, start, end in cur.execute(_IMPORT_STORED).fetchall():
            spans.append((institution_id, ssin, code, ordinal(start), ordinal(end) if end is not None else _OPEN))
        cur.execute(_IMPORT_DELETE)
        cur.execute("DELETE FROM temp.import_keys")
        days: dict[int, str] = {}

        def day(n: int) -> str | None:
            if n == _OPEN:
                return None
            text = days.get(n)
            if text is None:
                text = days[n] = date.fromordinal(n).isoformat()
            return text

        cur.executemany(
            "INSERT INTO periods (institution_id, ssin, code, start_date, end_date) VALUES (?, ?, ?, ?, ?)",
            [(i, s, c, day(first), day(last)) for i, s, c, first, last in _merged(spans)],
        )


# The import's batch: its keys go to a temporary table, the periods stored under them are read and deleted by
# one statement each (the keys lead: a probe of the primary key each), and the batch and those periods are
# merged (R2.5) by one sort and one sweep, then written back by one ``executemany`` in key order.
_IMPORT_KEYS = (
    "CREATE TEMP TABLE IF NOT EXISTS import_keys "
    "(institution_id TEXT, ssin TEXT, code INTEGER, PRIMARY KEY (institution_id, ssin, code)) WITHOUT ROWID"
)
_IMPORT_STORED = (
    "SELECT p.institution_id, p.ssin, p.code, p.start_date, p.end_date "
    "FROM temp.import_keys k CROSS JOIN periods p "  # CROSS: the batch's keys lead, each a probe of the key
    "ON p.institution_id = k.institution_id AND p.ssin = k.ssin AND p.code = k.code"
)
_IMPORT_DELETE = (
    "DELETE FROM periods "
    "WHERE (institution_id, ssin, code) IN (SELECT institution_id, ssin, code FROM temp.import_keys)"
)
_IMPORT_CACHE_KIB = 256 << 10
_OPEN = date.max.toordinal() + 1  # an open end, as the domain counts it: after every day


def _merged(spans: list[tuple[str, str, int, int, int]]) -> Iterator[tuple[str, str, int, int, int]]:
    """``spans`` (key, first and last day as ordinals) merged per key where they overlap or touch (R2.5)."""
    spans.sort()
    current: list[Any] | None = None
    for institution_id, ssin, code, first, last in spans:
        if (
            current is not None
            and current[2] == code
            and current[1] == ssin
            and current[0] == institution_id
            and first <= current[4] + 1
        ):
            if last > current[4]:
                current[4] = last
            continue
        if current is not None:
            yield (current[0], current[1], current[2], current[3], current[4])
        current = [institution_id, ssin, code, first, last]
    if current is not None:
        yield (current[0], current[1], current[2], current[3], current[4])


CHECKPOINT_SECONDS = 0.2  # how often the background thread copies the WAL back into the database
WAL_LIMIT_BYTES = 64 << 20  # past this, the WAL is truncated (the thread) or checkpointed by a commit (fallback)


class _Checkpointer:
    """The process's background checkpoints of one SQLite file: a daemon thread and its own connection."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], seconds: float, limit_bytes: int) -> None:
        self._connect = connect
        self._seconds = seconds
        self._limit_bytes = limit_bytes
        self._stop = threading.Event()
        self.checkpoints = 0  # passes that found the whole of a non-empty WAL copied back
        self.pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="ksz-sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            conn = self._connect()
            page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
            while not self._stop.wait(self._seconds):
                busy, logged, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if busy or logged <= 0 or copied < logged:
                    continue  # nothing written yet, or a reader still holds older pages: the next pass copies the rest
                self.checkpoints += 1
                if logged * page_size > self._limit_bytes:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # wholly copied: cheap, gives the space back
        except sqlite3.Error:
            pass  # the file went away or is damaged: requests see that themselves, and commits checkpoint
        finally:
            if conn is not None:
                conn.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()


class SqliteStore(SqlStore):
    """The directory in one SQLite file, created on first use; safe for many threads and processes."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout_ms: int = 30_000,
        synchronous: str = "NORMAL",
        cipher: SecretCipher | None = None,
        audit_signer: Signer | None = None,
        checkpoint_seconds: float | None = CHECKPOINT_SECONDS,
        wal_limit_bytes: int = WAL_LIMIT_BYTES,
    ):
        """``checkpoint_seconds`` None leaves checkpoints to SQLite's commits (every 1,000 pages), as it does
        by default."""
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"unknown synchronous mode {synchronous!r}")
        url = os.fspath(path)
        if url == ":memory:":
            raise ValueError("SQLite's :memory: is one database per thread here; open 'memory:' for a memory store")
        super().__init__(url, SqliteDialect(), url, cipher, audit_signer)
        self._busy_timeout_ms = busy_timeout_ms
        self._synchronous = synchronous.upper()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[tuple[int, sqlite3.Connection]] = []
        self._gates: list[tuple[int, int]] = []
        self._closed = False
        self._checkpoint_seconds = checkpoint_seconds
        self._wal_limit_bytes = wal_limit_bytes
        self._checkpointer: _Checkpointer | None = None

    def __repr__(self) -> str:
        return f"SqliteStore({self.url!r})"

    # -- connections ---------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        create_private(self.url)  # before SQLite creates it with the umask's mode; its -wal and -shm follow it
        conn = sqlite3.connect(
            self.url,
            isolation_level=None,  # we issue BEGIN / COMMIT ourselves
            check_same_thread=False,  # used by one thread; only close() may come from another
            timeout=self._busy_timeout_ms / 1000,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA cache_size = -32768")  # KiB: 32 MiB of pages per connection
            if self._checkpoint_seconds is not None:
                pages = int(conn.execute("PRAGMA page_size").fetchone()[0])
                conn.execute(f"PRAGMA wal_autocheckpoint = {max(1, self._wal_limit_bytes // pages)}")
                conn.execute(f"PRAGMA journal_size_limit = {int(self._wal_limit_bytes)}")
        except BaseException:
            conn.close()  # a file that is no database fails here: leave no connection (and file) open behind
            raise
        return conn

    def _conn(self) -> sqlite3.Connection:
        pid = os.getpid()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == pid and not self._closed:
            return conn
        # First use in this thread, or in a child process that inherited the parent's thread state.
        with self._lock:
            if self._closed:
                raise StorageError(f"{self._where} is closed")
            conn = self._connect()
            self._connections.append((pid, conn))
            if self._checkpoint_seconds is not None and (self._checkpointer is None or self._checkpointer.pid != pid):
                # One per process: a forked worker does not inherit its parent's thread.
                self._checkpointer = _Checkpointer(self._connect, self._checkpoint_seconds, self._wal_limit_bytes)
        self._local.conn, self._local.pid = conn, pid
        return conn

    @property
    def checkpoints(self) -> int:
        """How many background passes of this process copied the whole WAL back (0 without the thread)."""
        checkpointer = self._checkpointer
        return checkpointer.checkpoints if checkpointer is not None and checkpointer.pid == os.getpid() else 0

    def _gate(self) -> int:
        """This thread's descriptor of the writers' lock file."""
        pid = os.getpid()
        fd: int | None = getattr(self._local, "gate", None)
        if fd is not None and getattr(self._local, "gate_pid", None) == pid:
            return fd
        try:
            fd = os.open(f"{self.url}-writer.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StorageError(f"cannot open the writers' lock of {self._where}: {exc}") from exc
        with self._lock:
            self._gates.append((pid, fd))
        self._local.gate, self._local.gate_pid = fd, pid
        return fd

    @contextmanager
    def _begin(self) -> Iterator[Cursor]:
        conn = self._conn()
        if conn.in_transaction:
            raise StorageError("a transaction is already open in this thread; transactions do not nest")
        gate = self._gate()
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn.cursor()
            conn.commit()
        except BaseException:
            conn.rollback()  # nothing to undo when BEGIN itself failed: then it does nothing
            raise
        finally:
            fcntl.flock(gate, fcntl.LOCK_UN)

    @contextmanager
    def _cursor(self) -> Iterator[Cursor]:
        yield self._conn().cursor()

    def exposed_files(self) -> list[tuple[str, int]]:
        """The directory's files (database, -wal, -shm, writers' lock) that others may read, with their modes."""
        found = ((name, exposed_mode(name)) for name in self.files())
        return [(name, mode) for name, mode in found if mode is not None]

    def files(self) -> list[str]:
        return [self.url, *(f"{self.url}{suffix}" for suffix in ("-wal", "-shm", "-journal", "-writer.lock"))]

    def probe(self) -> None:
        with self._translated():
            self._conn().execute("SELECT 1").fetchone()

    # -- schema and shutdown -------------------------------------------------------------------------------

    def upgrade(self) -> int:
        if not Path(self.url).parent.is_dir():
            raise StorageError(f"the folder of {self._where} does not exist")
        return super().upgrade()

    def schema_version(self) -> int:
        """Read on a read-only connection of its own, closed at once: a file removed, replaced or damaged since
        the store's connections opened it is seen as it is now, not as their open descriptors and page caches
        still show it (what the readiness probe must know)."""
        with self._translated():
            conn = sqlite3.connect(f"{Path(self.url).resolve().as_uri()}?mode=ro", uri=True, timeout=2.0)
            try:
                found = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
            finally:
                conn.close()
        return int(found[0])

    def close(self) -> None:
        pid = os.getpid()
        with self._lock:
            self._closed = True
            mine = [c for p, c in self._connections if p == pid]
            gates = [fd for p, fd in self._gates if p == pid]
            self._connections, self._gates = [], []
            checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None and checkpointer.pid == pid:
            checkpointer.stop()
        for conn in mine:
            conn.close()
        for fd in gates:
            os.close(fd)

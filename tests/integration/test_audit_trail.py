"""The tamper-evident audit trail on every store: records written by the real use cases, then edited, deleted,
reordered, cleared or cut with plain SQL (sqlite3, psycopg) behind the gateway's back, and ``ksz-gateway audit
verify`` naming each; checkpoints signed with a key outside the database; ``audit show``'s filters; the key file;
migration 3 chaining the records already there; migration 5 keeping the chain and the nonces; and, on
PostgreSQL, many writers at once leaving one chain."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.adapters.storage import migrations as storage_migrations
from gateway.adapters.storage import open_store
from gateway.adapters.storage import sql as storage_sql
from gateway.adapters.storage.memory import MemoryStore
from gateway.adapters.storage.migrations import MIGRATIONS
from gateway.app.audit_chain import Signer, record_hash, verify
from gateway.app.demo import DEMO_INSTITUTIONS, ensure_demo
from gateway.app.directory_service import DirectoryService
from gateway.app.ports import AuditRecord, NonceClaim, Store
from gateway.domain.directory import DirectoryRequest
from gateway.domain.periods import Period
from gateway.entrypoints.cli import main

P1, P2 = "85073003328", "90010100123"
OCMW_A, OCMW_B, _, _ = DEMO_INSTITUTIONS
KEY = bytes(range(100, 132))
START = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


class Clock:
    """One second further at each call, so records have distinct, known times."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def write_trail(store: Store, count: int = 6) -> list[str]:
    """``count`` exchanges through the directory's use cases, alternating institutions; their tickets in order."""
    ensure_demo(store)
    service = DirectoryService(store, store.catalogue(), today=lambda: date(2015, 1, 1), now=Clock())
    tickets = []
    for i in range(count):
        if i % 2 == 0:
            request = DirectoryRequest(1, date(2014, 12, 1 + i), None, (P1,))
            tickets.append(service.integrate(OCMW_A, request, reference=f"r-{i}").ticket)
        else:
            tickets.append(service.consult(OCMW_B, P2, Period(date(2015, 1, 1), None)).ticket)
    return tickets


class Behind:
    """Changes to the audit tables made behind the gateway's back: plain SQL on SQLite and PostgreSQL, the rows
    themselves in memory."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        if isinstance(self.store, MemoryStore):
            raise AssertionError("no SQL in memory")
        if self.store.url.startswith("postgresql://"):
            import psycopg

            with psycopg.connect(self.store.url, autocommit=True) as conn:
                conn.execute(statement.replace("?", "%s"), params)  # type: ignore[arg-type]
        else:
            with sqlite3.connect(self.store.url) as conn:
                conn.execute(statement, params)
            conn.close()

    def _rows(self) -> list[Any]:
        assert isinstance(self.store, MemoryStore)
        return self.store._directory.audit

    def edit(self, seq: int) -> None:
        if isinstance(self.store, MemoryStore):
            rows = self._rows()
            rows[seq - 1] = (*rows[seq - 1][:5], "forged", *rows[seq - 1][6:])
        else:
            self.sql("UPDATE audit SET reference = 'forged' WHERE seq = ?", (seq,))

    def delete(self, seq: int) -> None:
        if isinstance(self.store, MemoryStore):
            del self._rows()[seq - 1]
        else:
            self.sql("DELETE FROM audit WHERE seq = ?", (seq,))

    def cut_after(self, seq: int) -> None:
        if isinstance(self.store, MemoryStore):
            del self._rows()[seq:]
        else:
            self.sql("DELETE FROM audit WHERE seq > ?", (seq,))

    def swap(self, a: int, b: int) -> None:
        if isinstance(self.store, MemoryStore):
            rows = self._rows()
            rows[a - 1], rows[b - 1] = (a, *rows[b - 1][1:]), (b, *rows[a - 1][1:])
        else:
            self.sql("UPDATE audit SET seq = -1 WHERE seq = ?", (a,))
            self.sql("UPDATE audit SET seq = ? WHERE seq = ?", (a, b))
            self.sql("UPDATE audit SET seq = ? WHERE seq = -1", (b,))

    def clear(self, seq: int) -> None:
        if isinstance(self.store, MemoryStore):
            rows = self._rows()
            rows[seq - 1] = (*rows[seq - 1][:8], None, None)
        else:
            self.sql("UPDATE audit SET prev_hash = NULL, hash = NULL WHERE seq = ?", (seq,))

    def rewrite_from(self, seq: int) -> None:
        """Edit record ``seq`` and recompute every hash from there on, as one who knows the algorithm but not
        the key would."""
        self.edit(seq)
        chained = list(self.store.audit_chain())
        prev = chained[seq - 2].hash if seq > 1 else "0" * 64
        for c in chained[seq - 1 :]:
            assert c.record is not None and prev is not None
            new = record_hash(c.seq, prev, c.record)
            if isinstance(self.store, MemoryStore):
                rows = self._rows()
                rows[c.seq - 1] = (*rows[c.seq - 1][:8], prev, new)
            else:
                self.sql("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, new, c.seq))
            prev = new


def audit(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["audit", *argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "audit.key"
    path.write_text(KEY.hex() + "\n")
    path.chmod(0o600)
    return path


# -- the chain, whole and tampered with -------------------------------------------------------------------


def test_records_written_by_the_use_cases_form_a_chain_that_verifies(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    tickets = write_trail(store)
    chained = list(store.audit_chain())
    assert [c.seq for c in chained] == [1, 2, 3, 4, 5, 6]
    assert [c.ticket for c in chained] == tickets
    assert [r.ticket for r in store.audit_log()] == tickets
    code, out = audit(capsys, "verify", "--db", store.url)
    assert code == 0, out
    assert out.startswith("audit trail intact: 6 records, head ") and "checkpoints NOT checked" in out
    assert chained[-1].hash in out


@pytest.mark.parametrize(
    ("change", "seq", "named", "wrong"),
    [
        (lambda b: b.edit(3), 3, "record 3 (ticket {3}) was edited", "edited"),
        (
            lambda b: b.delete(3),
            3,
            "record 3 is missing (deleted): the chain goes from record 2 to record 4",
            "missing",
        ),
        (lambda b: b.swap(2, 4), 2, "record 2 (ticket {4}) is out of place", "out of place"),
        (lambda b: b.clear(5), 5, "record 5 (ticket {5}) has no chain hash", "unhashed"),
        (lambda b: b.rewrite_from(4), None, None, None),
    ],
    ids=["edited", "deleted", "reordered", "cleared", "rewritten without the key"],
)
def test_verify_names_the_first_record_changed_behind_the_gateways_back(
    store: Store,
    capsys: pytest.CaptureFixture[str],
    change: Any,
    seq: int | None,
    named: str | None,
    wrong: str | None,
) -> None:
    tickets = write_trail(store)
    change(Behind(store))
    code, out = audit(capsys, "verify", "--db", store.url)
    if named is None:  # the chain alone cannot tell: that is what the checkpoints are for
        assert code == 0, out
        return
    assert code == 1, out
    assert out.startswith(f"audit trail BROKEN at record {seq}: ")
    assert named.format("", *tickets) in out and f"wrong: {wrong}" in out


def test_a_record_moved_below_the_first_number_is_named(
    sqlite_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    tickets = write_trail(sqlite_store, 3)
    Behind(sqlite_store).sql("UPDATE audit SET seq = -7 WHERE seq = 2")
    code, out = audit(capsys, "verify", "--db", sqlite_store.url)
    assert code == 1 and f"record -7 (ticket {tickets[1]}) is out of place" in out


def test_an_edited_record_whose_fields_no_longer_read_back_is_named(
    sqlite_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    tickets = write_trail(sqlite_store)
    Behind(sqlite_store).sql("UPDATE audit SET at = 'yesterday', request_json = '{' WHERE seq = 2")
    code, out = audit(capsys, "verify", "--db", sqlite_store.url)
    assert code == 1 and f"record 2 (ticket {tickets[1]}) was edited" in out


# -- checkpoints ------------------------------------------------------------------------------------------


def test_a_store_with_a_key_signs_a_checkpoint_every_n_records_and_verify_checks_them(
    store: Store, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signing = open_store(store.url, audit_signer=Signer(KEY, every=2))
    try:
        write_trail(signing, 5)
    finally:
        signing.close()
    marks = list(store.audit_checkpoints())
    assert [m.seq for m in marks] == [2, 4]
    chained = list(store.audit_chain())
    assert [m.hash for m in marks] == [chained[1].hash, chained[3].hash]
    code, out = audit(capsys, "verify", "--db", store.url, "--audit-key-file", str(key_file))
    assert code == 0 and "5 records" in out and "2 signed checkpoint(s) checked, the last at record 4" in out


@pytest.mark.parametrize(
    ("change", "says", "wrong"),
    [
        (
            lambda b: b.rewrite_from(2),
            "the chain no longer passes through the signed checkpoint at record 4",
            "checkpoint off chain",
        ),
        (lambda b: b.cut_after(3), "record 4, signed in a checkpoint, is missing", "truncated"),
    ],
    ids=["rewritten without the key", "cut behind a checkpoint"],
)
def test_checkpoints_catch_what_the_chain_alone_cannot(
    store: Store, key_file: Path, capsys: pytest.CaptureFixture[str], change: Any, says: str, wrong: str
) -> None:
    write_trail(store, 4)
    code, out = audit(capsys, "checkpoint", "--db", store.url, "--audit-key-file", str(key_file))
    assert code == 0 and "signed checkpoint at record 4" in out
    change(Behind(store))
    assert audit(capsys, "verify", "--db", store.url)[0] == 0  # without the key: the chain alone looks whole
    code, out = audit(capsys, "verify", "--db", store.url, "--audit-key-file", str(key_file))
    assert code == 1 and says in out and f"wrong: {wrong}" in out


def test_checkpoints_deleted_with_a_rewritten_chain_are_found_when_verify_knows_the_interval(
    store: Store, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signing = open_store(store.url, audit_signer=Signer(KEY, every=2))
    try:
        write_trail(signing, 5)
    finally:
        signing.close()
    behind = Behind(store)
    behind.rewrite_from(1)
    if isinstance(store, MemoryStore):
        store._directory.checkpoints.clear()
    else:
        behind.sql("DELETE FROM audit_checkpoints")
    key = ("--audit-key-file", str(key_file))
    code, out = audit(capsys, "verify", "--db", store.url, *key)
    assert code == 0 and "0 signed checkpoint(s) checked" in out  # what the key alone cannot tell
    code, out = audit(capsys, "verify", "--db", store.url, *key, "--checkpoints-every", "2")
    assert code == 1 and "record 2 (ticket" in out and "has no signed checkpoint" in out
    assert "wrong: checkpoint missing" in out
    code, out = audit(capsys, "verify", "--db", store.url, "--checkpoints-every", "2")
    assert code == 2 and "needs --audit-key-file" in out


def test_a_checkpoint_forged_in_the_database_is_named(
    sqlite_store: Store, key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_trail(sqlite_store, 3)
    other = tmp_path / "other.key"
    assert audit(capsys, "new-key", "--out", str(other))[0] == 0
    assert audit(capsys, "checkpoint", "--db", sqlite_store.url, "--audit-key-file", str(other))[0] == 0
    code, out = audit(capsys, "verify", "--db", sqlite_store.url, "--audit-key-file", str(key_file))
    assert code == 1 and "the checkpoint at record 3 has a wrong MAC" in out


def test_checkpointing_an_empty_trail_signs_nothing_and_twice_keeps_the_first(
    store: Store, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = audit(capsys, "checkpoint", "--db", store.url, "--audit-key-file", str(key_file))
    assert code == 0 and "empty" in out and list(store.audit_checkpoints()) == []
    write_trail(store, 2)
    first = store.checkpoint_audit(Signer(KEY), START)
    again = store.checkpoint_audit(Signer(KEY), START + timedelta(days=1))
    assert first == again and [m.seq for m in store.audit_checkpoints()] == [2]


# -- the key file -----------------------------------------------------------------------------------------


def test_new_key_writes_a_fresh_key_readable_by_its_owner_only_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "k"
    assert audit(capsys, "new-key", "--out", str(path))[0] == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = bytes.fromhex(path.read_text())
    assert len(key) == 32
    code, out = audit(capsys, "new-key", "--out", str(path))
    assert code == 2 and "exists already" in out and bytes.fromhex(path.read_text()) == key


@pytest.mark.parametrize(
    ("content", "mode", "says"),
    [
        (KEY.hex(), 0o644, "may be read or written by others"),
        (KEY.hex(), 0o640, "may be read or written by others"),
        ("not hex", 0o600, "does not hold a key in hex"),
        ("ab" * 8, 0o600, "has 8 bytes; it needs 32"),
    ],
)
def test_an_unusable_key_file_is_refused_with_one_line_and_nothing_is_done(
    sqlite_store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, mode: int, says: str
) -> None:
    write_trail(sqlite_store, 1)
    path = tmp_path / "bad.key"
    path.write_text(content)
    path.chmod(mode)
    for action in ("verify", "checkpoint"):
        code, out = audit(capsys, action, "--db", sqlite_store.url, "--audit-key-file", str(path))
        assert code == 2 and says in out and str(path) in out and len(out.strip().splitlines()) == 1
    assert list(sqlite_store.audit_checkpoints()) == []
    code, out = audit(capsys, "verify", "--db", sqlite_store.url, "--audit-key-file", str(tmp_path / "none"))
    assert code == 2 and "cannot be read" in out
    capsys.readouterr()
    assert main(["serve", "--db", sqlite_store.url, "--audit-key-file", str(path)]) == 2
    assert says in capsys.readouterr().err


# -- show -------------------------------------------------------------------------------------------------


def shown(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    code, out = audit(capsys, *argv)
    assert code == 0, out
    return [json.loads(line)["ticket"] for line in out.splitlines()]


def test_show_filters_by_person_institution_ticket_and_time(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    tickets = write_trail(store)
    db = ("--db", store.url)
    assert shown(capsys, *db) == shown(capsys, "show", *db) == tickets
    assert shown(capsys, "show", *db, "--ssin", P1) == tickets[0::2]
    assert shown(capsys, "show", *db, "--ssin", P2) == tickets[1::2]
    assert shown(capsys, "show", *db, "--institution", OCMW_B.id) == tickets[1::2]
    assert shown(capsys, "--institution", OCMW_B.id, *db) == tickets[1::2]  # a bare audit is show
    assert shown(capsys, "show", *db, "--ticket", tickets[2]) == [tickets[2]]
    # The records are at START + 1 s, + 2 s, ...: since includes, until excludes.
    since, until = (START + timedelta(seconds=2)).isoformat(), "2026-01-01T09:00:05+01:00"
    assert shown(capsys, "show", *db, "--since", since, "--until", until) == tickets[1:4]
    assert shown(capsys, "show", *db, "--since", "2026-01-01T08:00:05", "--ssin", P1) == tickets[4:5]
    assert shown(capsys, "show", *db, "--ssin", "00000000000") == []


def test_show_refuses_a_time_that_is_no_time(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["audit", "show", "--since", "yesterday"])
    assert exit_.value.code == 2 and "is not an ISO 8601 date or time" in capsys.readouterr().err


def test_show_ends_quietly_when_its_reader_stops_reading(sqlite_store: Store) -> None:
    with sqlite_store.transaction() as tx:
        for i in range(40):
            request = {"padding": "x" * 10_000, "n": i}
            tx.add_audit(AuditRecord(f"T-{i}", OCMW_A.id, "Consult", START, None, request, {"ticket": f"T-{i}"}))
    script = "import sys; from gateway.entrypoints.cli import main; sys.exit(main(sys.argv[1:]))"
    show = subprocess.Popen(
        [sys.executable, "-c", script, "audit", "show", "--db", sqlite_store.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert show.stdout is not None and show.stderr is not None
    assert json.loads(show.stdout.readline())["ticket"] == "T-0"
    show.stdout.close()  # as `| head -1` does
    err = show.stderr.read()
    show.stderr.close()
    assert show.wait(timeout=60) == 141 and err == b""  # as a shell reports a tool ended by SIGPIPE


# -- migration 3 ------------------------------------------------------------------------------------------


def _version_2(store: Store) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """The statements that make a directory of schema version 2 with three audit records, numbered with a gap."""
    engine = "PostgreSQL" if store.url.startswith("postgresql://") else "SQLite"
    for migration in MIGRATIONS[:2]:
        for statement in migration.statements[engine]:
            yield statement, ()
        yield (
            "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
            (
                migration.version,
                migration.description,
                "2025-01-01T00:00:00+00:00",
            ),
        )
    for seq, ticket in ((3, "OLD-1"), (4, "OLD-2"), (9, "OLD-3")):
        at = f"2025-06-0{seq % 9 + 1}T10:00:00.000000+00:00"
        request = json.dumps({"ssin": P1, "n": seq})
        identity = " OVERRIDING SYSTEM VALUE" if engine == "PostgreSQL" else ""
        yield (
            "INSERT INTO audit (seq, ticket, institution_id, operation, at, reference, request_json, outcome_json)"
            f"{identity} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, ticket, OCMW_A.id, "Consult", at, None, request, json.dumps({"ticket": ticket})),
        )


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_migration_3_numbers_and_chains_the_records_already_there_and_new_ones_follow(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if engine == "sqlite":
        url = str(tmp_path / "old.db")
    else:
        import psycopg

        from gateway.adapters.storage.postgres import with_schema

        base = request.getfixturevalue("postgres_url")
        schema = f"ksz_audit_migration_{os.getpid()}"
        url = with_schema(base.split("?")[0], schema)
        with psycopg.connect(base.split("?")[0], autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.execute(f'CREATE SCHEMA "{schema}"')
            conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public")
    old = open_store(url)
    try:
        Behind(old).sql(old._dialect.schema_version_table)  # type: ignore[attr-defined]
        for statement, params in _version_2(old):
            Behind(old).sql(statement, params)
        assert old.upgrade() == MIGRATIONS[-1].version
        write_trail(old, 2)
        chained = list(old.audit_chain())
        assert [(c.seq, c.ticket) for c in chained[:3]] == [(1, "OLD-1"), (2, "OLD-2"), (3, "OLD-3")]
        assert [c.seq for c in chained] == [1, 2, 3, 4, 5]
        assert verify(chained, [], None).ok
        code, out = audit(capsys, "verify", "--db", url)
        assert code == 0 and "5 records" in out
    finally:
        old.close()
        if engine == "postgres":
            import psycopg

            with psycopg.connect(base.split("?")[0], autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# -- migration 5 ------------------------------------------------------------------------------------------


@contextmanager
def _empty_database(engine: str, request: pytest.FixtureRequest, tmp_path: Path, name: str) -> Iterator[str]:
    """The URL of a database with nothing in it: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if engine == "sqlite":
        yield str(tmp_path / f"{name}.db")
        return
    import psycopg

    from gateway.adapters.storage.postgres import with_schema

    base = request.getfixturevalue("postgres_url").split("?")[0]
    schema = f"ksz_{name}_{os.getpid()}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public")
    try:
        yield with_schema(base, schema)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _claim(store: Store, nonce: str) -> bool:
    with store.transaction() as tx:
        return tx.claim_nonce(NonceClaim(OCMW_A.id, nonce, datetime.now(UTC), datetime.now(UTC)))


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_migration_5_keeps_the_nonces_and_the_chain_and_new_records_follow(
    engine: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with _empty_database(engine, request, tmp_path, "nonce_migration") as url:
        # The directory as the previous release left it: its migrations only, records and nonces written.
        monkeypatch.setattr(storage_migrations, "MIGRATIONS", MIGRATIONS[:4])
        monkeypatch.setattr(storage_sql, "MIGRATIONS", MIGRATIONS[:4])
        old = open_store(url)
        try:
            assert old.upgrade() == 4
            before = write_trail(old, 4)
            assert all(_claim(old, f"old-nonce-{i}") for i in range(3))
        finally:
            old.close()
        monkeypatch.undo()

        store = open_store(url)
        try:
            assert store.upgrade() == 5 == MIGRATIONS[-1].version
            assert not _claim(store, "old-nonce-1")  # a nonce claimed before is still refused
            assert _claim(store, "new-nonce") and not _claim(store, "new-nonce")
            after = [f"T-{i}" for i in range(3)]
            for ticket in after:
                with store.transaction() as tx:
                    tx.add_audit(AuditRecord(ticket, OCMW_A.id, "Consult", START, None, {"n": 1}, {"ticket": ticket}))
            chained = list(store.audit_chain())
            assert [(c.seq, c.ticket) for c in chained] == list(enumerate(before + after, start=1))
            assert verify(chained, [], None).ok
            code, out = audit(capsys, "verify", "--db", url)
            assert code == 0 and "7 records" in out
            if engine == "sqlite":
                with sqlite3.connect(url) as conn:
                    (nonces,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'nonces'").fetchone()
                    indexes = conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'nonces'").fetchall()
                    counter = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchall()
                conn.close()
                assert nonces.endswith("WITHOUT ROWID")
                assert sorted(indexes) == [("nonces",), ("nonces_by_created",)]
                assert counter == [(2**62,)]  # out of the chain's way, and left there by the appends
        finally:
            store.close()


# -- many writers on PostgreSQL ---------------------------------------------------------------------------


@pytest.mark.postgres
def test_many_writers_at_once_on_postgresql_leave_one_unforked_chain(
    postgres_store: Store, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ensure_demo(postgres_store)
    writers, each = 8, 12
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write(n: int) -> None:
        # Each writer its own store (its own pool and connections), as a worker process has.
        store = open_store(postgres_store.url, audit_signer=Signer(KEY, every=7))
        try:
            service = DirectoryService(store, store.catalogue(), today=lambda: date(2015, 1, 1))
            institution = DEMO_INSTITUTIONS[n % 2]
            start.wait()
            for i in range(each):
                request = DirectoryRequest(1, date(2014, 12, 1), None, (P1 if i % 2 else P2,))
                service.integrate(institution, request, reference=f"w{n}-{i}")
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    chained = list(postgres_store.audit_chain())
    assert [c.seq for c in chained] == list(range(1, writers * each + 1))
    assert len({c.prev for c in chained}) == len(chained)  # no two records follow the same one: no fork
    assert [m.seq for m in postgres_store.audit_checkpoints()] == list(range(7, writers * each + 1, 7))
    code, out = audit(capsys, "verify", "--db", postgres_store.url, "--audit-key-file", str(key_file))
    assert code == 0, out
    assert f"{writers * each} records" in out and f"{writers * each // 7} signed checkpoint(s) checked" in out

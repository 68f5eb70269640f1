"""Secrets at rest: institution secrets sealed under a key file in SQLite and PostgreSQL, and SQLite's files 0600.

Each engine test opens its database beneath the store (sqlite3, psycopg) and reads what is really stored; the
SQLite test also searches every byte of the database, its WAL and its shared memory for the secrets.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from gateway.adapters.storage import DirectoryStore, exposed_files, open_store
from gateway.adapters.storage.at_rest import (
    SEALED_PREFIX,
    SecretCipher,
    load_key_file,
    write_new_key_file,
)
from gateway.adapters.storage.sqlite import SqliteStore
from gateway.app.ports import InstitutionRecord, Store
from gateway.errors import ConfigurationError, StorageError

A = InstitutionRecord("0212345668", "OCMW Demostad", 17, "the-secret-of-a-Zq8wXv")
B = InstitutionRecord("0212345767", "OCMW Voorbeeldgem", 17, "the-secret-of-b-Jm3kTp")
ROTATED = "a-rotated-secret-Hy7uPq"


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def key(folder: Path, name: str) -> SecretCipher:
    path = folder / name
    write_new_key_file(path)
    return load_key_file(path)


class Engine:
    """One database beneath the stores opened on it: open a store with a cipher, read the raw column."""

    def __init__(self, url: str, raw: Callable[[], dict[str, str]], write_raw: Callable[[str, str], None]) -> None:
        self.url = url
        self.raw = raw  # institution -> the secret column as stored
        self.write_raw = write_raw  # (institution, value): the column written beneath any store
        self.opened: list[Store] = []

    def open(self, cipher: SecretCipher | None) -> DirectoryStore:
        store = open_store(self.url, cipher=cipher)
        store.upgrade()
        self.opened.append(store)
        return store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        path = tmp_path / "directory.db"

        def raw_sqlite() -> dict[str, str]:
            with closing(sqlite3.connect(path)) as conn:
                return dict(conn.execute("SELECT id, secret FROM institutions").fetchall())

        def write_sqlite(institution_id: str, value: str) -> None:
            with closing(sqlite3.connect(path)) as conn, conn:
                conn.execute("UPDATE institutions SET secret = ? WHERE id = ?", (value, institution_id))

        found = Engine(str(path), raw_sqlite, write_sqlite)
    else:
        import psycopg

        request.getfixturevalue("postgres_store")  # an emptied schema of this session
        url: str = request.getfixturevalue("postgres_url")

        def raw_postgres() -> dict[str, str]:
            with psycopg.connect(url, autocommit=True) as conn:
                return dict(conn.execute("SELECT id, secret FROM institutions").fetchall())

        def write_postgres(institution_id: str, value: str) -> None:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("UPDATE institutions SET secret = %s WHERE id = %s", (value, institution_id))

        found = Engine(url, raw_postgres, write_postgres)
    yield found
    for store in found.opened:
        store.close()


def test_with_a_key_no_secret_is_stored_in_clear_and_each_reads_back_as_written(engine: Engine, tmp_path: Path) -> None:
    store = engine.open(key(tmp_path, "key"))
    store.add_institution(A)
    store.add_institution(B)
    assert store.set_secret(B.id, ROTATED) is True

    raw = engine.raw()
    assert all(value.startswith(SEALED_PREFIX) for value in raw.values()), raw
    assert not any(secret in value for value in raw.values() for secret in (A.secret, B.secret, ROTATED))
    assert [r.secret for r in store.institutions()] == [A.secret, ROTATED]
    with store.transaction() as tx:
        found = tx.institution(A.id)
    assert found is not None and found.secret == A.secret


def test_the_sqlite_database_its_wal_and_its_shared_memory_hold_no_secret_in_clear(tmp_path: Path) -> None:
    path = tmp_path / "directory.db"
    store = open_store(str(path), cipher=key(tmp_path, "key"))
    try:
        store.upgrade()
        store.add_institution(A)
        store.set_secret(A.id, ROTATED)
        store.add_institution(B)
        with store.transaction() as tx:  # the connection stays open: the WAL is not checkpointed away
            assert tx.institution(B.id) is not None
        files = [Path(name) for name in SqliteStore(path).files() if Path(name).exists()]
        assert {f.name for f in files} >= {"directory.db", "directory.db-wal", "directory.db-shm"}
        assert Path(f"{path}-wal").stat().st_size > 0
        for file in files:
            data = file.read_bytes()
            for secret in (A.secret, B.secret, ROTATED):
                assert secret.encode() not in data, (file.name, secret)
    finally:
        store.close()


def test_the_same_secrets_without_a_key_are_stored_in_clear_which_the_search_above_would_find(
    tmp_path: Path,
) -> None:
    path = tmp_path / "directory.db"
    store = open_store(str(path))
    try:
        store.upgrade()
        store.add_institution(A)
        with store.transaction() as tx:
            assert tx.institution(A.id) is not None
        assert any(A.secret.encode() in Path(name).read_bytes() for name in (path, f"{path}-wal"))
    finally:
        store.close()


def test_clear_secrets_of_an_older_database_are_read_and_then_sealed_once(engine: Engine, tmp_path: Path) -> None:
    clear = engine.open(None)
    clear.add_institution(A)
    clear.add_institution(B)
    assert engine.raw() == {A.id: A.secret, B.id: B.secret}

    sealed = engine.open(key(tmp_path, "key"))
    assert [r.secret for r in sealed.institutions()] == [A.secret, B.secret]  # read before any is sealed
    assert sealed.seal_secrets() == 2
    assert all(v.startswith(SEALED_PREFIX) for v in engine.raw().values())
    assert sealed.seal_secrets() == 0
    assert [r.secret for r in sealed.institutions()] == [A.secret, B.secret]


def test_a_wrong_key_or_none_is_refused_naming_the_key_file_and_nothing_changes(engine: Engine, tmp_path: Path) -> None:
    sealed = engine.open(key(tmp_path, "right"))
    sealed.add_institution(A)
    before = engine.raw()

    wrong = engine.open(key(tmp_path, "wrong"))
    with pytest.raises(StorageError, match=f"institution {A.id}.*cannot be decrypted with the key file .*wrong"):
        wrong.institutions()
    with pytest.raises(StorageError, match=r"key file .*wrong"):
        wrong.seal_secrets()
    with pytest.raises(StorageError, match=r"key file .*wrong"), wrong.transaction() as tx:
        tx.institution(A.id)

    none = engine.open(None)
    with pytest.raises(StorageError, match=f"institution {A.id}.*encrypted and no key file was given"):
        none.seal_secrets()
    with pytest.raises(StorageError, match="holds encrypted secrets"):
        none.add_institution(B)
    with pytest.raises(StorageError, match="holds encrypted secrets"):
        none.set_secret(A.id, "in-clear")
    assert engine.raw() == before


def test_an_altered_token_is_refused_like_a_wrong_key(engine: Engine, tmp_path: Path) -> None:
    sealed = engine.open(key(tmp_path, "key"))
    sealed.add_institution(A)
    token = engine.raw()[A.id]
    forged = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    engine.write_raw(A.id, forged)
    with pytest.raises(StorageError, match="cannot be decrypted"):
        sealed.institutions()


def test_rotate_key_seals_every_secret_again_under_the_new_key_only(engine: Engine, tmp_path: Path) -> None:
    old, new = key(tmp_path, "old"), key(tmp_path, "new")
    store = engine.open(old)
    store.add_institution(A)
    store.add_institution(B)
    before = engine.raw()

    assert store.reseal_secrets(new) == 2
    after = engine.raw()
    assert all(v.startswith(SEALED_PREFIX) for v in after.values())
    assert all(after[i] != before[i] for i in before)
    assert [r.secret for r in engine.open(new).institutions()] == [A.secret, B.secret]
    with pytest.raises(StorageError, match=r"key file .*old"):
        engine.open(old).institutions()


def test_rotate_key_changes_nothing_when_one_secret_does_not_open(engine: Engine, tmp_path: Path) -> None:
    first, other, new = key(tmp_path, "first"), key(tmp_path, "other"), key(tmp_path, "new")
    store = engine.open(first)
    store.add_institution(A)
    store.add_institution(B)
    engine.write_raw(B.id, other.seal(B.secret))  # B sealed by another key: "first" opens A only
    before = engine.raw()

    with pytest.raises(StorageError, match=f"institution {B.id}.*key file .*first"):
        engine.open(first).reseal_secrets(new)
    assert engine.raw() == before


def test_a_key_file_of_several_keys_seals_with_the_first_and_opens_with_any(engine: Engine, tmp_path: Path) -> None:
    old = key(tmp_path, "old")
    engine.open(old).add_institution(A)
    both = tmp_path / "both"
    new_path = tmp_path / "new"
    write_new_key_file(new_path)
    both.write_text(new_path.read_text() + (tmp_path / "old").read_text())
    rolled = engine.open(load_key_file(both))
    assert [r.secret for r in rolled.institutions()] == [A.secret]  # sealed by the old key, opened
    rolled.add_institution(B)
    with engine.open(load_key_file(new_path)).transaction() as tx:  # sealed by the new key: it alone opens it
        found = tx.institution(B.id)
    assert found is not None and found.secret == B.secret


# -- key files --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o022, 0o000])
def test_a_new_key_file_is_0600_whatever_the_umask_and_never_replaces_a_file(tmp_path: Path, mask: int) -> None:
    path = tmp_path / "key"
    with umask(mask):
        write_new_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    with pytest.raises(FileExistsError):
        write_new_key_file(path)
    assert path.read_text() == text


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "cannot be read: No such file"),
        ("", "holds no key"),
        ("# only a comment\n\n", "holds no key"),
        ("not-a-key\n", "its key 1 is not a Fernet key"),
        ("é\n", "cannot be read"),
    ],
)
def test_an_unusable_key_file_is_refused_naming_it(tmp_path: Path, content: str | None, says: str) -> None:
    path = tmp_path / "key"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=f"the key file {path}.*{says}"):
        load_key_file(path)


# -- SQLite's files -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o022, 0o000])
def test_sqlite_creates_its_database_wal_shared_memory_and_lock_0600_whatever_the_umask(
    tmp_path: Path, mask: int
) -> None:
    path = tmp_path / "directory.db"
    with umask(mask):
        store = SqliteStore(path)
        try:
            store.upgrade()
            store.add_institution(A)
            with store.transaction() as tx:
                tx.institution(A.id)
            made = {
                Path(name).name: stat.S_IMODE(os.stat(name).st_mode) for name in store.files() if os.path.exists(name)
            }
        finally:
            store.close()
    assert made == {
        "directory.db": 0o600,
        "directory.db-wal": 0o600,
        "directory.db-shm": 0o600,
        "directory.db-writer.lock": 0o600,
    }
    assert exposed_files(store) == []


def test_a_database_others_may_read_is_named_with_its_mode_and_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "directory.db"
    with closing(sqlite3.connect(path)) as conn:  # made by the operator, with the umask's 0644
        conn.execute("CREATE TABLE t (x)")
    path.chmod(0o644)
    store = SqliteStore(path)
    try:
        store.upgrade()
        assert (str(path), 0o644) in exposed_files(store)
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    finally:
        store.close()


def test_db_upgrade_with_a_key_file_seals_the_clear_secrets_and_says_how_many(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gateway.entrypoints.cli import main

    path = tmp_path / "directory.db"
    clear = open_store(str(path))
    clear.upgrade()
    clear.add_institution(A)
    clear.close()
    key_file = tmp_path / "key"
    write_new_key_file(key_file)

    assert main(["db", "upgrade", "--db", str(path), "--secret-key-file", str(key_file)]) == 0
    assert f"institution secrets sealed with {key_file} (1 stored in clear until now)" in capsys.readouterr().out
    with closing(sqlite3.connect(path)) as conn:
        [(stored,)] = conn.execute("SELECT secret FROM institutions").fetchall()
    assert stored.startswith(SEALED_PREFIX)

    assert main(["db", "upgrade", "--db", str(path), "--secret-key-file", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"ksz-gateway: error: the key file {tmp_path / 'missing'} cannot be read: No such file or directory"
    )

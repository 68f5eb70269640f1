"""Secrets at rest as an operator meets them: ``secrets new-key``, ``institutions add`` and ``rotate-key`` with
key files, and ``serve`` sealing, refusing and warning, on a SQLite file and on PostgreSQL.

Every request is real HTTP to a real ``ksz-gateway serve``; what is stored is read beneath the gateway (the
SQLite file's bytes, psycopg).
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import stat
import subprocess
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from gateway_process import consult, free_port, ksz_gateway, serve, stop

POSTGRES_ENV = "KSZ_TEST_POSTGRES_URL"
DEMO = {"0212345668": "demo-ocmw-a", "0212345767": "demo-ocmw-b", "0212345866": "demo-family-c"}
NEW = "0312345641"  # added by the operator in the tests below


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ksz_gateway(), *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def refused_start(db: str, *options: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [ksz_gateway(), "serve", "--demo", "--port", str(free_port()), "--db", db, *options]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=cwd)


class Database:
    """A fresh database of one engine and a reading of its secret column beneath the gateway."""

    def __init__(self, url: str, raw: Callable[[], dict[str, str]], files: Callable[[], list[Path]]) -> None:
        self.url, self.raw, self.files = url, raw, files


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "directory.db"

        def raw_sqlite() -> dict[str, str]:
            with closing(sqlite3.connect(path)) as conn:
                return dict(conn.execute("SELECT id, secret FROM institutions").fetchall())

        def files() -> list[Path]:
            return [p for p in tmp_path.iterdir() if p.name.startswith("directory.db")]

        yield Database(str(path), raw_sqlite, files)
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    import psycopg

    from gateway.adapters.storage.postgres import with_schema

    schema = f"ksz_secrets_{os.getpid()}_{secrets.token_hex(4)}"
    url = with_schema(base, schema)

    def raw_postgres() -> dict[str, str]:
        with psycopg.connect(url, autocommit=True) as conn:
            return dict(conn.execute("SELECT id, secret FROM institutions").fetchall())

    yield Database(url, raw_postgres, list)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def new_key(folder: Path, name: str) -> Path:
    path = folder / name
    made = cli("secrets", "new-key", "--out", str(path), cwd=folder)
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return path


def test_serve_with_a_key_seals_the_clear_secrets_it_finds_and_callers_authenticate_as_before(
    database: Database, tmp_path: Path
) -> None:
    clear = serve(database.url, tmp_path)  # an older gateway: no key, secrets in clear
    try:
        assert "Institution secrets are stored in clear: no --secret-key-file" in clear.log()
    finally:
        stop(clear)
    assert {k: v for k, v in database.raw().items() if k in DEMO} == DEMO

    key = new_key(tmp_path, "secrets.key")
    sealed = serve(database.url, tmp_path, "--secret-key-file", str(key))
    try:
        assert f"Institution secrets are sealed with the key file {key} (4 stored in clear" in sealed.log()
        for institution, secret in DEMO.items():
            answer = consult(sealed.port, institution, secret)
            assert (answer.status, answer.faultcode) == (200, None), answer.body
        wrong = consult(sealed.port, "0212345668", "not-the-secret")
        assert wrong.faultcode is not None and wrong.faultcode.endswith("FailedAuthentication")
    finally:
        stop(sealed)

    raw = database.raw()
    assert raw and all(value.startswith("fernet:") for value in raw.values())
    for file in database.files():  # SQLite: the database, its WAL and shared memory
        data = file.read_bytes()
        assert not any(secret.encode() in data for secret in DEMO.values()), file.name


def test_an_operator_adds_rotates_the_key_and_serves_with_the_new_key_only(database: Database, tmp_path: Path) -> None:
    old, new = new_key(tmp_path, "old.key"), new_key(tmp_path, "new.key")
    added = cli(
        "institutions",
        "add",
        NEW,
        "Werkwinkel Demo",
        "18",
        "--db",
        database.url,
        "--secret-key-file",
        str(old),
        cwd=tmp_path,
    )
    assert added.returncode == 0, added.stderr
    secret = re.search(r"shown only now: (\S+)", added.stdout)
    assert secret is not None
    assert database.raw()[NEW].startswith("fernet:") and secret[1] not in database.raw()[NEW]

    listed = cli("institutions", "list", "--db", database.url, cwd=tmp_path)
    assert listed.returncode == 2
    engine = "PostgreSQL" if "://" in database.url else "SQLite"
    assert listed.stderr.strip().splitlines() == [
        f"ksz-gateway: error: the secret of institution {NEW} in the {engine} directory {_place(database.url)} "
        "is encrypted and no key file was given (--secret-key-file)"
    ]

    rotated = cli(
        "institutions",
        "rotate-key",
        "--db",
        database.url,
        "--secret-key-file",
        str(old),
        "--new-key-file",
        str(new),
        cwd=tmp_path,
    )
    assert rotated.returncode == 0, rotated.stderr
    assert f"Sealed 1 institution secret(s) under the key file {new}." in rotated.stdout

    refused = refused_start(database.url, "--secret-key-file", str(old), cwd=tmp_path)
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith(f"ksz-gateway serve: the secret of institution {NEW} in the ")
    assert line.endswith(f"cannot be decrypted with the key file {old} (another key sealed it, or it was altered)")

    served = serve(database.url, tmp_path, "--secret-key-file", str(new))
    try:
        answer = consult(served.port, NEW, secret[1])
        assert (answer.status, answer.faultcode) == (200, None), answer.body
    finally:
        stop(served)


def _place(url: str) -> str:
    if "://" not in url:
        return url
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}{parts.path}"


def test_serve_without_a_key_on_sealed_secrets_and_with_an_unusable_key_file_refuses_in_one_line(
    database: Database, tmp_path: Path
) -> None:
    key = new_key(tmp_path, "k")
    added = cli(
        "institutions",
        "add",
        NEW,
        "Werkwinkel Demo",
        "18",
        "--db",
        database.url,
        "--secret-key-file",
        str(key),
        cwd=tmp_path,
    )
    assert added.returncode == 0, added.stderr

    without = refused_start(database.url, cwd=tmp_path)
    assert without.returncode == 2
    [line] = without.stderr.strip().splitlines()
    assert line.endswith("is encrypted and no key file was given (--secret-key-file)")

    missing = refused_start(database.url, "--secret-key-file", str(tmp_path / "nope"), cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"ksz-gateway serve: the key file {tmp_path / 'nope'} cannot be read: No such file or directory"
    ]
    assert "Traceback" not in without.stderr + missing.stderr


def test_secrets_new_key_never_replaces_a_file(tmp_path: Path) -> None:
    key = new_key(tmp_path, "k")
    before = key.read_bytes()
    again = cli("secrets", "new-key", "--out", str(key), cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.strip() == f"ksz-gateway: error: {key} exists; a key file is never replaced"
    assert key.read_bytes() == before


def test_serve_warns_in_one_line_of_a_sqlite_file_others_may_read_and_leaves_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "directory.db"
    with closing(sqlite3.connect(path)):
        pass
    path.write_bytes(b"")
    path.chmod(0o644)
    served = serve(str(path), tmp_path)
    try:
        warnings = [line for line in served.log().splitlines() if "others may read" in line]
        # SQLite gives the WAL and the shared memory it creates the database's own mode.
        assert warnings == [
            f"ksz-gateway serve: warning: others may read {path} (0644), {path}-wal (0644), {path}-shm (0644), "
            "which hold the directory and its secrets; chmod 600 them."
        ]
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    finally:
        stop(served)

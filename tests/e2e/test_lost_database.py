"""A lost database: requests fail fast with the "directory unavailable" fault, the gateway serves again by itself
once the database is back, and ``serve`` against a database that does not answer says so in one line.

PostgreSQL is lost through a forwarder of the test's own (``gateway_process.Forwarder``) between the gateway and
the shared server, which is never disturbed. The HTTP timeouts below only keep a hang from stalling the suite;
the time each failing request took is reported, not asserted.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from gateway_process import Forwarder, answering, consult, free_port, ksz_gateway, serve, stop

POSTGRES_ENV = "KSZ_TEST_POSTGRES_URL"
DEMO_A = ("0212345668", "demo-ocmw-a")
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


@pytest.fixture
def postgres_base() -> str:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    return base


@pytest.fixture
def forwarded(postgres_base: str) -> Iterator[tuple[Forwarder, str]]:
    """A forwarder to the shared PostgreSQL (not yet listening) and a URL of a fresh schema through it."""
    import psycopg

    from gateway.adapters.storage.postgres import with_schema

    parts = urlsplit(postgres_base)
    forwarder = Forwarder((parts.hostname or "127.0.0.1", parts.port or 5432))
    schema = f"ksz_lost_{os.getpid()}_{secrets.token_hex(4)}"
    url = with_schema(
        parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:{forwarder.port}").geturl(), schema
    )
    yield forwarder, url
    forwarder.stop()
    with psycopg.connect(postgres_base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def refused_start(*arguments: str, folder: Path) -> subprocess.CompletedProcess[str]:
    command = [ksz_gateway(), "serve", "--port", str(free_port()), *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=folder)


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


@pytest.mark.postgres
def test_a_lost_postgresql_fails_each_request_fast_with_the_fault_and_the_gateway_recovers_by_itself(
    forwarded: tuple[Forwarder, str], tmp_path: Path
) -> None:
    forwarder, url = forwarded
    forwarder.start()
    server = serve(url, tmp_path, "--db-timeout", "1", "--threads", "4")
    try:
        first = consult(server.port, *DEMO_A)
        assert (first.status, first.faultcode) == (200, None), first.body

        forwarder.cut()
        lost = [consult(server.port, *DEMO_A, timeout=10) for _ in range(4)]
        for answer in lost:
            assert answer.status == 500, answer.body
            assert answer.faultcode is not None and answer.faultcode.endswith(":Server"), answer.body
            assert answer.reason == "STORAGE_UNAVAILABLE"
            assert answer.faultstring is not None and "directory database is unavailable" in answer.faultstring
            assert b"Traceback" not in answer.body and b"psycopg" not in answer.body
        print("request times while the database was lost:", [f"{a.seconds:.2f} s" for a in lost])

        forwarder.restore()
        deadline = time.monotonic() + 60
        answer = consult(server.port, *DEMO_A)
        while answer.faultcode is not None and time.monotonic() < deadline:
            time.sleep(0.5)
            answer = consult(server.port, *DEMO_A)
        assert (answer.status, answer.faultcode) == (200, None), answer.body
        again = [consult(server.port, *DEMO_A) for _ in range(5)]
        assert all((a.status, a.faultcode) == (200, None) for a in again)
        assert server.process.poll() is None
    finally:
        stop(server)


@pytest.mark.postgres
def test_a_connection_the_database_closed_while_idle_is_never_handed_to_a_request(
    forwarded: tuple[Forwarder, str], tmp_path: Path
) -> None:
    forwarder, url = forwarded
    forwarder.start()
    server = serve(url, tmp_path, "--db-timeout", "1")
    try:
        assert consult(server.port, *DEMO_A).faultcode is None  # the pool holds a connection, idle now
        forwarder.cut()  # closes it, with nobody asking meanwhile
        forwarder.restore()
        answer = consult(server.port, *DEMO_A)
        assert (answer.status, answer.faultcode) == (200, None), answer.body
    finally:
        stop(server)


@pytest.mark.postgres
def test_serve_against_an_unreachable_postgresql_says_so_in_one_line_and_exits_2(
    forwarded: tuple[Forwarder, str], tmp_path: Path
) -> None:
    _, url = forwarded  # nobody listens on the forwarder's port
    done = refused_start("--db", url, folder=tmp_path)
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert line.startswith("ksz-gateway serve: the PostgreSQL directory postgresql://127.0.0.1:")
    assert "is unavailable" in line and "Connection refused" in line
    assert "Serving" not in done.stdout


@pytest.mark.postgres
def test_serve_waits_for_a_database_that_comes_within_wait_for_db(
    forwarded: tuple[Forwarder, str], tmp_path: Path
) -> None:
    forwarder, url = forwarded
    server = serve(url, tmp_path, "--wait-for-db", "120", wait=False)
    try:
        output = Path(server.output)
        deadline = time.monotonic() + 60
        while "Waiting up to 120 s for the directory" not in output.read_text() and time.monotonic() < deadline:
            assert server.process.poll() is None, server.log()
            time.sleep(0.1)
        assert "Waiting up to 120 s for the directory" in server.log()
        forwarder.start()
        answering(server, 60)
        answer = consult(server.port, *DEMO_A)
        assert (answer.status, answer.faultcode) == (200, None), answer.body
        assert "The directory answers." in server.log()
    finally:
        stop(server)


@pytest.mark.postgres
def test_serve_gives_up_after_wait_for_db_in_one_line(forwarded: tuple[Forwarder, str], tmp_path: Path) -> None:
    _, url = forwarded
    done = refused_start("--db", url, "--wait-for-db", "1", folder=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr
    assert lines[0].startswith("Waiting up to 1 s for the directory")
    assert lines[-1].startswith("ksz-gateway serve: the PostgreSQL directory")
    assert lines[-1].endswith("(waited 1 s)")
    assert len(lines) == 2


def test_serve_on_a_sqlite_file_that_cannot_be_opened_says_so_in_one_line_and_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "directory.db"
    done = refused_start("--db", str(missing), folder=tmp_path)
    assert done.returncode == 2
    assert one_line(done.stderr) == (
        f"ksz-gateway serve: the SQLite directory {missing} is unavailable: unable to open database file"
    )
    folder = tmp_path / "a-folder.db"
    folder.mkdir()
    done = refused_start("--db", str(folder), folder=tmp_path)
    assert done.returncode == 2
    assert one_line(done.stderr).startswith(f"ksz-gateway serve: the SQLite directory {folder} is unavailable")

"""The PostgreSQL store when its database goes away and comes back, through a TCP forwarder of the test's own (the
shared server is never disturbed): requests fail with ``StorageError`` while it is away, and the store serves
again, without being reopened, once it is back, whatever connections its pool held.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from gateway_process import Forwarder

from gateway.adapters.storage.postgres import PostgresStore, with_schema
from gateway.app.ports import InstitutionRecord, Store
from gateway.errors import StorageError

pytestmark = pytest.mark.postgres

A = InstitutionRecord("0212345668", "OCMW Demostad", 17, "secret-a")


@pytest.fixture
def forwarded() -> Iterator[tuple[Forwarder, PostgresStore]]:
    base = os.environ.get("KSZ_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("KSZ_TEST_POSTGRES_URL is not set")
    import psycopg

    parts = urlsplit(base)
    forwarder = Forwarder((parts.hostname or "127.0.0.1", parts.port or 5432))
    forwarder.start()
    schema = f"ksz_pool_{os.getpid()}_{secrets.token_hex(4)}"
    through = parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:{forwarder.port}").geturl()
    store = PostgresStore(with_schema(through, schema), timeout=1.0, max_size=4)
    store.upgrade()
    store.add_institution(A)
    yield forwarder, store
    store.close()
    forwarder.stop()
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def hold_connections(store: Store, count: int) -> None:
    """Make the pool open ``count`` connections: ``count`` transactions open at once, then all ended."""
    inside = threading.Barrier(count + 1)
    leave = threading.Event()

    def transaction() -> None:
        with store.transaction() as tx:
            tx.institution(A.id)
            inside.wait(timeout=30)
            leave.wait(timeout=30)

    threads = [threading.Thread(target=transaction) for _ in range(count)]
    for thread in threads:
        thread.start()
    inside.wait(timeout=30)
    leave.set()
    for thread in threads:
        thread.join(timeout=30)


def test_every_request_fails_with_storage_error_while_the_database_is_away(
    forwarded: tuple[Forwarder, PostgresStore],
) -> None:
    forwarder, store = forwarded
    assert store.institutions() == [A]
    forwarder.cut()
    for _ in range(3):
        with pytest.raises(StorageError, match="PostgreSQL directory"):
            store.institutions()
        with pytest.raises(StorageError), store.transaction() as tx:
            tx.institution(A.id)


def test_connections_the_database_closed_while_idle_are_all_dropped_before_the_first_request_after(
    forwarded: tuple[Forwarder, PostgresStore],
) -> None:
    forwarder, store = forwarded
    hold_connections(store, 3)  # three idle connections in the pool, all about to be closed by the database
    forwarder.cut()
    forwarder.restore()
    assert store.institutions() == [A]
    with store.transaction() as tx:
        assert tx.institution(A.id) == A


def test_the_store_serves_again_without_being_reopened_once_the_database_is_back(
    forwarded: tuple[Forwarder, PostgresStore],
) -> None:
    forwarder, store = forwarded
    hold_connections(store, 2)
    forwarder.cut()
    with pytest.raises(StorageError):
        store.institutions()
    forwarder.restore()
    for _ in range(120):  # the pool reconnects in the background: a few tries at most, each within its timeout
        try:
            found = store.institutions()
        except StorageError:
            continue
        break
    else:
        pytest.fail("the store did not serve again after 120 tries")
    assert found == [A]


def test_a_store_opened_for_n_threads_gives_each_its_connection_without_waiting_for_another(
    postgres_store: Store, postgres_url: str
) -> None:
    from gateway.adapters.storage import open_store

    store = open_store(postgres_url, timeout=1.0, connections=12)  # postgres_store: the schema emptied
    try:
        store.upgrade()
        store.add_institution(A)
        hold_connections(store, 12)  # twelve transactions open at once: none waits past the 1 s timeout
    finally:
        store.close()

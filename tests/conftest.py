"""Directory stores for tests: one in memory and a SQLite file per test, a PostgreSQL schema per test session;
and how hard the property tests try.

``store`` runs a test once on each store (ids ``memory``, ``sqlite`` and ``postgres``); the PostgreSQL one is
skipped unless ``KSZ_TEST_POSTGRES_URL`` names a server (e.g. ``postgresql://postgres@127.0.0.1:5432/test``).
The memory store is named after nothing else (``memory:test-<random>``), so the CLI and a reopened store find
it by its URL. The session's schema ``ksz_test_<pid>_<random>`` is dropped, with everything in it, when the
session ends.

Hypothesis runs the ``quick`` profile unless ``KSZ_HYPOTHESIS_PROFILE`` names another (CI runs ``thorough``;
``pytest --hypothesis-profile`` overrides both). Tests state no example counts of their own.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from gateway.adapters.storage.memory import MemoryStore
from gateway.adapters.storage.sqlite import SqliteStore
from gateway.app.ports import Store

POSTGRES_ENV = "KSZ_TEST_POSTGRES_URL"
HYPOTHESIS_PROFILE_ENV = "KSZ_HYPOTHESIS_PROFILE"

# No deadline: the machines that run the suite are shared, and a slow example is not a wrong one.
settings.register_profile("quick", max_examples=50, deadline=None)
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get(HYPOTHESIS_PROFILE_ENV) or "quick")

# The integration tests' helpers (directory_replay) are imported by tests and by the child processes they start
# (multiprocessing passes sys.path on; subprocesses get it through PYTHONPATH), so their folder is on the path.
INTEGRATION_HELPERS = os.path.join(os.path.dirname(__file__), "integration")
if INTEGRATION_HELPERS not in sys.path:
    sys.path.insert(0, INTEGRATION_HELPERS)

# Every table that holds data (not the schema version): emptied between tests sharing the session's schema.
_DATA_TABLES = (
    "auth_failures",
    "certificates",
    "nonces",
    "answers",
    "audit",
    "audit_checkpoints",
    "attestations",
    "periods",
    "institutions",
    "quality_codes",
    "sectors",
)


@pytest.fixture
def memory_store() -> Iterator[MemoryStore]:
    store = MemoryStore(f"memory:test-{secrets.token_hex(8)}")
    store.upgrade()
    yield store
    store.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "directory.db")
    store.upgrade()
    yield store
    store.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A URL whose search_path is this session's own schema (created by the first ``upgrade``)."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    import psycopg

    from gateway.adapters.storage.postgres import with_schema

    schema = f"ksz_test_{os.getpid()}_{secrets.token_hex(4)}"
    yield with_schema(base, schema)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def postgres_store(postgres_url: str) -> Iterator[Store]:
    import psycopg

    from gateway.adapters.storage.postgres import PostgresStore

    store = PostgresStore(postgres_url)
    store.upgrade()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(_DATA_TABLES)} RESTART IDENTITY CASCADE")
    store.upgrade()  # seeds the default catalogue again
    yield store
    store.close()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Store:
    """The same test on each store."""
    fixture: Store = request.getfixturevalue(f"{request.param}_store")
    return fixture

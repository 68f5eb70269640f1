"""Each driver exception a store can raise becomes one of the project's errors, from its engine's table.

Like httpx's check that every httpcore exception is mapped: the classes are walked from the drivers' roots
(``sqlite3.Error``, ``psycopg.Error`` with every SQLSTATE class and the pool's), so a new class in a driver
release is checked the day it appears.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import psycopg.errors
import psycopg_pool
import pytest

from gateway.adapters.storage.postgres import POSTGRES_ERRORS, PostgresStore
from gateway.adapters.storage.sql import ErrorTable, translate, translation_of
from gateway.adapters.storage.sqlite import SQLITE_ERRORS, SqliteStore
from gateway.errors import GatewayError, InternalError, StorageError


def walk(root: type[Exception]) -> Iterator[type[Exception]]:
    yield root
    for sub in root.__subclasses__():
        yield from walk(sub)


SQLITE_CLASSES = sorted({*walk(sqlite3.Error), sqlite3.Warning}, key=lambda c: c.__qualname__)
POSTGRES_CLASSES = sorted({*walk(psycopg.Error), psycopg.Warning}, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def test_the_walk_finds_every_sqlstate_and_the_pools_errors() -> None:
    assert len(POSTGRES_CLASSES) > 250
    for cls in (psycopg.errors.UniqueViolation, psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed):
        assert cls in POSTGRES_CLASSES


@pytest.mark.parametrize(("table", "classes"), [(SQLITE_ERRORS, SQLITE_CLASSES), (POSTGRES_ERRORS, POSTGRES_CLASSES)])
def test_every_driver_exception_is_translated_to_a_project_error(
    table: ErrorTable, classes: list[type[Exception]]
) -> None:
    for cls in classes:
        key = translation_of(table, cls)
        assert key is not None, f"{cls.__module__}.{cls.__qualname__} is not mapped"
        kind, says = table[key]
        assert issubclass(kind, GatewayError) and says


@pytest.mark.parametrize(("table", "classes"), [(SQLITE_ERRORS, SQLITE_CLASSES), (POSTGRES_ERRORS, POSTGRES_CLASSES)])
def test_the_tables_name_only_the_drivers_classes_and_every_db_api_class_itself(
    table: ErrorTable, classes: list[type[Exception]]
) -> None:
    assert set(table) <= set(classes)
    module = sqlite3 if table is SQLITE_ERRORS else psycopg
    standard = ("Warning", "Error", "InterfaceError", "DatabaseError", "DataError", "OperationalError")
    standard += ("IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError")
    assert {getattr(module, name) for name in standard} <= set(table)


def test_every_sqlstate_is_translated_by_its_own_db_api_class_or_a_nearer_one() -> None:
    for cls in POSTGRES_CLASSES:
        if cls is not psycopg.Error:
            assert translation_of(POSTGRES_ERRORS, cls) is not psycopg.Error, cls


def code(table: ErrorTable, cls: type[Exception]) -> str:
    key = translation_of(table, cls)
    assert key is not None
    return table[key][0].code


# A constraint violation is the gateway's bug, not an unavailable database.
CONSTRAINTS = (
    sqlite3.IntegrityError,
    psycopg.errors.UniqueViolation,
    psycopg.errors.ExclusionViolation,
    psycopg.errors.ForeignKeyViolation,
    psycopg.errors.CheckViolation,
)
# What a retry or an operator can mend is "unavailable".
MENDABLE = (
    sqlite3.OperationalError,
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
    psycopg_pool.PoolClosed,
    psycopg.errors.ConnectionTimeout,
    psycopg.errors.SerializationFailure,
    psycopg.errors.DeadlockDetected,
    psycopg.errors.AdminShutdown,
    psycopg.errors.DiskFull,
    psycopg.errors.UndefinedTable,
)


@pytest.mark.parametrize(
    ("cls", "kind"), [(c, InternalError) for c in CONSTRAINTS] + [(c, StorageError) for c in MENDABLE]
)
def test_a_code_says_what_happened(cls: type[Exception], kind: type[GatewayError]) -> None:
    table = SQLITE_ERRORS if issubclass(cls, sqlite3.Error) else POSTGRES_ERRORS
    assert code(table, cls) == kind.code


def test_a_translation_names_the_directory_and_keeps_the_drivers_words() -> None:
    error = translate(SQLITE_ERRORS, sqlite3.OperationalError("database is locked"), "the SQLite directory x.db")
    assert isinstance(error, StorageError)
    assert error.message == "the SQLite directory x.db is unavailable: database is locked"


def test_a_file_that_is_no_database_is_a_storage_error_caused_by_the_driver(tmp_path: Path) -> None:
    path = tmp_path / "not-a.db"
    path.write_bytes(b"this is not a database file" * 100)
    store = SqliteStore(path)
    try:
        with pytest.raises(StorageError, match=r"not-a\.db") as caught:
            store.upgrade()
        assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)
    finally:
        store.close()


def test_an_unreachable_postgresql_server_is_a_storage_error_within_the_timeout() -> None:
    store = PostgresStore("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", timeout=1.0)
    started = time.monotonic()
    try:
        with pytest.raises(StorageError, match="no connection in time") as caught:
            store.institutions()
        assert isinstance(caught.value.__cause__, psycopg_pool.PoolTimeout)
        assert "nobody" not in caught.value.message  # the place, never the credentials
    finally:
        store.close()
    assert time.monotonic() - started < 10

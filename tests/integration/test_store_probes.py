"""What the operator's probes read from a store, on each store (fixture ``store``): the schema version without
migrating anything, and the directory's size."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from gateway.adapters.storage.migrations import latest_version
from gateway.adapters.storage.sqlite import SqliteStore
from gateway.app.ports import ImportRow, InstitutionRecord, Store
from gateway.domain.periods import Period
from gateway.errors import StorageError

A = InstitutionRecord("0212345668", "OCMW Demostad", 17, "secret-a")


def test_an_upgraded_store_holds_the_newest_schema_version(store: Store) -> None:
    assert store.schema_version() == latest_version()


def test_the_directory_size_counts_every_integration_period(store: Store) -> None:
    assert store.count_integrations() == 0
    store.add_institution(A)
    store.import_integrations(
        [
            ImportRow(A.id, "85073003328", 1, Period(date(2015, 1, 1), date(2015, 1, 31))),
            ImportRow(A.id, "85073003328", 1, Period(date(2015, 3, 1), None)),
            ImportRow(A.id, "90010100123", 1, Period(date(2015, 1, 1), None)),
        ]
    )
    assert store.count_integrations() == 3


def test_reading_the_version_of_a_database_never_upgraded_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    store = SqliteStore(path)
    try:
        with pytest.raises(StorageError):
            store.schema_version()
    finally:
        store.close()
    conn = sqlite3.connect(path)  # its context manager commits, it does not close
    try:
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    finally:
        conn.close()

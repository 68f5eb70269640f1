"""SQLite's checkpoints run in a background thread of the store, not in the commits of requests; the WAL stays
bounded however much is written, and ``close`` leaves no thread or descriptor behind."""

from __future__ import annotations

import os
import threading
import time
from datetime import date, timedelta
from pathlib import Path

from gateway.adapters.storage.sqlite import SqliteStore
from gateway.app.demo import DEMO_INSTITUTIONS, ensure_demo
from gateway.app.ports import ImportRow
from gateway.domain.periods import Period

A = DEMO_INSTITUTIONS[0]


def ssin(n: int) -> str:
    body = f"{date(1950, 1, 1) + timedelta(days=n // 900):%y%m%d}{n % 900 + 1:03d}"
    return f"{body}{97 - int(body) % 97:02d}"


def write_much(store: SqliteStore, imports: int, rows: int) -> None:
    for i in range(imports):
        store.import_integrations(
            ImportRow(A.id, ssin(i * rows + n), 1, Period(date(2020, 1, 1) + timedelta(days=n % 300)))
            for n in range(rows)
        )


def checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ksz-sqlite-checkpoint"]


def descriptors_of(path: Path) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(path)):
            found.append(target)
    return found


def test_request_connections_leave_checkpoints_to_the_background_thread(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "d.db", wal_limit_bytes=8 << 20)
    try:
        store.upgrade()
        ensure_demo(store)
        autocheckpoint = store._conn().execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        assert autocheckpoint == (8 << 20) // 4096  # a commit checkpoints only past the limit
        assert len(checkpoint_threads()) == 1
        write_much(store, 3, 500)
        deadline = time.monotonic() + 30
        while store.checkpoints == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.checkpoints > 0
    finally:
        store.close()


def test_the_wal_stays_under_its_bound_after_many_writes(tmp_path: Path) -> None:
    limit = 256 << 10
    store = SqliteStore(tmp_path / "d.db", wal_limit_bytes=limit)
    try:
        store.upgrade()
        ensure_demo(store)
        wal = tmp_path / "d.db-wal"
        largest = 0
        for _ in range(20):
            write_much(store, 1, 2000)  # together about 16 times the bound (SQLite alone lets the WAL grow so)
            largest = max(largest, wal.stat().st_size)
        # Past the bound by one import's transaction (a few hundred KiB) at most, before a checkpoint.
        assert largest < limit + (1 << 20)
    finally:
        store.close()


def test_close_stops_the_checkpoint_thread_and_closes_its_connection(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    before = len(checkpoint_threads())
    store = SqliteStore(path)
    store.upgrade()
    ensure_demo(store)
    assert len(checkpoint_threads()) == before + 1
    store.close()
    assert len(checkpoint_threads()) == before
    assert descriptors_of(path) == []


def test_without_background_checkpoints_no_thread_starts(tmp_path: Path) -> None:
    before = len(checkpoint_threads())
    store = SqliteStore(tmp_path / "d.db", checkpoint_seconds=None)
    try:
        store.upgrade()
        assert len(checkpoint_threads()) == before
        assert store._conn().execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000  # SQLite's own
    finally:
        store.close()

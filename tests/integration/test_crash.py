"""A writer killed with SIGKILL mid-write leaves every operation either fully applied with its audit record, or
not at all: the directory afterwards is exactly the replay of the committed audit trail.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from directory_replay import replay_audit, ssins, stored_state

from gateway.adapters.storage import open_store
from gateway.adapters.storage.memory import MemoryStore
from gateway.app.demo import ensure_demo
from gateway.app.ports import Store

HELPERS = os.path.dirname(os.path.abspath(__file__))
PERSONS = ssins(4)

CHILD = textwrap.dedent(
    """
    import sys
    from directory_replay import hammer_in_process

    url, seed, persons = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
    hammer_in_process(url, seed, 10**9, persons)  # until killed
    """
)


def audited(url: str) -> int:
    store = open_store(url)
    try:
        return sum(1 for _ in store.audit_log())
    finally:
        store.close()


def start_writer(url: str, seed: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([HELPERS, *sys.path])}
    return subprocess.Popen([sys.executable, "-c", CHILD, url, str(seed), ",".join(PERSONS)], env=env)


def kill_mid_write(url: str, seed: int, after: int) -> None:
    """Start a writer, wait until ``after`` operations are committed, then kill it at a random moment."""
    child = start_writer(url, seed)
    try:
        deadline = time.monotonic() + 60
        while audited(url) < after:
            assert child.poll() is None, "the writer died on its own"
            assert time.monotonic() < deadline, "the writer made no progress"
            time.sleep(0.02)
        time.sleep(random.Random(seed).uniform(0, 0.05))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL


def test_operations_killed_mid_write_are_all_or_nothing(store: Store) -> None:
    if isinstance(store, MemoryStore):
        pytest.skip("a memory store lives and dies with its process: a killed writer leaves nothing behind")
    ensure_demo(store)
    url = store.url
    store.close()
    for round_ in range(3):
        kill_mid_write(url, seed=round_, after=25 * (round_ + 1))
    after = open_store(url)
    try:
        replayed_state, replayed = replay_audit(after)
        assert replayed >= 75
        assert stored_state(after) == replayed_state
    finally:
        after.close()


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_a_killed_writer_leaves_the_sqlite_file_consistent(store: Store) -> None:
    ensure_demo(store)
    url = store.url
    store.close()
    kill_mid_write(url, seed=7, after=10)
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(url)) as conn:  # sqlite3's own context manager commits but never closes
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []

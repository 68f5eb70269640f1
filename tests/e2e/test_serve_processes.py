"""How many processes ``ksz-gateway serve`` runs: gunicorn's arbiter and N worker processes under it, whatever N
(``--workers 1``, the default, is one worker process; the arbiter only supervises), and the arbiter keeps no
database open: each worker opens its own store after the fork.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

import pytest


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def workers_of(server: Any, expected: int) -> list[int]:
    """The worker processes under the server's arbiter, once ``expected`` are up (gunicorn boots them alongside)."""
    deadline = time.monotonic() + 30
    while len(children(server.process.pid)) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return children(server.process.pid)


def open_files(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # closed meanwhile
            found.add(os.readlink(fd))
    return found


def test_one_worker_is_one_worker_process_under_the_arbiter(gateway: Any) -> None:
    [worker] = workers_of(gateway, 1)
    assert children(worker) == []


def test_two_workers_are_two_processes_under_one_arbiter(gateway_two_workers: Any) -> None:
    assert len(workers_of(gateway_two_workers, 2)) == 2


def test_only_the_workers_hold_the_database_open(gateway: Any, wire: Any, soap: Any) -> None:
    if "://" in gateway.db:
        pytest.skip("PostgreSQL: the store is a pool of sockets, not a file to look for")
    wire.call(soap.consult(soap.new_ssin(), "2015-01-01"))  # the worker has used its store
    [worker] = workers_of(gateway, 1)
    database = str(Path(gateway.db).resolve())
    assert database in open_files(worker)
    assert not any(name.startswith(database) for name in open_files(gateway.process.pid))

"""How many processes ``ksz-gateway serve`` runs: one with ``--workers 1``, a gunicorn arbiter and N workers else."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def test_one_worker_serves_from_a_single_process(gateway: Any) -> None:
    assert children(gateway.process.pid) == []


def test_two_workers_are_two_processes_under_one_arbiter(gateway_two_workers: Any) -> None:
    # The server answers as soon as its first worker is up; gunicorn boots the second one alongside.
    deadline = time.monotonic() + 30
    while len(children(gateway_two_workers.process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(children(gateway_two_workers.process.pid)) == 2

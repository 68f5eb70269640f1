"""Where the worker processes of one server keep their metrics: a private directory, made before gunicorn forks and
removed when the server stops.

Invariant: ``PROMETHEUS_MULTIPROC_DIR`` names that directory from before ``prometheus_client`` is first imported
in the process (it reads the variable once, on import) until the server stops, so every worker counts into it and
a scrape sums them; the directory is the server's own (mode 0700, fresh), never one inherited from the
environment, so counts of an earlier server are never summed in.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["MULTIPROCESS_ENV", "metrics_directory", "worker_gone"]

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def metrics_directory() -> Iterator[Path]:
    """A fresh private directory named by ``PROMETHEUS_MULTIPROC_DIR`` while the block runs; removed after it."""
    directory = Path(tempfile.mkdtemp(prefix="ksz-gateway-metrics-"))
    before = os.environ.get(MULTIPROCESS_ENV)
    os.environ[MULTIPROCESS_ENV] = str(directory)
    try:
        yield directory
    finally:
        if before is None:
            os.environ.pop(MULTIPROCESS_ENV, None)
        else:
            os.environ[MULTIPROCESS_ENV] = before
        shutil.rmtree(directory, ignore_errors=True)


def worker_gone(pid: int, directory: str | Path) -> None:
    """A worker process has exited: its live gauge is dropped; its counts stay, and are still summed."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]

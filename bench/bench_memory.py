"""Benchmark of a worker's memory over many requests: does ``ksz-gateway serve`` grow as it serves?

It starts ``ksz-gateway serve --demo --workers 1`` on a fresh SQLite file (or a PostgreSQL schema of its own with
``--postgres URL``, dropped afterwards), drives signed Integrate and Consult requests at it (half each: Integrate
of new persons, Consult of persons integrated earlier; bench/messages.py, every request with its own nonce) over
``--connections`` keep-alive connections, and reads the worker's resident memory (``VmRSS`` of
/proc/PID/status) after a tenth of ``--requests`` and after every further tenth. It prints each reading, the
first and last, and their ratio (issue #14's target: 100,000 requests within 5 % of 10,000):

    .venv/bin/python bench/bench_memory.py [--requests 100000] [--connections 4] [--postgres URL] [--output FILE]

Bodies are signed a tenth at a time, just before they are sent, so none is stale; signing is not measured.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bench_soap import _python_worker, drop_schema, postgres_schema, start_gateway, stop  # noqa: E402
from messages import REPERTORIUM_PATH, consult, integrate, make_ssin  # noqa: E402

STEPS = 10  # readings: after each tenth of the requests


def rss_kib(pid: int) -> int:
    """The resident memory of process ``pid`` in KiB (``VmRSS`` of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit(f"process {pid} has no VmRSS")


def worker_of(master: int) -> int:
    """The one worker process that ``serve --workers 1`` forked (waits for it a few seconds)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise SystemExit("the gateway started no worker")


@dataclass
class Reading:
    requests: int
    rss_kib: int
    errors: int
    seconds: float


def send(url: str, bodies: list[bytes], connections: int) -> int:
    """Post every one of ``bodies`` (split over ``connections`` processes); the number of failures."""
    context = multiprocessing.get_context("fork")
    results: Any = context.Queue()
    deadline = time.monotonic() + 3600  # the bodies run out first
    slices = [bodies[i::connections] for i in range(connections)]
    processes = [
        context.Process(target=_python_worker, args=(url, '""', part, deadline, results)) for part in slices
    ]
    for process in processes:
        process.start()
    totals = [results.get() for _ in processes]
    for process in processes:
        process.join()
    sent = sum(len(t[0]) for t in totals)
    return sum(t[1] for t in totals) + (len(bodies) - sent)


def bodies_for(step: int, size: int) -> list[bytes]:
    """``size`` requests, half Integrate of new persons, half Consult of persons this or an earlier step wrote."""
    first = step * size
    out: list[bytes] = []
    for i in range(size):
        if i % 2 == 0:
            out.append(integrate(make_ssin(first + i)))
        else:
            out.append(consult(make_ssin(first + i - 1)))
    return out


def measure(args: argparse.Namespace, work: Path) -> list[Reading]:
    db = str(work / "memory.db")
    schema = None
    if args.postgres:
        schema = f"ksz_bench_memory_{int(time.time())}"
        db = postgres_schema(args.postgres, schema)
    gateway = start_gateway("memory", 1, db, work / "gateway.log")
    try:
        worker = worker_of(gateway.process.pid)
        url = gateway.base + REPERTORIUM_PATH
        size = max(2, args.requests // STEPS)
        readings = [Reading(0, rss_kib(worker), 0, 0.0)]
        print(f"worker {worker}: {readings[0].rss_kib / 1024:,.1f} MiB before any request", flush=True)
        started = time.monotonic()
        errors = 0
        for step in range(STEPS):
            errors += send(url, bodies_for(step, size), args.connections)
            reading = Reading((step + 1) * size, rss_kib(worker), errors, time.monotonic() - started)
            readings.append(reading)
            print(
                f"{reading.requests:>9,} requests: {reading.rss_kib / 1024:,.1f} MiB "
                f"({reading.errors} failed, {reading.seconds:,.0f} s)",
                flush=True,
            )
        return readings
    finally:
        stop(gateway)
        if schema is not None:
            drop_schema(args.postgres, schema)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000, help="requests in all (default 100,000)")
    parser.add_argument("--connections", type=int, default=4, help="keep-alive connections, one process each")
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL instead of SQLite (a schema of its own)")
    parser.add_argument("--output", metavar="FILE", help="also write the readings as JSON")
    args = parser.parse_args(argv)
    if args.requests < 2 * STEPS:
        parser.error(f"--requests must be {2 * STEPS} at least")

    print(f"python {platform.python_version()}, {platform.platform()}")
    print(f"requests {args.requests:,} (Integrate and Consult), connections {args.connections}, 1 worker")
    with tempfile.TemporaryDirectory(prefix="ksz-bench-memory-") as tmp:
        readings = measure(args, Path(tmp))
    first, last = readings[1], readings[-1]
    ratio = last.rss_kib / first.rss_kib
    print(
        f"\nRSS after {first.requests:,}: {first.rss_kib / 1024:,.1f} MiB; after {last.requests:,}: "
        f"{last.rss_kib / 1024:,.1f} MiB; ratio {ratio:.3f} (target 1.05 at most)"
    )
    failed = last.errors
    if failed:
        print(f"{failed} requests failed: the figures are not trustworthy")
    if args.output:
        report = {"readings": [asdict(r) for r in readings], "ratio": ratio, "errors": failed}
        Path(args.output).write_text(json.dumps(report, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

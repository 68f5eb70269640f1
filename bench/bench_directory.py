"""Benchmark of the directory at scale: CSV import of N integrations, then consultations, per engine.

Each engine is measured against baselines taken in the same run: the same consultation on an empty directory
and a bare ``SELECT 1`` round-trip. Usage:

    .venv/bin/python bench/bench_directory.py [--rows 1000000] [--persons 200000] [--consults 5000]
        [--pg postgresql://postgres@127.0.0.1:5432/test] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from gateway.adapters.storage import open_store
from gateway.app.demo import DEMO_INSTITUTIONS, ensure_demo
from gateway.app.directory_service import DirectoryService
from gateway.app.ports import Store
from gateway.domain.periods import Period
from gateway.entrypoints.commands import db as db_commands

CODES_BY_SECTOR = {17: (1, 2, 3, 4, 5, 6, 7, 8, 9), 7: (1,), 18: (1,)}


def make_ssin(n: int) -> str:
    """The ``n``-th of a series of distinct, valid national-register numbers (born 1940-1999)."""
    birth = date(1940, 1, 1) + timedelta(days=n // 998)
    body = f"{birth:%y%m%d}{n % 998 + 1:03d}"
    return f"{body}{97 - int(body) % 97:02d}"


def write_csv(path: Path, rows: int, persons: list[str], seed: int) -> None:
    rng = random.Random(seed)
    first = date(2010, 1, 1)
    with path.open("w", encoding="utf-8") as out:
        out.write("institution,ssin,code,start,end\n")
        for _ in range(rows):
            institution = rng.choice(DEMO_INSTITUTIONS)
            code = rng.choice(CODES_BY_SECTOR[institution.sector])
            start = first + timedelta(days=rng.randrange(15 * 365))
            end = "" if rng.random() < 0.05 else (start + timedelta(days=rng.randrange(30, 366))).isoformat()
            out.write(f"{institution.id},{rng.choice(persons)},{code:02d},{start.isoformat()},{end}\n")


@dataclass
class Timing:
    count: int
    seconds: float
    samples: list[float]

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.samples) * 1000

    @property
    def p99_ms(self) -> float:
        return self.percentile(0.99) * 1000


def timed(count: int, step: Callable[[int], object]) -> Timing:
    samples = []
    started = time.perf_counter()
    for n in range(count):
        t0 = time.perf_counter()
        step(n)
        samples.append(time.perf_counter() - t0)
    return Timing(count, time.perf_counter() - started, samples)


def consults(store: Store, persons: list[str], count: int, seed: int) -> tuple[Timing, float]:
    """``count`` consultations of random persons over a random year; also the mean number of answers."""
    service = DirectoryService(store, store.catalogue())
    caller = DEMO_INSTITUTIONS[0]
    rng = random.Random(seed)
    asks = [(rng.choice(persons), date(rng.randrange(2010, 2025), 1, 1)) for _ in range(count)]
    found: list[int] = []

    def step(n: int) -> None:
        ssin, start = asks[n]
        result = service.consult(caller, ssin, Period(start, date(start.year, 12, 31)))
        found.append(len(result.integrations))

    return timed(count, step), statistics.mean(found) if found else 0.0


def select_one(store: Store, count: int) -> Timing:
    if store.url.startswith(("postgresql://", "postgres://")):
        import psycopg

        with psycopg.connect(store.url, autocommit=True) as conn:
            return timed(count, lambda _: conn.execute("SELECT 1").fetchone())
    with contextlib.closing(sqlite3.connect(store.url)) as lite:
        return timed(count, lambda _: lite.execute("SELECT 1").fetchone())


@contextlib.contextmanager
def fresh_store(engine: str, pg_url: str | None, workdir: Path, keep: bool) -> Iterator[Store]:
    if engine == "sqlite":
        store = open_store(str(workdir / "bench.db"))
        try:
            yield store
        finally:
            store.close()
        return
    import psycopg

    from gateway.adapters.storage.postgres import PostgresStore

    assert pg_url is not None
    schema = f"ksz_bench_{os.getpid()}"
    store = PostgresStore(pg_url, schema=schema)
    try:
        yield store
    finally:
        store.close()
        if not keep:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def bench_engine(
    engine: str, args: argparse.Namespace, csv_path: Path, persons: list[str], workdir: Path
) -> dict[str, float]:
    with fresh_store(engine, args.pg, workdir, args.keep) as store:
        store.upgrade()
        ensure_demo(store)
        bare = select_one(store, args.consults)
        empty, _ = consults(store, persons, args.consults, seed=1)

        stderr = io.StringIO()
        namespace = argparse.Namespace(file=str(csv_path), db=store.url, rejects=None)
        started = time.perf_counter()
        with contextlib.redirect_stderr(stderr):
            code = db_commands.handle_import(namespace)
        import_seconds = time.perf_counter() - started
        if code != 0:
            raise SystemExit(f"{engine}: import failed ({code}): {stderr.getvalue()[-2000:]}")
        periods = sum(1 for _ in store.export_integrations())
        export_started = time.perf_counter()
        exported = sum(1 for _ in store.export_integrations())
        export_seconds = time.perf_counter() - export_started

        full, answers = consults(store, persons, args.consults, seed=2)
    figures = {
        "import_rows_per_s": args.rows / import_seconds,
        "import_s": import_seconds,
        "periods": periods,
        "export_rows_per_s": exported / export_seconds,
        "select1_p50_ms": bare.p50_ms,
        "empty_p50_ms": empty.p50_ms,
        "empty_p99_ms": empty.p99_ms,
        "empty_per_s": empty.per_second,
        "full_p50_ms": full.p50_ms,
        "full_p99_ms": full.p99_ms,
        "full_per_s": full.per_second,
        "answers_mean": answers,
        "ratio_p50": full.p50_ms / empty.p50_ms,
    }
    print(f"\n## {engine}", flush=True)
    for key, value in figures.items():
        print(f"{key:>20}: {value:,.3f}", flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--consults", type=int, default=5_000)
    parser.add_argument("--pg", metavar="URL", help="also measure PostgreSQL (a bench schema is created and dropped)")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL bench schema")
    args = parser.parse_args(argv)

    print(f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, {platform.platform()}")
    print(f"cpus {os.cpu_count()}, rows {args.rows:,}, persons {args.persons:,}, consults {args.consults:,}")
    with tempfile.TemporaryDirectory(prefix="ksz-bench-") as tmp:
        workdir = Path(tmp)
        persons = [make_ssin(n * 7) for n in range(args.persons)]
        csv_path = workdir / "integrations.csv"
        t0 = time.perf_counter()
        write_csv(csv_path, args.rows, persons, seed=42)
        print(f"generated {csv_path.stat().st_size / 1e6:,.1f} MB of CSV in {time.perf_counter() - t0:.1f} s")
        engines = ([] if args.no_sqlite else ["sqlite"]) + (["postgres"] if args.pg else [])
        for engine in engines:
            bench_engine(engine, args, csv_path, persons, workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())

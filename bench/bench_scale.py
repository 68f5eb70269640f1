"""The directory at national size: millions of integrations generated inside the database, then Consult and
CheckAccess measured in-process (the use cases on the store) and over HTTP, each against the same on an empty
directory; on PostgreSQL also the periods table hash-partitioned by SSIN against the plain one.

Generation is SQL-side (a recursive CTE on SQLite, ``generate_series`` on PostgreSQL): one integration (code 01,
of the first demo OCMW, from a day of 2015 on) for each of ``--rows`` distinct valid SSINs, the same persons
``messages.make_ssin`` names. SQLite's disjointness trigger is dropped for the load and made again afterwards
(the generated periods are disjoint by construction: one a person); PostgreSQL's exclusion constraint stays.

The partitioned table has the gateway's columns, primary key and exclusion constraint (one per partition, which
is the same test since equal SSINs fall in the same partition), ``--partitions`` hash partitions on ``ssin``; it
is compared with the plain table on the statements Consult and CheckAccess run (by SSIN: one partition each).

    .venv/bin/python bench/bench_scale.py [--rows 10000000] [--engines sqlite,postgres] [--postgres URL]
        [--consults 2000] [--seconds 4] [--partitions 16] [--no-http]

Disk, at 10 million rows: about 0.9 GB on SQLite, 5.6 GB on PostgreSQL (2.8 GB plain, 2.8 GB partitioned); all
removed at the end. Time, on 2 shared cores: SQLite 1.5 minutes, PostgreSQL about 10 minutes a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import bench_soap  # noqa: E402
import messages  # noqa: E402
from messages import INSTITUTION, make_ssin  # noqa: E402

from gateway.adapters.storage import open_store  # noqa: E402
from gateway.app.demo import ensure_demo  # noqa: E402
from gateway.app.ports import Store  # noqa: E402
from gateway.domain.access import FlowPerson, FlowRequest, Role  # noqa: E402
from gateway.domain.periods import Period  # noqa: E402
from gateway.entrypoints.compose import make_app  # noqa: E402
from gateway.entrypoints.settings import Settings  # noqa: E402

TODAY = date(2015, 1, 10)
SCHEMA = f"ksz_scale_{os.getpid()}"

# One person a row: born 1950-01-01 + n // 990 days, serial n % 990 + 1, check digits 97 - body mod 97.
SQLITE_FILL = """
WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?),
bodies(i, body) AS (
    SELECT i, substr(strftime('%Y%m%d', '1950-01-01', '+' || (i / 990) || ' days'), 3) || printf('%03d', i % 990 + 1)
    FROM n
)
INSERT INTO periods (institution_id, ssin, code, start_date, end_date)
SELECT ?, body || printf('%02d', 97 - CAST(body AS INTEGER) % 97), 1,
       date('2015-01-01', '+' || (i % 9) || ' days'), NULL
FROM bodies
"""
PG_BODIES = """
SELECT i, to_char(date '1950-01-01' + (i / 990)::int, 'YYMMDD') || lpad((i %% 990 + 1)::text, 3, '0') AS body
FROM generate_series(%s::bigint, %s::bigint - 1) AS i
"""
PG_FILL = f"""
INSERT INTO {{table}} (institution_id, ssin, code, start_date, end_date)
SELECT %s, body || lpad((97 - body::bigint %% 97)::text, 2, '0'), 1, date '2015-01-01' + (i %% 9)::int, NULL
FROM ({PG_BODIES}) AS b
"""
CONSULT_SQL = (
    "SELECT p.institution_id, i.name, i.sector, p.code, p.start_date, p.end_date "
    "FROM {table} p JOIN institutions i ON i.id = p.institution_id "
    "WHERE p.ssin = %s AND p.start_date <= %s AND (p.end_date IS NULL OR p.end_date >= %s) "
    "ORDER BY p.institution_id, p.code, p.start_date"
)
CHECK_SQL = (
    "SELECT ssin, start_date, end_date FROM {table} WHERE institution_id = %s AND code = %s AND ssin = %s "
    "ORDER BY start_date"
)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000,
        "per_s": len(ordered) / sum(ordered),
    }


def timed(count: int, step: Callable[[int], object]) -> dict[str, float]:
    samples = []
    for i in range(count):
        started = time.perf_counter()
        step(i)
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def in_process(store: Store, persons: int, count: int, seed: int) -> dict[str, dict[str, float]]:
    """Consult and CheckAccess through the use cases on ``store`` for random persons among the first ``persons``
    (each call a whole use case: read, decision, audit record, commit)."""
    app = make_app(Settings(today=TODAY), store)
    endpoint = app.fronts.default.repertorium
    directory, access = endpoint._directory, endpoint._access
    institution = next(r for r in store.institutions() if r.id == INSTITUTION)
    rng = random.Random(seed)
    asked = [make_ssin(rng.randrange(max(persons, 1))) for _ in range(count)]
    window = Period(date(2015, 1, 1), None)
    found: list[int] = []

    def consult(i: int) -> None:
        found.append(len(directory.consult(institution, asked[i], window).integrations))

    def check(i: int) -> None:
        request = FlowRequest(flow="consult.generic", persons=(FlowPerson(asked[i], Role.SUBJECT),))
        access.check_access(institution, request)

    figures = {"Consult": timed(count, consult), "CheckAccess": timed(count, check)}
    figures["Consult"]["answers_mean"] = statistics.mean(found) if found else 0.0
    return figures


def over_http(db: str, persons: int, seconds: float, work: Path) -> dict[str, dict[str, float]]:
    """Consult and CheckAccess over HTTP (2 workers, 8 connections, the bench's generator) on ``db``."""
    gateway = bench_soap.start_gateway("scale", 2, db, work / "scale-gateway.log")
    figures: dict[str, dict[str, float]] = {}
    try:
        rng = random.Random(3)
        for name, make in (("Consult", messages.consult), ("CheckAccess", messages.check_access)):
            plan = int(2500 * seconds) + 500
            bodies = [make(make_ssin(rng.randrange(max(persons, 1)))) for _ in range(plan)]
            url = gateway.base + messages.REPERTORIUM_PATH
            if shutil.which("wrk"):
                run = lambda: bench_soap.run_wrk(url, '""', bodies, seconds, 8, work)  # noqa: B023, E731
            else:
                run = lambda: bench_soap.run_python(url, '""', bodies, seconds, 8)  # noqa: B023, E731
            found = bench_soap.measured(run, gateway)
            figures[name] = {
                "per_s": found.rate,
                "p50_ms": found.p50_ms,
                "p99_ms": found.p99_ms,
                "server_cpu_us": found.server_cpu_us,
                "errors": found.errors,
            }
    finally:
        bench_soap.stop(gateway)
    return figures


def fill_sqlite(path: Path, rows: int) -> float:
    import sqlite3

    started = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        trigger = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'periods_disjoint'").fetchone()[0]
        conn.execute("DROP TRIGGER periods_disjoint")
        step = 1_000_000
        for first in range(0, rows, step):
            conn.execute("BEGIN")
            conn.execute(SQLITE_FILL, (first, min(rows, first + step), INSTITUTION))
            conn.execute("COMMIT")
        conn.execute(trigger)
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return time.perf_counter() - started


def fill_postgres(url: str, rows: int, table: str = "periods") -> float:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        step = 1_000_000
        for first in range(0, rows, step):
            conn.execute(PG_FILL.format(table=table), (INSTITUTION, first, min(rows, first + step)))
        conn.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - started


def partitioned(url: str, rows: int, partitions: int) -> dict[str, Any]:
    """The periods table hash-partitioned by SSIN beside the plain one, filled alike; the statements Consult and
    CheckAccess run, on each, for random persons; the partitions each plan touches."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """CREATE TABLE periods_hashed (
                institution_id text NOT NULL REFERENCES institutions (id),
                ssin text NOT NULL CHECK (ssin ~ '^[0-9]{11}$'),
                code integer NOT NULL,
                start_date date NOT NULL,
                end_date date CHECK (end_date >= start_date),
                PRIMARY KEY (institution_id, ssin, code, start_date)
            ) PARTITION BY HASH (ssin)"""
        )
        for k in range(partitions):
            part = f"periods_hashed_{k}"
            conn.execute(
                f"CREATE TABLE {part} PARTITION OF periods_hashed FOR VALUES WITH (MODULUS {partitions}, REMAINDER {k})"
            )
            conn.execute(
                f"ALTER TABLE {part} ADD CONSTRAINT {part}_disjoint EXCLUDE USING gist ((ssin::bigint) WITH =, "
                "(institution_id::bigint) WITH =, code WITH =, daterange(start_date, end_date, '[]') WITH &&)"
            )
        conn.execute("CREATE INDEX periods_hashed_by_ssin ON periods_hashed (ssin)")
    load = fill_postgres(url, rows, "periods_hashed")
    figures: dict[str, Any] = {"partitions": partitions, "load_s": load}
    rng = random.Random(5)
    asked = [make_ssin(rng.randrange(rows)) for _ in range(3000)]
    with psycopg.connect(url, autocommit=True) as conn:
        window = (date(2015, 12, 31), date(2015, 1, 1))
        for table in ("periods", "periods_hashed"):
            consult, check = CONSULT_SQL.format(table=table), CHECK_SQL.format(table=table)
            plan = conn.execute("EXPLAIN " + consult, (asked[0], *window)).fetchall()
            scanned = len(
                {
                    line.split(" on ")[1].split()[0]
                    for (line,) in plan
                    if "Scan" in line and " on periods" in line and "Bitmap Index Scan" not in line
                }
            )

            def by_consult(i: int, statement: str = consult) -> object:
                return conn.execute(statement, (asked[i], *window)).fetchall()

            def by_check(i: int, statement: str = check) -> object:
                return conn.execute(statement, (INSTITUTION, 1, asked[i])).fetchall()

            figures[table] = {
                "Consult statement": timed(len(asked), by_consult),
                "CheckAccess statement": timed(len(asked), by_check),
                "tables scanned by the Consult plan": scanned,
                "size_mb": float(
                    conn.execute(
                        "SELECT sum(pg_total_relation_size(c.oid)) / 1e6 FROM pg_class c "
                        "WHERE c.relname = %s OR c.relname LIKE %s AND c.relkind = 'r'",
                        (table, f"{table}\\_%" if table != "periods" else "periods"),
                    ).fetchone()[0]
                    or 0
                ),
            }
    return figures


@contextmanager
def engine_store(engine: str, url: str | None, work: Path) -> Iterator[tuple[Store, str]]:
    """A fresh store of ``engine`` and the ``--db`` a server would be given for it; removed afterwards."""
    if engine == "sqlite":
        where = str(work / "scale.db")
        store = open_store(where)
        try:
            yield store, where
        finally:
            store.close()
        return
    assert url is not None
    where = bench_soap.postgres_schema(url, SCHEMA)
    store = open_store(where)
    try:
        yield store, where
    finally:
        store.close()
        bench_soap.drop_schema(url, SCHEMA)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--postgres", metavar="URL", default=os.environ.get("KSZ_TEST_POSTGRES_URL"))
    parser.add_argument("--consults", type=int, default=2000, help="in-process calls of each use case (2000)")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds of each HTTP measurement (4)")
    parser.add_argument("--partitions", type=int, default=16, help="0: no partitioned table measured")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--db-dir", type=Path, help="where the SQLite file goes (a temporary folder)")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    engines = [e for e in args.engines.split(",") if e and (e != "postgres" or args.postgres)]
    print(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}; rows {args.rows:,}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    report: dict[str, Any] = {"rows": args.rows, "started": datetime.now(UTC).isoformat(timespec="seconds")}
    out = args.output or BENCH / "results" / f"scale-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)

    def keep(engine: str, phase: str, value: Any) -> None:
        """One phase's figures, printed and written at once: a long run stopped early keeps what it measured."""
        report.setdefault(engine, {})[phase] = value
        print(f"{engine}, {phase}: {json.dumps(value, indent=2)}", flush=True)
        out.write_text(json.dumps(report, indent=2) + "\n")

    with tempfile.TemporaryDirectory(dir=args.db_dir, prefix="ksz-scale-") as folder:
        work = Path(folder)
        for engine in engines:
            with engine_store(engine, args.postgres, work) as (store, where):
                store.upgrade()
                ensure_demo(store)
                keep(engine, "empty, in-process", in_process(store, args.rows, args.consults, seed=1))
                if not args.no_http:
                    keep(engine, "empty, over HTTP", over_http(where, args.rows, args.seconds, work))
                print(f"{engine}: generating {args.rows:,} integrations...", flush=True)
                if engine == "sqlite":
                    keep(engine, "load_s", fill_sqlite(Path(where), args.rows))
                    keep(engine, "size_mb", sum(f.stat().st_size for f in work.glob("scale.db*")) / 1e6)
                else:
                    keep(engine, "load_s", fill_postgres(where, args.rows))
                keep(engine, "full, in-process", in_process(store, args.rows, args.consults, seed=2))
                if not args.no_http:
                    keep(engine, "full, over HTTP", over_http(where, args.rows, args.seconds, work))
                if engine == "postgres" and args.partitions:
                    print("postgres: the same rows in a table hash-partitioned by SSIN...", flush=True)
                    keep(engine, "partitioning", partitioned(where, args.rows, args.partitions))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

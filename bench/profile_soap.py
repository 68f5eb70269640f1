"""Where a request's time goes: the gateway's worker processes sampled by py-spy while wrk (or the Python
generator) drives one operation, over HTTP, as bench_soap.py does.

For each operation it saves a flame graph of the busy threads (``bench/results/flame-OPERATION-DB.svg``) and
prints each stage's share of the samples of the threads py-spy finds busy: waits on locks and on the GIL are in
them (a thread waiting to take the GIL back after I/O counts where it waits), so this is where a request's time
goes under load, not the CPU's (bench_soap.py --breakdown times each stage alone). The stages: HTTP server, XML
parsing and envelope checks, authentication, schema validation in and out, spyne and the message codec, the use
case (domain and audit record), the database statements, the commit, serialisation, and the waits. py-spy
samples from outside the process, so the profiled workers run at full speed.

    .venv/bin/python bench/profile_soap.py [--operations Integrate,Consult] [--seconds 10] [--db URL]
        [--connections 8] [--workers 2] [--rate 250]
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import bench_soap  # noqa: E402
from messages import OPERATIONS, make_ssin  # noqa: E402

BIN = Path(sys.executable).parent

# A sample belongs to the first stage (in this order) that one of its frames names: the most specific first.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("commit", ("commit (", "_commit (", "__exit__ (gateway/adapters/storage")),
    ("database statements", ("gateway/adapters/storage/",)),
    ("use case (domain, audit record)", ("gateway/app/", "gateway/domain/")),
    ("schema: response", ("check_response (",)),
    ("schema: request", ("check_request (",)),
    ("authentication", ("gateway/adapters/soap/callers.py", "gateway/adapters/soap/wssecurity.py")),
    ("XML parsing + envelope checks", ("parse_envelope (", "gateway/contract/safexml.py", "parse_document (")),
    ("serialisation", ("reply_envelope (",)),
    ("spyne + message codec", ("gateway/adapters/soap/application.py", "spyne/", "gateway/contract/codec.py")),
    ("SSDN document handling", ("gateway/adapters/ssdn/", "gateway/contract/ssdn")),
    ("HTTP server (gunicorn, body reading)", ("gunicorn/", "gateway/entrypoints/wsgi.py")),
)


# What a sample's innermost frame is doing, read from its source line: waits first told apart from work.
LEAVES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("commit", (".commit(",)),
    ("serialisation", ("tostring(",)),
    ("waiting: the writers' lock", ("flock(",)),
    ("waiting: idle worker threads and loop", ("work_queue.get(", ".select(", "self.method_queue")),
    ("HTTP server (gunicorn, body reading)", ("sendall(", ".recv(")),
)
ROOT = BENCH.parent
_PATHS = [ROOT, *(Path(p) for p in sys.path if p)]


@functools.cache
def source_line(frame: str) -> str:
    """The source line a py-spy frame ("function (path:line)") points at, when the file can be found."""
    where = frame.rpartition(" (")[2].rstrip(")")
    path, _, line = where.rpartition(":")
    if not line.isdigit():
        return ""
    for base in _PATHS:
        candidate = base / path
        if candidate.is_file():
            lines = candidate.read_text(errors="replace").splitlines()
            return lines[int(line) - 1] if 0 < int(line) <= len(lines) else ""
    return ""


def stage_of(stack: str) -> str:
    leaf = source_line(stack.rpartition(";")[2])
    for stage, markers in LEAVES:
        if any(marker in leaf for marker in markers):
            return stage
    for stage, markers in STAGES:
        if any(marker in stack for marker in markers):
            return stage
    return "other"


def shares(collapsed: str) -> dict[str, float]:
    """Each stage's share of the samples in py-spy's collapsed ("raw") output."""
    counts: collections.Counter[str] = collections.Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[stage_of(stack)] += int(count)
    total = sum(counts.values()) or 1
    names = dict.fromkeys(name for name, _ in (*LEAVES, *STAGES, ("other", ())))
    return {stage: counts[stage] / total for stage in names}


def drive(gateway: Any, operation: Any, bodies: list[bytes], args: argparse.Namespace, work: Path) -> None:
    url, seconds = gateway.base + operation.path, args.seconds + 2
    if shutil.which("wrk"):
        bench_soap.run_wrk(url, operation.action, bodies, seconds, args.connections, work)
    else:
        bench_soap.run_python(url, operation.action, bodies, seconds, args.connections)


def relative(svg: Path) -> None:
    """The flame graph with this checkout's own paths made relative (py-spy writes absolute command lines)."""
    svg.write_text(svg.read_text().replace(f"{ROOT}/", ""))


def record(pid: int, seconds: float, rate: int, out: Path, form: str, gil: bool = False) -> subprocess.Popen[bytes]:
    command = [str(BIN / "py-spy"), "record", "--pid", str(pid), "--subprocesses", "--rate", str(rate)]
    command += ["--gil"] if gil else []
    command += ["--duration", str(int(seconds)), "--format", form, "--output", str(out), "--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def in_process(operation_name: str, count: int) -> None:
    """``count`` requests of one operation through the gateway's WSGI application in this process, one thread,
    on a SQLite store in a temporary folder: what py-spy samples for the composition of a request's own work."""
    from datetime import date

    from gateway.adapters.storage import open_store
    from gateway.app.demo import ensure_demo
    from gateway.entrypoints.compose import make_app
    from gateway.entrypoints.settings import Settings

    by_name = {o.name: o for o in OPERATIONS}
    operation = by_name[operation_name]
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(str(Path(folder) / "profile.db"))
        store.upgrade()
        ensure_demo(store)
        app = make_app(Settings(today=date(2015, 1, 10)), store)
        persons = [make_ssin(7_000_000 + i) for i in range(count if operation.after is None else 200)]
        if operation.after is not None:
            writer = by_name[operation.after]
            for ssin in persons:
                bench_soap.wsgi_call(app, writer.body(ssin), writer.path, writer.action)
        bodies = [operation.body(persons[i % len(persons)]) for i in range(count)]
        time.sleep(0.5)  # the recording starts with the requests (py-spy attaches while this sleeps)
        for body in bodies:
            bench_soap.wsgi_call(app, body, operation.path, operation.action)
        store.close()


def profile_in_process(operation: str, count: int, rate: int, out: Path) -> dict[str, float]:
    """py-spy running ``in_process`` from its start: the shares of its samples taken while requests ran."""
    raw = out / f"profile-{operation}-in-process.txt"
    svg = out / f"flame-{operation}-sqlite-one-thread.svg"
    child = [sys.executable, str(Path(__file__)), "--in-process-child", operation, "--count", str(count)]
    for target, form in ((raw, "raw"), (svg, "flamegraph")):
        command = [str(BIN / "py-spy"), "record", "--rate", str(rate), "--format", form, "--output", str(target)]
        done = subprocess.run([*command, "--", *child], capture_output=True, timeout=900)
        if done.returncode != 0:
            raise SystemExit(f"py-spy failed: {done.stderr.decode()[-2000:]}")
    relative(svg)
    # only the requests: the samples under the loop over the bodies
    lines = [line for line in raw.read_text().splitlines() if "in_process (" in line and "wsgi_call (" in line]
    raw.unlink()
    return shares("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--in-process-child", metavar="OPERATION", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=3000, help="requests of the one-thread profile (3000)")
    parser.add_argument("--no-in-process", action="store_true", help="only the profile under load")
    parser.add_argument("--operations", default="Integrate,Consult")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--db", help="a postgresql:// URL (default: SQLite in a temporary folder)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=int, default=250, help="samples a second (250)")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    parser.add_argument(
        "--gil",
        action="store_true",
        help="sample only the thread holding the GIL: where the CPU goes, not where threads wait",
    )
    parser.add_argument("--keep-raw", action="store_true", help="also keep py-spy's collapsed stacks in --out")
    args = parser.parse_args(argv)
    if args.in_process_child:
        in_process(args.in_process_child, args.count)
        return 0
    chosen = [o for o in OPERATIONS if o.name in args.operations.split(",")]
    by_name = {o.name: o for o in OPERATIONS}
    engine = "postgres" if args.db else "sqlite"
    args.out.mkdir(parents=True, exist_ok=True)
    found: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        schema = f"{bench_soap.BENCH_SCHEMA}_profile"
        db = bench_soap.postgres_schema(args.db, schema) if args.db else str(work / "profile.db")
        gateway = bench_soap.start_gateway("gateway", args.workers, db, work / "gateway.log")
        try:
            for serial, operation in enumerate(chosen, 1):
                writer = by_name[operation.after] if operation.after else operation
                plan = int(2500 * (args.seconds + 2))
                persons = [make_ssin(serial * 1_000_000 + i) for i in range(2 * plan if writer is operation else 500)]
                if writer is not operation:  # the persons it reads are written first, not profiled
                    for ssin in persons:
                        bench_soap.post(gateway.base + writer.path, writer.body(ssin), writer.action)
                name = f"{operation.name}-{engine}"
                raw, svg = work / f"{name}.txt", args.out / f"flame-{name}.svg"
                for turn, (out, form) in enumerate(((raw, "raw"), (svg, "flamegraph"))):
                    people = persons[turn * plan : (turn + 1) * plan] if writer is operation else persons
                    bodies = [operation.body(people[i % len(people)]) for i in range(plan)]
                    load = threading.Thread(target=drive, args=(gateway, operation, bodies, args, work))
                    load.start()  # the load runs a little longer than the recording: every sample is under load
                    time.sleep(1)
                    spy = record(gateway.process.pid, args.seconds, args.rate, out, form, args.gil)
                    _, errors = spy.communicate()
                    load.join()
                    if spy.returncode != 0:
                        raise SystemExit(f"py-spy failed: {errors.decode()[-2000:]}")
                relative(svg)
                if args.keep_raw:
                    shutil.copy(raw, args.out / f"{name}{'-gil' if args.gil else ''}.txt")
                found[name] = shares(raw.read_text())
                print(f"\n{operation.name} on {engine}, {args.connections} connections: share of the busy samples")
                for stage, share in found[name].items():
                    print(f"  {stage:<42} {share:6.1%}")
                print(f"  flame graph (busy threads): {svg}")
        finally:
            bench_soap.stop(gateway)
            if args.db:
                bench_soap.drop_schema(args.db, schema)
    if not args.no_in_process:
        for operation in chosen:
            found[f"{operation.name}-one-thread"] = alone = profile_in_process(
                operation.name, args.count, args.rate, args.out
            )
            print(f"\n{operation.name}, one thread in-process on SQLite (no waits but the disk's): share of samples")
            for stage, share in alone.items():
                print(f"  {stage:<42} {share:6.1%}")
    (args.out / f"profile-{engine}.json").write_text(json.dumps(found, indent=2) + "\n")
    print(f"shares written to {args.out / f'profile-{engine}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

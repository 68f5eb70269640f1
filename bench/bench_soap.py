"""Throughput of the SOAP service against a bare spyne echo, same machine, same gunicorn.

Measures requests/s with wrk (or, when wrk is missing, a Python multi-connection generator; both keep connections
alive where the server allows) of: the bare spyne echo (bench/echo_service.py, gunicorn sync workers), the
gateway's Integrate (a new person per request, so every request writes) and Consult (persons with an
integration), each for ``--duration`` seconds, for every worker count of ``--workers`` and every connection count
of ``--connections``, and prints each figure and the ratios gateway/echo (targets: Integrate >= 0.5, Consult >=
0.6). ``--baseline DIR`` also measures the gateway of another checkout DIR (same layout, e.g. made with
``git worktree add DIR <commit>``), run by the same interpreter, in the same rounds, alternating with this one: a
before/after comparison on equal terms. Every gateway request carries its own WS-Security digest with a fresh
nonce, computed before the run. ``--breakdown`` also times each stage of the hot path in-process (best of several
runs) to show what costs what.

    .venv/bin/python bench/bench_soap.py [--duration 10] [--connections 1,8] [--workers 1,2] [--rounds 1]
        [--db-dir DIR | --db POSTGRES-URL] [--baseline DIR] [--breakdown]

wrk: ``apt-get install -y wrk``. Results are also written as JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import hashlib
import http.client
import importlib
import io
import itertools
import json
import multiprocessing
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BIN = Path(sys.executable).parent
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
REP = "urn:ksz-gateway:repertorium:v1"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
INSTITUTION, SECRET = "0212345668", "demo-ocmw-a"
SEPARATOR = b"\x1e"  # ASCII record separator between bodies in the files wrk reads
TARGETS = {"Integrate": 0.5, "Consult": 0.6}

WRK_SCRIPT = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
wrk.headers["SOAPAction"] = '""'
local bodies, counter = {}, 0
local next_id, threads = 0, {}
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
function init(args)
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  local n, i = tonumber(args[2]), 0
  for body in string.gmatch(data, "([^\30]+)") do
    if i % n == id then table.insert(bodies, body) end
    i = i + 1
  end
end
function request()
  counter = counter + 1
  local body = bodies[counter]
  if body == nil then body = bodies[1] end -- exhausted: a replay, refused, counted as non-2xx
  return wrk.format(nil, nil, nil, body)
end
function done(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


# -- messages -------------------------------------------------------------------------------------------


def make_ssin(n: int) -> str:
    """The ``n``-th of a series of distinct valid SSINs (born from 1950 on, 990 a day)."""
    birth = date(1950, 1, 1) + timedelta(days=n // 990)
    body = f"{birth:%y%m%d}{n % 990 + 1:03d}"
    return f"{body}{97 - int(body) % 97:02d}"


def security_header() -> str:
    nonce = os.urandom(16)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + SECRET.encode()).digest()).decode()
    return (
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"><wsse:UsernameToken>'
        f"<wsse:Username>{INSTITUTION}</wsse:Username>"
        f'<wsse:Password Type="{DIGEST}">{digest}</wsse:Password>'
        f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce>"
        f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
    )


def envelope(body: str) -> bytes:
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:rep="{REP}"><soapenv:Header>{security_header()}'
        f"</soapenv:Header><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    ).encode()


def integrate_body(ssin: str) -> bytes:
    return envelope(
        "<rep:IntegrateRequest><rep:QualityCode>2</rep:QualityCode><rep:Period><rep:StartDate>2015-01-05"
        "</rep:StartDate></rep:Period>"
        f"<rep:Person><rep:SSIN>{ssin}</rep:SSIN></rep:Person></rep:IntegrateRequest>"
    )


def consult_body(ssin: str) -> bytes:
    return envelope(
        f"<rep:ConsultRequest><rep:SSIN>{ssin}</rep:SSIN><rep:Period><rep:StartDate>2015-01-01</rep:StartDate>"
        "</rep:Period></rep:ConsultRequest>"
    )


# -- servers --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Running:
    name: str
    url: str
    process: subprocess.Popen[bytes]


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}")
        with contextlib.suppress(OSError):
            if ready():
                return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not start within 60 s")


def post(url: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(url, body, {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def start_echo(workers: int, log: Path) -> Running:
    port = free_port()
    command = [str(BIN / "gunicorn"), "--workers", str(workers), "--worker-class", "sync"]
    command += ["--bind", f"127.0.0.1:{port}", "--pythonpath", str(BENCH), "--log-level", "warning"]
    if _gunicorn_has_control_socket():
        command.append("--no-control-socket")
    command.append("echo_service:application")
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    request_body = echo_module().request_body
    wait_until(lambda: post(url, request_body())[0] == 200, process, "the echo service")
    return Running("echo", url, process)


def echo_module() -> Any:
    """bench/echo_service.py (bench/ is a folder of scripts, not a package)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module("echo_service")


def _gunicorn_has_control_socket() -> bool:
    from gunicorn.config import KNOWN_SETTINGS

    return any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS)


def start_gateway(name: str, workers: int, db: str, log: Path, checkout: Path | None = None) -> Running:
    """``ksz-gateway serve`` of this checkout, or of ``checkout`` (its ``gateway`` package first on the path)."""
    port = free_port()
    command = [str(BIN / "ksz-gateway"), "serve", "--demo", "--today", "2015-01-10", "--workers", str(workers)]
    command += ["--port", str(port), "--db", db]
    env = dict(os.environ)
    if checkout is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(checkout), *filter(None, [env.get("PYTHONPATH")])])
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/soap/repertorium"

    def ready() -> bool:
        with urllib.request.urlopen(url + "?wsdl", timeout=2) as answer:
            return bool(answer.status == 200)

    wait_until(ready, process, f"the gateway {name}")
    return Running(name, url, process)


def stop(running: Running) -> None:
    running.process.terminate()
    try:
        running.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        running.process.kill()


# -- load -----------------------------------------------------------------------------------------------


@dataclass
class Measure:
    name: str
    requests: int
    seconds: float
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    server_cpu_us: float = 0.0  # CPU time of the server's processes per request (user + system)
    machine_idle: float = 0.0  # share of the machine's CPU time left idle during the run

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_wrk(name: str, url: str, bodies: Sequence[bytes], duration: float, connections: int, work: Path) -> Measure:
    threads = min(2, connections)
    bodies_file = work / f"{name}.bodies"
    bodies_file.write_bytes(SEPARATOR.join(bodies))
    script = work / "bench.lua"
    script.write_text(WRK_SCRIPT)
    command = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(duration))}s",
        "--timeout",
        "10s",
    ]
    command += ["-s", str(script), url, "--", str(bodies_file), str(threads)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(x for x in reversed(output.splitlines()) if x.startswith("{"))
    found = json.loads(line)
    return Measure(
        name,
        int(found["requests"]),
        found["duration_us"] / 1e6,
        int(found["status_errors"]) + int(found["socket_errors"]),
        found["p50_us"] / 1000,
        found["p99_us"] / 1000,
    )


def _python_worker(url: str, bodies: Sequence[bytes], deadline: float, results: Any) -> None:
    host_port = url.split("/")[2]
    host, port = host_port.split(":")
    path = "/" + url.split("/", 3)[3] if url.count("/") > 2 else "/"
    done = errors = 0
    connection: http.client.HTTPConnection | None = None
    for body in bodies:
        if time.monotonic() >= deadline:
            break
        if connection is None:
            connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request("POST", path, body, {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
            response = connection.getresponse()
            response.read()
            done += 1
            errors += response.status != 200
            if response.will_close:  # the server closes after each answer: a new connection for the next one
                connection.close()
                connection = None
        except OSError:
            errors += 1
            connection.close()
            connection = None
    if connection is not None:
        connection.close()
    results.put((done, errors))


def run_python(name: str, url: str, bodies: Sequence[bytes], duration: float, connections: int) -> Measure:
    """The fallback generator: one process per connection, each with its own slice of the bodies."""
    results: Any = multiprocessing.Queue()
    start = time.monotonic()
    deadline = start + duration
    processes = [
        multiprocessing.Process(target=_python_worker, args=(url, bodies[i::connections], deadline, results))
        for i in range(connections)
    ]
    for p in processes:
        p.start()
    totals = [results.get() for _ in processes]
    for p in processes:
        p.join()
    return Measure(name, sum(t[0] for t in totals), time.monotonic() - start, sum(t[1] for t in totals), None, None)


def _machine_times() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(values), values[3] + values[4]


def _tree_cpu(pid: int) -> float:
    """Seconds of CPU used so far by a process and its children (gunicorn's arbiter and workers)."""
    total = 0.0
    pids = [pid, *(int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    for one in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measured(run: Callable[[], Measure], server: Running) -> Measure:
    """``run`` with the server's CPU per request and the machine's idle share recorded."""
    cpu_before, (all_before, idle_before) = _tree_cpu(server.process.pid), _machine_times()
    measure = run()
    cpu_after, (all_after, idle_after) = _tree_cpu(server.process.pid), _machine_times()
    measure.server_cpu_us = (cpu_after - cpu_before) / max(measure.requests, 1) * 1e6
    measure.machine_idle = (idle_after - idle_before) / max(all_after - all_before, 1)
    return measure


# -- the in-process breakdown ----------------------------------------------------------------------------


def best(fn: Callable[[int], object], n: int = 300, reps: int = 5) -> float:
    """Microseconds per call, the best of ``reps`` runs of ``n`` calls (the least disturbed by other load)."""
    runs = []
    for _ in range(reps):
        started = time.perf_counter()
        for i in range(n):
            fn(i)
        runs.append((time.perf_counter() - started) / n * 1e6)
    return min(runs)


def breakdown(folder: Path) -> dict[str, float]:
    """Each stage of the gateway's hot path, timed in-process on a SQLite store in ``folder``."""
    from lxml import etree

    from gateway.adapters.soap.envelope import parse_envelope
    from gateway.adapters.soap.service import CallScope
    from gateway.adapters.soap.wssecurity import SECURITY, read_username_token
    from gateway.adapters.storage import open_store
    from gateway.app.demo import ensure_demo
    from gateway.app.ports import NonceClaim
    from gateway.domain.directory import Ok, PersonOutcome, Status, Summary
    from gateway.domain.results import ConsultResult, OperationResult
    from gateway.entrypoints.compose import make_app
    from gateway.entrypoints.settings import Settings

    store = open_store(str(folder / "breakdown.db"))
    store.upgrade()
    ensure_demo(store)
    app = make_app(Settings(today=date(2015, 1, 10)), store)
    counter = iter(range(10_000_000, 20_000_000))

    def wsgi(target: Any, body: bytes, path: str = "/soap/repertorium") -> bytes:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "CONTENT_TYPE": "text/xml; charset=utf-8",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "HTTP_SOAPACTION": '""',
            "wsgi.url_scheme": "http",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "QUERY_STRING": "",
        }
        return b"".join(target(environ, lambda status, headers: None))

    integrate_bodies = [integrate_body(make_ssin(next(counter))) for _ in range(1600)]
    consult_ssin = make_ssin(next(counter))
    wsgi(app, integrate_body(consult_ssin))
    consult_bodies = [consult_body(consult_ssin) for _ in range(1600)]
    figures: dict[str, float] = {}
    echo = echo_module()
    echo_body = echo.request_body()
    figures["echo: whole request (spyne WsgiApplication)"] = best(lambda i: wsgi(echo.application, echo_body, "/"))
    bodies = iter(integrate_bodies)
    figures["Integrate: whole request"] = best(lambda i: wsgi(app, next(bodies)))
    bodies = iter(consult_bodies)
    figures["Consult: whole request"] = best(lambda i: wsgi(app, next(bodies)))

    sample = integrate_body(make_ssin(next(counter)))
    env = parse_envelope(sample, {SECURITY})
    figures["parse + envelope checks"] = best(lambda i: parse_envelope(sample, {SECURITY}))
    figures["schema: request"] = best(lambda i: app._schema.check_request(env.body))
    figures["ws-security: read token + digest"] = best(lambda i: read_username_token(env.headers))

    def lookup(i: int) -> None:
        with store.transaction() as tx:
            tx.institution(INSTITUTION)

    figures["ws-security: institution lookup (transaction)"] = best(lookup)
    moment = datetime.now(UTC)
    def claim(i: int) -> None:
        with store.transaction() as tx:
            tx.claim_nonce(NonceClaim(INSTITUTION, f"bench-{time.time_ns()}-{i}", moment, moment))

    figures["ws-security: use_nonce (a commit)"] = best(claim)
    institution = next(r for r in store.institutions() if r.id == INSTITUTION)

    class Canned:
        def integrate(self, *args: Any, **kwargs: Any) -> OperationResult:
            return OperationResult("T", Summary(Ok.YES, 0), (PersonOutcome(consult_ssin, Status.INTEGRATED, (), ()),))

        def consult(self, *args: Any, **kwargs: Any) -> ConsultResult:
            return ConsultResult("T", Summary(Ok.YES, 0), ())

    canned = CallScope(institution, Canned(), app._access)  # type: ignore[arg-type]
    figures["spyne dispatch + codec read/write (no use case)"] = best(lambda i: app._dispatcher.dispatch(env, canned))
    envs = iter(
        [parse_envelope(b, {SECURITY}) for b in (integrate_body(make_ssin(next(counter))) for _ in range(1600))]
    )
    scope = CallScope(institution, app._directory, app._access)
    figures["Integrate: dispatch + use case (one transaction)"] = best(
        lambda i: app._dispatcher.dispatch(next(envs), scope)
    )
    consult_env = parse_envelope(consult_bodies[0], {SECURITY})
    figures["Consult: dispatch + use case (one transaction)"] = best(
        lambda i: app._dispatcher.dispatch(consult_env, scope)
    )
    answer = app._dispatcher.dispatch(parse_envelope(integrate_body(make_ssin(next(counter))), {SECURITY}), scope)
    figures["schema: response"] = best(lambda i: app._schema.check_response(answer.response))
    figures["serialise response"] = best(
        lambda i: etree.tostring(answer.document, xml_declaration=True, encoding="UTF-8")
    )
    store.close()
    return figures


BENCH_SCHEMA = f"ksz_bench_{os.getpid()}"


def postgres_schema(url: str, schema: str) -> str:
    """The URL of a fresh schema of the PostgreSQL database at ``url`` (created by the gateway's upgrade)."""
    from gateway.adapters.storage.postgres import with_schema

    drop_schema(url, schema)
    return with_schema(url, schema)


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# -- main -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gateway:
    """A gateway to measure: this checkout (``checkout`` None) or a baseline checkout."""

    name: str
    checkout: Path | None


@contextlib.contextmanager
def servers(
    workers: int, gateways: Sequence[Gateway], database: Callable[[str], str], work: Path
) -> Iterator[tuple[Running, list[Running]]]:
    with contextlib.ExitStack() as stack:
        echo = start_echo(workers, work / f"echo-{workers}.log")
        stack.callback(stop, echo)
        running = []
        for gateway in gateways:
            db = database(f"{gateway.name}_{workers}")
            one = start_gateway(gateway.name, workers, db, work / f"{gateway.name}-{workers}.log", gateway.checkout)
            stack.callback(stop, one)
            running.append(one)
        yield echo, running


def _counts(text: str) -> list[int]:
    try:
        counts = [int(item) for item in text.split(",") if item.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of whole numbers") from exc
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: every count must be at least 1")
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement (10)")
    parser.add_argument("--connections", type=_counts, default=[8], help="concurrent connections, e.g. 1,8 (8)")
    parser.add_argument("--workers", type=_counts, default=[2], help="worker processes of each server, e.g. 1,2 (2)")
    parser.add_argument("--rounds", type=int, default=1, help="measure each thing this many times (1)")
    parser.add_argument("--db-dir", type=Path, help="folder of the gateway's SQLite file (a temporary one)")
    parser.add_argument("--db", help="the gateway's database: a postgresql:// URL (default: SQLite in --db-dir)")
    parser.add_argument("--baseline", type=Path, metavar="DIR", help="also measure the gateway of checkout DIR")
    parser.add_argument("--breakdown", action="store_true", help="also time each stage of the hot path")
    args = parser.parse_args(argv)
    plan = max(20_000, int(6_000 * args.duration))  # more bodies than any run can send

    use_wrk = shutil.which("wrk") is not None
    if not use_wrk:
        print("wrk is NOT installed (apt-get install -y wrk): using the Python load generator instead;")
        print("its own cost is higher, so absolute figures are lower than wrk's. Ratios stay comparable.")
    print(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}")
    print(f"load average before the runs: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    load = "wrk" if use_wrk else "python"
    gateways = [Gateway("gateway", None)]
    if args.baseline is not None:
        gateways.append(Gateway("baseline", args.baseline.resolve()))

    schemas: list[str] = []
    with tempfile.TemporaryDirectory(dir=args.db_dir) as folder:
        work = Path(folder)

        def database(name: str) -> str:
            if not args.db:
                return str(work / f"bench-{name}.db")
            schemas.append(f"{BENCH_SCHEMA}_{name}")
            return postgres_schema(args.db, schemas[-1])

        print(f"gateway database: {'PostgreSQL' if args.db else 'SQLite in ' + str(work)}; {load}")
        echo_body = echo_module().request_body()
        results: dict[tuple[int, int, str, str], list[Measure]] = {}
        serials = itertools.count(0, plan)
        unchecked: list[str] = []  # runs whose writes the sanity check could not find

        def measure(workers: int, connections: int, operation: str, server: Running, bodies: list[bytes]) -> Measure:
            if use_wrk:
                run = functools.partial(run_wrk, operation, server.url, bodies, args.duration, connections, work)
            else:
                run = functools.partial(run_python, operation, server.url, bodies, args.duration, connections)
            found = measured(run, server)
            results.setdefault((workers, connections, server.name, operation), []).append(found)
            label = operation if server.name == "echo" else f"{server.name} {operation}"
            print(
                f"{workers} worker(s) {connections:>3} conn  {label:<18} {found.rate:8.1f} requests/s"
                f"  server CPU {found.server_cpu_us:6.0f} us/request  idle {found.machine_idle:4.0%}"
                + (f"  p50 {found.p50_ms:.1f} ms  p99 {found.p99_ms:.1f} ms" if found.p50_ms else "")
                + (f"  ({found.errors} errors!)" if found.errors else ""),
                flush=True,
            )
            return found

        for workers in args.workers:
            with servers(workers, gateways, database, work) as (echo, running):
                for connections in args.connections:
                    for _ in range(args.rounds):
                        measure(workers, connections, "echo", echo, [echo_body] * plan)
                        for gateway in running:  # one after the other in the same round: equal terms
                            # bodies made just before each run: each has its own nonce and a Created of now
                            first = next(serials)
                            bodies = [integrate_body(make_ssin(first + i)) for i in range(plan)]
                            integrated = measure(workers, connections, "Integrate", gateway, bodies).requests
                            # wrk asks each thread for one request it never sends: check persons further in
                            people = [make_ssin(first + 10), make_ssin(first + integrated // 2)]
                            if not _check_integrated(gateway.url, people):
                                unchecked.append(f"{workers} worker(s), {connections} conn: {gateway.name}")
                            known = max(1, min(integrated, 1000))
                            bodies = [consult_body(make_ssin(first + i % known)) for i in range(plan)]
                            measure(workers, connections, "Consult", gateway, bodies)

        failed = _summary(results, args.workers, args.connections, [g.name for g in gateways])
        errors = sum(m.errors for measures in results.values() for m in measures)
        if errors:
            print(f"{errors} requests failed: the figures above are not trustworthy")
        if unchecked:
            print(f"The writes of these runs were not found afterwards: {'; '.join(unchecked)}")
            errors += len(unchecked)

        stages: dict[str, float] = {}
        if args.breakdown:
            stages = breakdown(work)
            print("\nIn-process cost of each stage (microseconds, best of 5 runs):")
            for stage, micros in stages.items():
                print(f"  {stage:<52} {micros:8.1f}")

    for schema in schemas:
        drop_schema(args.db, schema)
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"soap-{stamp}.json").write_text(
        json.dumps(
            {
                "load": load,
                "db": "postgres" if args.db else "sqlite",
                "db_dir": str(args.db_dir or tempfile.gettempdir()),
                "baseline": str(args.baseline) if args.baseline else None,
                "duration": args.duration,
                "measures": [
                    {"workers": w, "connections": c, "server": g, "operation": n}
                    | {"runs": [asdict(m) | {"rate": m.rate} for m in measures]}
                    for (w, c, g, n), measures in results.items()
                ],
                "breakdown_us": stages,
            },
            indent=2,
        )
    )
    return 1 if errors else 0 if not failed else 2


def _summary(
    results: dict[tuple[int, int, str, str], list[Measure]],
    worker_counts: Sequence[int],
    connection_counts: Sequence[int],
    names: Sequence[str],
) -> bool:
    """Prints the medians and ratios; whether this checkout's gateway fell below a target."""
    print()
    print("Medians over the rounds; ratio = gateway/echo requests/s in the same round (median of the rounds);")
    print("CPU ratio = echo/gateway server CPU per request, what the ratio would be with nothing else in the way.")
    print(f"{'':<40} {'requests/s':>12} {'ratio':>7} {'target':>7} {'CPU us/req':>11} {'CPU ratio':>10}")
    failed = False
    for workers in worker_counts:
        for connections in connection_counts:
            echo = results[(workers, connections, "echo", "echo")]
            echo_cpu = statistics.median(m.server_cpu_us for m in echo)
            where = f"{workers} worker(s), {connections} conn"
            echo_rate = statistics.median(m.rate for m in echo)
            print(f"{where + ': echo':<40} {echo_rate:12.1f} {'':>7} {'':>7} {echo_cpu:11.0f}")
            for name in names:
                for operation, target in TARGETS.items():
                    measures = results[(workers, connections, name, operation)]
                    ratio = statistics.median(g.rate / e.rate for g, e in zip(measures, echo, strict=True))
                    cpu = statistics.median(m.server_cpu_us for m in measures)
                    below = ratio < target
                    failed |= below and name == "gateway"
                    rate = statistics.median(m.rate for m in measures)
                    print(
                        f"{where + ': ' + name + ' ' + operation:<40} {rate:12.1f} {ratio:7.2f} {target:7.2f}"
                        f" {cpu:11.0f} {echo_cpu / cpu:10.2f}{'  BELOW' if below else ''}"
                    )
    return failed


def _check_integrated(url: str, people: Sequence[str]) -> bool:
    """A sanity check after an Integrate run: its persons are really in the directory. Says what is wrong."""
    from gateway.client import ClientError, RepertoriumClient

    with RepertoriumClient(url, INSTITUTION, SECRET) as client:
        for person in people:
            try:
                found = client.consult(person, start=date(2015, 1, 1)).integrations
            except (ClientError, OSError) as exc:
                print(f"  the check of {person} failed: {exc}")
                return False
            if not found:
                print(f"  {person} was not integrated: the Integrate run did not write")
                return False
    return True


if __name__ == "__main__":
    sys.exit(main())

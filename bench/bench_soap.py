"""Throughput of the SOAP service against a bare spyne echo, same machine, same gunicorn sync workers.

Measures requests/s with wrk (or, when wrk is missing, a Python multi-connection generator) of: the bare spyne
echo (bench/echo_service.py), the gateway's Integrate (a new person per request, so every request writes) and
Consult (persons with an integration), each for ``--duration`` seconds over ``--connections`` connections, and
prints each figure and the ratios gateway/echo (targets: Integrate >= 0.5, Consult >= 0.6). Every gateway
request carries its own WS-Security digest with a fresh nonce, computed before the run. ``--breakdown`` also
times each stage of the hot path in-process (best of several runs) to show what costs what.

    .venv/bin/python bench/bench_soap.py [--duration 10] [--connections 8] [--workers 2] [--rounds 1]
        [--db-dir DIR | --db POSTGRES-URL] [--breakdown]

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


def start_gateway(workers: int, db: str, log: Path) -> Running:
    port = free_port()
    command = [str(BIN / "ksz-gateway"), "serve", "--demo", "--today", "2015-01-10", "--workers", str(workers)]
    command += ["--port", str(port), "--db", db]
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/soap/repertorium"

    def ready() -> bool:
        with urllib.request.urlopen(url + "?wsdl", timeout=2) as answer:
            return bool(answer.status == 200)

    wait_until(ready, process, "the gateway")
    return Running("gateway", url, process)


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
    for body in bodies:
        if time.monotonic() >= deadline:
            break
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request("POST", path, body, {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
            response = connection.getresponse()
            response.read()
            done += 1
            errors += response.status != 200
        except OSError:
            errors += 1
        finally:
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
        def integrate(self, *args: Any) -> OperationResult:
            return OperationResult("T", Summary(Ok.YES, 0), (PersonOutcome(consult_ssin, Status.INTEGRATED, (), ()),))

        def consult(self, *args: Any) -> ConsultResult:
            return ConsultResult("T", Summary(Ok.YES, 0), ())

    canned = CallScope(institution, Canned())  # type: ignore[arg-type]
    figures["spyne dispatch + codec read/write (no use case)"] = best(lambda i: app._dispatcher.dispatch(env, canned))
    envs = iter(
        [parse_envelope(b, {SECURITY}) for b in (integrate_body(make_ssin(next(counter))) for _ in range(1600))]
    )
    scope = CallScope(institution, app._directory)
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


def postgres_schema(url: str) -> str:
    """The URL of a fresh schema of the PostgreSQL database at ``url`` (created by the gateway's upgrade)."""
    from gateway.adapters.storage.postgres import with_schema

    drop_schema(url, BENCH_SCHEMA)
    return with_schema(url, BENCH_SCHEMA)


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# -- main -----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def servers(workers: int, db: str, work: Path) -> Iterator[tuple[Running, Running]]:
    echo = start_echo(workers, work / "echo.log")
    try:
        gateway = start_gateway(workers, db, work / "gateway.log")
        try:
            yield echo, gateway
        finally:
            stop(gateway)
    finally:
        stop(echo)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement (10)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections (8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers of each server (2)")
    parser.add_argument("--rounds", type=int, default=1, help="measure each thing this many times (1)")
    parser.add_argument("--db-dir", type=Path, help="folder of the gateway's SQLite file (a temporary one)")
    parser.add_argument("--db", help="the gateway's database: a postgresql:// URL (default: SQLite in --db-dir)")
    parser.add_argument("--breakdown", action="store_true", help="also time each stage of the hot path")
    args = parser.parse_args(argv)

    use_wrk = shutil.which("wrk") is not None
    if not use_wrk:
        print("wrk is NOT installed (apt-get install -y wrk): using the Python load generator instead;")
        print("its own cost is higher, so absolute figures are lower than wrk's. Ratios stay comparable.")
    print(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}")
    load = "wrk" if use_wrk else "python"

    with tempfile.TemporaryDirectory(dir=args.db_dir) as folder:
        work = Path(folder)
        db = postgres_schema(args.db) if args.db else str(work / "bench.db")
        print(f"gateway database: {db}; {args.workers} workers each; {args.connections} connections; {load}")
        echo_body = echo_module().request_body()
        results: dict[str, list[Measure]] = {"echo": [], "Integrate": [], "Consult": []}
        with servers(args.workers, db, work) as (echo, gateway):
            plan = max(20_000, int(6_000 * args.duration))  # more bodies than any run can send
            serial = 0
            for round_ in range(args.rounds):
                first = serial
                for name in ("echo", "Integrate", "Consult"):
                    # made just before each run: each body has its own nonce and a Created of now
                    if name == "echo":
                        server, url, bodies = echo, echo.url, [echo_body] * plan
                    elif name == "Integrate":
                        server, url = gateway, gateway.url
                        bodies = [integrate_body(make_ssin(first + i)) for i in range(plan)]
                        serial += plan
                    else:
                        done = max(1, min(results["Integrate"][-1].requests, 1000))
                        server, url = gateway, gateway.url
                        bodies = [consult_body(make_ssin(first + i % done)) for i in range(plan)]
                    run = (
                        functools.partial(run_wrk, name, url, bodies, args.duration, args.connections, work)
                        if use_wrk
                        else functools.partial(run_python, name, url, bodies, args.duration, args.connections)
                    )
                    measure = measured(run, server)
                    results[name].append(measure)
                    print(
                        f"round {round_ + 1} {name:<10} {measure.rate:8.1f} requests/s"
                        + f"  server CPU {measure.server_cpu_us:6.0f} us/request  idle {measure.machine_idle:4.0%}"
                        + (f"  p50 {measure.p50_ms:.1f} ms  p99 {measure.p99_ms:.1f} ms" if measure.p50_ms else "")
                        + (f"  ({measure.errors} errors!)" if measure.errors else ""),
                        flush=True,
                    )
                # wrk asks each thread for one request it never sends: check persons further in
                _check_integrated(
                    gateway.url, [make_ssin(first + 10), make_ssin(first + results["Integrate"][-1].requests // 2)]
                )

        figures = {name: statistics.median(m.rate for m in measures) for name, measures in results.items()}
        cpu = {name: statistics.median(m.server_cpu_us for m in measures) for name, measures in results.items()}
        print()
        print("Medians over the rounds; ratio = gateway/echo requests/s in the same round (median of the rounds);")
        print("CPU ratio = echo/gateway server CPU per request, what the ratio would be with nothing else in the way.")
        print(f"{'':<10} {'requests/s':>12} {'ratio':>7} {'target':>7} {'CPU us/req':>11} {'CPU ratio':>10}")
        print(f"{'echo':<10} {figures['echo']:12.1f} {'':>7} {'':>7} {cpu['echo']:11.0f}")
        failed = False
        for name, target in TARGETS.items():
            ratio = statistics.median(g.rate / e.rate for g, e in zip(results[name], results["echo"], strict=True))
            failed |= ratio < target
            print(
                f"{name:<10} {figures[name]:12.1f} {ratio:7.2f} {target:7.2f} {cpu[name]:11.0f} "
                f"{cpu['echo'] / cpu[name]:10.2f}{'' if ratio >= target else '  BELOW'}"
            )
        errors = sum(m.errors for measures in results.values() for m in measures)
        if errors:
            print(f"{errors} requests failed: the figures above are not trustworthy")

        stages: dict[str, float] = {}
        if args.breakdown:
            stages = breakdown(work)
            print("\nIn-process cost of each stage (microseconds, best of 5 runs):")
            for stage, micros in stages.items():
                print(f"  {stage:<52} {micros:8.1f}")

    if args.db:
        drop_schema(args.db, BENCH_SCHEMA)
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"soap-{stamp}.json").write_text(
        json.dumps(
            {
                "load": load,
                "db": "postgres" if args.db else "sqlite",
                "db_dir": str(args.db_dir or tempfile.gettempdir()),
                "workers": args.workers,
                "connections": args.connections,
                "duration": args.duration,
                "measures": {k: [asdict(m) | {"rate": m.rate} for m in v] for k, v in results.items()},
                "breakdown_us": stages,
            },
            indent=2,
        )
    )
    return 1 if errors else 0 if not failed else 2


def _check_integrated(url: str, people: Sequence[str]) -> None:
    """A sanity check after the runs: persons of the Integrate run are really in the directory."""
    from gateway.client import RepertoriumClient

    with RepertoriumClient(url, INSTITUTION, SECRET) as client:
        for person in people:
            found = client.consult(person, start=date(2015, 1, 1)).integrations
            if not found:
                raise SystemExit(f"{person} was not integrated: the Integrate run did not write")


if __name__ == "__main__":
    sys.exit(main())

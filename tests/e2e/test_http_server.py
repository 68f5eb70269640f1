"""The HTTP server under ``ksz-gateway serve``, over real sockets on loopback: it answers ``Expect: 100-continue``
at once, keeps connections alive (and closes idle ones), holds no thread for a client that sends nothing, cuts
off a client that stalls in its head or body without delaying anyone else (one worker and two), answers framing
mistakes with a 4xx at once, stays within 256 open files over 2,000 requests, and believes X-Forwarded-Proto only
from the addresses given with ``--forwarded-allow-ips``.

Time bounds here are generous on purpose (the machine may be busy): they separate "at once" from "after a
timeout", not fast from slow.
"""

from __future__ import annotations

import http.client
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from gateway.entrypoints.cli import build_parser

REQUEST_TIMEOUT = 2  # seconds, for the servers started here
KEEP_ALIVE = 2
THREADS = 4
QUICK = ("--request-timeout", str(REQUEST_TIMEOUT), "--keep-alive", str(KEEP_ALIVE), "--threads", str(THREADS))
AT_ONCE = 2.0  # "answered at once" on a busy machine
CUT_OFF = REQUEST_TIMEOUT + 5.0  # "cut off by the timeout", with room for a busy machine
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"


@pytest.fixture(scope="module")
def quick(launch: Callable[..., Any]) -> Any:
    """One worker of four threads, a 2 s request timeout and a 2 s keep-alive."""
    return launch(*QUICK)


@pytest.fixture(scope="module")
def quick_two_workers(launch: Callable[..., Any]) -> Any:
    return launch(*QUICK, workers=2)


# -- helpers ----------------------------------------------------------------------------------------------


def workers_of(server: Any, expected: int = 1) -> list[int]:
    deadline = time.monotonic() + 30
    while True:
        found = [
            int(child)
            for task in Path(f"/proc/{server.process.pid}/task").iterdir()
            for child in (task / "children").read_text().split()
        ]
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def threads_of(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


def head(server: Any, *fields: str, length: int | None = None) -> bytes:
    lines = [
        "POST /soap/repertorium HTTP/1.1",
        f"Host: {server.host}:{server.port}",
        "Content-Type: text/xml; charset=utf-8",
        'SOAPAction: ""',
        *([] if length is None else [f"Content-Length: {length}"]),
        *fields,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@contextmanager
def connected(server: Any, timeout: float = 15) -> Iterator[socket.socket]:
    sock = socket.create_connection((server.host, server.port), timeout=timeout)
    try:
        yield sock
    finally:
        sock.close()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float  # from the call of ``answer`` to the whole answer read


def answer(sock: socket.socket, method: str = "POST") -> Answer:
    """The next answer on ``sock`` (after any 100 Continue), read whole."""
    started = time.monotonic()
    response = http.client.HTTPResponse(sock, method=method)
    try:
        response.begin()
        body = response.read()
    finally:
        response.close()
    headers = {k.lower(): v for k, v in response.getheaders()}
    return Answer(response.status, headers, body, time.monotonic() - started)


def answers(sock: socket.socket, count: int) -> list[Answer]:
    """``count`` answers following each other on ``sock``, read through one buffer (http.client's responses each
    buffer on their own, and the first would swallow the next ones)."""
    found = []
    with sock.makefile("rb") as stream:
        for _ in range(count):
            started = time.monotonic()
            status = int(stream.readline().split()[1])
            headers = {}
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = stream.read(int(headers.get("content-length", "0")))
            found.append(Answer(status, headers, body, time.monotonic() - started))
    return found


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed the connection (read until it does, within the socket's timeout)."""
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def consult(server: Any, soap: Any) -> tuple[int, bytes, float]:
    """A signed Consult on a connection of its own: status, body and seconds taken."""
    data = soap.envelope(soap.consult(soap.new_ssin(), "2015-01-01"))
    started = time.monotonic()
    status, _, body = soap.http_post(server, data, {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
    return status, body, time.monotonic() - started


def assert_served_at_once(server: Any, soap: Any) -> None:
    status, body, took = consult(server, soap)
    assert status == 200 and b"ConsultResponse" in body, body[:300]
    assert took < AT_ONCE, f"a normal request took {took:.2f} s"


def stalled_body(server: Any, *, expect: bool = False) -> socket.socket:
    """A client that sends its head and 100 of the 1000 body bytes it announced, then nothing; or, ``expect``ing
    100-continue, its head only."""
    sock = socket.create_connection((server.host, server.port), timeout=CUT_OFF + 10)
    if expect:
        sock.sendall(head(server, "Expect: 100-continue", length=1000))
    else:
        sock.sendall(head(server, length=1000) + b"<" * 100)
    return sock


# -- Expect: 100-continue --------------------------------------------------------------------------------


def test_expect_100_continue_is_answered_at_once_then_the_request(quick: Any, soap: Any) -> None:
    data = soap.envelope(soap.consult(soap.new_ssin(), "2015-01-01"))
    with connected(quick) as sock:
        started = time.monotonic()
        sock.sendall(head(quick, "Expect: 100-continue", length=len(data)))
        interim = b""
        while b"\r\n\r\n" not in interim:
            chunk = sock.recv(1024)
            assert chunk, "the server closed instead of answering 100 Continue"
            interim += chunk
        waited = time.monotonic() - started
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        assert waited < 0.5, f"100 Continue came after {waited:.3f} s"
        sock.sendall(data)
        final = answer(sock)
    assert final.status == 200 and b"ConsultResponse" in final.body


def test_expect_100_continue_for_a_body_over_the_limit_is_refused_without_the_100(quick: Any) -> None:
    with connected(quick) as sock:
        sock.sendall(head(quick, "Expect: 100-continue", length=5 * 1024 * 1024))
        assert sock.recv(12) == b"HTTP/1.1 413"  # no 100 first: the client keeps its 5 MiB


def test_curl_sending_a_signed_request_over_1_kib_gets_its_answer_without_the_expect_delay(
    quick: Any, soap: Any, tmp_path: Path
) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    data = soap.envelope(soap.consult(soap.new_ssin(), "2015-01-01", reference=f"curl-{secrets.token_hex(16)}"))
    assert len(data) > 1024  # curl sends Expect: 100-continue by itself above 1 KiB, and waits 1 s for the 100
    request = tmp_path / "request.xml"
    request.write_bytes(data)
    headers = ["Content-Type: text/xml; charset=utf-8", 'SOAPAction: ""', "Expect: 100-continue"]
    done = subprocess.run(
        [curl, "-sS", "-o", str(tmp_path / "answer.xml"), "-w", "%{http_code} %{time_total}"]
        + [f"-H{field}" for field in headers]
        + ["--data-binary", f"@{request}", quick.endpoint],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    code, seconds = done.stdout.split()
    assert code == "200" and b"ConsultResponse" in (tmp_path / "answer.xml").read_bytes()
    assert float(seconds) < 0.9, f"curl took {seconds} s: it waited for a 100 Continue that never came"


# -- keep-alive -----------------------------------------------------------------------------------------


def test_two_requests_travel_on_one_connection(quick: Any, soap: Any) -> None:
    connection = http.client.HTTPConnection(quick.host, quick.port, timeout=15)
    try:
        connection.request("GET", "/soap/repertorium?wsdl")
        first = connection.getresponse()
        first.read()
        sock = connection.sock
        assert first.status == 200 and first.getheader("Connection") == "keep-alive" and not first.will_close
        data = soap.envelope(soap.consult(soap.new_ssin(), "2015-01-01"))
        connection.request("POST", "/soap/repertorium", data, {"Content-Type": "text/xml; charset=utf-8"})
        second = connection.getresponse()
        body = second.read()
        assert connection.sock is sock, "the second request needed a new connection"
        assert second.status == 200 and b"ConsultResponse" in body
    finally:
        connection.close()


def test_an_idle_kept_alive_connection_is_closed_after_the_keep_alive_time(quick: Any) -> None:
    with connected(quick, timeout=KEEP_ALIVE + 10) as sock:
        sock.sendall(f"GET /soap/repertorium?wsdl HTTP/1.1\r\nHost: {quick.host}\r\n\r\n".encode())
        first = answer(sock, "GET")
        assert first.status == 200 and first.headers["connection"] == "keep-alive"
        started = time.monotonic()
        assert closed_by_server(sock)
        assert time.monotonic() - started < KEEP_ALIVE + 5


# -- bounded threads -------------------------------------------------------------------------------------


def test_many_idle_connections_hold_no_thread_and_are_closed(quick: Any, soap: Any) -> None:
    [worker] = workers_of(quick)
    before = threads_of(worker)  # the main loop, the database driver's own, some of the pool's
    idle = [socket.create_connection((quick.host, quick.port), timeout=KEEP_ALIVE + 10) for _ in range(120)]
    try:
        time.sleep(0.5)
        assert threads_of(worker) <= before + THREADS  # at most the rest of the pool: nothing per connection
        assert_served_at_once(quick, soap)
        started = time.monotonic()
        assert all(closed_by_server(sock) for sock in idle)
        assert time.monotonic() - started < KEEP_ALIVE + 5
    finally:
        for sock in idle:
            sock.close()
    assert threads_of(worker) <= before + THREADS


# -- stalled clients --------------------------------------------------------------------------------------


def test_two_stalled_bodies_delay_nobody_and_are_answered_408(quick: Any, soap: Any) -> None:
    stalled = [stalled_body(quick) for _ in range(2)]
    try:
        started = time.monotonic()
        time.sleep(0.2)  # both are being read by now
        for _ in range(3):
            assert_served_at_once(quick, soap)
        for sock in stalled:
            refused = answer(sock)
            assert refused.status == 408 and refused.headers["connection"] == "close"
            assert closed_by_server(sock)
        assert time.monotonic() - started < CUT_OFF
    finally:
        for sock in stalled:
            sock.close()


def test_two_stalled_bodies_delay_nobody_with_two_workers(quick_two_workers: Any, soap: Any) -> None:
    assert len(workers_of(quick_two_workers, 2)) == 2
    stalled = [stalled_body(quick_two_workers) for _ in range(2)]
    try:
        started = time.monotonic()
        time.sleep(0.2)
        for _ in range(6):  # new connections, taken by either worker
            assert_served_at_once(quick_two_workers, soap)
        assert [answer(sock).status for sock in stalled] == [408, 408]
        assert time.monotonic() - started < CUT_OFF
    finally:
        for sock in stalled:
            sock.close()


def test_more_stalled_clients_than_threads_delay_nobody(quick: Any, soap: Any) -> None:
    [worker] = workers_of(quick)
    before = threads_of(worker)
    bodies = [stalled_body(quick, expect=n % 2 == 0) for n in range(3 * THREADS)]
    heads = [socket.create_connection((quick.host, quick.port), timeout=CUT_OFF + 10) for _ in range(3 * THREADS)]
    try:
        for sock in heads:
            sock.sendall(f"POST /soap/repertorium HTTP/1.1\r\nHost: {quick.host}\r\n".encode())
        started = time.monotonic()
        time.sleep(0.3)
        for _ in range(3):
            assert_served_at_once(quick, soap)
        assert threads_of(worker) <= before + THREADS
        assert [answer(sock).status for sock in bodies] == [408] * len(bodies)
        assert all(sock.recv(65536) == b"" for sock in heads)
        assert time.monotonic() - started < CUT_OFF
    finally:
        for sock in bodies + heads:
            sock.close()


def test_a_client_stalling_in_its_head_is_disconnected(quick: Any, soap: Any) -> None:
    with connected(quick, timeout=CUT_OFF + 10) as sock:
        sock.sendall(f"POST /soap/repertorium HTTP/1.1\r\nHost: {quick.host}\r\nContent-Ty".encode())
        started = time.monotonic()
        time.sleep(0.2)
        assert_served_at_once(quick, soap)
        assert sock.recv(65536) == b""  # closed without an answer: no request ever arrived
        assert time.monotonic() - started < CUT_OFF


def test_a_slow_body_that_arrives_in_time_is_answered(quick: Any, soap: Any) -> None:
    data = soap.envelope(soap.consult(soap.new_ssin(), "2015-01-01"))
    with connected(quick) as sock:
        sock.sendall(head(quick, length=len(data)))
        for start in range(0, len(data), len(data) // 4 + 1):
            time.sleep(REQUEST_TIMEOUT / 8)
            sock.sendall(data[start : start + len(data) // 4 + 1])
        final = answer(sock)
    assert final.status == 200 and b"ConsultResponse" in final.body


def test_pipelined_requests_on_one_connection_are_all_answered(quick: Any, soap: Any) -> None:
    data = [soap.envelope(soap.consult(soap.new_ssin(), "2015-01-01")) for _ in range(3)]
    with connected(quick) as sock:
        sock.sendall(b"".join(head(quick, length=len(one)) + one for one in data))
        got = answers(sock, len(data))
    assert [a.status for a in got] == [200, 200, 200]
    assert all(b"ConsultResponse" in a.body for a in got)


def test_a_large_body_arriving_normally_is_answered(quick: Any, soap: Any) -> None:
    data = soap.envelope(soap.consult(soap.new_ssin(), "2015-01-01")) + b"<!--" + b"x" * 300_000 + b"-->"
    status, _, body = soap.http_post(quick, data, {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
    assert status == 200 and b"ConsultResponse" in body


# -- framing ---------------------------------------------------------------------------------------------


def _framing_answer(server: Any, request: bytes, *, half_close: bool = False) -> Answer:
    with connected(server) as sock:
        sock.sendall(request)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        got = answer(sock)
        assert got.headers.get("connection") == "close"
        assert closed_by_server(sock)
        return got


@pytest.mark.parametrize(
    ("fields", "body", "status"),
    [
        ([], b"<x/>" * 10, 411),  # a body without a length
        (["Content-Length: abc"], b"<x/>", 400),
        (["Content-Length: -5"], b"<x/>", 400),
        (["Content-Length: 4", "Content-Length: 4"], b"<x/>", 400),
        (["Content-Length: 4", "Transfer-Encoding: chunked"], b"<x/>", 400),
        (["Content-Length: 1000000000000"], b"<x/>", 413),
    ],
    ids=["missing", "not-a-number", "negative", "duplicated", "with-chunked", "too-big"],
)
def test_a_content_length_problem_is_answered_at_once(quick: Any, fields: list[str], body: bytes, status: int) -> None:
    got = _framing_answer(quick, head(quick, *fields) + body)
    assert got.status == status, got.body[:300]
    assert got.seconds < AT_ONCE
    if status == 413:
        assert b"MESSAGE_TOO_LARGE" in got.body  # the SOAP fault of the contract


def test_a_malformed_chunk_size_is_answered_400_at_once(quick: Any) -> None:
    got = _framing_answer(quick, head(quick, "Transfer-Encoding: chunked") + b"zz\r\n<x/>\r\n0\r\n\r\n")
    assert got.status == 400 and got.seconds < AT_ONCE


def test_a_chunked_body_ending_early_is_answered_400(quick: Any) -> None:
    request = head(quick, "Transfer-Encoding: chunked") + b"100\r\n" + b"<" * 10
    got = _framing_answer(quick, request, half_close=True)
    assert got.status == 400 and b"last chunk" in got.body and got.seconds < AT_ONCE


def test_a_body_shorter_than_its_length_is_answered_400(quick: Any) -> None:
    got = _framing_answer(quick, head(quick, length=1000) + b"<" * 10, half_close=True)
    assert got.status == 400 and b"10 of 1000" in got.body and got.seconds < AT_ONCE


# -- open files ------------------------------------------------------------------------------------------


def test_2000_requests_within_256_open_files_all_succeed(launch: Callable[..., Any], soap: Any) -> None:
    server = launch(open_files=256)
    [worker] = workers_of(server)

    def client(requests: int) -> list[int]:
        return [consult(server, soap)[0] for _ in range(requests)]

    with ThreadPoolExecutor(8) as pool:
        statuses = [status for batch in pool.map(client, [250] * 8) for status in batch]
    assert len(statuses) == 2000 and set(statuses) == {200}
    opened = len(os.listdir(f"/proc/{worker}/fd"))
    assert opened <= 64 + 5 * 8, f"the worker holds {opened} descriptors after 2,000 requests"
    assert server.process.poll() is None and workers_of(server) == [worker]


# -- forwarded headers -----------------------------------------------------------------------------------


def _advertised(server: Any, **headers: str) -> str:
    request = urllib.request.Request(server.endpoint + "?wsdl", headers=headers)
    with urllib.request.urlopen(request, timeout=15) as got:
        wsdl = etree.fromstring(got.read())
    return str(wsdl.find(f".//{{{WSDL_SOAP}}}address").get("location"))


def test_x_forwarded_proto_counts_only_from_the_trusted_proxies(launch: Callable[..., Any], gateway: Any) -> None:
    trusted = launch("--forwarded-allow-ips", "127.0.0.1,10.0.0.0/8")
    assert _advertised(trusted, **{"X-Forwarded-Proto": "https"}).startswith("https://")
    assert _advertised(trusted).startswith("http://")
    # The default trusts nobody, loopback included.
    assert _advertised(gateway, **{"X-Forwarded-Proto": "https"}).startswith("http://")


def test_forwarded_allow_ips_takes_addresses_and_networks_only(capsys: pytest.CaptureFixture[str]) -> None:
    parse = build_parser().parse_args
    assert parse(["serve"]).forwarded_allow_ips == ()
    assert parse(["serve", "--forwarded-allow-ips", "10.0.0.0/8, ::1"]).forwarded_allow_ips == ("10.0.0.0/8", "::1")
    for wrong in ("proxy.example.org", "10.0.0.1/8"):
        with pytest.raises(SystemExit):
            parse(["serve", "--forwarded-allow-ips", wrong])
        assert "--forwarded-allow-ips" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [["--threads", "0"], ["--worker-connections", "0"], ["--keep-alive", "0"], ["--request-timeout", "0"]],
)
def test_the_serving_bounds_must_be_positive(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", *argv])
    assert argv[0] in capsys.readouterr().err

"""How many times a request waits on PostgreSQL: round trips per request for each operation of both fronts,
counted on the wire between the gateway and a real PostgreSQL.

A round trip is one exchange the client must wait for: a simple-protocol ``Query`` message, or an extended-protocol
batch ending in ``Sync`` (Parse/Bind/Execute ... Sync). A loopback relay between the store and the server reads
the frontend's messages as they pass and counts those two kinds; nothing is changed or answered by it. ``BEGIN``
and ``COMMIT`` are round trips like any statement.

The target of the performance work is at most 2 a request (its statements plus the commit). The storage does
not meet it yet: ``CURRENT`` records today's counts as upper bounds, so that a change making any operation wait
more often fails here (lower them when a change brings them down; docs/performance.md tells where they go).
"""

from __future__ import annotations

import contextlib
import socket
import statistics
import sys
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import messages  # noqa: E402

pytestmark = pytest.mark.postgres

TARGET = 2
# Round trips per request measured on this code, the median of 20 requests once warm (pool open, institution
# known): a connection of the pool still preparing a statement (psycopg prepares it on its 5th use) adds one
# now and then.
CURRENT = {
    "Integrate": 9,
    "Consult": 5,
    "CheckAccess": 7,
    "SendFlow": 7,
    "Desintegrate": 9,
    "REGISTER": 9,
    "LIST": 5,
}
_SSL_REQUEST, _GSS_REQUEST = 80877103, 80877104


class CountingRelay:
    """A TCP relay to PostgreSQL on loopback that counts the round trips the clients start."""

    def __init__(self, host: str, port: int) -> None:
        self._upstream = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self.round_trips = 0
        self.statements: list[str] = []  # the text of each query sent (Query, or Parse when not prepared yet)
        self._sockets: list[socket.socket] = [self._listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._upstream)
            self._sockets += [client, server]
            threading.Thread(target=self._frontend, args=(client, server), daemon=True).start()
            threading.Thread(target=self._backend, args=(server, client), daemon=True).start()

    def _frontend(self, source: socket.socket, target: socket.socket) -> None:
        buffer, started = b"", False
        while data := _recv(source):
            target.sendall(data)
            buffer += data
            while True:
                if not started:  # the startup packet (or an SSL/GSS request before it) has no type byte
                    if len(buffer) < 8 or len(buffer) < int.from_bytes(buffer[:4], "big"):
                        break
                    length, code = int.from_bytes(buffer[:4], "big"), int.from_bytes(buffer[4:8], "big")
                    buffer, started = buffer[length:], code not in (_SSL_REQUEST, _GSS_REQUEST)
                    continue
                if len(buffer) < 5 or len(buffer) < 1 + int.from_bytes(buffer[1:5], "big"):
                    break
                kind, length = buffer[:1], int.from_bytes(buffer[1:5], "big")
                message, buffer = buffer[5 : 1 + length], buffer[1 + length :]
                with self._lock:
                    self.round_trips += kind in (b"Q", b"S")
                    if kind == b"Q":
                        self.statements.append(message.split(b"\0")[0].decode(errors="replace"))
                    elif kind == b"P":
                        self.statements.append(message.split(b"\0")[1].decode(errors="replace"))
                    elif kind == b"S":
                        self.statements.append("-- sync")
        _close(target)

    def _backend(self, source: socket.socket, target: socket.socket) -> None:
        while data := _recv(source):
            target.sendall(data)
        _close(target)

    def close(self) -> None:
        for one in self._sockets:
            _close(one)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture
def relayed(postgres_url: str) -> Iterator[tuple[str, CountingRelay]]:
    """The session's PostgreSQL schema reached through a counting relay (plain TCP: the relay reads the
    messages)."""
    parts = urlsplit(postgres_url)
    relay = CountingRelay(parts.hostname or "127.0.0.1", parts.port or 5432)
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0] + "@" if len(netloc) == 2 else ""
    query = "&".join(filter(None, [parts.query, "sslmode=disable", "gssencmode=disable"]))
    yield urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{relay.port}", query=query)), relay
    relay.close()


def test_every_operation_waits_on_postgresql_no_more_often_than_it_does_today(
    relayed: tuple[str, CountingRelay], postgres_store: object
) -> None:
    from bench_soap import wsgi_call

    from gateway.adapters.storage.postgres import PostgresStore
    from gateway.app.demo import ensure_demo
    from gateway.entrypoints.compose import make_app
    from gateway.entrypoints.settings import Settings

    url, relay = relayed
    store = PostgresStore(url)
    try:
        store.upgrade()
        ensure_demo(store)
        app = make_app(Settings(today=date(2015, 1, 10)), store)
        serials = iter(range(10_000))
        written: dict[str, list[str]] = {}
        counted: dict[str, int] = {}
        seen: dict[str, list[str]] = {}
        for operation in messages.OPERATIONS:
            if operation.after is None:
                persons = [messages.make_ssin(next(serials)) for _ in range(40)]
                written[operation.name] = persons
            else:
                persons = written[operation.after]
            trips = []
            for i, ssin in enumerate(persons):  # the first ones warm up: pool, prepared statements, caches
                before, said = relay.round_trips, len(relay.statements)
                status, answer = wsgi_call(app, operation.body(ssin), operation.path, operation.action)
                assert status.startswith("200"), answer[:600]
                assert b"Fault>" not in answer and b'ok="NO"' not in answer, answer[:600]
                if i >= 20:
                    trips.append(relay.round_trips - before)
                    seen[operation.name] = relay.statements[said:]
            counted[operation.name] = statistics.median_low(trips)
    finally:
        store.close()
    print("\nPostgreSQL round trips per request:", counted, f"(target <= {TARGET})")
    for name, said in seen.items():
        print(f"{name}:", " | ".join(" ".join(s.split())[:90] for s in said if s != "-- sync"))
    assert all(counted[name] > 0 for name in CURRENT), counted  # the relay did see the store's traffic
    grown = {name: (counted[name], CURRENT[name], seen[name]) for name in CURRENT if counted[name] > CURRENT[name]}
    assert not grown, f"more round trips a request than before (now, before, what was sent): {grown}"

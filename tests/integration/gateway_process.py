"""``ksz-gateway serve --demo`` as a test starts it (``serve``, ``stop``), a Consult signed by hand (``consult``),
and a database that goes away and comes back without touching the real one: a TCP forwarder of the test's own
between the gateway and PostgreSQL.

``Forwarder.cut()`` closes the listening socket and every connection it carries (the gateway sees its database
close them, then refuse new ones); ``restore()`` listens again on the same loopback port.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree

__all__ = ["Answer", "Forwarder", "Served", "consult", "free_port", "ksz_gateway", "serve", "stop"]

ROOT = Path(__file__).resolve().parents[2]
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
REP = "urn:ksz-gateway:repertorium:v1"
GW = "urn:ksz-gateway:fault:v1"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"


def ksz_gateway() -> str:
    script = Path(sys.executable).with_name("ksz-gateway")
    return str(script if script.exists() else ROOT / ".venv" / "bin" / "ksz-gateway")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Forwarder:
    """Forwards connections on a loopback port to ``target``, one pair of threads per connection."""

    def __init__(self, target: tuple[str, int], port: int | None = None) -> None:
        self.target = target
        self.port = port or free_port()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    start = restore

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            carried, self._open = self._open, set()
        if listener is not None:
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
            listener.close()
        for sock in carried:
            _close(sock)

    stop = cut

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    _close(client)
                    _close(upstream)
                    return
                self._open |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open -= {source, sink}
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@dataclass
class Served:
    """A ``ksz-gateway serve`` started by a test: its port, process and what it wrote."""

    port: int
    process: subprocess.Popen[bytes]
    output: Path

    def log(self) -> str:
        return self.output.read_text(errors="replace")


def serve(db: str, folder: Path, *options: str, wait: bool = True) -> Served:
    """``ksz-gateway serve --demo`` on ``db`` on a free loopback port; once it answers, unless not ``wait``."""
    port = free_port()
    command = [ksz_gateway(), "serve", "--demo", "--today", "2015-01-10", "--port", str(port), "--db", db, *options]
    output = folder / f"serve-{port}.log"
    with output.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    served = Served(port, process, output)
    if wait:
        answering(served, 60)
    return served


def answering(served: Served, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise RuntimeError(f"the gateway exited with {served.process.returncode}:\n{served.log()}")
        connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=5)
        try:
            connection.request("GET", "/soap/repertorium?wsdl")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
        finally:
            connection.close()
    stop(served)
    raise RuntimeError(f"the gateway did not answer within {seconds:g} s:\n{served.log()}")


def stop(served: Served) -> None:
    served.process.terminate()
    try:
        served.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait(timeout=10)


@dataclass(frozen=True)
class Answer:
    status: int
    faultcode: str | None  # None: not a fault
    faultstring: str | None
    reason: str | None
    seconds: float
    body: bytes


def consult(port: int, institution: str, secret: str, ssin: str = "85073003328", *, timeout: float = 10) -> Answer:
    """A Consult signed by ``institution`` with ``secret``; ``timeout`` guards against a hang, nothing else."""
    nonce = os.urandom(16)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + secret.encode()).digest()).decode()
    data = (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:rep="{REP}"><soapenv:Header>'
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}" soapenv:mustUnderstand="1"><wsse:UsernameToken>'
        f'<wsse:Username>{institution}</wsse:Username><wsse:Password Type="{DIGEST}">{digest}</wsse:Password>'
        f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce><wsu:Created>{created}</wsu:Created>"
        "</wsse:UsernameToken></wsse:Security></soapenv:Header><soapenv:Body><rep:ConsultRequest>"
        f"<rep:SSIN>{ssin}</rep:SSIN><rep:Period><rep:StartDate>2015-01-01</rep:StartDate></rep:Period>"
        "</rep:ConsultRequest></soapenv:Body></soapenv:Envelope>"
    ).encode()
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", "/soap/repertorium", body=data, headers={"Content-Type": "text/xml; charset=utf-8"})
        response = connection.getresponse()
        status, body = response.status, response.read()
    finally:
        connection.close()
    seconds = time.monotonic() - started
    fault = etree.fromstring(body).find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    if fault is None:
        return Answer(status, None, None, None, seconds, body)
    reason = fault.find(f".//{{{GW}}}ReasonCode")
    return Answer(
        status,
        str(fault.findtext("faultcode")).strip(),
        fault.findtext("faultstring"),
        None if reason is None else reason.text,
        seconds,
        body,
    )

"""A recording proxy: every SOAP exchange between clients and a gateway becomes a sample pair and a manifest entry.

Invariant: the proxy forwards each request to the target unchanged (method, body, end-to-end headers, the client's
Host) and returns the target's answer unchanged (status, body, end-to-end headers); it saves each POST exchange as
``NAME.request.xml`` (without ``wsse:Security``: the replayer signs again) and ``NAME.response.xml`` (as received),
and appends its entry to ``manifest.json`` under one lock, so concurrent clients get distinct names and no entry is
lost. Nothing is saved for a request the target never answered (the client then gets ``502 Bad Gateway``).
"""

from __future__ import annotations

import http.client
import ipaddress
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from lxml import etree

from gateway.contract import safexml
from gateway.contract.names import SOAP_ENV, TNS, WSSE, qname
from gateway.tools.samples import (
    Manifest,
    ManifestError,
    Sample,
    Signing,
    load_manifest,
    request_path,
    response_path,
    soap_action,
    strip_security,
    write_manifest,
)

__all__ = ["REFUSED_SECRET", "Recorder", "RecordingProxy", "is_loopback", "parse_listen"]

# The secret a replay signs with where the recorded exchange failed authentication: never a real secret.
REFUSED_SECRET = "(recorded: the gateway refused this token)"

# Hop-by-hop headers (RFC 9110 section 7.6.1) belong to one connection and are not forwarded.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


def _is_default_content_type(value: str) -> bool:
    """``text/xml``, with no charset or UTF-8: what the replayer sends anyway."""
    media, _, parameters = value.partition(";")
    if media.strip().lower() != "text/xml":
        return False
    for parameter in parameters.split(";"):
        name, _, given = parameter.partition("=")
        if name.strip().lower() == "charset" and given.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False
    return True


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as a (host, port) pair; ``ValueError`` when it is not one."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r} is not HOST:PORT")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _operation_name(request: bytes) -> str:
    action = soap_action(request)
    if action:
        operation = action.rsplit("/", 1)[-1]
        return "".join(f"-{c.lower()}" if c.isupper() else c for c in operation).lstrip("-")
    return "exchange"


def _fault_code(response: bytes) -> tuple[str | None, str] | None:
    """The fault code of a fault answer as (namespace, local name); None for any other answer."""
    try:
        root = safexml.fromstring(response)
    except etree.XMLSyntaxError:
        return None
    code = root.find(f"{qname(SOAP_ENV, 'Body')}/{qname(SOAP_ENV, 'Fault')}/faultcode")
    if code is None:
        return None
    prefix, _, local = (code.text or "").strip().rpartition(":")
    return code.nsmap.get(prefix or None), local


def _signing(username: str | None, response: bytes) -> Signing | None:
    """How the replay signs: as the recorded Username; with a secret that cannot be right when the gateway refused
    the recorded token (the client's secret is not on the wire); not at all when the header itself was refused."""
    fault = _fault_code(response)
    if fault == (WSSE, "InvalidSecurity") or username is None:
        return None
    if fault == (WSSE, "FailedAuthentication"):
        return Signing(username, REFUSED_SECRET)
    return Signing(username)


def _describe(request: bytes, response: bytes, status: int) -> str:
    operation = soap_action(request).rsplit("/", 1)[-1] or "A request the gateway could not read"
    try:
        root = safexml.fromstring(response)
    except etree.XMLSyntaxError:
        return f"{operation}: recorded; HTTP {status}, an answer that is not XML."
    fault = root.find(f"{qname(SOAP_ENV, 'Body')}/{qname(SOAP_ENV, 'Fault')}")
    if fault is not None:
        return f"{operation}: recorded; a {(fault.findtext('faultcode') or '?').strip()} fault (HTTP {status})."
    summary = root.find(f".//{qname(TNS, 'ResultSummary')}")
    ok = summary.get("ok") if summary is not None else None
    return f"{operation}: recorded; ok={ok or '?'} (HTTP {status})."


class Recorder:
    """Saves exchanges into a sample folder, appending to (or starting) its manifest. Safe across threads."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        try:
            self._manifest = load_manifest(folder)
        except ManifestError:
            if (folder / "manifest.json").exists():
                raise
            self._manifest = Manifest(None, (), {}, "Exchanges recorded by ksz-gateway record, in the order answered.")
            write_manifest(folder, self._manifest)
        self._lock = threading.Lock()

    @property
    def manifest(self) -> Manifest:
        with self._lock:
            return self._manifest

    def save(
        self, request: bytes, action: str | None, content_type: str | None, status: int, response: bytes
    ) -> Sample:
        """Save one exchange as the next sample; ``action`` and ``content_type`` as the client sent them."""
        stripped, username = strip_security(request)
        sent_action = None if action is None else action.strip().strip('"')
        if sent_action == soap_action(stripped):
            sent_action = None
        sent_type = content_type.strip() if content_type else None
        if sent_type is not None and _is_default_content_type(sent_type):
            sent_type = None
        with self._lock:
            samples = self._manifest.samples
            taken = {s.name for s in samples}
            number = len(samples) + 1
            name = f"{number:04d}-{_operation_name(stripped)}"
            while name in taken or request_path(self.folder, name).exists():
                number += 1
                name = f"{number:04d}-{_operation_name(stripped)}"
            sample = Sample(
                name=name,
                sign=_signing(username, response),
                day=None,  # the gateway's day is not on the wire
                shows=_describe(stripped, response, status),
                depends_on=(samples[-1].name,) if samples else (),
                http_status=status,
                action=sent_action,
                content_type=sent_type,
            )
            request_path(self.folder, name).write_bytes(stripped)
            response_path(self.folder, name).write_bytes(response)
            self._manifest = Manifest(
                self._manifest.day, (*samples, sample), self._manifest.identities, self._manifest.about
            )
            write_manifest(self.folder, self._manifest)
            return sample


@dataclass(frozen=True, slots=True)
class _Target:
    scheme: str
    host: str
    port: int | None
    path: str

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        return kind(self.host, self.port, timeout=timeout)


def _target(url: str) -> _Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http:// or https:// URL")
    return _Target(parts.scheme, parts.hostname, parts.port, parts.path or "/")


class RecordingProxy:
    """A threaded HTTP server on ``listen`` that forwards to ``url`` and records through ``recorder``."""

    def __init__(
        self,
        url: str,
        recorder: Recorder,
        listen: tuple[str, int] = ("127.0.0.1", 0),
        *,
        timeout: float = 60.0,
        log: TextIO | None = None,
        on_saved: Callable[[Sample], None] | None = None,
    ) -> None:
        target = _target(url)
        handler = _handler(target, recorder, timeout, log if log is not None else sys.stderr, on_saved)
        self._server = ThreadingHTTPServer(listen, handler)
        self._server.daemon_threads = True

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        """Stop ``serve_forever`` (from another thread)."""
        self._server.shutdown()

    def close(self) -> None:
        self._server.server_close()


def _handler(
    target: _Target,
    recorder: Recorder,
    timeout: float,
    log: TextIO,
    on_saved: Callable[[Sample], None] | None,
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "ksz-gateway-record"

        def log_message(self, format: str, *args: object) -> None:
            log.write(f"{self.address_string()} {format % args}\n")
            log.flush()

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass  # each saved exchange is reported through on_saved; errors through log_message

        def _body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline().strip():  # trailers, up to the empty line
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length > 0 else b""

        def _forward(self) -> None:
            try:
                body = self._body()
            except ValueError:
                self.send_error(400, "Unreadable request body")
                return
            query = self.path.partition("?")[2]
            path = target.path + (f"?{query}" if query else "")
            connection = target.connection(timeout)
            try:
                connection.putrequest(self.command, path, skip_host=True, skip_accept_encoding=True)
                for key, value in self.headers.items():
                    if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                        connection.putheader(key, value)
                if "Host" not in self.headers:
                    connection.putheader("Host", f"{target.host}:{target.port}" if target.port else target.host)
                if body or self.command in ("POST", "PUT"):
                    connection.putheader("Content-Length", str(len(body)))
                connection.endheaders(body or None)
                answer = connection.getresponse()
                data = answer.read()
                headers = answer.getheaders()
                status, reason = answer.status, answer.reason
            except (OSError, http.client.HTTPException) as exc:
                self.log_message("cannot reach %s: %s", target.host, exc)
                self.send_error(502, "The gateway behind this recording proxy did not answer")
                return
            finally:
                connection.close()
            self.send_response_only(status, reason)
            for key, value in headers:
                if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            if self.command == "POST":
                try:
                    sample = recorder.save(
                        body, self.headers.get("SOAPAction"), self.headers.get("Content-Type"), status, data
                    )
                except OSError as exc:
                    self.log_message("could not save the exchange: %s", exc)
                    return
                if on_saved is not None:
                    on_saved(sample)

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = _forward

    return Handler

"""The provider adapter (gateway.adapters.provider) against real sockets on loopback: every way a provider can fail
becomes one ProviderError that says what happened, from the one table of translations, and that table is complete."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from gateway.adapters.provider import FAILURES, SoapProvider, translate
from gateway.contract.names import SOAP_ENV
from gateway.domain.access import Flow
from gateway.errors import ProviderError
from gateway.tools.demo_provider import DemoProvider

PAYLOAD = b'<f:FormB xmlns:f="urn:example:forms"><f:Case>42</f:Case></f:FormB>'

# Where an exception a request may raise is defined: the standard library's network modules.
REQUEST_MODULES = {"builtins", "socket", "ssl", "urllib.error", "http.client"}
# OSError's subclasses about files and processes: a request over a socket never raises them.
NOT_ON_A_REQUEST = {
    ChildProcessError,
    FileExistsError,
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    ProcessLookupError,
}


def subclasses(root: type[BaseException]) -> Iterator[type[BaseException]]:
    yield root
    for child in root.__subclasses__():
        yield from subclasses(child)


def test_every_exception_class_a_request_can_raise_has_its_own_entry_in_the_table() -> None:
    raised = {
        kind
        for root in (OSError, http.client.HTTPException)
        for kind in subclasses(root)
        if kind.__module__ in REQUEST_MODULES
    }
    assert ssl.SSLCertVerificationError in raised and urllib.error.HTTPError in raised, "the walk finds them all"
    assert raised - NOT_ON_A_REQUEST - set(FAILURES) == set()
    assert set(FAILURES) - raised == {ValueError}, "and nothing else, but the URLs that urllib cannot use"


def test_an_exception_of_no_entry_is_not_a_failure_of_the_provider_and_is_raised_again() -> None:
    with pytest.raises(KeyError):
        translate(KeyError("a bug"), 1.0)
    assert translate(socket.gaierror(-2, "Name or service not known"), 1.0).message.startswith(
        "the provider could not be reached: its host name is unknown"
    )


def flow(url: str) -> Flow:
    return Flow("form.wet65.B", "R5.4", (), (), provider_url=url, provider_action="urn:example:forms/Send")


@contextmanager
def provider_answering(answer: bytes | None) -> Iterator[str]:
    """A raw HTTP server on loopback that reads one request, writes ``answer`` and closes (None: never answers)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(65536)
            if answer is None:
                stop.wait(10)
                return
            connection.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/provider"
    finally:
        stop.set()
        thread.join(timeout=10)
        listener.close()


def http_answer(status: str, body: bytes, *, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return f"HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {size}\r\n\r\n".encode() + body


FAULT = (
    f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode>'
    "<faultstring>No such case.</faultstring></soap:Fault></soap:Body></soap:Envelope>"
).encode()


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (b"", "the provider closed the connection before its answer was complete (RemoteDisconnected"),
        (b"SOAP/1.1 200 fine\r\n\r\n", "the provider's answer is not HTTP (BadStatusLine"),
        (
            http_answer("200 OK", b"<soap:Env", length=500),
            "the provider closed the connection before its answer was complete (IncompleteRead",
        ),
        (http_answer("503 Service Unavailable", b"busy"), "the provider answered HTTP 503"),
        (http_answer("500 Internal Server Error", FAULT), "the provider answered a fault: No such case."),
        (http_answer("200 OK", b"busy"), "the provider's answer is not XML"),
        (http_answer("200 OK", b"<busy/>"), "the provider's answer is not a SOAP 1.1 envelope"),
        (None, "the provider did not answer within 0.5 s"),
    ],
)
def test_a_provider_that_fails_is_a_provider_error_that_says_how(answer: bytes | None, says: str) -> None:
    with provider_answering(answer) as url, pytest.raises(ProviderError) as failed:
        SoapProvider(0.5)(flow(url), PAYLOAD, "KSZGW-1")
    assert failed.value.message.startswith(says), failed.value.message


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:9/provider", "the provider could not be reached ([Errno 111] Connection refused)"),
        ("http://127.0.0.1:port/provider", "the provider's URL cannot be used (nonnumeric port: 'port')"),
        ("gopher://127.0.0.1/provider", "the provider's URL cannot be used (unknown url type: gopher)"),
        ("http://[::1/provider", "the provider's URL cannot be used (Invalid IPv6 URL)"),
    ],
)
def test_a_provider_that_cannot_be_reached_is_a_provider_error_that_says_why(url: str, says: str) -> None:
    with pytest.raises(ProviderError) as failed:
        SoapProvider(0.5)(flow(url), PAYLOAD, "KSZGW-1")
    assert failed.value.message == says


def test_a_provider_that_accepts_gives_its_answer_without_the_envelope() -> None:
    with DemoProvider() as provider:
        answer = SoapProvider(5)(flow(provider.url), PAYLOAD, "KSZGW-1")
    assert answer is not None and answer.startswith(b"<prov:Acknowledgement ")
    assert b"<prov:Ticket>KSZGW-1</prov:Ticket>" in answer and b"soap" not in answer
    assert provider.received == [PAYLOAD]
    assert SoapProvider(5)(Flow("consult.generic", "R5.1", (), ()), PAYLOAD, "KSZGW-2") is None, "no provider"

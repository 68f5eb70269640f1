"""The client library against the served gateway: plain values back, every failure a ``ClientError``.

The client's envelopes are checked against xsd/ in both directions by the ``client_for`` fixture's plugin.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from gateway import client as library
from gateway import errors
from gateway.client import (
    AuthenticationFailed,
    ClientError,
    ConsultAnswer,
    FaultError,
    InvalidRequest,
    OperationAnswer,
    RepertoriumClient,
    TransportError,
)
from gateway.domain.periods import Period

README = Path(__file__).resolve().parents[2] / "README.md"
Clients = Callable[..., RepertoriumClient]


def d(text: str) -> date:
    return date.fromisoformat(text)


def _readme_blocks() -> tuple[str, str]:
    """The Python example of README's "The client library" section and the output it promises."""
    section = README.read_text(encoding="utf-8").split("## The client library", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    output = re.search(r"```text\n(.*?)```", section, re.S)
    assert code and output, "README has lost its client example"
    return code.group(1), output.group(1)


def test_the_readme_example_runs_against_the_gateway_and_prints_what_it_promises(gateway: Any) -> None:
    code, promised = _readme_blocks()
    code = code.replace("http://127.0.0.1:8080/soap/repertorium", gateway.endpoint)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(README), "exec"), {})
    assert printed.getvalue() == promised


def test_integrate_desintegrate_and_consult_return_frozen_plain_values(
    client_for: Clients, ssin: Callable[[], str]
) -> None:
    client, person = client_for("ocmw_a"), ssin()
    integrated = client.integrate([person], code=2, start=d("2015-01-01"), end=d("2015-06-30"), reference=None)
    assert isinstance(integrated, OperationAnswer)
    assert (integrated.ok, integrated.return_code, integrated.details) == ("YES", 0, ())
    assert integrated.ticket.startswith("KSZGW-")
    [result] = integrated.persons
    assert (result.ssin, result.status, result.details) == (person, "INTEGRATED", ())
    assert result.periods == (Period(d("2015-01-01"), d("2015-06-30")),)
    with pytest.raises(dataclasses.FrozenInstanceError):
        integrated.ok = "NO"  # type: ignore[misc]

    removed = client.desintegrate([person], code=2, start=d("2015-03-01"), end=d("2015-03-31"))
    assert removed.persons[0].status == "DESINTEGRATED"
    assert removed.persons[0].periods == (
        Period(d("2015-01-01"), d("2015-02-28")),
        Period(d("2015-04-01"), d("2015-06-30")),
    )

    found = client_for("family").consult(person, start=d("2015-02-15"), end=d("2015-04-15"))
    assert isinstance(found, ConsultAnswer)
    assert found.ok == "YES"
    assert [
        (i.institution.id, i.institution.name, i.institution.sector, i.code, i.period) for i in found.integrations
    ] == [
        ("0212345668", "OCMW Demostad", 17, 2, Period(d("2015-01-01"), d("2015-02-28"))),
        ("0212345668", "OCMW Demostad", 17, 2, Period(d("2015-04-01"), d("2015-06-30"))),
    ]
    assert client.consult(person, start=d("2015-01-01"), code=1).integrations == ()
    assert client.consult(person, start=d("2015-01-01"), sector=7).integrations == ()


def test_reason_codes_arrive_as_details_with_their_information(client_for: Clients, ssin: Callable[[], str]) -> None:
    client, person = client_for(), ssin()
    answer = client.integrate([person, person], code=1, start=d("2014-12-01"), end=d("2015-02-01"))
    assert (answer.ok, answer.return_code) == ("NO", 10000)
    [refused, repeat] = answer.persons
    [detail] = refused.details
    assert (detail.severity, detail.reason) == ("ERROR", "PERIOD_EXCEEDS_MAXIMUM")
    assert detail.value("MaximumEndDate") == "2015-01-31"
    assert "2015-01-31" in detail.diagnostic
    assert repeat.details[0].reason == "DUPLICATE_PERSON"

    nothing = client.desintegrate(person, code=1, start=d("2015-01-01"))
    assert (nothing.ok, nothing.persons[0].status, nothing.persons[0].periods) == ("YES", "NOTHING_TO_REMOVE", ())

    invalid = client.consult("12345678901", start=d("2015-01-01"))
    assert (invalid.ok, [x.reason for x in invalid.details]) == ("NO", ["INVALID_SSIN"])


def test_a_reference_replayed_by_the_client_returns_the_same_ticket(
    client_for: Clients, ssin: Callable[[], str]
) -> None:
    client, person = client_for("ocmw_b"), ssin()
    reference = f"client-{person}"
    first = client.integrate([person], code=1, start=d("2015-01-05"), reference=reference)
    again = client.integrate([person], code=1, start=d("2015-01-05"), reference=reference)
    assert again == first
    other = client.integrate([ssin()], code=1, start=d("2015-01-05"), reference=reference)
    assert (other.ok, other.details[0].reason) == ("NO", "REFERENCE_REUSED")


def test_a_wrong_secret_raises_authentication_failed(client_for: Clients) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        client_for("ocmw_a", secret="not-it").consult("85073003328", start=d("2015-01-01"))
    assert caught.value.faultcode == "wsse:FailedAuthentication"
    assert caught.value.reason == "FAILED_AUTHENTICATION"
    assert isinstance(caught.value, FaultError)


def test_a_message_fault_raises_fault_error_with_the_gateways_reason(
    client_for: Clients, ssin: Callable[[], str]
) -> None:
    with pytest.raises(FaultError) as caught:
        client_for().consult(ssin(), start=d("2015-01-10"), end=d("2015-01-01"))
    assert (caught.value.faultcode, caught.value.reason) == ("soap:Client", "END_BEFORE_START")
    assert not isinstance(caught.value, AuthenticationFailed)


def test_arguments_that_cannot_make_a_request_raise_invalid_request(client_for: Clients) -> None:
    client = client_for()
    with pytest.raises(InvalidRequest):
        client.integrate([], code=1, start=d("2015-01-01"))
    with pytest.raises(InvalidRequest):
        client.consult(None, start=d("2015-01-01"))  # type: ignore[arg-type]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_building_a_client_needs_no_network_and_an_unreachable_gateway_is_a_transport_error() -> None:
    client = RepertoriumClient(f"http://127.0.0.1:{_closed_port()}/soap/repertorium", "0212345668", "x", timeout=5)
    with client, pytest.raises(TransportError):
        client.consult("85073003328", start=d("2015-01-01"))


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback server that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                connection, _ = listener.accept()
                held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def test_a_gateway_that_does_not_answer_in_time_is_a_transport_error(silent_server: int) -> None:
    client = RepertoriumClient(f"http://127.0.0.1:{silent_server}/soap/repertorium", "0212345668", "x", timeout=0.5)
    with client, pytest.raises(TransportError) as caught:
        client.consult("85073003328", start=d("2015-01-01"))
    assert "in time" in str(caught.value)


def test_an_http_error_page_is_a_transport_error(gateway: Any) -> None:
    client = RepertoriumClient(gateway.endpoint.replace("/repertorium", "/elsewhere"), "0212345668", "demo-ocmw-a")
    with client, pytest.raises(TransportError) as caught:
        client.consult("85073003328", start=d("2015-01-01"))
    assert "404" in str(caught.value)


def test_the_client_errors_form_one_branch_of_the_gateways_tree_each_with_its_own_code() -> None:
    kinds = (ClientError, AuthenticationFailed, FaultError, TransportError, InvalidRequest)
    for error in kinds:
        assert issubclass(error, ClientError) and issubclass(error, errors.GatewayError)
    assert issubclass(AuthenticationFailed, FaultError) and issubclass(InvalidRequest, ValueError)
    assert TransportError is errors.ClientTransportError  # the client's name for it, beside the tools' own
    assert len({k.code for k in kinds}) == len(kinds) and all(k.code.startswith("CLIENT_") for k in kinds)
    assert set(library.__all__) >= {"RepertoriumClient", "ClientError", "FaultError", "TransportError"}


def test_the_clients_envelopes_are_checked_against_the_schema_both_ways(
    client_for: Clients, capture: Any, ssin: Callable[[], str]
) -> None:
    before = len(capture.checked)
    client, person = client_for("employment"), ssin()
    client.integrate([person], code=1, start=d("2015-01-05"))
    client.consult(person, start=d("2015-01-01"))
    assert capture.checked[before:] == [
        ("request", "IntegrateRequest"),
        ("response", "IntegrateResponse"),
        ("request", "ConsultRequest"),
        ("response", "ConsultResponse"),
    ]

"""Every gateway error has exactly one SOAP fault, and a fault never tells more than it should.

The mapping is checked over the whole exception tree, so a new error class cannot slip through unmapped.
"""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from gateway import errors
from gateway.adapters.soap.envelope import parse_envelope
from gateway.adapters.soap.faults import fault_code, fault_for
from gateway.contract.names import SOAP_ENV, WSSE


def _all_errors() -> list[type[errors.GatewayError]]:
    found, todo = [], [errors.GatewayError]
    while todo:
        kind = todo.pop()
        found.append(kind)
        todo.extend(kind.__subclasses__())
    return found


def _instance(kind: type[errors.GatewayError]) -> errors.GatewayError:
    return kind("internal detail: /srv/db password=hunter2")


EXPECTED = {
    errors.FailedAuthentication: (WSSE, "FailedAuthentication"),
    errors.InvalidSecurity: (WSSE, "InvalidSecurity"),
    errors.AuthenticationError: (WSSE, "FailedAuthentication"),
    errors.MustUnderstandFault: (SOAP_ENV, "MustUnderstand"),
    errors.VersionMismatch: (SOAP_ENV, "VersionMismatch"),
}


@pytest.mark.parametrize("kind", _all_errors(), ids=lambda k: k.__name__)
def test_every_error_maps_to_one_fault_code(kind: type[errors.GatewayError]) -> None:
    error = _instance(kind)
    if kind in EXPECTED:
        expected = EXPECTED[kind]
    elif issubclass(kind, errors.RequestError):
        expected = (SOAP_ENV, "Client")
    else:
        expected = (SOAP_ENV, "Server")
    assert fault_code(error) == expected


def _parse(body: bytes) -> Any:
    return etree.fromstring(body)


@pytest.mark.parametrize("kind", _all_errors(), ids=lambda k: k.__name__)
def test_the_rendered_fault_resolves_its_code_and_carries_the_reason_code(kind: type[errors.GatewayError]) -> None:
    error = _instance(kind)
    fault = fault_for(error, incident="abc123")
    root = _parse(fault.body)
    code = root.find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault/faultcode")
    prefix, _, local = code.text.partition(":")
    assert (code.nsmap[prefix], local) == fault_code(error)
    assert root.findtext(".//{urn:ksz-gateway:fault:v1}ReasonCode") == kind.code
    assert fault.status.startswith(str(kind.http_status))
    text = root.findtext(f".//{{{SOAP_ENV}}}Fault/faultstring")
    if issubclass(kind, errors.RequestError):
        assert text == error.message
    else:
        assert "hunter2" not in text


def test_authentication_faults_say_the_same_thing_whatever_failed() -> None:
    texts = {
        _parse(fault_for(errors.FailedAuthentication(reason)).body).findtext(f".//{{{SOAP_ENV}}}Fault/faultstring")
        for reason in ("unknown institution", "wrong digest", "replayed nonce", "stale")
    }
    assert len(texts) == 1


def test_faults_about_a_header_carry_their_detail_in_a_header_entry() -> None:
    root = _parse(fault_for(errors.MustUnderstandFault("x")).body)
    assert root.find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault/detail") is None
    assert root.findtext(f"{{{SOAP_ENV}}}Header/{{urn:ksz-gateway:fault:v1}}FaultDetail/*") == "MUST_UNDERSTAND"


def test_server_faults_name_an_incident_and_client_faults_do_not() -> None:
    server = _parse(fault_for(errors.InternalError("boom"), incident="inc-1").body)
    client = _parse(fault_for(errors.EmptyBody("empty"), incident="inc-2").body)
    assert server.findtext(".//{urn:ksz-gateway:fault:v1}Incident") == "inc-1"
    assert client.find(".//{urn:ksz-gateway:fault:v1}Incident") is None


def test_every_fault_is_itself_a_well_formed_soap_11_envelope() -> None:
    for kind in _all_errors():
        envelope = parse_envelope(fault_for(_instance(kind)).body)
        assert envelope.body.tag == f"{{{SOAP_ENV}}}Fault"

"""Every gateway error has exactly one SOAP fault, and a fault never tells more than it should.

The mapping is checked over the whole exception tree, so a new error class cannot slip through unmapped.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest
from lxml import etree

import gateway
from gateway import errors
from gateway.adapters.soap.envelope import parse_envelope
from gateway.adapters.soap.faults import fault_code, fault_for
from gateway.contract.names import SOAP_ENV, WSSE


def _all_errors() -> list[type[errors.GatewayError]]:
    # Every module of the package imported first: an error class defined outside gateway.errors is in the tree
    # whichever tests ran before.
    for module in pkgutil.walk_packages(gateway.__path__, "gateway."):
        importlib.import_module(module.name)
    found, todo = [], [errors.GatewayError]
    while todo:
        kind = todo.pop()
        found.append(kind)
        todo.extend(kind.__subclasses__())
    return found


def _instance(kind: type[errors.GatewayError]) -> errors.GatewayError:
    return kind("internal detail: /srv/db password=hunter2")


EXPECTED = {
    errors.MustUnderstandFault: (SOAP_ENV, "MustUnderstand"),
    errors.VersionMismatch: (SOAP_ENV, "VersionMismatch"),
}


@pytest.mark.parametrize("kind", _all_errors(), ids=lambda k: k.__name__)
def test_every_error_maps_to_one_fault_code(kind: type[errors.GatewayError]) -> None:
    error = _instance(kind)
    if kind in EXPECTED:
        expected = EXPECTED[kind]
    elif issubclass(kind, errors.InvalidSecurity):
        expected = (WSSE, "InvalidSecurity")
    elif issubclass(kind, errors.AuthenticationError):
        expected = (WSSE, "FailedAuthentication")
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


def _faultstring(error: errors.GatewayError) -> str:
    return str(_parse(fault_for(error).body).findtext(f".//{{{SOAP_ENV}}}Fault/faultstring"))


def test_unknown_institution_wrong_digest_and_disabled_get_the_very_same_fault() -> None:
    bodies = {
        fault_for(errors.FailedAuthentication(reason)).body
        for reason in ("unknown institution '0999999984'", "wrong digest for 0212345668", "0212345767 is disabled")
    }
    assert len(bodies) == 1
    assert _faultstring(errors.FailedAuthentication("x")) == errors.FailedAuthentication.public_message


def test_every_refusal_that_reveals_no_secret_has_a_sentence_and_a_reason_code_of_its_own() -> None:
    refusals = [errors.PasswordTextRefused, errors.NonceReplayed]
    sentences = {_faultstring(kind("log only")) for kind in refusals} | {_faultstring(errors.FailedAuthentication("x"))}
    assert len(sentences) == len(refusals) + 1
    assert "#PasswordDigest" in _faultstring(errors.PasswordTextRefused("log only"))
    assert "Nonce" in _faultstring(errors.NonceReplayed("log only"))
    codes = {kind.code for kind in _all_errors() if issubclass(kind, errors.AuthenticationError)}
    assert len(codes) == len([k for k in _all_errors() if issubclass(k, errors.AuthenticationError)])


@pytest.mark.parametrize(
    "kind",
    [errors.InvalidSecurity, errors.IncompleteUsernameToken, errors.UnsupportedEncoding, errors.CreatedOutsideWindow],
    ids=lambda k: k.__name__,
)
def test_an_authentication_refusal_shows_the_sentence_it_was_given_and_not_its_log_message(
    kind: type[errors.AuthenticationError],
) -> None:
    error = kind("log: token of 0212345668 from 10.0.0.9", public="wsu:Created is 400 seconds old: check the clock.")
    text = _faultstring(error)
    assert text == "wsu:Created is 400 seconds old: check the clock."
    assert "10.0.0.9" not in text
    assert _faultstring(kind("log: token of 0212345668")) == kind.public_message


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


def test_a_message_quoting_a_request_at_length_is_cut_short_with_its_length() -> None:
    name = "{urn:" + "x" * 1_000_000 + "}Envelope"
    message = f"The request is not a SOAP 1.1 envelope: its root element is {name}."
    error = errors.MalformedMessage(message)
    assert len(error.message) <= errors.MAX_MESSAGE_CHARS
    assert error.message.startswith("The request is not a SOAP 1.1 envelope: its root element is {urn:xxx")
    assert error.message.endswith(f"... ({len(message)} characters)")
    fault = fault_for(error)
    assert len(fault.body) < 2 * errors.MAX_MESSAGE_CHARS
    short = "The soap:Body is empty."
    assert errors.EmptyBody(short).message == short

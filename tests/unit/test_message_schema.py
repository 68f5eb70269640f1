"""The compiled message schema: validations in parallel, each with its own errors, and no lock between them."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from lxml import etree

from gateway.contract.resources import xsd_path
from gateway.contract.schema import MessageSchema
from gateway.errors import ConfigurationError, SchemaViolation

REP = "urn:ksz-gateway:repertorium:v1"


@pytest.fixture(scope="module")
def schema() -> MessageSchema:
    xsd = xsd_path("repertorium-v1.xsd")
    return MessageSchema(xsd.read_bytes(), xsd.name, base_url=str(xsd))


def consult(ssin: str) -> etree._Element:
    return etree.fromstring(
        f'<rep:ConsultRequest xmlns:rep="{REP}"><rep:SSIN>{ssin}</rep:SSIN>'
        "<rep:Period><rep:StartDate>2015-01-01</rep:StartDate></rep:Period></rep:ConsultRequest>"
    )


def test_a_valid_request_passes_and_an_invalid_one_names_its_element(schema: MessageSchema) -> None:
    schema.check_request(consult("90010100123"))
    with pytest.raises(SchemaViolation, match=r"rep:SSIN.*'abc'"):
        schema.check_request(consult("abc"))


def test_validations_at_once_each_read_their_own_errors(schema: MessageSchema) -> None:
    def check(n: int) -> tuple[int, str]:
        value = "x" * (n % 7 + 1) if n % 2 else "90010100123"
        try:
            schema.check_request(consult(value))
        except SchemaViolation as error:
            return n, error.message
        return n, ""

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(check, range(2000)))
    for n, message in results:
        if n % 2:
            assert f"'{'x' * (n % 7 + 1)}'" in message, (n, message)
        else:
            assert message == "", (n, message)


def test_a_validation_never_waits_for_another(schema: MessageSchema) -> None:
    finished = threading.Event()

    def validate() -> None:
        schema.check_request(consult("90010100123"))
        finished.set()

    with schema._borrowed():  # a validation in progress, as long as it likes
        thread = threading.Thread(target=validate)
        thread.start()
        assert finished.wait(10), "a validation waited for another one to finish"
        thread.join()


def test_one_compiled_schema_serves_one_validation_after_another() -> None:
    xsd = xsd_path("repertorium-v1.xsd")
    schema = MessageSchema(xsd.read_bytes(), xsd.name, base_url=str(xsd))
    for _ in range(50):
        schema.check_request(consult("90010100123"))
    with schema._borrowed() as first, schema._borrowed() as second:  # only now is a second one compiled
        assert first is not second
    for _ in range(50):
        with schema._borrowed() as again:
            assert again in (first, second)


def test_a_schema_that_does_not_compile_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"broken\.xsd"):
        MessageSchema(b'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:bogus/></xs:schema>', "broken.xsd")

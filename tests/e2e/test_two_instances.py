"""Two gateways on one PostgreSQL schema, as several instances behind a load balancer run: an integration made
through one is consulted through the other, a nonce one accepted is a replay to the other, and an institution the
operator disables is refused by both once their institution cache (about a second) has expired.

Skipped unless ``KSZ_TEST_POSTGRES_URL`` names a PostgreSQL server.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from lxml import etree
from tls_gateway import Gateway, cli, start, stop

from gateway.client import RepertoriumClient
from gateway.errors import AuthenticationFailed

pytestmark = pytest.mark.postgres

POSTGRES_ENV = "KSZ_TEST_POSTGRES_URL"
OCMW_A, SECRET_A = "0212345668", "demo-ocmw-a"
OCMW_B, SECRET_B = "0212345767", "demo-ocmw-b"


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Gateway]]:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    import psycopg

    from gateway.adapters.storage.postgres import with_schema

    schema = f"ksz_two_{os.getpid()}_{secrets.token_hex(4)}"
    db = with_schema(base, schema)
    first = start(db, tmp_path_factory.mktemp("first"), https=False)
    try:
        second = start(db, tmp_path_factory.mktemp("second"), https=False)
        try:
            yield first, second
        finally:
            stop(second)
    finally:
        stop(first)
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def client(gateway: Gateway, institution: str, secret: str) -> RepertoriumClient:
    return RepertoriumClient(f"http://{gateway.host}:{gateway.port}/soap/repertorium", institution, secret, timeout=30)


def test_an_integration_made_through_one_instance_is_consulted_through_the_other(
    two: tuple[Gateway, Gateway], soap: Any
) -> None:
    first, second = two
    person = soap.new_ssin()
    with client(first, OCMW_A, SECRET_A) as through_first:
        assert through_first.integrate([person], code=1, start=date(2015, 1, 5), end=date(2015, 1, 31)).ok == "YES"
    with client(second, OCMW_B, SECRET_B) as through_second:
        answer = through_second.consult(person, date(2015, 1, 1))
    assert [(i.institution.id, i.code, i.period.start, i.period.end) for i in answer.integrations] == [
        (OCMW_A, 1, date(2015, 1, 5), date(2015, 1, 31))
    ]


def _post(soap: Any, gateway: Gateway, message: bytes) -> Any:
    status, content_type, body = soap.http_post(gateway, message, {"Content-Type": "text/xml", "SOAPAction": '""'})
    return soap.Reply(status, content_type, body, etree.fromstring(body))


def test_a_nonce_accepted_by_one_instance_is_refused_by_the_other(two: tuple[Gateway, Gateway], soap: Any) -> None:
    first, second = two
    message = soap.envelope(soap.consult(soap.new_ssin(), "2015-01-01"))
    assert _post(soap, first, message).ok == "YES"
    replayed = _post(soap, second, message)
    assert replayed.is_fault and replayed.status == 500
    assert replayed.fault_reason == "NONCE_REPLAYED"


def _refused_by(gateway: Gateway, within: float = 15.0) -> bool:
    """Whether ``gateway`` refuses OCMW A within ``within`` seconds, far beyond its institution cache's second
    (asked again while the cache may still hold the institution enabled)."""
    deadline = time.monotonic() + within
    with client(gateway, OCMW_A, SECRET_A) as caller:
        while True:
            try:
                caller.consult("85073003328", date(2015, 1, 1))
            except AuthenticationFailed:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)


def test_an_institution_disabled_by_the_operator_is_refused_by_both_instances(
    two: tuple[Gateway, Gateway],
) -> None:
    first, second = two
    for gateway in two:  # both know the institution, enabled, in their cache
        with client(gateway, OCMW_A, SECRET_A) as caller:
            assert caller.consult("85073003328", date(2015, 1, 1)).ok == "YES"
    disabled = cli("institutions", "disable", OCMW_A, "--db", first.db)
    assert disabled.returncode == 0, disabled.stderr
    assert _refused_by(first)
    assert _refused_by(second)

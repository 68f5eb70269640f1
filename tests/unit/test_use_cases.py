"""The directory and access use cases against the in-memory store: each test runs in milliseconds.

The store is the real port implementation (``MemoryStore``), the clocks and the Ticket source are fixed, and
the provider is a callable that keeps what it was sent; what a test asserts it reads back through the port.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import pytest

from gateway.adapters.storage.memory import MemoryStore
from gateway.app.access_service import AccessService
from gateway.app.demo import DEMO_INSTITUTIONS, ensure_demo
from gateway.app.directory_service import DirectoryService
from gateway.app.ports import InstitutionRecord, NonceClaim, Store
from gateway.domain.access import AccessReason, Flow, FlowCatalogue, FlowPerson, FlowRequest, Role, load_flow_catalogue
from gateway.domain.directory import DirectoryRequest, Ok, Reason, Status
from gateway.domain.periods import Period
from gateway.errors import FailedAuthentication, InternalError, ProviderError

ANNA, BERT = "85073003328", "06011512374"
OCMW, OTHER_OCMW, _, _ = DEMO_INSTITUTIONS
TODAY = date(2015, 1, 10)
NOW = datetime(2015, 1, 10, 9, 30, tzinfo=UTC)


def p(start: str, end: str | None = None) -> Period:
    return Period(date.fromisoformat(start), date.fromisoformat(end) if end else None)


def numbered(prefix: str = "T") -> Callable[[], str]:
    """Tickets T-1, T-2, ... in the order the use cases ask for them."""
    counter = itertools.count(1)
    return lambda: f"{prefix}-{next(counter)}"


@pytest.fixture
def store() -> Iterator[MemoryStore]:
    memory = MemoryStore()
    memory.upgrade()
    ensure_demo(memory)
    yield memory
    memory.close()


@pytest.fixture
def directory(store: Store) -> DirectoryService:
    return DirectoryService(store, store.catalogue(), today=lambda: TODAY, ticket=numbered(), now=lambda: NOW)


def held(store: Store, institution: InstitutionRecord, code: int, ssin: str) -> tuple[Period, ...]:
    with store.transaction() as tx:
        return tx.read_periods(institution.id, code, [ssin]).get(ssin, ())


def trail(store: Store) -> list[tuple[str, str, str | None]]:
    return [(r.ticket, r.operation, r.reference) for r in store.audit_log()]


def january(*ssins: str, code: int = 1, start: str = "2015-01-01", end: str | None = "2015-01-31") -> DirectoryRequest:
    return DirectoryRequest(code, date.fromisoformat(start), date.fromisoformat(end) if end else None, ssins)


# -- Integrate, Desintegrate, Consult ----------------------------------------------------------------------


def test_an_integration_is_consulted_then_partly_desintegrated_each_step_audited(
    directory: DirectoryService, store: Store
) -> None:
    integrated = directory.integrate(OCMW, january(ANNA, BERT))
    assert integrated.summary.ok is Ok.YES
    assert [(o.ssin, o.status) for o in integrated.persons] == [(ANNA, Status.INTEGRATED), (BERT, Status.INTEGRATED)]
    seen = directory.consult(OTHER_OCMW, ANNA, p("2015-01-31", "2015-03-01"))
    assert [(i.institution.id, i.code, i.period) for i in seen.integrations] == [
        (OCMW.id, 1, p("2015-01-01", "2015-01-31"))
    ]
    cut = directory.desintegrate(OCMW, january(ANNA, start="2015-01-16", end=None))
    assert cut.persons[0].status is Status.DESINTEGRATED
    assert held(store, OCMW, 1, ANNA) == (p("2015-01-01", "2015-01-15"),)
    assert held(store, OCMW, 1, BERT) == (p("2015-01-01", "2015-01-31"),)
    assert trail(store) == [("T-1", "Integrate", None), ("T-2", "Consult", None), ("T-3", "Desintegrate", None)]
    assert next(iter(store.audit_log())).at == NOW


def test_an_invalid_ssin_is_refused_per_person_and_changes_nothing_for_it(
    directory: DirectoryService, store: Store
) -> None:
    result = directory.integrate(OCMW, january(ANNA, "85073003329"))
    assert [o.status for o in result.persons] == [Status.INTEGRATED, Status.REFUSED]
    with store.transaction() as tx:
        assert set(tx.read_periods(OCMW.id, 1, [ANNA, "85073003329"])) == {ANNA}
    consulted = directory.consult(OCMW, "85073003329", p("2015-01-01"))
    assert consulted.summary.ok is Ok.NO and [d.reason for d in consulted.details] == [Reason.INVALID_SSIN]


# -- Reference -----------------------------------------------------------------------------------------------


def test_a_reference_sent_again_gets_the_first_answer_and_a_reused_one_is_refused_whole(
    directory: DirectoryService, store: Store
) -> None:
    first = directory.integrate(OCMW, january(ANNA), reference="R-1")
    assert directory.integrate(OCMW, january(ANNA), reference="R-1") == first
    reused = directory.integrate(OCMW, january(BERT, code=2), reference="R-1")
    assert reused.summary.ok is Ok.NO
    assert [d.reason for d in reused.details] == [Reason.REFERENCE_REUSED]
    assert [o.status for o in reused.persons] == [Status.REFUSED]
    assert held(store, OCMW, 2, BERT) == ()
    # The refusal is audited but not remembered: the Reference still answers with its first answer.
    assert directory.integrate(OCMW, january(ANNA), reference="R-1") == first
    assert trail(store) == [("T-1", "Integrate", "R-1"), (reused.ticket, "Integrate", "R-1")]
    # A Reference belongs to its institution: another may use the same one.
    assert directory.integrate(OTHER_OCMW, january(ANNA), reference="R-1").ticket != first.ticket


def test_a_consultation_by_reference_is_answered_again_as_it_was(directory: DirectoryService) -> None:
    before = directory.consult(OCMW, ANNA, p("2015-01-01"), reference="C-1")
    directory.integrate(OCMW, january(ANNA))
    assert directory.consult(OCMW, ANNA, p("2015-01-01"), reference="C-1") == before
    reused = directory.consult(OCMW, BERT, p("2015-01-01"), reference="C-1")
    assert [d.reason for d in reused.details] == [Reason.REFERENCE_REUSED]


# -- nonces --------------------------------------------------------------------------------------------------


def test_a_replayed_nonce_is_refused_and_its_request_applies_nothing(directory: DirectoryService, store: Store) -> None:
    nonce = NonceClaim(OCMW.id, "bm9uY2UtMQ==", NOW, NOW)
    directory.integrate(OCMW, january(ANNA), nonce=nonce)
    with pytest.raises(FailedAuthentication, match="nonce replayed"):
        directory.integrate(OCMW, january(BERT), nonce=nonce)
    with pytest.raises(FailedAuthentication):
        directory.consult(OCMW, ANNA, p("2015-01-01"), nonce=nonce)
    assert held(store, OCMW, 1, BERT) == ()
    assert trail(store) == [("T-1", "Integrate", None)]
    assert directory.integrate(
        OTHER_OCMW, january(BERT), nonce=dataclasses.replace(nonce, institution_id=OTHER_OCMW.id)
    )


# -- failures in the middle of a request ---------------------------------------------------------------------


def test_a_request_that_fails_after_writing_periods_leaves_no_trace_and_its_nonce_unused(store: Store) -> None:
    def no_ticket() -> str:
        raise RuntimeError("ticket source down")

    failing = DirectoryService(store, store.catalogue(), today=lambda: TODAY, ticket=no_ticket, now=lambda: NOW)
    nonce = NonceClaim(OCMW.id, "bm9uY2UtMg==", NOW, NOW)
    with pytest.raises(RuntimeError, match="ticket source down"):  # raised after the periods were written
        failing.integrate(OCMW, january(ANNA), reference="R-9", nonce=nonce)
    assert held(store, OCMW, 1, ANNA) == ()
    assert trail(store) == []
    working = DirectoryService(store, store.catalogue(), today=lambda: TODAY, ticket=numbered(), now=lambda: NOW)
    assert working.integrate(OCMW, january(ANNA), reference="R-9", nonce=nonce).summary.ok is Ok.YES


def test_a_request_whose_audit_record_is_refused_applies_none_of_its_periods(store: Store) -> None:
    same = DirectoryService(store, store.catalogue(), today=lambda: TODAY, ticket=lambda: "T-SAME", now=lambda: NOW)
    same.integrate(OCMW, january(ANNA))
    with pytest.raises(InternalError, match="audited already"):
        same.integrate(OCMW, january(BERT, code=2))
    assert held(store, OCMW, 2, BERT) == ()
    assert trail(store) == [("T-SAME", "Integrate", None)]


# -- SendFlow ------------------------------------------------------------------------------------------------


class Provider:
    """A provider that keeps each message it accepts, or refuses them all (``down``)."""

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.received: list[tuple[str, bytes | None, str]] = []

    def __call__(self, flow: Flow, payload: bytes | None, ticket: str) -> bytes | None:
        if self.down:
            raise ProviderError("connection refused")
        self.received.append((flow.id, payload, ticket))
        return f"<ack ticket='{ticket}'/>".encode()


def access(store: Store, provider: Provider | None = None, ticket: Callable[[], str] | None = None) -> AccessService:
    flows = load_flow_catalogue()
    if provider is not None:  # request.new forwards to a provider
        forwarded = dataclasses.replace(flows.flows["request.new"], provider_url="http://provider.invalid/")
        flows = FlowCatalogue({**flows.flows, "request.new": forwarded}, flows.sector)
    return AccessService(
        store,
        store.catalogue(),
        flows,
        provider=provider or Provider(down=True),
        today=lambda: TODAY,
        ticket=ticket or numbered("F"),
        now=lambda: NOW,
    )


NEW_REQUEST = FlowRequest("request.new", (FlowPerson(ANNA, Role.MAIN),), payload=b"<new/>")


def test_an_allowed_flow_is_forwarded_then_makes_its_integration_and_audit_in_one_go(store: Store) -> None:
    provider = Provider()
    result = access(store, provider).send_flow(OCMW, NEW_REQUEST, reference="S-1")
    assert result.allowed and result.summary.ok is Ok.YES
    assert provider.received == [("request.new", b"<new/>", result.ticket)]
    assert result.provider_response == f"<ack ticket='{result.ticket}'/>".encode()
    assert held(store, OCMW, 1, ANNA) == (p("2015-01-10", "2015-02-08"),)  # R2.6: today and 29 days on
    assert trail(store) == [(result.ticket, "SendFlow", "S-1")]
    assert access(store, provider).send_flow(OCMW, NEW_REQUEST, reference="S-1") == result
    assert len(provider.received) == 1


def test_a_flow_its_provider_refuses_changes_nothing_and_is_audited(store: Store) -> None:
    result = access(store, Provider(down=True)).send_flow(OCMW, NEW_REQUEST, reference="S-2")
    assert not result.allowed
    assert [d.reason for d in result.details] == [AccessReason.PROVIDER_UNAVAILABLE]
    assert held(store, OCMW, 1, ANNA) == ()
    assert [op for _, op, _ in trail(store)] == ["SendFlow"]
    with store.transaction() as tx:
        assert tx.find_answer(OCMW.id, "S-2") is None  # the Reference may be sent again once the provider is up


def test_a_flow_whose_audit_record_is_refused_makes_none_of_its_effects(store: Store) -> None:
    service = access(store, Provider(), ticket=lambda: "T-SAME")
    service.send_flow(OCMW, NEW_REQUEST)
    with pytest.raises(InternalError):
        service.send_flow(OCMW, dataclasses.replace(NEW_REQUEST, persons=(FlowPerson(BERT, Role.MAIN),)))
    assert held(store, OCMW, 1, BERT) == ()


def test_an_attestation_is_recorded_by_its_flow_and_makes_a_later_desintegration_warn(
    directory: DirectoryService, store: Store
) -> None:
    directory.integrate(OCMW, january(ANNA, code=2, end="2015-12-31"))
    attest = FlowRequest(
        "attestation.multifunctional",
        (FlowPerson(ANNA, Role.SUBJECT),),
        validity_period=(date(2015, 3, 1), date(2015, 5, 31)),
        aid="LIVING_WAGE",
    )
    allowed = access(store).check_access(OCMW, attest)
    assert allowed.allowed
    with store.transaction() as tx:
        assert tx.attestations_of(OCMW.id, [ANNA]) == {}  # CheckAccess decides only
    sent = access(store, ticket=lambda: "T-ATTEST").send_flow(OCMW, attest)
    with store.transaction() as tx:
        [recorded] = tx.attestations_of(OCMW.id, [ANNA])[ANNA]
    assert (recorded.ticket, recorded.code, recorded.validity) == (sent.ticket, 2, p("2015-03-01", "2015-05-31"))
    warned = directory.desintegrate(OCMW, january(ANNA, code=2, start="2015-05-01", end="2015-05-10"))
    assert warned.summary.ok is Ok.WARNING
    assert warned.persons[0].details[0].reason == Reason.ATTESTATION_AT_RISK

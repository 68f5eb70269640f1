"""The directory's use cases (gateway.app.directory_service) against real databases: SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.adapters.storage import open_store
from gateway.app.demo import DEMO_INSTITUTIONS, ensure_demo
from gateway.app.directory_service import DirectoryService
from gateway.app.ports import InstitutionRecord, Store
from gateway.domain.catalogue import DEMO_CATALOGUE_FILE, load_catalogue
from gateway.domain.directory import DirectoryRequest, Ok, Reason, Status
from gateway.domain.periods import Period

P1, P2 = "85073003328", "90010100123"
OCMW_A, OCMW_B, FAMILY, EMPLOYMENT = DEMO_INSTITUTIONS


def d(text: str) -> date:
    return date.fromisoformat(text)


def p(start: str, end: str | None = None) -> Period:
    return Period(d(start), d(end) if end else None)


def req(code: int, start: str, end: str | None, *ssins: str) -> DirectoryRequest:
    return DirectoryRequest(code, d(start), d(end) if end else None, ssins)


@pytest.fixture
def service(store: Store) -> DirectoryService:
    ensure_demo(store)
    return DirectoryService(store, store.catalogue(), today=lambda: d("2015-01-01"))


def periods_of(store: Store, institution: InstitutionRecord, code: int, ssin: str) -> tuple[Period, ...]:
    with store.transaction() as tx:
        return tx.read_periods(institution.id, code, [ssin]).get(ssin, ())


def test_integrating_stores_the_period_and_answers_with_the_persons_periods(service: DirectoryService) -> None:
    result = service.integrate(OCMW_A, req(1, "2014-12-01", None, P1, P2))
    assert result.summary.ok is Ok.YES
    assert [(o.ssin, o.status, o.periods) for o in result.persons] == [
        (P1, Status.INTEGRATED, (p("2014-12-01", "2015-01-31"),)),
        (P2, Status.INTEGRATED, (p("2014-12-01", "2015-01-31"),)),
    ]
    assert periods_of(service.store, OCMW_A, 1, P1) == (p("2014-12-01", "2015-01-31"),)
    again = service.integrate(OCMW_A, req(1, "2014-12-10", "2014-12-20", P1))
    assert again.persons[0].status is Status.ALREADY_INTEGRATED


def test_desintegrating_follows_the_manuals_example(service: DirectoryService) -> None:
    """RULES R3.4: code 01 integrated 01/12/2014 to 31/01/2015."""
    service.integrate(OCMW_A, req(1, "2014-12-01", "2015-01-31", P1, P2))
    split = service.desintegrate(OCMW_A, req(1, "2015-01-01", "2015-01-14", P1))
    assert split.persons[0].status is Status.DESINTEGRATED
    assert periods_of(service.store, OCMW_A, 1, P1) == (p("2014-12-01", "2014-12-31"), p("2015-01-15", "2015-01-31"))
    service.desintegrate(OCMW_A, req(1, "2015-01-01", None, P2))
    assert periods_of(service.store, OCMW_A, 1, P2) == (p("2014-12-01", "2014-12-31"),)
    nothing = service.desintegrate(OCMW_A, req(1, "2016-01-01", None, P2))
    assert nothing.persons[0].status is Status.NOTHING_TO_REMOVE


def test_only_the_requesting_institutions_periods_change(service: DirectoryService) -> None:
    service.integrate(OCMW_A, req(1, "2015-01-01", None, P1))
    service.integrate(OCMW_B, req(1, "2015-01-01", None, P1))
    service.desintegrate(OCMW_B, req(1, "2015-01-01", None, P1))
    assert periods_of(service.store, OCMW_A, 1, P1) == (p("2015-01-01", "2015-02-28"),)
    assert periods_of(service.store, OCMW_B, 1, P1) == ()


def test_a_consultation_shows_every_institutions_integrations_in_order(service: DirectoryService) -> None:
    service.integrate(OCMW_B, req(4, "2015-01-01", None, P1))
    service.integrate(OCMW_A, req(2, "2015-02-01", None, P1))
    service.integrate(OCMW_A, req(1, "2015-01-01", None, P1))
    service.integrate(FAMILY, req(1, "2014-06-01", None, P1))
    service.integrate(EMPLOYMENT, req(1, "2015-01-01", None, P2))
    result = service.consult(OCMW_A, P1, p("2015-01-15", "2015-03-01"))
    assert result.summary.ok is Ok.YES
    assert [
        (i.institution.id, i.institution.name, i.institution.sector, i.code, i.period) for i in result.integrations
    ] == [
        (OCMW_A.id, OCMW_A.name, 17, 1, p("2015-01-01", "2015-02-28")),
        (OCMW_A.id, OCMW_A.name, 17, 2, p("2015-02-01", "2016-01-31")),
        (OCMW_B.id, OCMW_B.name, 17, 4, p("2015-01-01", "2015-12-31")),
        (FAMILY.id, FAMILY.name, 7, 1, p("2014-06-01", "2015-05-31")),
    ]
    by_sector = service.consult(OCMW_A, P1, p("2015-01-15"), sector=7)
    assert [i.institution.id for i in by_sector.integrations] == [FAMILY.id]
    by_code = service.consult(OCMW_A, P1, p("2015-01-15"), code=4)
    assert [i.institution.id for i in by_code.integrations] == [OCMW_B.id]
    audited = [r.operation for r in service.store.audit_log(OCMW_A.id)]
    assert audited.count("Consult") == 3


def test_an_invalid_ssin_consultation_is_refused_and_audited(service: DirectoryService) -> None:
    result = service.consult(OCMW_A, "12345678901", p("2015-01-01"))
    assert result.summary.ok is Ok.NO and result.details[0].reason == Reason.INVALID_SSIN
    assert [r.ticket for r in service.store.audit_log()] == [result.ticket]


def test_the_same_reference_and_request_gives_the_first_answer_and_applies_nothing_twice(
    service: DirectoryService,
) -> None:
    first = service.integrate(OCMW_A, req(1, "2015-01-01", "2015-01-10", P1), reference="msg-1")
    service.desintegrate(OCMW_A, req(1, "2015-01-01", None, P1))  # someone else removed it since
    again = service.integrate(OCMW_A, req(1, "2015-01-01", "2015-01-10", P1), reference="msg-1")
    assert again == first
    assert periods_of(service.store, OCMW_A, 1, P1) == ()  # not integrated a second time
    applied = [r for r in service.store.audit_log() if r.reference == "msg-1"]
    assert [r.ticket for r in applied] == [first.ticket]
    consulted = service.consult(OCMW_A, P1, p("2015-01-01"), reference="msg-2")
    assert service.consult(OCMW_A, P1, p("2015-01-01"), reference="msg-2") == consulted


def test_a_reference_reused_for_another_request_is_refused_and_applies_nothing(service: DirectoryService) -> None:
    first = service.integrate(OCMW_A, req(1, "2015-01-01", "2015-01-10", P1), reference="msg-1")
    other = service.integrate(OCMW_A, req(1, "2015-02-01", "2015-02-10", P1), reference="msg-1")
    assert other.ticket != first.ticket
    assert other.summary.ok is Ok.NO
    assert [d.reason for d in other.details] == [Reason.REFERENCE_REUSED]
    assert [o.status for o in other.persons] == [Status.REFUSED]
    assert periods_of(service.store, OCMW_A, 1, P1) == (p("2015-01-01", "2015-01-10"),)
    desintegrated = service.desintegrate(OCMW_A, req(1, "2015-01-01", None, P1), reference="msg-1")
    assert desintegrated.summary.ok is Ok.NO
    assert periods_of(service.store, OCMW_A, 1, P1) == (p("2015-01-01", "2015-01-10"),)
    # The same Reference from another institution is that institution's own.
    assert service.integrate(OCMW_B, req(1, "2015-02-01", None, P1), reference="msg-1").summary.ok is Ok.YES


def test_the_directory_survives_a_restart(service: DirectoryService) -> None:
    result = service.integrate(OCMW_A, req(2, "2015-01-01", None, P1), reference="before-restart")
    service.store.close()
    store = open_store(service.store.url)
    try:
        restarted = DirectoryService(store, store.catalogue())
        assert periods_of(store, OCMW_A, 2, P1) == (p("2015-01-01", "2015-12-31"),)
        again = restarted.integrate(OCMW_A, req(2, "2015-01-01", None, P1), reference="before-restart")
        assert again == result
        assert [r.ticket for r in store.audit_log()] == [result.ticket]
        assert store.catalogue() == load_catalogue().merged(load_catalogue((DEMO_CATALOGUE_FILE,)))
    finally:
        store.close()


def test_a_replayed_nonce_refuses_the_request_and_applies_nothing(service: DirectoryService) -> None:
    from datetime import UTC, datetime

    from gateway.app.ports import NonceClaim
    from gateway.errors import FailedAuthentication

    now = datetime(2015, 1, 1, 12, tzinfo=UTC)
    claim = NonceClaim(OCMW_A.id, "bm9uY2UtMQ==", now, now)
    service.integrate(OCMW_A, req(1, "2015-01-01", None, P1), nonce=claim)
    with pytest.raises(FailedAuthentication):
        service.integrate(OCMW_A, req(9, "2015-01-01", None, P2), nonce=claim)
    assert periods_of(service.store, OCMW_A, 9, P2) == ()
    assert [r.operation for r in service.store.audit_log()] == ["Integrate"]
    other = NonceClaim(OCMW_B.id, claim.nonce, now, now)  # nonces are per institution
    assert service.consult(OCMW_B, P1, p("2015-01-01"), nonce=other).summary.ok is Ok.YES

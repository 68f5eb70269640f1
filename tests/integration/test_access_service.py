"""CheckAccess and SendFlow (gateway.app.access_service) against real databases and a real provider on loopback."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date

import pytest

from gateway.adapters.provider import SoapProvider
from gateway.app.access_service import AccessService
from gateway.app.demo import DEMO_INSTITUTIONS, ensure_demo
from gateway.app.directory_service import DirectoryService
from gateway.app.ports import InstitutionRecord, Store
from gateway.domain.access import AccessReason, FlowCatalogue, FlowPerson, FlowRequest, Role, load_flow_catalogue
from gateway.domain.directory import DirectoryRequest, Ok, Reason, Status
from gateway.domain.periods import Period
from gateway.tools.demo_provider import DemoProvider

ANNA, BERT, CLEO = "85073003328", "06011512374", "00022900145"
OCMW_A, OCMW_B, FAMILY, _ = DEMO_INSTITUTIONS
TODAY = date(2015, 1, 10)
PAYLOAD = b'<f:FormB xmlns:f="urn:example:forms"><f:Case>42</f:Case></f:FormB>'


def d(text: str) -> date:
    return date.fromisoformat(text)


def p(start: str, end: str | None = None) -> Period:
    return Period(d(start), d(end) if end else None)


@pytest.fixture
def directory(store: Store) -> DirectoryService:
    ensure_demo(store)
    return DirectoryService(store, store.catalogue(), today=lambda: TODAY)


def access_service(store: Store, flows: FlowCatalogue | None = None, timeout: float = 2.0) -> AccessService:
    return AccessService(
        store,
        store.catalogue(),
        flows or load_flow_catalogue(),
        provider=SoapProvider(timeout),
        today=lambda: TODAY,
    )


@pytest.fixture
def access(directory: DirectoryService) -> AccessService:
    return access_service(directory.store)


@pytest.fixture
def provider() -> Iterator[DemoProvider]:
    with DemoProvider() as running:
        yield running


def with_provider(url: str, flow_id: str = "form.wet65.B") -> FlowCatalogue:
    flows = load_flow_catalogue()
    changed = dataclasses.replace(flows.flows[flow_id], provider_url=url, provider_action="urn:example:forms/Send")
    return FlowCatalogue({**flows.flows, flow_id: changed}, flows.sector)


def periods(store: Store, institution: InstitutionRecord, code: int, ssin: str) -> tuple[Period, ...]:
    with store.transaction() as tx:
        return tx.read_periods(institution.id, code, [ssin]).get(ssin, ())


def audit_operations(store: Store) -> list[str]:
    return [r.operation for r in store.audit_log()]


def form_b(
    *persons: tuple[str, Role], aid: str = "LIVING_WAGE", decision_end: str | None = "2015-06-30"
) -> FlowRequest:
    return FlowRequest(
        "form.wet65.B",
        tuple(FlowPerson(s, r) for s, r in persons),
        effective_date=d("2015-01-05"),
        decision_period=(d("2015-01-01"), d(decision_end) if decision_end else None),
        aid=aid,
        payload=PAYLOAD,
    )


def integrate01(directory: DirectoryService, *ssins: str, start: str = "2015-01-01") -> None:
    result = directory.integrate(OCMW_A, DirectoryRequest(1, d(start), None, ssins))
    assert result.summary.ok is Ok.YES


def test_check_access_decides_without_changing_the_directory_and_is_audited(
    directory: DirectoryService, access: AccessService
) -> None:
    integrate01(directory, ANNA)
    before = periods(directory.store, OCMW_A, 1, ANNA)
    result = access.check_access(OCMW_A, FlowRequest("consult.generic", (FlowPerson(ANNA, Role.SUBJECT),)))
    assert result.allowed and result.summary.ok is Ok.YES
    assert result.persons[0].satisfied_by == (p("2015-01-01", "2015-02-28"),)
    assert periods(directory.store, OCMW_A, 1, ANNA) == before
    refused = access.check_access(OCMW_A, FlowRequest("consult.generic", (FlowPerson(BERT, Role.SUBJECT),)))
    assert not refused.allowed and refused.summary.ok is Ok.NO
    assert [d.reason for d in refused.details] == [AccessReason.ACCESS_DENIED]
    assert refused.persons[0].missing_days == (Period(TODAY, TODAY),)
    log = list(directory.store.audit_log())
    assert [r.operation for r in log][-2:] == ["CheckAccess", "CheckAccess"]
    assert log[-1].outcome["persons"][0]["details"][0]["reason"] == "NOT_INTEGRATED"


def test_another_institutions_integration_never_satisfies_a_flow(
    directory: DirectoryService, access: AccessService
) -> None:
    directory.integrate(OCMW_B, DirectoryRequest(1, d("2015-01-01"), None, (ANNA,)))
    result = access.check_access(OCMW_A, FlowRequest("consult.generic", (FlowPerson(ANNA, Role.SUBJECT),)))
    assert not result.allowed
    assert result.persons[0].details[0].reason == AccessReason.NOT_INTEGRATED


def test_an_institution_outside_sector_17_is_refused_as_a_whole(
    directory: DirectoryService, access: AccessService
) -> None:
    result = access.check_access(FAMILY, FlowRequest("consult.generic", (FlowPerson(ANNA, Role.SUBJECT),)))
    assert not result.allowed and result.persons == ()
    assert [d.reason for d in result.details] == [AccessReason.ACCESS_DENIED]


def test_a_new_request_integrates_the_main_beneficiary_in_code_01_for_thirty_days(
    directory: DirectoryService, access: AccessService
) -> None:
    result = access.send_flow(OCMW_A, FlowRequest("request.new", (FlowPerson(ANNA, Role.MAIN),)))
    assert result.allowed
    assert [(i.ssin, i.code, i.period) for i in result.integrations_made] == [(ANNA, 1, p("2015-01-10", "2015-02-08"))]
    assert periods(directory.store, OCMW_A, 1, ANNA) == (p("2015-01-10", "2015-02-08"),)


def test_form_b_integrates_every_person_in_the_code_of_its_aid_for_the_decision_period(
    directory: DirectoryService, access: AccessService
) -> None:
    integrate01(directory, ANNA, BERT, CLEO)
    result = access.send_flow(
        OCMW_A, form_b((ANNA, Role.MAIN), (BERT, Role.PARTNER), (CLEO, Role.ADDITIONAL), aid="EMPLOYMENT_ART60")
    )
    assert result.allowed and result.summary.ok is Ok.YES
    assert {(i.ssin, i.code, i.period) for i in result.integrations_made} == {
        (s, 6, p("2015-01-01", "2015-06-30")) for s in (ANNA, BERT, CLEO)
    }
    for ssin in (ANNA, BERT, CLEO):
        assert periods(directory.store, OCMW_A, 6, ssin) == (p("2015-01-01", "2015-06-30"),)


def test_a_decision_period_without_end_runs_for_the_codes_maximum(
    directory: DirectoryService, access: AccessService
) -> None:
    integrate01(directory, ANNA)
    result = access.send_flow(OCMW_A, form_b((ANNA, Role.MAIN), decision_end=None))
    assert [i.period for i in result.integrations_made] == [p("2015-01-01", "2015-12-31")]


def test_a_decision_period_past_the_maximum_refuses_the_whole_flow_and_applies_nothing(
    directory: DirectoryService, access: AccessService
) -> None:
    integrate01(directory, ANNA)
    result = access.send_flow(OCMW_A, form_b((ANNA, Role.MAIN), decision_end="2016-01-01"))
    assert not result.allowed and result.summary.ok is Ok.NO
    assert [d.reason for d in result.details] == [Reason.PERIOD_EXCEEDS_MAXIMUM]
    assert result.integrations_made == ()
    assert periods(directory.store, OCMW_A, 2, ANNA) == ()


def test_a_refused_form_applies_nothing(directory: DirectoryService, access: AccessService) -> None:
    integrate01(directory, ANNA)  # BERT, the partner, is not integrated
    result = access.send_flow(OCMW_A, form_b((ANNA, Role.MAIN), (BERT, Role.PARTNER)))
    assert not result.allowed
    assert [pd.allowed for pd in result.persons] == [True, False]
    assert periods(directory.store, OCMW_A, 2, ANNA) == ()
    assert periods(directory.store, OCMW_A, 2, BERT) == ()


def test_form_c_desintegrates_nobody(directory: DirectoryService, access: AccessService) -> None:
    integrate01(directory, ANNA)
    before = periods(directory.store, OCMW_A, 1, ANNA)
    request = FlowRequest("form.wet65.C", (FlowPerson(ANNA, Role.MAIN),), effective_date=d("2015-01-05"))
    result = access.send_flow(OCMW_A, request)
    assert result.allowed and result.integrations_made == ()
    assert periods(directory.store, OCMW_A, 1, ANNA) == before


def test_an_allowed_attestation_is_recorded_so_a_later_desintegration_warns(
    directory: DirectoryService, access: AccessService
) -> None:
    directory.integrate(OCMW_A, DirectoryRequest(2, d("2015-01-01"), d("2015-12-31"), (ANNA,)))
    attestation = FlowRequest(
        "attestation.multifunctional",
        (FlowPerson(ANNA, Role.SUBJECT),),
        validity_period=(d("2015-03-01"), d("2015-05-31")),
        aid="LIVING_WAGE",
    )
    allowed = access.send_flow(OCMW_A, attestation)
    assert allowed.allowed
    outside = directory.desintegrate(OCMW_A, DirectoryRequest(2, d("2015-07-01"), None, (ANNA,)))
    assert outside.persons[0].status is Status.DESINTEGRATED and outside.summary.ok is Ok.YES
    inside = directory.desintegrate(OCMW_A, DirectoryRequest(2, d("2015-05-01"), d("2015-05-10"), (ANNA,)))
    assert inside.persons[0].status is Status.DESINTEGRATED
    assert inside.summary.ok is Ok.WARNING
    warning = inside.persons[0].details[0]
    assert warning.reason == Reason.ATTESTATION_AT_RISK
    assert dict(warning.information) == {
        "AttestationTicket": allowed.ticket,
        "ValidityPeriod": "2015-03-01/2015-05-31",
    }


def test_a_refused_attestation_is_not_recorded(directory: DirectoryService, access: AccessService) -> None:
    directory.integrate(OCMW_A, DirectoryRequest(2, d("2015-01-01"), d("2015-03-31"), (ANNA,)))
    attestation = FlowRequest(
        "attestation.multifunctional",
        (FlowPerson(ANNA, Role.SUBJECT),),
        validity_period=(d("2015-03-01"), d("2015-05-31")),
        aid="LIVING_WAGE",
    )
    refused = access.send_flow(OCMW_A, attestation)
    assert not refused.allowed
    assert refused.persons[0].missing_days == (p("2015-04-01", "2015-05-31"),)
    later = directory.desintegrate(OCMW_A, DirectoryRequest(2, d("2015-03-01"), None, (ANNA,)))
    assert later.summary.ok is Ok.YES


def test_a_reference_sent_again_returns_the_first_answer_and_applies_nothing_twice(
    directory: DirectoryService, access: AccessService
) -> None:
    first = access.send_flow(OCMW_A, FlowRequest("request.new", (FlowPerson(ANNA, Role.MAIN),)), reference="R-1")
    again = access.send_flow(OCMW_A, FlowRequest("request.new", (FlowPerson(ANNA, Role.MAIN),)), reference="R-1")
    assert again == first
    assert audit_operations(directory.store).count("SendFlow") == 1
    other = access.send_flow(OCMW_A, FlowRequest("request.new", (FlowPerson(BERT, Role.MAIN),)), reference="R-1")
    assert not other.allowed and [d.reason for d in other.details] == [Reason.REFERENCE_REUSED]
    assert periods(directory.store, OCMW_A, 1, BERT) == ()


def test_an_allowed_form_is_forwarded_to_its_provider_before_its_effects_are_made(
    directory: DirectoryService, provider: DemoProvider
) -> None:
    integrate01(directory, ANNA)
    access = access_service(directory.store, with_provider(provider.url))
    result = access.send_flow(OCMW_A, form_b((ANNA, Role.MAIN)))
    assert result.allowed
    assert provider.received == [PAYLOAD]
    assert result.provider_response is not None and result.ticket.encode() in result.provider_response
    assert periods(directory.store, OCMW_A, 2, ANNA) == (p("2015-01-01", "2015-06-30"),)


def test_a_refused_form_is_not_forwarded(directory: DirectoryService, provider: DemoProvider) -> None:
    access = access_service(directory.store, with_provider(provider.url))
    result = access.send_flow(OCMW_A, form_b((ANNA, Role.MAIN)))
    assert not result.allowed
    assert provider.received == []


@pytest.mark.parametrize("mode", ["fault", "slow", "down"])
def test_a_provider_that_fails_leaves_the_directory_unchanged(
    directory: DirectoryService, provider: DemoProvider, mode: str
) -> None:
    integrate01(directory, ANNA)
    url = provider.url
    if mode == "down":
        provider.stop()
    provider.mode, provider.delay = mode, 1.5
    access = access_service(directory.store, with_provider(url), timeout=0.5)
    result = access.send_flow(OCMW_A, form_b((ANNA, Role.MAIN)))
    assert not result.allowed and result.summary.ok is Ok.NO
    assert [d.reason for d in result.details] == [AccessReason.PROVIDER_UNAVAILABLE]
    assert result.integrations_made == ()
    assert periods(directory.store, OCMW_A, 2, ANNA) == ()
    assert audit_operations(directory.store)[-1] == "SendFlow"

"""The ManageAccess use case behind the legacy front, on real databases (a SQLite file, PostgreSQL): documents
written as OCMW software writes them, carried out through the directory's own use cases, answered with replies
that validate against the project's and the network's schemas (``legacy_front``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from legacy_front import Answer, LegacyFront
from ssdn_documents import Proof, Request, Sender, manage_access

from gateway.app.demo import DEMO_INSTITUTIONS
from gateway.app.ports import NonceClaim, Store
from gateway.domain.directory import Attestation, DirectoryRequest
from gateway.domain.periods import Period
from gateway.errors import FailedAuthentication

OCMW_A, OCMW_B, FAMILY, EMPLOYMENT = DEMO_INSTITUTIONS
SSIN = "68060105329"  # born 1968-06-01
OTHER = "85073003328"  # born 1985-07-30


@pytest.fixture
def front(store: Store) -> LegacyFront:
    return LegacyFront(store)


def periods(store: Store, institution_id: str, code: int, ssin: str = SSIN) -> list[str]:
    with store.transaction() as tx:
        return [str(p) for p in tx.read_periods(institution_id, code, [ssin]).get(ssin, ())]


def register(front: LegacyFront, start: str, end: str | None = None, *, purpose: str = "1") -> Answer:
    return front.send(OCMW_A, manage_access(Request("REGISTER", purpose=purpose, start=start, end=end)))


def ssin_with(body: str) -> str:
    """An SSIN of the 1900s with the given first nine digits and its check digits."""
    return f"{body}{97 - int(body) % 97:02d}"


# -- REGISTER -------------------------------------------------------------------------------------------------


def test_register_with_an_end_date_integrates_and_lists_the_callers_registration(front: LegacyFront) -> None:
    answer = register(front, "2015-01-10", "2015-02-28")
    assert (answer.ok, answer.context_codes()) == ("YES", [])
    assert (answer.service_ok(), answer.codes()) == ("YES", [])
    assert answer.registrations() == [("1", "2015-01-10+01:00", "2015-02-28+01:00", OCMW_A.id, "SECONDARY")]
    assert periods(front.store, OCMW_A.id, 1) == ["2015-01-10/2015-02-28"]
    assert answer.text("s:ServiceReply/m:ManageAccessReply/m:OriginalRequest/m:Action") == "REGISTER"
    assert answer.text("s:ServiceReply/m:ManageAccessReply/m:OriginalRequest/m:Register") is None


def test_register_without_an_end_date_runs_for_the_codes_maximum(front: LegacyFront) -> None:
    answer = register(front, "2015-01-10")
    assert answer.registrations() == [("1", "2015-01-10+01:00", "2015-03-09+01:00", OCMW_A.id, "SECONDARY")]
    assert answer.text("s:ServiceReply/m:ManageAccessReply/m:OriginalRequest/m:Period/c:EndDate") is None


def test_dates_carry_the_brussels_offset_of_their_day(front: LegacyFront) -> None:
    answer = register(front, "2015-03-01", "2015-04-30", purpose="1")
    assert answer.registrations() == [("1", "2015-03-01+01:00", "2015-04-30+02:00", OCMW_A.id, "SECONDARY")]


def test_registering_a_covered_period_changes_nothing_and_says_so(front: LegacyFront) -> None:
    register(front, "2015-01-10", "2015-02-28")
    answer = register(front, "2015-01-15", "2015-01-20")
    assert (answer.ok, answer.service_ok(), answer.codes()) == ("YES", "YES", ["19000001"])
    assert ("ReasonCode", "ALREADY_INTEGRATED") in answer.information()
    assert answer.registrations() == [("1", "2015-01-10+01:00", "2015-02-28+01:00", OCMW_A.id, "SECONDARY")]


def test_a_register_past_the_maximum_is_refused_with_the_latest_end(front: LegacyFront) -> None:
    answer = register(front, "2015-01-10", "2015-06-30")
    assert (answer.ok, answer.service_ok(), answer.codes()) == ("NO", "NO", ["39000005"])
    assert answer.context_codes() == ["30000001"]
    assert ("MaximumEndDate", "2015-03-09") in answer.information()
    assert not answer.has_body()
    assert periods(front.store, OCMW_A.id, 1) == []


def test_an_unknown_purpose_is_refused(front: LegacyFront) -> None:
    answer = register(front, "2015-01-10", purpose="77")
    assert answer.codes() == ["39000002"]


def test_the_same_reference_twice_is_applied_twice(front: LegacyFront) -> None:
    sender = Sender(reference="ManageAccessRequest # 1")
    front.send(OCMW_A, manage_access(Request("REGISTER", start="2015-01-10", end="2015-01-31"), sender=sender))
    answer = front.send(OCMW_A, manage_access(Request("UNREGISTER", start="2015-01-20"), sender=sender))
    assert answer.service_ok() == "YES"
    assert periods(front.store, OCMW_A.id, 1) == ["2015-01-10/2015-01-19"]
    assert answer.text("s:ReplyContext/s:Message/s:Reference") == "ManageAccessRequest # 1"


# -- UNREGISTER -----------------------------------------------------------------------------------------------


def test_an_unregister_that_splits_a_period_lists_what_overlaps_afterwards(front: LegacyFront) -> None:
    """RULES R3.4, the manual's example, through the legacy front."""
    register(front, "2014-12-01", "2015-01-31")
    answer = front.send(OCMW_A, manage_access(Request("UNREGISTER", start="2015-01-01", end="2015-01-14")))
    assert (answer.ok, answer.service_ok(), answer.codes()) == ("YES", "YES", [])
    assert answer.registrations() == []  # nothing of the caller's overlaps the removed days any more
    assert periods(front.store, OCMW_A.id, 1) == ["2014-12-01/2014-12-31", "2015-01-15/2015-01-31"]
    listed = front.send(OCMW_A, manage_access(Request("LIST", start="2014-12-01", query_register="SECONDARY")))
    assert listed.registrations() == [
        ("1", "2014-12-01+01:00", "2014-12-31+01:00", OCMW_A.id, "SECONDARY"),
        ("1", "2015-01-15+01:00", "2015-01-31+01:00", OCMW_A.id, "SECONDARY"),
    ]


def test_an_unregister_from_a_day_on_removes_the_rest(front: LegacyFront) -> None:
    register(front, "2014-12-01", "2015-01-31")
    answer = front.send(OCMW_A, manage_access(Request("UNREGISTER", start="2015-01-01")))
    assert answer.service_ok() == "YES"
    assert periods(front.store, OCMW_A.id, 1) == ["2014-12-01/2014-12-31"]


def test_an_unregister_with_nothing_to_remove_says_so(front: LegacyFront) -> None:
    answer = front.send(OCMW_A, manage_access(Request("UNREGISTER", start="2015-01-01")))
    assert (answer.service_ok(), answer.codes()) == ("YES", ["19000002"])


def test_an_unregister_of_attested_days_warns_with_the_networks_generic_warning(front: LegacyFront) -> None:
    front.store.catalogue()
    with front.store.transaction() as tx:
        tx.write_periods(OCMW_A.id, 2, SSIN, (Period(date(2015, 1, 1), date(2015, 12, 31)),))
        tx.record_attestation(OCMW_A.id, Attestation("KSZGW-attestation", SSIN, 2, Period(date(2015, 2, 1))))
    answer = front.send(OCMW_A, manage_access(Request("UNREGISTER", purpose="2", start="2015-03-01")))
    assert (answer.ok, answer.context_codes()) == ("WARNING", ["20000001"])
    assert (answer.service_ok(), answer.codes()) == ("WARNING", ["29000001"])
    assert ("AttestationTicket", "KSZGW-attestation") in answer.information()


# -- LIST -----------------------------------------------------------------------------------------------------


@pytest.fixture
def known(front: LegacyFront) -> LegacyFront:
    """The person integrated by both OCMWs (sector 17, code 1), child benefit (7) and employment (18)."""
    directory = front.answerer._service.directory
    directory.integrate(OCMW_A, DirectoryRequest(1, date(2015, 1, 1), date(2015, 1, 31), (SSIN,)))
    directory.integrate(OCMW_B, DirectoryRequest(1, date(2015, 1, 20), date(2015, 2, 28), (SSIN,)))
    directory.integrate(FAMILY, DirectoryRequest(1, date(2014, 6, 1), date(2015, 5, 31), (SSIN,)))
    directory.integrate(EMPLOYMENT, DirectoryRequest(1, date(2016, 1, 1), date(2016, 2, 1), (SSIN,)))
    return front


def list_(front: LegacyFront, **fields: str | None) -> Answer:
    return front.send(OCMW_A, manage_access(Request("LIST", **{"purpose": None, "start": "2015-01-01", **fields})))


def test_list_primary_shows_every_sector_merged(known: LegacyFront) -> None:
    answer = list_(known, end="2015-12-31", query_register="PRIMARY")
    assert answer.service_ok() == "YES"
    assert answer.registrations() == [
        ("1", "2014-06-01+02:00", "2015-05-31+02:00", "7", "PRIMARY"),
        ("1", "2015-01-01+01:00", "2015-02-28+01:00", "17", "PRIMARY"),
    ]
    assert answer.text("s:ServiceReply/m:ManageAccessReply/m:OriginalRequest/m:Register") == "PRIMARY"
    assert answer.text("s:ServiceReply/m:ManageAccessReply/m:OriginalRequest/m:Purpose") == "0"


def test_list_secondary_shows_the_callers_sector_per_institution(known: LegacyFront) -> None:
    answer = list_(known, query_register="SECONDARY")
    assert answer.registrations() == [
        ("1", "2015-01-01+01:00", "2015-01-31+01:00", OCMW_A.id, "SECONDARY"),
        ("1", "2015-01-20+01:00", "2015-02-28+01:00", OCMW_B.id, "SECONDARY"),
    ]


def test_list_all_shows_both_registers_primary_first(known: LegacyFront) -> None:
    answer = list_(known, end="2015-01-31", query_register="ALL")
    assert [(r[3], r[4]) for r in answer.registrations()] == [
        ("7", "PRIMARY"),
        ("17", "PRIMARY"),
        (OCMW_A.id, "SECONDARY"),
        (OCMW_B.id, "SECONDARY"),
    ]


def test_list_without_query_register_reads_all(known: LegacyFront) -> None:
    answer = list_(known, end="2015-01-31", query_register=None)
    assert answer.text("s:ServiceReply/m:ManageAccessReply/m:OriginalRequest/m:Register") == "ALL"
    assert len(answer.registrations()) == 4


def test_list_with_a_sector_reads_that_sectors_secondary_register(known: LegacyFront) -> None:
    answer = list_(known, sector="7", query_register="SECONDARY")
    assert answer.registrations() == [("1", "2014-06-01+02:00", "2015-05-31+02:00", FAMILY.id, "SECONDARY")]


def test_list_with_a_purpose_filters_on_it(known: LegacyFront) -> None:
    directory = known.answerer._service.directory
    directory.integrate(OCMW_A, DirectoryRequest(2, date(2015, 1, 1), date(2015, 3, 31), (SSIN,)))
    answer = list_(known, purpose="2", query_register="ALL")
    assert answer.registrations() == [
        ("2", "2015-01-01+01:00", "2015-03-31+02:00", "17", "PRIMARY"),
        ("2", "2015-01-01+01:00", "2015-03-31+02:00", OCMW_A.id, "SECONDARY"),
    ]
    assert answer.text("s:ServiceReply/m:ManageAccessReply/m:OriginalRequest/m:Purpose") == "2"


def test_list_over_a_period_without_integrations_is_empty_and_ok(known: LegacyFront) -> None:
    answer = list_(known, start="2020-01-01")
    assert (answer.ok, answer.registrations(), answer.has_body()) == ("YES", [], True)


def test_list_needs_no_proof_but_checks_one_given(front: LegacyFront) -> None:
    empty = front.send(OCMW_A, manage_access(Request("LIST", proof=Proof())))
    assert empty.service_ok() == "YES"
    wrong = front.send(OCMW_A, manage_access(Request("LIST", proof=Proof(last_name="X", birth_date="1970-01-01"))))
    assert (wrong.service_ok(), wrong.codes()) == ("NO", ["39100005"])


def test_list_of_an_invalid_ssin_is_refused(front: LegacyFront) -> None:
    answer = front.send(OCMW_A, manage_access(Request("LIST", ssin="68060105320", proof=Proof())))
    assert (answer.service_ok(), answer.codes()) == ("NO", ["39000001"])
    assert not answer.has_body()


def test_list_ending_before_it_starts_is_refused(front: LegacyFront) -> None:
    answer = front.send(OCMW_A, manage_access(Request("LIST", start="2015-02-01", end="2015-01-01")))
    assert (answer.service_ok(), answer.codes()) == ("NO", ["39000004"])


# -- what the contract refuses, with nothing applied ----------------------------------------------------------


def audit_operations(store: Store) -> list[tuple[str, str | None]]:
    return [(r.operation, r.reference) for r in store.audit_log()]


@pytest.mark.parametrize(
    ("sender", "code"),
    [
        (Sender(org_unit="0212345767"), "39100001"),
        (Sender(org_unit="212345767"), "39100001"),
        (Sender(matrix_id="7"), "39100002"),
    ],
    ids=["OrgUnit of another OCMW", "OrgUnit without its 0", "MatrixID of another sector"],
)
def test_a_document_that_speaks_for_another_institution_is_refused_whole(
    front: LegacyFront, sender: Sender, code: str
) -> None:
    answer = front.send(OCMW_A, manage_access(Request("REGISTER"), Request("LIST"), sender=sender))
    assert (answer.ok, answer.context_codes()) == ("NO", ["30000001", code])
    assert [answer.service_ok(0), answer.service_ok(1)] == ["NO", "NO"]
    assert answer.codes(0) == answer.codes(1) == [code]
    assert periods(front.store, OCMW_A.id, 1) == []
    assert audit_operations(front.store) == [("ManageAccess", "ManageAccessRequest # 1")]


@pytest.mark.parametrize("org_unit", ["0212345668", "0212.345.668", " 0212345668 ", "212345668", "", None])
def test_an_org_unit_that_names_the_caller_or_nothing_is_accepted(front: LegacyFront, org_unit: str | None) -> None:
    answer = front.send(OCMW_A, manage_access(Request("REGISTER"), sender=Sender(org_unit=org_unit)))
    assert answer.ok == "YES"


def test_a_register_without_purpose_gets_the_networks_mandatory_argument_code(front: LegacyFront) -> None:
    answer = front.send(OCMW_A, manage_access(Request("REGISTER", purpose=None)))
    assert (answer.ok, answer.service_ok(), answer.codes()) == ("NO", "NO", ["31000007"])
    detail = answer.services()[0].find("c:ResultSummary/c:Detail", {"c": "http://www.ksz-bcss.fgov.be/XSD/SSDN/Common"})
    assert detail.findtext("{http://www.ksz-bcss.fgov.be/XSD/SSDN/Common}Diagnostic").startswith(
        "The expected mandatory argument is not provided or empty"
    )
    assert detail.find("{http://www.ksz-bcss.fgov.be/XSD/SSDN/Common}AuthorCodeList") is None
    assert ("FieldName", "Purpose") in answer.information()


@pytest.mark.parametrize(
    ("action", "proof", "code"),
    [
        ("REGISTER", Proof(), "39100003"),
        ("UNREGISTER", Proof(), "39100003"),
        ("REGISTER", Proof(last_name="DEMO", birth_date="1968-06-02"), "39100005"),
        ("REGISTER", Proof(last_name="DEMO", birth_date="1969-00-00"), "39100005"),
        ("REGISTER", Proof(last_name="DEMO", birth_date="1968-07-00"), "39100005"),
        ("REGISTER", Proof(id_card="591234567830"), "39100004"),
        ("UNREGISTER", Proof(sis_card="1234567890", id_card="591234567800"), "39100004"),
    ],
    ids=["register empty", "unregister empty", "other day", "other year", "other month", "id card", "id card 2"],
)
def test_an_empty_or_contradicting_proof_refuses_the_action(
    front: LegacyFront, action: str, proof: Proof, code: str
) -> None:
    register(front, "2015-01-10", "2015-01-31")
    answer = front.send(OCMW_A, manage_access(Request(action, start="2015-01-15", proof=proof)))
    assert (answer.ok, answer.service_ok(), answer.codes()) == ("NO", "NO", [code])
    assert periods(front.store, OCMW_A.id, 1) == ["2015-01-10/2015-01-31"]
    assert audit_operations(front.store)[-1][0] == "ManageAccess"


@pytest.mark.parametrize(
    "proof",
    [
        Proof(sis_card="1234567890"),
        Proof(id_card="591234567829"),
        Proof(last_name="", first_name="", birth_date="1968-06-00"),
        Proof(last_name="DEMO", birth_date="1968-00-00"),
    ],
    ids=["SIS card", "identity card", "month known", "year known"],
)
def test_a_proof_that_agrees_lets_the_action_through(front: LegacyFront, proof: Proof) -> None:
    answer = front.send(OCMW_A, manage_access(Request("REGISTER", proof=proof)))
    assert answer.ok == "YES"


def test_a_bis_number_with_unknown_month_agrees_with_a_known_month(front: LegacyFront) -> None:
    bis = ssin_with("682005123")  # born 1968, month unknown (20 + 0), day 05
    answer = front.send(
        OCMW_A, manage_access(Request("REGISTER", ssin=bis, proof=Proof(last_name="X", birth_date="1968-03-05")))
    )
    assert answer.ok == "YES"
    other_day = front.send(
        OCMW_A, manage_access(Request("REGISTER", ssin=bis, proof=Proof(last_name="X", birth_date="1968-03-06")))
    )
    assert other_day.codes() == ["39100005"]


def test_the_names_of_the_proof_are_in_the_audit_trail(front: LegacyFront) -> None:
    front.send(
        OCMW_A,
        manage_access(
            Request("REGISTER", proof=Proof(last_name="O'Brien & Co", first_name="Jan", birth_date="1968-06-01"))
        ),
    )
    record = list(front.store.audit_log())[-1]
    assert record.operation == "Integrate"
    assert record.reference == "ManageAccessRequest # 1"
    context = record.request["context"]
    assert context["proof"]["last_name"] == "O'Brien & Co"
    assert (context["front"], context["action"], context["matrix_sub_id"]) == ("ssdn", "REGISTER", 1)


# -- documents that cannot be read ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (
            manage_access(Request("REGISTER"))
            .replace("<mar:Action>", "<mar:Deed>")
            .replace("</mar:Action>", "</mar:Deed>"),
            "39200003",
        ),
        ("<ssdn:SSDNRequest xmlns:ssdn='http://www.ksz-bcss.fgov.be/XSD/SSDN/Service'>", "39200001"),
        ('<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>', "39200002"),
        ("", "39200001"),
    ],
    ids=["schema-invalid", "not well-formed", "a DOCTYPE", "empty"],
)
def test_a_document_that_cannot_be_read_is_refused_whole(front: LegacyFront, text: str, code: str) -> None:
    answer = front.send(OCMW_A, text)
    assert (answer.ok, answer.context_codes()) == ("NO", ["30000001", code])
    assert (answer.service_ok(), answer.codes()) == ("NO", [code])
    assert periods(front.store, OCMW_A.id, 1) == []
    assert [r.operation for r in front.store.audit_log()] == ["ManageAccess"]


def test_a_schema_invalid_document_echoes_its_reference(front: LegacyFront) -> None:
    answer = front.send(OCMW_A, manage_access(Request("REGISTER", purpose="+1")))
    assert answer.text("s:ReplyContext/s:Message/s:Reference") == "ManageAccessRequest # 1"
    assert answer.text("s:ReplyContext/s:Message/s:TimeRequest") == "20150110T101500"


# -- several service requests ---------------------------------------------------------------------------------


def test_service_requests_are_handled_in_order_each_with_its_own_reply(front: LegacyFront) -> None:
    answer = front.send(
        OCMW_A,
        manage_access(
            Request("REGISTER", start="2015-01-10", end="2015-01-31"),
            Request("REGISTER", purpose=None),
            Request("LIST", query_register="SECONDARY", proof=Proof()),
        ),
    )
    assert (answer.ok, answer.context_codes()) == ("WARNING", ["30000001"])
    assert [answer.service_ok(i) for i in range(3)] == ["YES", "NO", "YES"]
    assert answer.registrations(2) == [("1", "2015-01-10+01:00", "2015-01-31+01:00", OCMW_A.id, "SECONDARY")]
    tickets = [r.ticket for r in front.store.audit_log()]
    assert answer.ticket == tickets[0] and len(answer.ticket) == 36
    assert [t[-2:] for t in tickets] == ["01", "02", "03"]
    assert len({t[:-2] for t in tickets}) == 1


def test_an_unknown_service_or_version_refuses_that_service_request_only(front: LegacyFront) -> None:
    answer = front.send(
        OCMW_A,
        manage_access(
            Request("LIST", service_id="OCMWCPASIdentifyPerson"),
            Request("LIST", version="20120101"),
            Request("LIST"),
        ),
    )
    assert [answer.codes(i) for i in range(3)] == [["39100006"], ["39100007"], []]
    services = answer.services()
    assert services[0].findtext("{http://www.ksz-bcss.fgov.be/XSD/SSDN/Service}ServiceId") == "OCMWCPASIdentifyPerson"


def test_more_than_ten_service_requests_are_refused_as_a_whole(front: LegacyFront) -> None:
    answer = front.send(OCMW_A, manage_access(*[Request("REGISTER")] * 11))
    assert (answer.ok, answer.context_codes()) == ("NO", ["30000001", "39100008"])
    assert len(answer.services()) == 11
    assert periods(front.store, OCMW_A.id, 1) == []
    ten = front.send(OCMW_A, manage_access(*[Request("LIST")] * 10))
    assert ten.ok == "YES"


def test_a_nonce_is_claimed_once_per_document(front: LegacyFront) -> None:
    now = datetime.now(UTC)
    nonce = NonceClaim(OCMW_A.id, "bm9uY2U=", now, now)
    text = manage_access(Request("LIST"), Request("LIST"))
    assert front.send(OCMW_A, text, nonce=nonce).ok == "YES"
    with pytest.raises(FailedAuthentication):
        front.send(OCMW_A, text, nonce=nonce)
    with pytest.raises(FailedAuthentication):
        front.send(OCMW_A, manage_access(Request("LIST"), sender=Sender(matrix_id="7")), nonce=nonce)

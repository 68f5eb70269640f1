"""The JSON form of results kept in the audit trail and as stored answers: one generic, table-driven pair.

Invariant: ``decode(type(x), encode(x)) == x`` for every result (properties over generated results), and an
answer stored by earlier releases, whose JSON is written out below as the store kept it, still decodes to the
answer it was. The description of a flow request, from which the Reference fingerprint of existing databases
is computed, is also the one earlier releases wrote.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.access import FlowPerson, FlowRequest, PersonDecision, PlannedIntegration, Role
from gateway.domain.directory import (
    RETURN_CODES,
    Detail,
    Institution,
    Integration,
    Ok,
    PersonOutcome,
    Reason,
    Severity,
    Status,
    Summary,
)
from gateway.domain.periods import Period
from gateway.domain.results import (
    ConsultResult,
    FlowResult,
    OperationResult,
    decode,
    decode_consult,
    decode_flow,
    decode_operation,
    encode,
    encode_period,
)


def d(text: str) -> date:
    return date.fromisoformat(text)


# -- answers stored by earlier releases (JSON as the store keeps it, written by the hand-written pair) ---------

STORED_OPERATION = (
    '{"ticket":"KSZGW-20150110-000001","summary":{"ok":"WARNING","return_code":1},"details":[{"severity":'
    '"WARNING","reason":"ATTESTATION_AT_RISK","diagnostic":"Attestation KSZGW-1 needs it.","information":'
    '[["AttestationTicket","KSZGW-1"],["ValidityPeriod","2015-01-01/2015-03-31"]]}],"persons":[{"ssin":"8'
    '5073003328","status":"DESINTEGRATED","details":[{"severity":"WARNING","reason":"ATTESTATION_AT_RISK"'
    ',"diagnostic":"Attestation KSZGW-1 needs it.","information":[["AttestationTicket","KSZGW-1"],["Valid'
    'ityPeriod","2015-01-01/2015-03-31"]]}],"periods":[["2014-12-01","2014-12-31"],["2015-01-15",null]],"'
    'changed":true},{"ssin":"85073003329","status":"REFUSED","details":[{"severity":"ERROR","reason":"INV'
    'ALID_SSIN","diagnostic":"bad","information":[]}],"periods":null,"changed":false}]}'
)
STORED_CONSULT = (
    '{"ticket":"KSZGW-2","summary":{"ok":"YES","return_code":0},"details":[],"integrations":[{"institutio'
    'n":["0212345668","OCMW Demostad",17],"ssin":"85073003328","code":1,"period":["2015-01-15","2015-01-3'
    '1"]},{"institution":["0212345866","Kinderbijslagfonds Demo",7],"ssin":"85073003328","code":1,"period'
    '":["2015-01-02",null]}]}'
)
STORED_FLOW = (
    '{"ticket":"KSZGW-3","summary":{"ok":"YES","return_code":0},"allowed":true,"details":[],"persons":[{"'
    'ssin":"81061513393","role":"MAIN","allowed":true,"rule":"R5.4","details":[],"satisfied_by":[["2015-0'
    '1-10","2015-02-08"]],"missing_days":[]},{"ssin":"83092224429","role":"PARTNER","allowed":false,"rule'
    '":"R5.4","details":[{"severity":"ERROR","reason":"NOT_INTEGRATED","diagnostic":"x","information":[["'
    'SSIN","83092224429"]]}],"satisfied_by":[],"missing_days":[["2015-02-01","2015-02-01"]]}],"integratio'
    'ns_made":[{"ssin":"81061513393","code":2,"period":["2015-02-01","2016-01-31"],"rule":"R6.1"}],"provi'
    'der_response":"<p:Ack xmlns:p=\\"urn:p\\">é</p:Ack>"}'
)

AT_RISK = Detail(
    Severity.WARNING,
    "ATTESTATION_AT_RISK",
    "Attestation KSZGW-1 needs it.",
    (("AttestationTicket", "KSZGW-1"), ("ValidityPeriod", "2015-01-01/2015-03-31")),
)
OPERATION = OperationResult(
    "KSZGW-20150110-000001",
    Summary(Ok.WARNING, 1),
    (
        PersonOutcome(
            "85073003328",
            Status.DESINTEGRATED,
            (AT_RISK,),
            (Period(d("2014-12-01"), d("2014-12-31")), Period(d("2015-01-15"))),
            True,
        ),
        PersonOutcome("85073003329", Status.REFUSED, (Detail(Severity.ERROR, Reason.INVALID_SSIN, "bad"),), None),
    ),
    (AT_RISK,),
)
CONSULT = ConsultResult(
    "KSZGW-2",
    Summary(Ok.YES, 0),
    (
        Integration(
            Institution("0212345668", "OCMW Demostad", 17), "85073003328", 1, Period(d("2015-01-15"), d("2015-01-31"))
        ),
        Integration(Institution("0212345866", "Kinderbijslagfonds Demo", 7), "85073003328", 1, Period(d("2015-01-02"))),
    ),
)
FLOW = FlowResult(
    "KSZGW-3",
    Summary(Ok.YES, 0),
    True,
    (
        PersonDecision("81061513393", Role.MAIN, True, "R5.4", (), (Period(d("2015-01-10"), d("2015-02-08")),), ()),
        PersonDecision(
            "83092224429",
            Role.PARTNER,
            False,
            "R5.4",
            (Detail(Severity.ERROR, "NOT_INTEGRATED", "x", (("SSIN", "83092224429"),)),),
            (),
            (Period(d("2015-02-01"), d("2015-02-01")),),
        ),
    ),
    (),
    (PlannedIntegration("81061513393", 2, Period(d("2015-02-01"), d("2016-01-31")), "R6.1"),),
    '<p:Ack xmlns:p="urn:p">\u00e9</p:Ack>'.encode(),
)


def test_answers_stored_by_earlier_releases_still_decode() -> None:
    assert decode_operation(json.loads(STORED_OPERATION)) == OPERATION
    assert decode_consult(json.loads(STORED_CONSULT)) == CONSULT
    assert decode_flow(json.loads(STORED_FLOW)) == FLOW


def test_answers_are_stored_as_earlier_releases_stored_them() -> None:
    for value, stored in ((OPERATION, STORED_OPERATION), (CONSULT, STORED_CONSULT), (FLOW, STORED_FLOW)):
        assert encode(value) == json.loads(stored)
    assert encode_period(Period(d("2015-01-01"))) == ["2015-01-01", None]


def test_a_field_an_older_answer_lacks_takes_its_default() -> None:
    older = json.loads(STORED_FLOW)
    del older["integrations_made"], older["provider_response"]
    assert decode(FlowResult, older) == FlowResult(FLOW.ticket, FLOW.summary, FLOW.allowed, FLOW.persons)


def test_a_flow_requests_description_is_the_one_its_reference_fingerprint_was_made_of() -> None:
    request = FlowRequest(
        "form.wet65.B",
        (FlowPerson("81061513393", Role.MAIN),),
        b"<x/>",
        effective_date=d("2015-02-01"),
        decision_period=(d("2015-02-01"), None),
        aid="LIVING_WAGE",
    )
    assert json.dumps(request.describe(), sort_keys=True) == (
        '{"aid": "LIVING_WAGE", "consultation_period": null, "decision_period": ["2015-02-01", null], '
        '"delivery_year": null, "effective_date": "2015-02-01", "flow": "form.wet65.B", "payload": "<x/>", '
        '"persons": [["81061513393", "MAIN"]], "validity_period": null}'
    )


# -- properties ------------------------------------------------------------------------------------------

days = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
words = st.text(max_size=12)


@st.composite
def periods(draw: st.DrawFn) -> Period:
    start = draw(days)
    return Period(start, draw(st.none() | st.dates(min_value=start, max_value=date(9999, 12, 31))))


reasons = st.sampled_from(Reason) | words  # a reason code is an enum member or a plain code
details = st.builds(Detail, st.sampled_from(Severity), reasons, words, st.lists(st.tuples(words, words)).map(tuple))


def many(elements: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    return st.lists(elements, max_size=3)


summaries = st.sampled_from(Ok).map(lambda ok: Summary(ok, RETURN_CODES[ok]))
operation_results = st.builds(
    OperationResult,
    words,
    summaries,
    many(
        st.builds(
            PersonOutcome,
            words,
            st.sampled_from(Status),
            many(details).map(tuple),
            st.none() | many(periods()).map(tuple),
            st.booleans(),
        )
    ).map(tuple),
    many(details).map(tuple),
)
consult_results = st.builds(
    ConsultResult,
    words,
    summaries,
    many(
        st.builds(Integration, st.builds(Institution, words, words, st.integers()), words, st.integers(), periods())
    ).map(tuple),
    many(details).map(tuple),
)
flow_results = st.builds(
    FlowResult,
    words,
    summaries,
    st.booleans(),
    many(
        st.builds(
            PersonDecision,
            words,
            st.sampled_from(Role),
            st.booleans(),
            words,
            many(details).map(tuple),
            many(periods()).map(tuple),
            many(periods()).map(tuple),
        )
    ).map(tuple),
    many(details).map(tuple),
    many(st.builds(PlannedIntegration, words, st.integers(), periods(), words)).map(tuple),
    st.none() | words.map(str.encode),
)


@given(st.one_of(operation_results, consult_results, flow_results))
def test_any_result_decodes_from_its_stored_json_to_itself(result: Any) -> None:
    stored = json.dumps(encode(result), separators=(",", ":"), ensure_ascii=False)
    assert decode(type(result), json.loads(stored)) == result

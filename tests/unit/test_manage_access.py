"""The ManageAccess rules as pure functions (gateway.domain.manage_access): identity, proof, registers, summary."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.domain.directory import Institution, Integration, Ok, Summary
from gateway.domain.manage_access import (
    Action,
    AuthorizedUser,
    LegacyReason,
    ManageAccessRequest,
    PersonData,
    Proof,
    Register,
    Registration,
    check_identity,
    check_proof,
    check_service,
    document_summary,
    identity_card_valid,
    registers,
)
from gateway.domain.periods import Period

A = Institution("0212345668", "OCMW Demostad", 17)
B = Institution("0212345767", "OCMW Voorbeeldgem", 17)
C = Institution("0212345866", "Kinderbijslagfonds Demo", 7)


def request(action: Action, proof: Proof, ssin: str = "68060105329") -> ManageAccessRequest:
    return ManageAccessRequest(ssin, 1, date(2015, 1, 1), None, action, 17, Register.ALL, proof)


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("591234567829", True),
        ("591234567830", False),
        ("000000009797", True),
        ("000000000097", True),
        ("00000000000", False),
        ("59123456782X", False),
    ],
)
def test_an_identity_card_number_checks_modulo_97(number: str, valid: bool) -> None:
    assert identity_card_valid(number) is valid


@pytest.mark.parametrize(
    ("birth", "agrees"),
    [
        ("1968-06-01", True),
        ("1968-06-00", True),
        ("1968-00-00", True),
        ("1968-00-01", True),
        ("1968-06-02", False),
        ("1968-07-00", False),
        ("2068-06-01", False),
    ],
)
def test_a_birth_date_agrees_in_its_known_parts(birth: str, agrees: bool) -> None:
    found = check_proof(request(Action.REGISTER, Proof(person=PersonData("X", None, birth))))
    assert (found is None) is agrees
    if not agrees:
        assert found is not None and found.reason is LegacyReason.PROOF_BIRTH_DATE_MISMATCH


def test_an_empty_proof_refuses_register_and_unregister_but_not_list() -> None:
    assert check_proof(request(Action.LIST, Proof())) is None
    for action in (Action.REGISTER, Action.UNREGISTER):
        found = check_proof(request(action, Proof()))
        assert found is not None and found.reason is LegacyReason.PROOF_MISSING


def test_identity_compares_org_unit_and_matrix_id() -> None:
    user = AuthorizedUser("00901234567", "x@y", "0212345668", 17, 1)
    assert check_identity(user, A.id, 17) is None
    refused = check_identity(user, B.id, 17)
    assert refused is not None and refused.reason is LegacyReason.ORGUNIT_MISMATCH
    refused = check_identity(user, A.id, 7)
    assert refused is not None and refused.reason is LegacyReason.MATRIXID_MISMATCH


def test_a_refusal_quotes_a_long_value_of_the_document_by_its_start_and_length() -> None:
    user = AuthorizedUser("00901234567", "x@y", "9" * 1_000_000, 17, 1)
    for refused in (check_identity(user, A.id, 17), check_service("S" * 1_000_000, "20050930", True)):
        assert refused is not None
        assert len(refused.diagnostic) < 300 and "(1000000 characters)" in refused.diagnostic
        assert all(len(value) < 100 for _, value in refused.information)


def _i(who: Institution, code: int, start: str, end: str | None) -> Integration:
    return Integration(
        who, "68060105329", code, Period(date.fromisoformat(start), date.fromisoformat(end) if end else None)
    )


FOUND = [
    _i(B, 1, "2015-02-01", "2015-03-31"),
    _i(A, 1, "2015-01-01", "2015-01-31"),  # adjacent to B's: merged in the PRIMARY register
    _i(A, 1, "2015-06-01", None),
    _i(C, 1, "2015-01-15", "2015-01-20"),
    _i(A, 2, "2015-01-01", "2015-12-31"),
]


def test_the_primary_register_merges_per_sector_and_code() -> None:
    assert registers(FOUND, Register.PRIMARY, 17) == (
        Registration(1, Period(date(2015, 1, 15), date(2015, 1, 20)), "7", Register.PRIMARY),
        Registration(1, Period(date(2015, 1, 1), date(2015, 3, 31)), "17", Register.PRIMARY),
        Registration(1, Period(date(2015, 6, 1)), "17", Register.PRIMARY),
        Registration(2, Period(date(2015, 1, 1), date(2015, 12, 31)), "17", Register.PRIMARY),
    )


def test_the_secondary_register_lists_one_sectors_institutions() -> None:
    shown = registers(FOUND, Register.SECONDARY, 17)
    assert [(r.org_unit, r.purpose, str(r.period)) for r in shown] == [
        (A.id, 1, "2015-01-01/2015-01-31"),
        (A.id, 1, "2015-06-01/"),
        (A.id, 2, "2015-01-01/2015-12-31"),
        (B.id, 1, "2015-02-01/2015-03-31"),
    ]
    assert [r.org_unit for r in registers(FOUND, Register.SECONDARY, 7)] == [C.id]
    assert len(registers(FOUND, Register.ALL, 17)) == 8


@pytest.mark.parametrize(
    ("oks", "ok", "generic"),
    [
        ([Ok.YES, Ok.YES], Ok.YES, None),
        ([Ok.YES, Ok.WARNING], Ok.WARNING, LegacyReason.SERVICE_REQUEST_WARNING),
        ([Ok.YES, Ok.NO], Ok.WARNING, LegacyReason.SERVICE_REQUEST_ERROR),
        ([Ok.WARNING, Ok.NO], Ok.WARNING, LegacyReason.SERVICE_REQUEST_ERROR),
        ([Ok.NO, Ok.NO], Ok.NO, LegacyReason.SERVICE_REQUEST_ERROR),
        ([], Ok.NO, LegacyReason.SERVICE_REQUEST_ERROR),
    ],
)
def test_the_document_summary_gives_the_networks_generic_code(
    oks: list[Ok], ok: Ok, generic: LegacyReason | None
) -> None:
    codes = {Ok.YES: 0, Ok.WARNING: 1, Ok.NO: 10000}
    summary, detail = document_summary([Summary(o, codes[o]) for o in oks])
    assert (summary.ok, summary.return_code) == (ok, codes[ok])
    assert (None if detail is None else detail.reason) == generic

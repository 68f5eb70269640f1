"""Registered client certificates in every store (memory, SQLite, PostgreSQL): added, found by fingerprint in a
transaction, listed, removed; what the port refuses is refused everywhere the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.app.ports import CertificateRecord, InstitutionRecord, Store
from gateway.errors import UnknownInstitution

A = InstitutionRecord("0212345668", "OCMW Demostad", 17, "secret-a")
B = InstitutionRecord("0212345767", "OCMW Voorbeeldgem", 17, "secret-b")
START = datetime(2015, 1, 1, 8, 30, tzinfo=UTC)


def record(fingerprint: str, institution: InstitutionRecord = A) -> CertificateRecord:
    return CertificateRecord(fingerprint, institution.id, f"CN={institution.name}", START, START + timedelta(days=365))


@pytest.fixture
def known(store: Store) -> Store:
    store.add_institution(A)
    store.add_institution(B)
    return store


def test_a_certificate_is_found_by_its_fingerprint_in_a_transaction(known: Store) -> None:
    assert known.add_certificate(record("a" * 64))
    with known.transaction() as tx:
        found = tx.certificate("a" * 64)
        assert tx.certificate("b" * 64) is None
    assert found == record("a" * 64)
    assert found is not None and found.not_before.tzinfo is not None


def test_a_fingerprint_belongs_to_one_institution_only(known: Store) -> None:
    assert known.add_certificate(record("a" * 64))
    assert not known.add_certificate(record("a" * 64, B))
    assert [(c.fingerprint, c.institution_id) for c in known.certificates()] == [("a" * 64, A.id)]


def test_certificates_are_listed_by_institution_then_fingerprint(known: Store) -> None:
    for fingerprint, holder in (("c" * 64, B), ("b" * 64, A), ("a" * 64, B)):
        known.add_certificate(record(fingerprint, holder))
    assert [(c.institution_id, c.fingerprint[0]) for c in known.certificates()] == [
        (A.id, "b"),
        (B.id, "a"),
        (B.id, "c"),
    ]


def test_a_certificate_of_an_unknown_institution_is_refused(known: Store) -> None:
    with pytest.raises(UnknownInstitution):
        known.add_certificate(CertificateRecord("a" * 64, "0212345965", "CN=x", START, START))
    assert known.certificates() == []


def test_a_certificate_is_removed_only_by_its_own_institution(known: Store) -> None:
    known.add_certificate(record("a" * 64))
    assert not known.remove_certificate(B.id, "a" * 64)
    assert not known.remove_certificate(A.id, "b" * 64)
    assert known.remove_certificate(A.id, "a" * 64)
    assert known.certificates() == []
    with known.transaction() as tx:
        assert tx.certificate("a" * 64) is None

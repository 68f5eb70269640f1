"""What a request's transaction keeps when a store waits on its database as seldom as it can (PostgreSQL sends a
request's statements in a pipeline and waits twice): a replayed nonce still refuses everything, wherever the
store finds it out; reads made together answer as made apart; an error still rolls everything back. Run on every
store (fixture ``store``): memory and SQLite answer at once, and must answer the same.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from gateway.adapters.storage.memory import MemoryStore
from gateway.app.demo import DEMO_INSTITUTIONS, ensure_demo
from gateway.app.ports import AuditRecord, NonceClaim, Store, StoredAnswer
from gateway.domain.directory import Attestation
from gateway.domain.periods import Period
from gateway.errors import InternalError, NonceReplayed

P1, P2 = "85073003328", "90010100123"
NOW = datetime(2015, 1, 10, 10, 0, tzinfo=UTC)


@pytest.fixture
def demo(store: Store) -> tuple[Store, str]:
    ensure_demo(store)
    return store, DEMO_INSTITUTIONS[0].id


def audit(ticket: str, institution: str) -> AuditRecord:
    return AuditRecord(ticket, institution, "Integrate", NOW, None, {"ticket": ticket}, {"ticket": ticket})


def january() -> tuple[Period, ...]:
    return (Period(date(2015, 1, 1), date(2015, 1, 31)),)


def test_a_replayed_nonce_found_out_with_the_first_read_commits_nothing(demo: tuple[Store, str]) -> None:
    store, institution = demo
    claim = NonceClaim(institution, "bm9uY2U=", NOW, NOW)
    with store.transaction() as tx:
        tx.claim_nonce_deferred(claim)
        assert tx.read_periods(institution, 1, [P1]) == {}
    with pytest.raises(NonceReplayed, match=institution), store.transaction() as tx:
        tx.claim_nonce_deferred(claim)
        tx.read_periods(institution, 1, [P1])
        tx.write_periods(institution, 1, P1, january())
        tx.add_audit(audit("KSZGW-replayed", institution))
    with store.transaction() as tx:
        assert tx.read_periods(institution, 1, [P1]) == {}
    assert [r.ticket for r in store.audit_log()] == []


def test_a_replayed_nonce_with_no_read_before_the_commit_commits_nothing(demo: tuple[Store, str]) -> None:
    store, institution = demo
    claim = NonceClaim(institution, "b3RoZXI=", NOW, NOW)
    with store.transaction() as tx:
        tx.claim_nonce_deferred(claim)
        tx.add_audit(audit("KSZGW-first", institution))
    with pytest.raises(NonceReplayed, match=institution), store.transaction() as tx:
        tx.claim_nonce_deferred(claim)
        tx.write_periods(institution, 1, P1, january())
        tx.save_answer(institution, "ref", StoredAnswer("Integrate", "x", {"ticket": "KSZGW-second"}))
        tx.add_audit(audit("KSZGW-second", institution))
    with store.transaction() as tx:
        assert tx.read_periods(institution, 1, [P1]) == {}
        assert tx.find_answer(institution, "ref") is None
    assert [r.ticket for r in store.audit_log()] == ["KSZGW-first"]


def test_a_nonce_claimed_later_is_used_up_for_an_immediate_claim_too(demo: tuple[Store, str]) -> None:
    store, institution = demo
    claim = NonceClaim(institution, "dGhpcmQ=", NOW, NOW)
    with store.transaction() as tx:
        tx.claim_nonce_deferred(claim)
    with store.transaction() as tx:
        assert tx.claim_nonce(claim) is False


def test_periods_and_attestations_read_together_are_what_each_read_gives(demo: tuple[Store, str]) -> None:
    store, institution = demo
    validity = Period(date(2015, 1, 1), date(2015, 3, 31))
    with store.transaction() as tx:
        tx.write_periods(institution, 1, P1, january())
        tx.record_attestation(institution, Attestation("KSZGW-att", P2, 1, validity))
    with store.transaction() as tx:
        together = tx.periods_and_attestations(institution, 1, [P2, P1, P1])
        apart = (tx.read_periods(institution, 1, [P1, P2]), tx.attestations_of(institution, [P1, P2]))
    assert together == apart
    assert together == ({P1: january()}, {P2: [Attestation("KSZGW-att", P2, 1, validity)]})


def test_a_write_the_database_refuses_after_a_read_rolls_back_the_reads_transaction(demo: tuple[Store, str]) -> None:
    store, institution = demo
    if isinstance(store, MemoryStore):
        pytest.skip("a memory store has no constraint beneath it")
    overlapping = (Period(date(2015, 1, 1), date(2015, 1, 31)), Period(date(2015, 1, 31), date(2015, 2, 28)))
    with pytest.raises(InternalError, match="constraint"), store.transaction() as tx:
        tx.claim_nonce_deferred(NonceClaim(institution, "Zm91cnRo", NOW, NOW))
        tx.write_periods(institution, 1, P1, overlapping)
        tx.add_audit(audit("KSZGW-refused", institution))
        tx.read_periods(institution, 1, [P2])  # a later read may be where the refusal is found out
    with store.transaction() as tx:
        assert tx.read_periods(institution, 1, [P1]) == {}
        assert tx.claim_nonce(NonceClaim(institution, "Zm91cnRo", NOW, NOW)) is True  # not used up
    assert list(store.audit_log()) == []

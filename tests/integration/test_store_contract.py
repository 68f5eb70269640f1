"""The storage port's contract, run unchanged in memory, on SQLite and on PostgreSQL (fixture ``store``).

A test that is about what lies beneath a store (an engine's own constraint, its schema table, a file) says so
and skips for the memory store, which has nothing beneath it.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from gateway.adapters.storage import open_store
from gateway.adapters.storage.memory import MemoryStore
from gateway.adapters.storage.migrations import MIGRATIONS, latest_version
from gateway.adapters.storage.sqlite import SqliteStore
from gateway.app.demo import DEMO_INSTITUTIONS, ensure_demo
from gateway.app.ports import (
    AuditRecord,
    ImportRow,
    InstitutionRecord,
    NonceClaim,
    Store,
    StoredAnswer,
    Superseded,
)
from gateway.domain.catalogue import DEMO_CATALOGUE_FILE, Catalogue, MaxPeriod, QualityCode, load_catalogue
from gateway.domain.directory import Attestation
from gateway.domain.periods import Period
from gateway.errors import InstitutionExists, InternalError, StorageError

A = InstitutionRecord("0212345668", "OCMW Demostad", 17, "secret-a")
B = InstitutionRecord("0212345767", "OCMW Voorbeeldgem", 17, "secret-b")
FAMILY = InstitutionRecord("0212345866", "Kinderbijslagfonds Demo", 7, "secret-c")
P1, P2, P3 = "85073003328", "90010100123", "00010100105"


def d(text: str) -> date:
    return date.fromisoformat(text)


def p(start: str, end: str | None = None) -> Period:
    return Period(d(start), d(end) if end else None)


@pytest.fixture
def institutions(store: Store) -> Store:
    store.save_catalogue(load_catalogue((DEMO_CATALOGUE_FILE,)))
    for record in (A, B, FAMILY):
        store.add_institution(record)
    return store


def beneath(store: Store, what: str) -> None:
    """Skip on the memory store a test about ``what`` lies beneath a database store."""
    if isinstance(store, MemoryStore):
        pytest.skip(f"a memory store has no {what}")


def claim(store: Store, institution: str, nonce: str, created: datetime, now: datetime) -> bool:
    """Claim a nonce in a transaction of its own, as a request does."""
    with store.transaction() as tx:
        return tx.claim_nonce(NonceClaim(institution, nonce, created, now))


def audit(ticket: str, institution: str = A.id, operation: str = "Integrate") -> AuditRecord:
    return AuditRecord(
        ticket=ticket,
        institution_id=institution,
        operation=operation,
        at=datetime(2015, 1, 1, 12, 0, tzinfo=UTC),
        reference=None,
        request={"ticket": ticket, "nested": {"list": [1, None, "x"]}},
        outcome={"ok": "YES", "ticket": ticket},
    )


# -- periods ---------------------------------------------------------------------------------------------


def test_periods_written_are_read_back_per_person_in_date_order(institutions: Store) -> None:
    with institutions.transaction() as tx:
        tx.write_periods(A.id, 1, P1, (p("2014-12-01", "2014-12-31"), p("2015-01-15", "2015-01-31")))
        tx.write_periods(A.id, 1, P2, (p("2015-03-01"),))
    with institutions.transaction() as tx:
        read = tx.read_periods(A.id, 1, [P1, P2, P3])
    assert read == {
        P1: (p("2014-12-01", "2014-12-31"), p("2015-01-15", "2015-01-31")),
        P2: (p("2015-03-01"),),
    }


def test_periods_belong_to_one_institution_and_one_code(institutions: Store) -> None:
    with institutions.transaction() as tx:
        tx.write_periods(A.id, 1, P1, (p("2015-01-01", "2015-01-31"),))
        tx.write_periods(A.id, 2, P1, (p("2015-02-01", "2015-02-28"),))
        tx.write_periods(B.id, 1, P1, (p("2015-03-01", "2015-03-31"),))
    with institutions.transaction() as tx:
        assert tx.read_periods(A.id, 1, [P1]) == {P1: (p("2015-01-01", "2015-01-31"),)}
        assert tx.read_periods(A.id, 2, [P1]) == {P1: (p("2015-02-01", "2015-02-28"),)}
        assert tx.read_periods(B.id, 1, [P1]) == {P1: (p("2015-03-01", "2015-03-31"),)}
        assert tx.read_periods(B.id, 2, [P1]) == {}


def test_writing_periods_replaces_them_and_an_empty_set_removes_them(institutions: Store) -> None:
    with institutions.transaction() as tx:
        tx.write_periods(A.id, 1, P1, (p("2015-01-01", "2015-01-31"),))
    with institutions.transaction() as tx:
        tx.write_periods(A.id, 1, P1, (p("2015-01-01", "2015-01-10"), p("2015-01-20", "2015-01-31")))
    with institutions.transaction() as tx:
        assert tx.read_periods(A.id, 1, [P1]) == {P1: (p("2015-01-01", "2015-01-10"), p("2015-01-20", "2015-01-31"))}
        tx.write_periods(A.id, 1, P1, ())
    with institutions.transaction() as tx:
        assert tx.read_periods(A.id, 1, [P1]) == {}


def test_reading_no_persons_gives_nothing(institutions: Store) -> None:
    with institutions.transaction() as tx:
        assert tx.read_periods(A.id, 1, []) == {}
        assert tx.attestations_of(A.id, []) == {}


def test_the_engine_refuses_overlapping_periods_even_when_written_directly(institutions: Store) -> None:
    beneath(institutions, "engine that could be written to directly")
    with institutions.transaction() as tx:
        tx.write_periods(A.id, 1, P1, (p("2015-01-01", "2015-01-31"),))
    insert = "INSERT INTO periods (institution_id, ssin, code, start_date, end_date) VALUES ({})"
    if isinstance(institutions, SqliteStore):
        conn = sqlite3.connect(institutions.url)
        try:
            with pytest.raises(sqlite3.IntegrityError, match="periods_disjoint"):
                conn.execute(insert.format("?, ?, ?, ?, ?"), (A.id, P1, 1, "2015-01-31", None))
            conn.execute(insert.format("?, ?, ?, ?, ?"), (A.id, P1, 1, "2015-02-01", None))  # adjacent is no overlap
        finally:
            conn.rollback()
            conn.close()
    else:
        import psycopg

        with psycopg.connect(institutions.url) as pg:
            with pytest.raises(psycopg.errors.ExclusionViolation):
                pg.execute(insert.format("%s, %s, %s, %s, %s"), (A.id, P1, 1, d("2015-01-15"), None))
            pg.rollback()
            pg.execute(insert.format("%s, %s, %s, %s, %s"), (A.id, P1, 1, d("2015-02-01"), None))
            pg.rollback()


def test_an_overlapping_write_through_the_port_is_an_internal_error_and_applies_nothing(institutions: Store) -> None:
    # The domain never asks for one: a constraint violation is the gateway's bug, not an unavailable database.
    with pytest.raises(InternalError, match="constraint"), institutions.transaction() as tx:
        tx.write_periods(A.id, 1, P1, (p("2015-01-01", "2015-01-31"), p("2015-01-31", "2015-02-28")))
    with institutions.transaction() as tx:
        assert tx.read_periods(A.id, 1, [P1]) == {}


def test_periods_of_an_unknown_institution_are_refused(institutions: Store) -> None:
    with pytest.raises(InternalError), institutions.transaction() as tx:
        tx.write_periods("0999999999", 1, P1, (p("2015-01-01", "2015-01-31"),))


def test_a_malformed_ssin_is_refused_by_the_store_itself(institutions: Store) -> None:
    with pytest.raises(InternalError), institutions.transaction() as tx:
        tx.write_periods(A.id, 1, "8507300332", (p("2015-01-01", "2015-01-31"),))


# -- consultation ----------------------------------------------------------------------------------------


@pytest.fixture
def consultable(institutions: Store) -> Store:
    with institutions.transaction() as tx:
        tx.write_periods(A.id, 1, P1, (p("2014-12-01", "2014-12-31"), p("2015-01-15", "2015-01-31")))
        tx.write_periods(A.id, 2, P1, (p("2015-06-01"),))
        tx.write_periods(B.id, 4, P1, (p("2015-01-01", "2015-12-31"),))
        tx.write_periods(FAMILY.id, 1, P1, (p("2010-01-01", "2010-12-31"),))
        tx.write_periods(A.id, 1, P2, (p("2015-01-01", "2015-01-31"),))
    return institutions


def _seen(store: Store, window: Period, code: int | None = None, sector: int | None = None) -> set[tuple[object, ...]]:
    with store.transaction() as tx:
        found = tx.integrations_of(P1, window, code, sector)
    return {(i.institution.id, i.institution.name, i.institution.sector, i.ssin, i.code, i.period) for i in found}


def test_integrations_of_a_person_are_every_institutions_periods_overlapping_the_window(consultable: Store) -> None:
    assert _seen(consultable, p("2015-01-31", "2015-06-01")) == {
        (A.id, A.name, 17, P1, 1, p("2015-01-15", "2015-01-31")),
        (A.id, A.name, 17, P1, 2, p("2015-06-01")),
        (B.id, B.name, 17, P1, 4, p("2015-01-01", "2015-12-31")),
    }


def test_an_open_window_reaches_every_later_period(consultable: Store) -> None:
    assert {s[5] for s in _seen(consultable, p("2000-01-01"))} == {
        p("2010-01-01", "2010-12-31"),
        p("2014-12-01", "2014-12-31"),
        p("2015-01-15", "2015-01-31"),
        p("2015-06-01"),
        p("2015-01-01", "2015-12-31"),
    }


def test_a_window_touching_a_period_by_one_day_finds_it(consultable: Store) -> None:
    assert {s[5] for s in _seen(consultable, p("2014-12-31", "2014-12-31"))} == {p("2014-12-01", "2014-12-31")}
    assert _seen(consultable, p("2015-01-01", "2015-01-14"), code=1) == set()


def test_integrations_of_filter_by_code_and_by_sector(consultable: Store) -> None:
    assert {s[4] for s in _seen(consultable, p("2000-01-01"), code=1)} == {1}
    assert {s[0] for s in _seen(consultable, p("2000-01-01"), sector=7)} == {FAMILY.id}
    assert _seen(consultable, p("2000-01-01"), code=4, sector=7) == set()


# -- attestations, audit, answers ------------------------------------------------------------------------


def test_attestations_recorded_are_read_back_for_their_persons_only(institutions: Store) -> None:
    first = Attestation("KSZGW-1", P1, 2, p("2015-01-01", "2015-03-31"))
    second = Attestation("KSZGW-2", P1, 3, p("2015-04-01"))
    other = Attestation("KSZGW-3", P2, 2, p("2015-01-01", "2015-01-31"))
    with institutions.transaction() as tx:
        for a in (first, second, other):
            tx.record_attestation(A.id, a)
        tx.record_attestation(B.id, Attestation("KSZGW-4", P1, 2, p("2016-01-01", "2016-01-31")))
    with institutions.transaction() as tx:
        assert tx.attestations_of(A.id, [P1, P3]) == {P1: [first, second]}
        assert tx.attestations_of(A.id, [P2]) == {P2: [other]}


def test_the_audit_trail_comes_back_in_commit_order_and_filtered_by_institution(institutions: Store) -> None:
    tickets = [f"KSZGW-{n:03d}" for n in range(12)]
    for n, ticket in enumerate(tickets):
        with institutions.transaction() as tx:
            tx.add_audit(audit(ticket, A.id if n % 3 else B.id))
    log = list(institutions.audit_log())
    assert [r.ticket for r in log] == tickets
    assert log[1] == audit(tickets[1])
    assert log[0].at == datetime(2015, 1, 1, 12, 0, tzinfo=UTC)
    assert [r.ticket for r in institutions.audit_log(B.id)] == tickets[::3]


def test_a_ticket_is_audited_once(institutions: Store) -> None:
    with institutions.transaction() as tx:
        tx.add_audit(audit("KSZGW-1"))
    with pytest.raises(InternalError), institutions.transaction() as tx:
        tx.add_audit(audit("KSZGW-1"))
    assert [r.ticket for r in institutions.audit_log()] == ["KSZGW-1"]


def test_a_reference_is_answered_once_and_an_attestation_recorded_once(institutions: Store) -> None:
    answer = StoredAnswer("Integrate", "f" * 64, {"ticket": "KSZGW-1"})
    attestation = Attestation("KSZGW-1", P1, 2, p("2015-01-01", "2015-01-31"))
    with institutions.transaction() as tx:
        tx.save_answer(A.id, "ref-1", answer)
        tx.record_attestation(A.id, attestation)
    with pytest.raises(InternalError), institutions.transaction() as tx:
        tx.save_answer(A.id, "ref-1", StoredAnswer("Consult", "0" * 64, {"ticket": "KSZGW-2"}))
    with pytest.raises(InternalError), institutions.transaction() as tx:
        tx.record_attestation(B.id, attestation)
    with pytest.raises(InternalError), institutions.transaction() as tx:
        tx.record_attestation("0999999999", Attestation("KSZGW-3", P1, 2, p("2015-01-01")))
    with institutions.transaction() as tx:
        assert tx.find_answer(A.id, "ref-1") == answer
        assert tx.attestations_of(A.id, [P1]) == {P1: [attestation]}
        assert tx.attestations_of(B.id, [P1]) == {}


def test_a_stored_answer_is_found_by_its_institution_and_reference_only(institutions: Store) -> None:
    answer = StoredAnswer("Integrate", "f" * 64, {"ticket": "KSZGW-1", "persons": [{"periods": None}]})
    with institutions.transaction() as tx:
        assert tx.find_answer(A.id, "ref-1") is None
        tx.save_answer(A.id, "ref-1", answer)
    with institutions.transaction() as tx:
        assert tx.find_answer(A.id, "ref-1") == answer
        assert tx.find_answer(B.id, "ref-1") is None
        assert tx.find_answer(A.id, "ref-2") is None


@pytest.mark.parametrize("waits", [True, False], ids=["block-waits", "block-never-waits"])
def test_work_done_tentatively_is_undone_when_an_earlier_answer_supersedes_it(
    institutions: Store, waits: bool
) -> None:
    answer = StoredAnswer("Integrate", "f" * 64, {"ticket": "KSZGW-1"})
    with institutions.transaction() as tx:
        tx.save_answer(A.id, "ref-1", answer)
    with institutions.transaction() as tx:
        earlier = tx.find_answer_later(A.id, "ref-1")
        with pytest.raises(Superseded), tx.tentatively(lambda: earlier() is not None):
            tx.write_periods(A.id, 1, P1, (p("2015-01-01"),))  # a write before the block's first wait
            if waits:
                tx.read_periods(A.id, 1, [P2])
        assert earlier() == answer
        tx.write_periods(A.id, 1, P3, (p("2015-02-01"),))  # the transaction goes on after the undone block
    with institutions.transaction() as tx:
        assert tx.read_periods(A.id, 1, [P1, P3]) == {P3: (p("2015-02-01"),)}


def test_work_done_tentatively_is_kept_when_nothing_supersedes_it(institutions: Store) -> None:
    with institutions.transaction() as tx:
        earlier = tx.find_answer_later(A.id, "ref-new")
        with tx.tentatively(lambda: earlier() is not None):
            tx.write_periods(A.id, 1, P1, (p("2015-01-01"),))
            assert tx.read_periods(A.id, 1, [P1]) == {P1: (p("2015-01-01"),)}
        assert earlier() is None
    with institutions.transaction() as tx:
        assert tx.read_periods(A.id, 1, [P1]) == {P1: (p("2015-01-01"),)}


# -- nonces ----------------------------------------------------------------------------------------------


def test_a_nonce_used_again_by_the_same_institution_is_a_replay(store: Store) -> None:
    now = datetime.now(UTC)
    assert claim(store, A.id, "bm9uY2U=", now, now) is True
    assert claim(store, A.id, "bm9uY2U=", now, now + timedelta(seconds=1)) is False
    assert claim(store, A.id, "b3RoZXI=", now, now) is True


def test_institutions_use_nonces_independently(store: Store) -> None:
    now = datetime.now(UTC)
    assert claim(store, A.id, "bm9uY2U=", now, now) is True
    assert claim(store, B.id, "bm9uY2U=", now, now) is True
    assert claim(store, B.id, "bm9uY2U=", now, now) is False


def test_a_nonce_claimed_in_a_transaction_that_rolls_back_is_not_used_up(store: Store) -> None:
    now = datetime.now(UTC)
    with pytest.raises(ZeroDivisionError), store.transaction() as tx:
        assert tx.claim_nonce(NonceClaim(A.id, "bm9uY2U=", now, now)) is True
        _ = 1 / 0
    assert claim(store, A.id, "bm9uY2U=", now, now) is True


def test_nonces_older_than_the_retention_window_are_forgotten(store: Store) -> None:
    then = datetime(2015, 1, 1, 12, 0, tzinfo=UTC)
    assert claim(store, A.id, "b2xk", then, then) is True
    store.close()
    later = open_store(store.url)  # a store prunes on its first use of a nonce, then once a minute
    try:
        assert claim(later, A.id, "bmV3", then + timedelta(minutes=11), then + timedelta(minutes=11)) is True
        assert claim(later, A.id, "b2xk", then, then + timedelta(minutes=11)) is True
    finally:
        later.close()


def test_concurrent_uses_of_one_nonce_let_exactly_one_through(store: Store) -> None:
    now = datetime.now(UTC)
    results: list[bool] = []
    barrier = threading.Barrier(6)

    def use() -> None:
        barrier.wait()
        results.append(claim(store, A.id, "c2FtZQ==", now, now))

    threads = [threading.Thread(target=use) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 5 + [True]


# -- administration --------------------------------------------------------------------------------------


def test_institutions_are_added_listed_and_refused_twice(store: Store) -> None:
    store.add_institution(B)
    store.add_institution(A)
    assert store.institutions() == [A, B]
    with pytest.raises(InstitutionExists, match="already exists"):
        store.add_institution(A)
    with store.transaction() as tx:
        assert tx.institution(A.id) == A
        assert tx.institution("0999999999") is None


def test_an_institutions_secret_and_enabled_flag_can_be_changed(store: Store) -> None:
    store.add_institution(A)
    assert store.set_secret(A.id, "new-secret") is True
    assert store.set_enabled(A.id, False) is True
    with store.transaction() as tx:
        changed = tx.institution(A.id)
    assert changed is not None and (changed.secret, changed.enabled) == ("new-secret", False)
    assert store.set_secret("0999999999", "x") is False
    assert store.set_enabled("0999999999", True) is False


def test_the_demo_identities_are_ensured_idempotently_with_their_published_secrets(store: Store) -> None:
    ensure_demo(store)
    store.set_secret(DEMO_INSTITUTIONS[0].id, "changed")
    store.set_enabled(DEMO_INSTITUTIONS[1].id, False)
    ensure_demo(store)
    assert store.institutions() == sorted(DEMO_INSTITUTIONS, key=lambda r: r.id)
    catalogue = store.catalogue()
    assert catalogue.code(7, 1) is not None and catalogue.code(18, 1) is not None


# -- catalogue -------------------------------------------------------------------------------------------


def test_upgrade_seeds_the_default_catalogue(store: Store) -> None:
    assert store.catalogue() == load_catalogue()


def test_a_saved_catalogue_adds_and_replaces_sectors_and_codes_and_keeps_the_others(store: Store) -> None:
    before = store.catalogue()
    changed = Catalogue(
        {17: "Public social welfare centres", 99: "Test sector"},
        {
            (17, 1): QualityCode(17, 1, "renamed", MaxPeriod(months=3), True),
            (99, 5): QualityCode(99, 5, "unlimited", MaxPeriod(), False),
            (99, 6): QualityCode(99, 6, "yearly", MaxPeriod(calendar_year=True), True),
        },
    )
    store.save_catalogue(changed)
    after = store.catalogue()
    assert after == before.merged(changed)
    assert after.code(17, 2) == before.code(17, 2)


# -- schema ----------------------------------------------------------------------------------------------


def test_upgrading_again_changes_nothing(institutions: Store) -> None:
    with institutions.transaction() as tx:
        tx.write_periods(A.id, 1, P1, (p("2015-01-01", "2015-01-31"),))
    assert institutions.upgrade() == latest_version()
    assert institutions.upgrade() == latest_version()
    with institutions.transaction() as tx:
        assert tx.read_periods(A.id, 1, [P1]) == {P1: (p("2015-01-01", "2015-01-31"),)}
    assert len(institutions.institutions()) == 3


def test_a_database_newer_than_the_gateway_is_refused(store: Store) -> None:
    beneath(store, "schema of its own")
    future = latest_version() + 1

    def engine(statement: str) -> None:
        """Run ``statement`` on the store's database through a connection of the engine's own."""
        if isinstance(store, SqliteStore):
            with closing(sqlite3.connect(store.url)) as conn, conn:  # closed, after its commit
                conn.execute(statement)
            return
        import psycopg

        with psycopg.connect(store.url, autocommit=True) as pg:
            pg.execute(statement.encode())

    engine(f"INSERT INTO schema_version (version, description, applied_at) VALUES ({future}, 'future', '2099-01-01')")
    try:
        with pytest.raises(StorageError, match="newer than this gateway"):
            store.upgrade()
    finally:
        engine(f"DELETE FROM schema_version WHERE version = {future}")


def test_a_sqlite_file_is_created_on_first_use_and_upgraded_by_threads_at_once(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    store = SqliteStore(path)
    versions: list[int] = []
    barrier = threading.Barrier(4)

    def upgrade() -> None:
        barrier.wait()
        versions.append(store.upgrade())

    threads = [threading.Thread(target=upgrade) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert versions == [latest_version()] * 4
    assert path.exists()
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT count(*) FROM schema_version").fetchone() == (len(MIGRATIONS),)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    store.close()


@pytest.mark.postgres
def test_a_missing_postgres_schema_is_created_and_upgraded_by_threads_at_once(postgres_url: str) -> None:
    import os

    import psycopg

    from gateway.adapters.storage.postgres import PostgresStore, with_schema

    base = os.environ["KSZ_TEST_POSTGRES_URL"]
    schema = f"ksz_test_{os.getpid()}_fresh"
    stores = [PostgresStore(with_schema(base, schema)) for _ in range(4)]
    versions: list[int] = []
    barrier = threading.Barrier(4)

    def upgrade(s: PostgresStore) -> None:
        barrier.wait()
        versions.append(s.upgrade())

    try:
        threads = [threading.Thread(target=upgrade, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert versions == [latest_version()] * 4
        assert stores[0].catalogue() == load_catalogue()
    finally:
        for s in stores:
            s.close()
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# -- transactions ----------------------------------------------------------------------------------------


def test_an_exception_in_a_transaction_puts_back_what_it_replaced_and_removed(institutions: Store) -> None:
    with institutions.transaction() as tx:
        tx.write_periods(A.id, 1, P1, (p("2015-01-01", "2015-01-31"),))
        tx.write_periods(A.id, 1, P2, (p("2015-02-01"),))
    with pytest.raises(KeyError), institutions.transaction() as tx:
        tx.write_periods(A.id, 1, P1, (p("2016-01-01", "2016-01-31"), p("2016-03-01")))
        tx.write_periods(A.id, 1, P2, ())
        tx.write_periods(A.id, 1, P1, (p("2017-01-01"),))
        raise KeyError("boom")
    with institutions.transaction() as tx:
        assert tx.read_periods(A.id, 1, [P1, P2]) == {P1: (p("2015-01-01", "2015-01-31"),), P2: (p("2015-02-01"),)}


def test_a_transaction_in_a_transaction_of_the_same_thread_is_refused(store: Store) -> None:
    if not isinstance(store, (MemoryStore, SqliteStore)):
        pytest.skip("a PostgreSQL transaction takes another pooled connection: it nests, on its own locks")
    with store.transaction(), pytest.raises(StorageError, match="do not nest"), store.transaction():
        pass


def test_an_exception_in_a_transaction_rolls_back_everything_it_wrote(institutions: Store) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), institutions.transaction() as tx:
        tx.write_periods(A.id, 1, P1, (p("2015-01-01", "2015-01-31"),))
        tx.record_attestation(A.id, Attestation("KSZGW-9", P1, 2, p("2015-01-01", "2015-01-31")))
        tx.add_audit(audit("KSZGW-9"))
        tx.save_answer(A.id, "ref", StoredAnswer("Integrate", "x", {"ticket": "KSZGW-9"}))
        raise Boom
    with institutions.transaction() as tx:
        assert tx.read_periods(A.id, 1, [P1]) == {}
        assert tx.attestations_of(A.id, [P1]) == {}
        assert tx.find_answer(A.id, "ref") is None
    assert list(institutions.audit_log()) == []


def test_a_store_reopened_on_the_same_location_sees_the_committed_data(institutions: Store) -> None:
    with institutions.transaction() as tx:
        tx.write_periods(A.id, 1, P1, (p("2015-01-01", "2015-01-31"),))
    institutions.close()
    again = open_store(institutions.url)
    try:
        with again.transaction() as tx:
            assert tx.read_periods(A.id, 1, [P1]) == {P1: (p("2015-01-01", "2015-01-31"),)}
    finally:
        again.close()


def test_a_closed_store_refuses_to_work(store: Store) -> None:
    store.close()
    with pytest.raises(StorageError, match="closed"), store.transaction():
        pass


# -- import / export -------------------------------------------------------------------------------------


def test_imported_rows_merge_with_each_other_and_with_the_directory(institutions: Store) -> None:
    with institutions.transaction() as tx:
        tx.write_periods(A.id, 1, P1, (p("2015-01-01", "2015-01-31"), p("2015-03-01", "2015-03-31")))
    rows = [
        ImportRow(A.id, P1, 1, p("2015-02-01", "2015-02-10")),  # touches the first period
        ImportRow(A.id, P1, 1, p("2015-02-20", "2015-03-05")),  # overlaps the second
        ImportRow(A.id, P1, 1, p("2015-02-11", "2015-02-19")),  # closes the gap: one period left
        ImportRow(A.id, P1, 11, p("2016-01-01")),  # codes 11 and 12 arrive by import (R1.4)
        ImportRow(B.id, P2, 4, p("2015-01-01", "2015-01-31")),
        ImportRow(B.id, P2, 4, p("2015-01-01", "2015-01-31")),
    ]
    assert institutions.import_integrations(iter(rows)) == len(rows)
    assert [(r.institution_id, r.ssin, r.code, r.period) for r in institutions.export_integrations()] == [
        (A.id, P1, 1, p("2015-01-01", "2015-03-31")),
        (A.id, P1, 11, p("2016-01-01")),
        (B.id, P2, 4, p("2015-01-01", "2015-01-31")),
    ]


def test_export_then_import_into_an_empty_directory_gives_the_same_directory(
    consultable: Store, tmp_path: Path
) -> None:
    exported = list(consultable.export_integrations())
    other = SqliteStore(tmp_path / "copy.db")
    other.upgrade()
    other.save_catalogue(load_catalogue((DEMO_CATALOGUE_FILE,)))
    for record in (A, B, FAMILY):
        other.add_institution(record)
    assert other.import_integrations(exported) == len(exported) == 6
    assert list(other.export_integrations()) == exported
    assert consultable.import_integrations(exported) == len(exported)  # importing again changes nothing
    assert list(consultable.export_integrations()) == exported
    other.close()


def test_memory_stores_share_a_named_directory_and_keep_an_anonymous_one_to_themselves() -> None:
    named, again, anonymous, other = (MemoryStore(u) for u in ("memory:shared", "memory:shared", "memory:", "memory:"))
    for s in (named, anonymous):
        s.upgrade()
        s.add_institution(A)
    assert again.institutions() == [A]
    assert other.institutions() == []
    named.close()
    assert open_store("memory:shared").institutions() == [A]
    with pytest.raises(StorageError, match="closed"):
        named.institutions()
    with pytest.raises(ValueError, match="memory:"):
        SqliteStore(":memory:")


def test_export_reads_a_directory_larger_than_one_page(institutions: Store) -> None:
    from directory_replay import ssins

    people = ssins(12_001)
    institutions.import_integrations(ImportRow(A.id, s, 1, p("2015-01-01", "2015-01-31")) for s in people)
    exported = list(institutions.export_integrations())
    assert [r.ssin for r in exported] == sorted(people)

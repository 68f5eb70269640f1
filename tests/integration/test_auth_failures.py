"""Failed authentications on every store (memory, a SQLite file, PostgreSQL): the records, and the throttle that
counts them, with the clocks in the test's hands (no sleeps).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.app.auth_guard import AuthGuard, ThrottlePolicy, assess, current_throttles
from gateway.app.ports import AuthFailure, Store
from gateway.errors import AuthenticationThrottled

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
A, B = "0212345668", "0212345767"
HERE, THERE = "192.0.2.1", "192.0.2.2"
POLICY = ThrottlePolicy(
    window_seconds=600, soft=3, hard=6, lockout_seconds=900, address_limit=10, base_delay_seconds=10
)


class Clocks:
    """The wall clock and the monotonic clock of one process, moved by the test."""

    def __init__(self) -> None:
        self.now = T0
        self.moment = 100.0

    def wall(self) -> datetime:
        return self.now

    def mono(self) -> float:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.moment += seconds


class CountingStore:
    """The real store, counting the reads of failure records a guard makes."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.reads = 0

    def auth_failures(self, **filters: Any) -> list[AuthFailure]:
        self.reads += 1
        return self._store.auth_failures(**filters)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _guard(store: Any, clocks: Clocks, policy: ThrottlePolicy = POLICY) -> AuthGuard:
    return AuthGuard(store, policy, clock=clocks.wall, monotonic=clocks.mono)


def _refused(guard: AuthGuard, institution: str, address: str) -> AuthenticationThrottled | None:
    try:
        guard.check(institution, address)
    except AuthenticationThrottled as refused:
        return refused
    return None


# -- the records -------------------------------------------------------------------------------------------


def test_a_failure_reads_back_whole_newest_first_and_filtered(store: Store) -> None:
    store.record_auth_failure(AuthFailure(T0, "repertorium", A, HERE, "FAILED_AUTHENTICATION"))
    store.record_auth_failure(
        AuthFailure(T0 + timedelta(seconds=1), "console", "nonsense", THERE, "FAILED_AUTHENTICATION")
    )
    store.record_auth_failure(AuthFailure(T0 + timedelta(seconds=2), "connector", "", HERE, "INVALID_SECURITY"))
    every = store.auth_failures()
    assert [f.front for f in every] == ["connector", "console", "repertorium"]
    assert every[2] == AuthFailure(T0, "repertorium", A, HERE, "FAILED_AUTHENTICATION", cleared=False)
    assert every[2].at.tzinfo is not None and every[2].at == T0
    assert [f.institution for f in store.auth_failures(address=HERE)] == ["", A]
    assert [f.address for f in store.auth_failures(institution="nonsense")] == [THERE]
    assert [f.kind for f in store.auth_failures(since=T0 + timedelta(seconds=1))] == [
        "INVALID_SECURITY",
        "FAILED_AUTHENTICATION",
    ]
    assert len(store.auth_failures(limit=1)) == 1


def test_clearing_marks_an_addresses_records_and_keeps_them(store: Store) -> None:
    for n, who in enumerate((A, A, B)):
        store.record_auth_failure(
            AuthFailure(T0 + timedelta(seconds=n), "repertorium", who, HERE, "FAILED_AUTHENTICATION")
        )
    store.record_auth_failure(AuthFailure(T0, "repertorium", A, THERE, "FAILED_AUTHENTICATION"))
    assert sorted(store.failing_addresses(T0)) == [(HERE, T0 + timedelta(seconds=2)), (THERE, T0)]
    assert store.clear_auth_failures(HERE, A) == 2
    assert store.clear_auth_failures(HERE, A) == 0
    assert [(f.institution, f.cleared) for f in store.auth_failures(address=HERE)] == [(B, False), (A, True), (A, True)]
    assert store.clear_auth_failures(HERE) == 1
    assert [a for a, _ in store.failing_addresses(T0)] == [THERE]
    assert len(store.auth_failures()) == 4


def test_records_past_the_retention_are_deleted_as_a_new_one_comes(store: Store) -> None:
    store.record_auth_failure(AuthFailure(T0 - timedelta(days=40), "console", A, HERE, "FAILED_AUTHENTICATION"))
    store.record_auth_failure(AuthFailure(T0 - timedelta(days=10), "console", A, HERE, "FAILED_AUTHENTICATION"))
    store.record_auth_failure(AuthFailure(T0, "console", A, HERE, "FAILED_AUTHENTICATION"), T0 - timedelta(days=30))
    assert [f.at for f in store.auth_failures()] == [T0, T0 - timedelta(days=10)]


# -- the throttle's arithmetic -----------------------------------------------------------------------------


def test_below_the_soft_limit_nothing_waits_then_each_failure_doubles_the_wait_up_to_the_lockout(store: Store) -> None:
    clocks = Clocks()
    guard = _guard(store, clocks)
    for _ in range(2):
        guard.failed("repertorium", A, HERE, "FAILED_AUTHENTICATION")
        assert _refused(guard, A, HERE) is None
    waits = []
    for _ in range(4):  # failures 3..6: 10 s, 20 s, 40 s, then the hard limit: the lockout
        guard.failed("repertorium", A, HERE, "FAILED_AUTHENTICATION")
        refused = _refused(guard, A, HERE)
        assert refused is not None
        waits.append(refused.retry_after)
        clocks.advance(refused.retry_after)
        assert _refused(guard, A, HERE) is None or refused.retry_after == 900
    assert waits == [10, 20, 40, 900]
    assert "until 2026-03-01T12:" in _message(guard, A, HERE, clocks, back=1)


def _message(guard: AuthGuard, institution: str, address: str, clocks: Clocks, back: float) -> str:
    clocks.advance(-back)
    refused = _refused(guard, institution, address)
    clocks.advance(back)
    assert refused is not None
    return refused.public


def test_the_lockout_holds_for_its_time_after_the_hard_limit_and_then_lifts(store: Store) -> None:
    clocks = Clocks()
    guard = _guard(store, clocks)
    for _ in range(6):
        guard.failed("console", A, HERE, "FAILED_AUTHENTICATION")
        clocks.advance(1)
    refused = _refused(guard, A, HERE)
    assert refused is not None and refused.retry_after == 899
    clocks.advance(898)
    assert _refused(guard, A, HERE) is not None
    clocks.advance(1)
    assert _refused(guard, A, HERE) is None


def test_a_throttled_pair_leaves_other_addresses_and_other_institutions_alone(store: Store) -> None:
    clocks = Clocks()
    guard = _guard(store, clocks)
    for _ in range(6):
        guard.failed("repertorium", A, HERE, "FAILED_AUTHENTICATION")
    assert _refused(guard, A, HERE) is not None
    assert _refused(guard, A, THERE) is None  # the institution, from elsewhere
    assert _refused(guard, B, HERE) is None  # another institution, from here


def test_one_address_spraying_over_many_institutions_is_refused_for_all_of_them(store: Store) -> None:
    clocks = Clocks()
    guard = _guard(store, clocks)
    for n in range(10):
        guard.failed("repertorium", f"02123456{n:02d}", HERE, "FAILED_AUTHENTICATION")
    refused = _refused(guard, B, HERE)
    assert refused is not None and refused.retry_after == 900
    assert _refused(guard, B, THERE) is None
    [held] = [t for t in current_throttles(store, POLICY, clocks.now) if t.institution == ""]
    assert (held.address, held.reason, held.failures) == (HERE, "address", 10)


def test_failures_older_than_the_window_no_longer_count(store: Store) -> None:
    clocks = Clocks()
    guard = _guard(store, clocks)
    for _ in range(2):
        guard.failed("repertorium", A, HERE, "FAILED_AUTHENTICATION")
    clocks.advance(601)
    guard.failed("repertorium", A, HERE, "FAILED_AUTHENTICATION")
    assert _refused(guard, A, HERE) is None  # one failure in the window up to the newest, not three


def test_a_success_clears_the_pairs_failures_and_the_address_is_then_no_longer_read(store: Store) -> None:
    clocks = Clocks()
    counting = CountingStore(store)
    guard = _guard(counting, clocks)
    guard.failed("repertorium", B, HERE, "FAILED_AUTHENTICATION")
    for _ in range(2):
        guard.failed("repertorium", A, HERE, "FAILED_AUTHENTICATION")
    guard.check(A, HERE)
    guard.succeeded(A, HERE)
    assert [(f.institution, f.cleared) for f in store.auth_failures(address=HERE)] == [
        (A, True),
        (A, True),
        (B, False),
    ]
    guard.failed("repertorium", A, HERE, "FAILED_AUTHENTICATION")
    guard.failed("repertorium", A, HERE, "FAILED_AUTHENTICATION")
    assert _refused(guard, A, HERE) is None  # two since the success, not four
    store.clear_auth_failures(HERE)
    guard.check(A, HERE)  # reads once more, finds nothing uncleared, forgets the address
    reads = counting.reads
    for _ in range(5):
        guard.check(A, HERE)
        guard.succeeded(A, HERE)
    assert counting.reads == reads


def test_an_address_that_never_failed_costs_no_read_of_the_records(store: Store) -> None:
    clocks = Clocks()
    counting = CountingStore(store)
    guard = _guard(counting, clocks)
    guard.failed("repertorium", A, THERE, "FAILED_AUTHENTICATION")
    for _ in range(20):
        guard.check(A, HERE)
        guard.succeeded(A, HERE)
        clocks.advance(0.3)
    assert counting.reads == 0


def test_two_processes_on_one_database_count_each_others_failures(store: Store) -> None:
    first_clocks, second_clocks = Clocks(), Clocks()
    first, second = _guard(store, first_clocks), _guard(store, second_clocks)
    assert _refused(second, A, HERE) is None  # the second process has read the records once: none yet
    for _ in range(6):
        first.failed("repertorium", A, HERE, "FAILED_AUTHENTICATION")
    assert _refused(second, A, HERE) is None  # within its refresh interval it has not read them again
    second_clocks.advance(POLICY.refresh_seconds)
    refused = _refused(second, A, HERE)
    assert refused is not None and refused.retry_after == 899
    eager = _guard(store, Clocks(), ThrottlePolicy(**{**_fields(POLICY), "refresh_seconds": 0}))
    assert _refused(eager, A, HERE) is not None


def _fields(policy: ThrottlePolicy) -> dict[str, Any]:
    return {name: getattr(policy, name) for name in policy.__dataclass_fields__}


def test_an_operator_unblocking_an_address_lifts_its_throttle_at_once(store: Store) -> None:
    clocks = Clocks()
    guard = _guard(store, clocks)
    for _ in range(6):
        guard.failed("connector", A, HERE, "FAILED_AUTHENTICATION")
    assert [(t.institution, t.reason) for t in current_throttles(store, POLICY, clocks.now)] == [(A, "locked")]
    assert store.clear_auth_failures(HERE, A) == 6
    assert _refused(guard, A, HERE) is None
    assert current_throttles(store, POLICY, clocks.now) == []


def test_the_guard_deletes_records_past_the_retention_at_most_once_a_minute(store: Store) -> None:
    clocks = Clocks()
    policy = ThrottlePolicy(**{**_fields(POLICY), "retention_seconds": 86400})
    guard = _guard(store, clocks, policy)
    guard.failed("console", A, HERE, "FAILED_AUTHENTICATION")
    clocks.advance(2 * 86400)
    guard.failed("console", A, HERE, "FAILED_AUTHENTICATION")
    assert len(store.auth_failures()) == 1


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"soft": 0}, "soft limit"),
        ({"soft": 7}, "soft limit"),
        ({"base_delay_seconds": 0}, "base delay"),
        ({"retention_seconds": 60}, "kept"),
    ],
)
def test_a_policy_whose_numbers_contradict_is_refused(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        ThrottlePolicy(**{**_fields(POLICY), **change})


def test_the_assessment_depends_on_the_records_alone() -> None:
    records = [AuthFailure(T0, "repertorium", "0000000000", HERE, "FAILED_AUTHENTICATION")] * 6
    throttle = assess(POLICY, records, "0000000000", T0)
    assert throttle is not None and (throttle.reason, throttle.until) == ("locked", T0 + timedelta(seconds=900))
    assert assess(POLICY, records, A, T0) is None


def test_a_record_of_a_long_claimed_name_is_cut_short(store: Store) -> None:
    guard = _guard(store, Clocks())
    guard.failed("repertorium", "9" * 5000, HERE, "FAILED_AUTHENTICATION")
    [record] = store.auth_failures()
    assert record.institution == "9" * 80

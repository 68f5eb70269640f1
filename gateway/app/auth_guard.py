"""The brake on guessing credentials, shared by every front: refused authentications are recorded in the store,
and an address with too many of them is refused unchecked for a while.

Invariant: every refused authentication of every front (the v1 SOAP front, the legacy ``sendXML`` front, the
console's login) is recorded in its own short transaction — when, which front, the institution as claimed (as
sent, cut to ``CLAIM_CHARS``; it may name none), the peer address, the reason code — and the throttle is computed
from those records only, so every worker process and every instance on one database count alike. For one
(claimed institution, address) pair, counting the uncleared failures within ``window_seconds`` up to its newest
one: from ``soft`` failures on, an attempt must wait ``base_delay_seconds`` doubled for each failure past ``soft``
(at most ``lockout_seconds``) after the newest failure; from ``hard`` failures on, ``lockout_seconds``. One address
whose failures over every institution reach ``address_limit`` is refused ``lockout_seconds`` for all of them.
Other addresses are never affected. A refused attempt is refused before its proof is checked, and the refusal
depends on the records alone, so it is the same whether the institution exists or not; it is not itself recorded
(a flood of refused attempts writes nothing). A success for an institution from an address clears that pair's
records (kept, marked cleared); the operator can clear any (``ksz-gateway security unblock``). Records older
than ``retention_seconds`` are deleted, at most once a minute per process, as the next failure is recorded.

What the common case costs: nothing per request. Each process remembers which addresses failed recently (its own
failures at once, the other processes' from an indexed read of the newest records at most once every
``refresh_seconds``); only an attempt from such an address reads that address's records (one indexed read), and
only a success from such an address writes (the clearing). So a failure recorded by another process is counted
here at most ``refresh_seconds`` late; ``refresh_seconds=0`` makes every attempt read the newest records.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.app.ports import AuthFailure, Store
from gateway.errors import AuthenticationThrottled, GatewayError

__all__ = [
    "CLAIM_CHARS",
    "AuthGuard",
    "Throttle",
    "ThrottlePolicy",
    "assess",
    "current_throttles",
]

CLAIM_CHARS = 80  # of a claimed institution or an address, as recorded
_PRUNE_INTERVAL_SECONDS = 60.0
_REFRESH_OVERLAP = timedelta(seconds=5)  # records committed late, or by a process whose clock is a little behind

log = logging.getLogger("gateway.app.auth_guard")


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """The throttle's numbers (each a ``serve --auth-failures-...`` option)."""

    window_seconds: int = 15 * 60
    soft: int = 5
    hard: int = 10
    lockout_seconds: int = 15 * 60
    address_limit: int = 20
    base_delay_seconds: float = 2.0
    retention_seconds: int = 30 * 24 * 3600
    refresh_seconds: float = 1.0

    def __post_init__(self) -> None:
        if not 1 <= self.soft <= self.hard:
            raise ValueError(f"the soft limit {self.soft} must be at least 1 and at most the hard limit {self.hard}")
        if min(self.window_seconds, self.lockout_seconds, self.address_limit) < 1:
            raise ValueError("the window, the lockout and the address limit must be at least 1")
        if self.base_delay_seconds <= 0 or self.refresh_seconds < 0:
            raise ValueError("the base delay must be positive and the refresh interval not negative")
        if self.retention_seconds < self.window_seconds + self.lockout_seconds:
            raise ValueError("records must be kept at least as long as a window and a lockout")

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.window_seconds)

    @property
    def lockout(self) -> timedelta:
        return timedelta(seconds=self.lockout_seconds)

    @property
    def horizon(self) -> timedelta:
        """How far back a record can still matter to a throttle: a window before a newest failure that may still
        hold an address for a lockout (or a delay, never longer)."""
        return self.window + self.lockout

    def delay(self, failures: int) -> timedelta | None:
        """How long after its newest failure a pair with ``failures`` must wait; None below ``soft``."""
        if failures >= self.hard:
            return self.lockout
        if failures < self.soft:
            return None
        seconds = self.base_delay_seconds * 2.0 ** min(failures - self.soft, 62)
        return min(timedelta(seconds=seconds), self.lockout)


@dataclass(frozen=True, slots=True)
class Throttle:
    """Attempts of ``institution`` (``""``: of any institution) from ``address`` are refused until ``until``:
    ``reason`` is ``slowed`` (past the soft limit), ``locked`` (the hard limit) or ``address`` (the address's
    limit over every institution), after ``failures`` counted failures."""

    institution: str
    address: str
    until: datetime
    reason: str
    failures: int

    def retry_after(self, now: datetime) -> int:
        return max(1, math.ceil((self.until - now).total_seconds()))

    def refusal(self, now: datetime) -> AuthenticationThrottled:
        whom = f"institution {self.institution!r}" if self.institution else "every institution"
        return AuthenticationThrottled(
            f"{whom} from {self.address} throttled ({self.reason}, {self.failures} failures) until {self.until}",
            retry_after=self.retry_after(now),
            until=f"{self.until.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}",
        )


def _counted(moments: Sequence[datetime], window: timedelta) -> tuple[int, datetime | None]:
    """How many of ``moments`` lie within ``window`` up to the newest of them, and that newest one."""
    if not moments:
        return 0, None
    newest = max(moments)
    return sum(1 for m in moments if m > newest - window), newest


def assess(policy: ThrottlePolicy, failures: Iterable[AuthFailure], institution: str, now: datetime) -> Throttle | None:
    """The throttle that refuses ``institution`` at ``now``, from the records of one address; None: go ahead."""
    recent = [f for f in failures if not f.cleared and f.at > now - policy.horizon]
    if not recent:
        return None
    address = recent[0].address
    found: list[Throttle] = []
    count, newest = _counted([f.at for f in recent], policy.window)
    if newest is not None and count >= policy.address_limit:
        found.append(Throttle("", address, newest + policy.lockout, "address", count))
    count, newest = _counted([f.at for f in recent if f.institution == institution], policy.window)
    delay = policy.delay(count)
    if newest is not None and delay is not None:
        found.append(
            Throttle(institution, address, newest + delay, "locked" if count >= policy.hard else "slowed", count)
        )
    holding = [t for t in found if t.until > now]
    return max(holding, key=lambda t: t.until) if holding else None


def current_throttles(store: Store, policy: ThrottlePolicy, now: datetime) -> list[Throttle]:
    """Every throttle holding at ``now``: per address, the address's own and each claimed institution's."""
    held: list[Throttle] = []
    for address, _ in sorted(store.failing_addresses(now - policy.horizon)):
        records = store.auth_failures(since=now - policy.horizon, address=address)
        institutions = sorted({f.institution for f in records if not f.cleared})
        seen: set[tuple[str, datetime]] = set()
        for institution in institutions:
            throttle = assess(policy, records, institution, now)
            if throttle is not None and (throttle.institution, throttle.until) not in seen:
                seen.add((throttle.institution, throttle.until))
                held.append(throttle)
    return held


class AuthGuard:
    """The throttle and the records of one process, over the store every process shares (thread-safe)."""

    def __init__(
        self,
        store: Store,
        policy: ThrottlePolicy | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or ThrottlePolicy()
        self._store = store
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._watched: dict[str, datetime] = {}  # address -> its newest failure this process knows of
        self._refreshed: float | None = None  # when (monotonic) the records were last read for new failures
        self._since: datetime | None = None  # the moment from which the next refresh reads
        self._next_prune = 0.0

    # -- the fronts' three calls ---------------------------------------------------------------------------

    def check(self, institution: str, address: str) -> None:
        """Raise ``AuthenticationThrottled`` when attempts of ``institution`` from ``address`` are refused now."""
        now = self._clock()
        if not self._suspect(address, now):
            return
        records = self._store.auth_failures(since=now - self.policy.horizon, address=address[:CLAIM_CHARS])
        if not any(not f.cleared for f in records):
            with self._lock:
                self._watched.pop(address, None)  # nothing left against it: no more reads for it
            return
        throttle = assess(self.policy, records, institution[:CLAIM_CHARS], now)
        if throttle is not None:
            raise throttle.refusal(now)

    def failed(self, front: str, institution: str, address: str, kind: str) -> None:
        """Record a refused authentication; a store that fails is logged, never the caller's answer."""
        now = self._clock()
        record = AuthFailure(now, front, institution[:CLAIM_CHARS], address[:CLAIM_CHARS], kind)
        prune = None
        moment = self._monotonic()
        with self._lock:
            self._watched[address] = now
            if moment >= self._next_prune:
                self._next_prune = moment + _PRUNE_INTERVAL_SECONDS
                prune = now - timedelta(seconds=self.policy.retention_seconds)
        try:
            self._store.record_auth_failure(record, prune)
        except GatewayError as error:
            log.error("a failed authentication from %s could not be recorded: %s", address, error.message)

    def succeeded(self, institution: str, address: str) -> None:
        """A success of ``institution`` from ``address`` clears that pair's failures (if it had any known here)."""
        with self._lock:
            if address not in self._watched:
                return
        try:
            self._store.clear_auth_failures(address[:CLAIM_CHARS], institution[:CLAIM_CHARS])
        except GatewayError as error:
            log.error("the failures of %s from %s could not be cleared: %s", institution, address, error.message)

    # -- which addresses failed lately -----------------------------------------------------------------------

    def _suspect(self, address: str, now: datetime) -> bool:
        self._refresh(now)
        with self._lock:
            newest = self._watched.get(address)
        return newest is not None and newest > now - self.policy.horizon

    def _refresh(self, now: datetime) -> None:
        moment = self._monotonic()
        with self._lock:
            if self._refreshed is not None and moment - self._refreshed < self.policy.refresh_seconds:
                return
            self._refreshed = moment
            since = now - self.policy.horizon if self._since is None else self._since - _REFRESH_OVERLAP
            self._since = now
        try:
            found = self._store.failing_addresses(since)
        except GatewayError as error:
            log.error("recent failed authentications could not be read: %s", error.message)
            return
        cutoff = now - self.policy.horizon
        with self._lock:
            for address, at in found:
                if at > self._watched.get(address, at - timedelta(seconds=1)):
                    self._watched[address] = at
            if len(self._watched) > 4 * len(found) + 1024:
                self._watched = {a: t for a, t in self._watched.items() if t > cutoff}

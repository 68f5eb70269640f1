"""The console's brake on guessing secrets: failed logins counted per institution and client address.

Invariant: after ``limit`` failed logins for one (enterprise number, address) within ``window_seconds``, every
further login for that pair is refused unchecked, the right secret included, until the oldest of those failures
is older than the window; a successful login forgets the pair's failures. One address is also refused after
``address_limit`` failures within the window whatever institutions it named, so it cannot spray guesses over
many names, nor evict its own count by filling the table: at most ``max_keys`` counts are kept, the stalest
dropped first. The counts live in this process's memory (each worker process counts its own; a restart
forgets them).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

__all__ = ["LOGIN_FAILURES", "LOGIN_WINDOW_SECONDS", "LoginThrottle"]

LOGIN_FAILURES = 5
LOGIN_WINDOW_SECONDS = 15 * 60

Key = tuple[str, str]  # (enterprise number as typed, normalized, or "" for the address alone; client address)


class LoginThrottle:
    def __init__(
        self,
        *,
        limit: int = LOGIN_FAILURES,
        address_limit: int = 4 * LOGIN_FAILURES,
        window_seconds: float = LOGIN_WINDOW_SECONDS,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.address_limit = address_limit
        self.window = window_seconds
        self._max_keys = max_keys
        self._clock = clock
        self._failures: OrderedDict[Key, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: Key, now: float) -> deque[float] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        while failures and now - failures[0] >= self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures

    def retry_after(self, institution: str, address: str) -> int | None:
        """Whole seconds until this pair may try again, or None when it may try now."""
        with self._lock:
            now = self._clock()
            waits = [
                self._wait(failures, limit, now)
                for key, limit in (((institution, address), self.limit), (("", address), self.address_limit))
                if (failures := self._recent(key, now)) is not None and len(failures) >= limit
            ]
            return max(waits) if waits else None

    def _wait(self, failures: deque[float], limit: int, now: float) -> int:
        return max(1, math.ceil(self.window - (now - failures[-limit])))

    def failed(self, institution: str, address: str) -> None:
        with self._lock:
            now = self._clock()
            for key, limit in (((institution, address), self.limit), (("", address), self.address_limit)):
                failures = self._recent(key, now) or deque()
                failures.append(now)
                while len(failures) > limit:
                    failures.popleft()
                self._failures[key] = failures
                self._failures.move_to_end(key)
            while len(self._failures) > self._max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, institution: str, address: str) -> None:
        with self._lock:
            self._failures.pop((institution, address), None)

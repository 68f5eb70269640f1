"""How many threads of a worker do the gateway's work at once (gateway.entrypoints.permits), with real threads."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import pytest

from gateway.domain.access import Flow
from gateway.entrypoints.permits import Permits, Permitted, WaivingProvider

WAIT = 10.0  # seconds a test waits for a thread that should get on; never reached when the code is right


class Inside:
    """Counts the threads inside a block at once, the most ever seen, and holds them there until released."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = self.most = 0
        self.release = threading.Event()
        self.entered = threading.Semaphore(0)

    def __call__(self) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        self.entered.release()
        assert self.release.wait(WAIT)
        with self._lock:
            self.now -= 1


def _start(count: int, target: Any) -> list[threading.Thread]:
    threads = [threading.Thread(target=target, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


@pytest.mark.parametrize("size", [1, 2, 3])
def test_no_more_threads_than_permits_work_at_once(size: int) -> None:
    permits, inside = Permits(size), Inside()

    def work() -> None:
        with permits.held():
            inside()

    threads = _start(8, work)
    for _ in range(size):
        assert inside.entered.acquire(timeout=WAIT)
    assert not inside.entered.acquire(timeout=0.3), "a thread got in beyond the permits"
    inside.release.set()
    for thread in threads:
        thread.join(WAIT)
    assert inside.most == size and inside.now == 0


def test_a_thread_waiting_outside_gives_its_permit_to_another_and_takes_one_back() -> None:
    permits = Permits(1)
    waiting, outside_done, second_in = threading.Event(), threading.Event(), threading.Event()
    order: list[str] = []

    def first() -> None:
        with permits.held():
            with permits.waived():
                assert not permits.holding()
                waiting.set()
                assert outside_done.wait(WAIT)
            assert permits.holding()
            order.append("first back")

    def second() -> None:
        assert waiting.wait(WAIT)
        with permits.held():  # gets in while the first waits outside
            second_in.set()
            order.append("second")

    threads = _start(1, first) + _start(1, second)
    assert second_in.wait(WAIT), "the waived permit was not given to the other thread"
    outside_done.set()
    for thread in threads:
        thread.join(WAIT)
    assert order == ["second", "first back"]
    with permits.held():  # every permit was given back
        pass


def test_a_permit_is_given_back_however_the_block_ends_and_is_never_taken_twice() -> None:
    permits = Permits(1)
    with pytest.raises(RuntimeError), permits.held():
        with permits.held():  # the thread holds one already: it takes none more, so this does not wait forever
            assert permits.holding()
        raise RuntimeError("the request failed")
    assert not permits.holding()
    with pytest.raises(RuntimeError), permits.held(), permits.waived():
        raise RuntimeError("the provider failed")
    with permits.waived():  # a thread without a permit waives nothing
        assert not permits.holding()
    done = threading.Event()

    def other() -> None:
        with permits.held():
            done.set()

    _start(1, other)
    assert done.wait(WAIT), "a permit was lost"


def test_only_the_application_call_holds_a_permit() -> None:
    permits = Permits(1)
    seen: list[bool] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen.append(permits.holding())
        start_response("200 OK", [])
        return [b"answer"]

    body = Permitted(app, permits)({}, lambda status, headers: None)
    assert (list(body), seen, permits.holding()) == ([b"answer"], [True], False)


def test_a_flow_answered_by_the_gateway_keeps_the_permit_and_a_provider_call_gives_it_up() -> None:
    permits = Permits(1)
    held_during: list[bool] = []

    def provider(flow: Flow, payload: bytes | None, ticket: str) -> bytes | None:
        held_during.append(permits.holding())
        return b"<ok/>"

    waiving = WaivingProvider(provider, permits)
    with permits.held():
        waiving(Flow("consult.generic", "R5.1", (), ()), None, "T")
        waiving(Flow("form.wet65.B", "R5.4", (), (), provider_url="http://127.0.0.1:1/p"), b"<x/>", "T")
        assert permits.holding()
    assert held_during == [True, False]


def test_a_worker_needs_a_permit() -> None:
    with pytest.raises(ValueError):
        Permits(0)

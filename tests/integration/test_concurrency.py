"""Many writers at once: the directory ends as the serial replay of its audit trail (no lost update).

Threads share one store; processes (multiprocessing, spawn) open their own (not a memory store, which lives in
one process). Persons overlap on purpose, so writers keep reading and changing the same periods.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from datetime import date

import pytest
from directory_replay import hammer, hammer_in_process, replay_audit, ssins, stored_state

from gateway.adapters.storage.memory import MemoryStore
from gateway.app.demo import DEMO_INSTITUTIONS, ensure_demo
from gateway.app.directory_service import DirectoryService
from gateway.app.ports import Store
from gateway.domain.directory import DirectoryRequest, Reason
from gateway.domain.results import OperationResult

PERSONS = ssins(5)
OCMWS = [r for r in DEMO_INSTITUTIONS if r.sector == 17]


def run_threads(count: int, target: Callable[[int], object]) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(n: int) -> None:
        try:
            barrier.wait()
            target(n)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


@pytest.fixture
def demo(store: Store) -> Store:
    ensure_demo(store)
    return store


def assert_state_is_the_replay_of_the_audit_trail(store: Store, operations: int) -> None:
    replayed_state, replayed = replay_audit(store)
    assert replayed == operations
    assert stored_state(store) == replayed_state
    assert replayed_state, "the test should leave some integrations"


def test_threads_changing_the_same_persons_lose_no_update(demo: Store) -> None:
    run_threads(6, lambda n: hammer(demo, seed=n, operations=40, persons=PERSONS, institutions=OCMWS))
    assert_state_is_the_replay_of_the_audit_trail(demo, 6 * 40)


def test_processes_changing_the_same_persons_lose_no_update(demo: Store) -> None:
    if isinstance(demo, MemoryStore):
        pytest.skip("a memory store belongs to one process: other processes cannot open it")
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        sent = pool.starmap(hammer_in_process, [(demo.url, 100 + n, 30, PERSONS) for n in range(3)])
    assert_state_is_the_replay_of_the_audit_trail(demo, sum(sent))


def test_concurrent_requests_with_one_reference_are_answered_once_and_applied_once(demo: Store) -> None:
    service = DirectoryService(demo, demo.catalogue())
    request = DirectoryRequest(1, date(2015, 1, 1), None, tuple(PERSONS[:2]))
    answers: list[OperationResult] = []
    run_threads(6, lambda n: answers.append(service.integrate(OCMWS[0], request, reference="same-ref")))
    assert len({a.ticket for a in answers}) == 1
    assert [r.reference for r in demo.audit_log()] == ["same-ref"]
    assert_state_is_the_replay_of_the_audit_trail(demo, 1)


def test_concurrent_different_requests_with_one_reference_apply_exactly_one(demo: Store) -> None:
    service = DirectoryService(demo, demo.catalogue())
    answers: list[OperationResult] = []

    def send(n: int) -> None:
        request = DirectoryRequest(1, date(2015, 1, 1 + n), None, (PERSONS[n % len(PERSONS)],))
        answers.append(service.integrate(OCMWS[0], request, reference="contested"))

    run_threads(6, send)
    refused = [a for a in answers if any(d.reason == Reason.REFERENCE_REUSED for d in a.details)]
    assert len(answers) - len(refused) == 1
    assert_state_is_the_replay_of_the_audit_trail(demo, 1)
    assert len(stored_state(demo)) == 1

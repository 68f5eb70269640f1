"""Helpers for storage tests: valid SSINs, and the directory rebuilt by replaying the audit trail.

The replay is the oracle of the concurrency and crash tests: each recorded Integrate or Desintegrate request is
decided again by the pure domain functions, in audit order, starting from an empty directory.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta

from gateway.adapters.storage import open_store
from gateway.app.directory_service import DirectoryService
from gateway.app.ports import InstitutionRecord, Store
from gateway.domain.directory import DirectoryRequest, Reason, desintegrate, integrate
from gateway.domain.identifiers import check_ssin
from gateway.domain.periods import Period, PeriodSet
from gateway.domain.results import decode_operation

State = dict[tuple[str, str, int], PeriodSet]


def make_ssin(n: int) -> str:
    """The ``n``-th of a deterministic series of distinct, valid national-register numbers (born 1940-1999)."""
    birth = date(1940, 1, 1) + timedelta(days=n // 998)
    body = f"{birth:%y%m%d}{n % 998 + 1:03d}"
    ssin = f"{body}{97 - int(body) % 97:02d}"
    assert check_ssin(ssin).valid, ssin
    return ssin


def ssins(count: int, first: int = 0) -> list[str]:
    return [make_ssin(n) for n in range(first, first + count)]


def stored_state(store: Store) -> State:
    """Every period of the directory, grouped by institution, person and code."""
    state: dict[tuple[str, str, int], list[Period]] = {}
    for row in store.export_integrations():
        state.setdefault((row.institution_id, row.ssin, row.code), []).append(row.period)
    return {k: tuple(v) for k, v in state.items()}


def replay_audit(store: Store) -> tuple[State, int]:
    """The directory rebuilt from the audit trail, and how many changing operations were replayed.

    Also checks that every replayed operation decides as recorded: same status and periods for each person.
    """
    sectors = {r.id: r.sector for r in store.institutions()}
    catalogue = store.catalogue()
    state: State = {}
    replayed = 0
    for record in store.audit_log():
        if record.operation not in ("Integrate", "Desintegrate"):
            continue
        recorded = decode_operation(record.outcome)
        if any(d.reason == Reason.REFERENCE_REUSED for d in recorded.details):
            continue  # refused as a whole: nothing was applied
        req = record.request
        start, end = req["period"]
        request = DirectoryRequest(
            int(req["code"]),
            date.fromisoformat(start),
            date.fromisoformat(end) if end else None,
            tuple(req["ssins"]),
        )
        inst = record.institution_id
        current = {s: state.get((inst, s, request.code), ()) for s in set(request.ssins)}
        decide = integrate if record.operation == "Integrate" else desintegrate
        outcomes = decide(catalogue, sectors[inst], request, current)
        for mine, theirs in zip(outcomes, recorded.persons, strict=True):
            assert (mine.ssin, mine.status, mine.periods) == (theirs.ssin, theirs.status, theirs.periods), record.ticket
            if mine.changed and mine.periods is not None:
                state[(inst, mine.ssin, request.code)] = mine.periods
        replayed += 1
    return {k: v for k, v in state.items() if v}, replayed


def random_request(rng: random.Random, persons: Sequence[str]) -> DirectoryRequest:
    """Code 01 or 02, one to three of ``persons``, a start in 2015 and often no end (the code's maximum)."""
    start = date(2015, 1, 1) + timedelta(days=rng.randrange(365))
    end = rng.choice([None, start + timedelta(days=rng.randrange(45))])
    return DirectoryRequest(rng.choice([1, 2]), start, end, tuple(rng.sample(list(persons), rng.randint(1, 3))))


def hammer(
    store: Store, seed: int, operations: int, persons: Sequence[str], institutions: Sequence[InstitutionRecord]
) -> int:
    """Integrate and desintegrate at random through the use cases; returns how many operations were sent."""
    rng = random.Random(seed)
    service = DirectoryService(store, store.catalogue())
    for _ in range(operations):
        institution = rng.choice(list(institutions))
        request = random_request(rng, persons)
        if rng.random() < 0.6:
            service.integrate(institution, request)
        else:
            service.desintegrate(institution, request)
    return operations


def hammer_in_process(url: str, seed: int, operations: int, persons: Sequence[str]) -> int:
    """``hammer`` in a process of its own, with its own store on ``url`` (a multiprocessing target)."""
    store = open_store(url)
    try:
        institutions = [r for r in store.institutions() if r.sector == 17]
        return hammer(store, seed, operations, persons, institutions)
    finally:
        store.close()

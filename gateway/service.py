"""The directory's use cases: one request, one transaction, one audit record, one answer.

Invariant: each call reads the persons' periods (locking them), lets the pure domain core decide, writes the
changes, the audit record, the stored answer of its Reference and its WS-Security nonce in a single
transaction. A Reference seen
before returns the stored answer (same Ticket) and applies nothing; with another request it is refused.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from gateway.catalogue import Catalogue
from gateway.directory import (
    Detail,
    DirectoryRequest,
    Ok,
    PersonOutcome,
    Reason,
    Severity,
    Status,
    Summary,
    consult,
    desintegrate,
    integrate,
    persons_to_read,
    summarize,
)
from gateway.errors import FailedAuthentication
from gateway.periods import Period, PeriodSet
from gateway.results import (
    ConsultResult,
    OperationResult,
    decode_consult,
    decode_operation,
    encode_consult,
    encode_operation,
    encode_period,
)
from gateway.ssin import check_ssin
from gateway.storage.base import AuditRecord, InstitutionRecord, NonceClaim, Store, StoredAnswer, Transaction

__all__ = [
    "BRUSSELS",
    "DirectoryService",
    "audit",
    "brussels_today",
    "claim",
    "fingerprint",
    "new_ticket",
    "reference_reused",
]

BRUSSELS = ZoneInfo("Europe/Brussels")


def brussels_today() -> date:
    """The gateway's calendar day: today in Europe/Brussels (contract, "The gateway's day")."""
    return datetime.now(BRUSSELS).date()


def new_ticket() -> str:
    return f"KSZGW-{uuid.uuid4().hex}"


def fingerprint(operation: str, request: Mapping[str, Any]) -> str:
    """A stable digest of a request's meaning, to tell a repeated Reference from a reused one."""
    text = json.dumps({"operation": operation, "request": request}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def reference_reused(reference: str) -> Detail:
    return Detail(
        Severity.ERROR,
        Reason.REFERENCE_REUSED,
        f"Reference {reference!r} was already used by this institution for a different request; "
        "nothing was applied. Send a new Reference.",
        (("Reference", reference),),
    )


@dataclass
class DirectoryService:
    """Integrate, Desintegrate and Consult against a store, for an authenticated institution."""

    store: Store
    catalogue: Catalogue
    today: Callable[[], date] = brussels_today
    ticket: Callable[[], str] = new_ticket
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    # -- Integrate / Desintegrate ------------------------------------------------------------------------

    def integrate(
        self,
        institution: InstitutionRecord,
        request: DirectoryRequest,
        reference: str | None = None,
        *,
        nonce: NonceClaim | None = None,
    ) -> OperationResult:
        return self._change("Integrate", institution, request, reference, nonce)

    def desintegrate(
        self,
        institution: InstitutionRecord,
        request: DirectoryRequest,
        reference: str | None = None,
        *,
        nonce: NonceClaim | None = None,
    ) -> OperationResult:
        return self._change("Desintegrate", institution, request, reference, nonce)

    def _change(
        self,
        operation: str,
        institution: InstitutionRecord,
        request: DirectoryRequest,
        reference: str | None,
        nonce: NonceClaim | None,
    ) -> OperationResult:
        described = {
            "code": request.code,
            "period": [request.start.isoformat(), request.end.isoformat() if request.end else None],
            "ssins": list(request.ssins),
        }
        print_ = fingerprint(operation, described)
        with self.store.transaction() as tx:
            claim(tx, nonce)
            if reference is not None:
                stored = tx.find_answer(institution.id, reference)
                if stored is not None:
                    if stored.fingerprint == print_:
                        return decode_operation(stored.answer)
                    result = self._refuse_all(tx, institution, request, reference_reused(reference))
                    self._audit(tx, institution, operation, reference, described, encode_operation(result))
                    return result
            readable = persons_to_read(request.ssins)
            current = tx.read_periods(institution.id, request.code, readable)
            if operation == "Integrate":
                outcomes = integrate(self.catalogue, institution.sector, request, current)
            else:
                attestations = tx.attestations_of(institution.id, readable)
                outcomes = desintegrate(self.catalogue, institution.sector, request, current, attestations)
            for o in outcomes:
                if o.changed and o.periods is not None:
                    tx.write_periods(institution.id, request.code, o.ssin, o.periods)
            result = OperationResult(self.ticket(), summarize(outcomes), outcomes)
            encoded = encode_operation(result)
            self._audit(tx, institution, operation, reference, described, encoded)
            if reference is not None:
                tx.save_answer(institution.id, reference, StoredAnswer(operation, print_, encoded))
            return result

    def _refuse_all(
        self, tx: Transaction, institution: InstitutionRecord, request: DirectoryRequest, detail: Detail
    ) -> OperationResult:
        """Refuse every person with ``detail`` (nothing applied); valid persons still show their periods."""
        current: Mapping[str, PeriodSet] = tx.read_periods(institution.id, request.code, persons_to_read(request.ssins))
        persons = tuple(
            PersonOutcome(s, Status.REFUSED, (detail,), current.get(s, ()) if check_ssin(s).valid else None)
            for s in request.ssins
        )
        return OperationResult(self.ticket(), Summary(Ok.NO, 10000), persons, (detail,))

    # -- Consult -----------------------------------------------------------------------------------------

    def consult(
        self,
        institution: InstitutionRecord,
        ssin: str,
        window: Period,
        code: int | None = None,
        sector: int | None = None,
        reference: str | None = None,
        *,
        nonce: NonceClaim | None = None,
    ) -> ConsultResult:
        described = {"ssin": ssin, "period": encode_period(window), "code": code, "sector": sector}
        print_ = fingerprint("Consult", described)
        with self.store.transaction() as tx:
            claim(tx, nonce)
            if reference is not None:
                stored = tx.find_answer(institution.id, reference)
                if stored is not None:
                    if stored.fingerprint == print_:
                        return decode_consult(stored.answer)
                    refused = ConsultResult(self.ticket(), Summary(Ok.NO, 10000), (), (reference_reused(reference),))
                    self._audit(tx, institution, "Consult", reference, described, encode_consult(refused))
                    return refused
            check = check_ssin(ssin)
            if not check.valid:
                detail = Detail(Severity.ERROR, Reason.INVALID_SSIN, check.reason + ".", (("SSIN", ssin),))
                result = ConsultResult(self.ticket(), Summary(Ok.NO, 10000), (), (detail,))
            else:
                found = consult(tx.integrations_of(ssin, window, code, sector), window, code, sector)
                result = ConsultResult(self.ticket(), Summary(Ok.YES, 0), found)
            encoded = encode_consult(result)
            self._audit(tx, institution, "Consult", reference, described, encoded)
            if reference is not None:
                tx.save_answer(institution.id, reference, StoredAnswer("Consult", print_, encoded))
            return result

    # -- audit -------------------------------------------------------------------------------------------

    def _audit(
        self,
        tx: Transaction,
        institution: InstitutionRecord,
        operation: str,
        reference: str | None,
        request: Mapping[str, Any],
        outcome: Mapping[str, Any],
    ) -> None:
        audit(tx, self.now(), institution, operation, reference, request, outcome)


def claim(tx: Transaction, nonce: NonceClaim | None) -> None:
    """Remember the request's WS-Security nonce in its own transaction; a replay rolls everything back."""
    if nonce is not None and not tx.claim_nonce(nonce):
        raise FailedAuthentication(f"nonce replayed by institution {nonce.institution_id}")


def audit(
    tx: Transaction,
    at: datetime,
    institution: InstitutionRecord,
    operation: str,
    reference: str | None,
    request: Mapping[str, Any],
    outcome: Mapping[str, Any],
) -> None:
    """Write the audit record of one exchange: who asked what about whom, when, and what came of it."""
    tx.add_audit(AuditRecord(str(outcome["ticket"]), institution.id, operation, at, reference, request, outcome))

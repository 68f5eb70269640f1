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

from gateway.app.ports import AuditRecord, InstitutionRecord, NonceClaim, Store, StoredAnswer, Transaction
from gateway.domain.catalogue import Catalogue
from gateway.domain.directory import (
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
from gateway.domain.identifiers import check_ssin
from gateway.domain.periods import Period, PeriodSet
from gateway.domain.results import (
    ConsultResult,
    OperationResult,
    decode_consult,
    decode_operation,
    encode_consult,
    encode_operation,
    encode_period,
)
from gateway.errors import NonceReplayed

__all__ = [
    "BRUSSELS",
    "DirectoryService",
    "Exchange",
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


TICKET_LENGTH = 36  # the network's length for a Ticket, which client software stores in a field of that size


def new_ticket() -> str:
    """A fresh Ticket: ``KSZGW-`` and 120 random bits in hex, 36 characters in all."""
    return f"KSZGW-{uuid.uuid4().hex[: TICKET_LENGTH - 6]}"


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
        exchange = Exchange(institution, operation, reference, described, self.now())
        with self.store.transaction() as tx:
            earlier = exchange.begin(tx, nonce)
            if earlier is not None:
                if exchange.repeats(earlier):
                    return decode_operation(earlier.answer)
                result = self._refuse_all(tx, institution, request, exchange.reused())
                exchange.record(tx, encode_operation(result), keep=False)
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
            exchange.record(tx, encode_operation(result))
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
        exchange = Exchange(institution, "Consult", reference, described, self.now())
        with self.store.transaction() as tx:
            earlier = exchange.begin(tx, nonce)
            if earlier is not None:
                if exchange.repeats(earlier):
                    return decode_consult(earlier.answer)
                refused = ConsultResult(self.ticket(), Summary(Ok.NO, 10000), (), (exchange.reused(),))
                exchange.record(tx, encode_consult(refused), keep=False)
                return refused
            check = check_ssin(ssin)
            if not check.valid:
                detail = Detail(Severity.ERROR, Reason.INVALID_SSIN, check.reason + ".", (("SSIN", ssin),))
                result = ConsultResult(self.ticket(), Summary(Ok.NO, 10000), (), (detail,))
            else:
                found = consult(tx.integrations_of(ssin, window, code, sector), window, code, sector)
                result = ConsultResult(self.ticket(), Summary(Ok.YES, 0), found)
            exchange.record(tx, encode_consult(result))
            return result


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request's bookkeeping: who sent which operation under which Reference, and what it asked (as JSON).

    ``begin`` claims the nonce and finds an earlier answer to the Reference; ``record`` writes the audit record
    and, for a Reference, the answer to give again. Both run in the request's own transaction.
    """

    institution: InstitutionRecord
    operation: str
    reference: str | None
    request: Mapping[str, Any]
    at: datetime

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.operation, self.request)

    def begin(self, tx: Transaction, nonce: NonceClaim | None) -> StoredAnswer | None:
        """Claim the nonce (a replay raises); the answer stored for this Reference, if it was used before."""
        claim(tx, nonce)
        return None if self.reference is None else tx.find_answer(self.institution.id, self.reference)

    def repeats(self, earlier: StoredAnswer) -> bool:
        """True when the earlier use of the Reference was this very request: its answer is given again."""
        return earlier.operation == self.operation and earlier.fingerprint == self.fingerprint

    def reused(self) -> Detail:
        assert self.reference is not None
        return reference_reused(self.reference)

    def record(self, tx: Transaction, outcome: Mapping[str, Any], *, keep: bool = True) -> None:
        """The audit record of the exchange; with ``keep``, also the answer to give again for its Reference."""
        audit(tx, self.at, self.institution, self.operation, self.reference, self.request, outcome)
        if keep and self.reference is not None:
            tx.save_answer(self.institution.id, self.reference, StoredAnswer(self.operation, self.fingerprint, outcome))


def claim(tx: Transaction, nonce: NonceClaim | None) -> None:
    """Remember the request's WS-Security nonce in its own transaction; a replay rolls everything back."""
    if nonce is not None and not tx.claim_nonce(nonce):
        raise NonceReplayed(f"nonce replayed by institution {nonce.institution_id}")


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

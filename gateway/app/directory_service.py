"""The directory's use cases: one request, one transaction, one audit record, one answer.

Invariant: each call reads the persons' periods (locking them), lets the pure domain core decide, writes the
changes, the audit record, the stored answer of its Reference and its WS-Security nonce in a single
transaction (the bookkeeping of ``gateway.app.exchange``). A Reference seen before returns the stored answer
(same Ticket) and applies nothing; with another request it is refused. The operator's query ``integrations``
is no exchange: it reads what Consult would answer and writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.app.exchange import REFUSED, Answers, UseCase, brussels_today, with_context
from gateway.app.ports import InstitutionRecord, NonceClaim, Transaction
from gateway.domain.directory import (
    Detail,
    DirectoryRequest,
    Integration,
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

__all__ = ["CONSULTS", "OPERATIONS", "DirectoryService", "brussels_today"]

OPERATIONS: Answers[OperationResult] = Answers(encode_operation, decode_operation)
CONSULTS: Answers[ConsultResult] = Answers(encode_consult, decode_consult)


@dataclass
class DirectoryService(UseCase):
    """Integrate, Desintegrate and Consult against a store, for an authenticated institution."""

    # -- Integrate / Desintegrate ------------------------------------------------------------------------

    def integrate(
        self,
        institution: InstitutionRecord,
        request: DirectoryRequest,
        reference: str | None = None,
        *,
        nonce: NonceClaim | None = None,
        keyed: bool = True,
        context: Mapping[str, Any] | None = None,
    ) -> OperationResult:
        return self._change("Integrate", institution, request, reference, nonce, keyed, context)

    def desintegrate(
        self,
        institution: InstitutionRecord,
        request: DirectoryRequest,
        reference: str | None = None,
        *,
        nonce: NonceClaim | None = None,
        keyed: bool = True,
        context: Mapping[str, Any] | None = None,
    ) -> OperationResult:
        return self._change("Desintegrate", institution, request, reference, nonce, keyed, context)

    def _change(
        self,
        operation: str,
        institution: InstitutionRecord,
        request: DirectoryRequest,
        reference: str | None,
        nonce: NonceClaim | None,
        keyed: bool = True,
        context: Mapping[str, Any] | None = None,
    ) -> OperationResult:
        described = {
            "code": request.code,
            "period": [request.start.isoformat(), request.end.isoformat() if request.end else None],
            "ssins": list(request.ssins),
        }

        def refuse(tx: Transaction, detail: Detail) -> OperationResult:
            return self._refuse_all(tx, institution, request, detail)

        def decide(tx: Transaction) -> OperationResult:
            readable = persons_to_read(request.ssins)
            if operation == "Integrate":
                current = tx.read_periods(institution.id, request.code, readable)
                outcomes = integrate(self.catalogue, institution.sector, request, current)
            else:
                current, attestations = tx.periods_and_attestations(institution.id, request.code, readable)
                outcomes = desintegrate(self.catalogue, institution.sector, request, current, attestations)
            for o in outcomes:
                if o.changed and o.periods is not None:
                    tx.write_periods(institution.id, request.code, o.ssin, o.periods)
            return OperationResult(self.ticket(), summarize(outcomes), outcomes)

        exchange = self.exchange(institution, operation, reference, with_context(described, context), OPERATIONS, keyed)
        return self.answer(exchange, nonce, refuse, decide)

    def _refuse_all(
        self, tx: Transaction, institution: InstitutionRecord, request: DirectoryRequest, detail: Detail
    ) -> OperationResult:
        """Refuse every person with ``detail`` (nothing applied); valid persons still show their periods."""
        current: Mapping[str, PeriodSet] = tx.read_periods(institution.id, request.code, persons_to_read(request.ssins))
        persons = tuple(
            PersonOutcome(s, Status.REFUSED, (detail,), current.get(s, ()) if check_ssin(s).valid else None)
            for s in request.ssins
        )
        return OperationResult(self.ticket(), REFUSED, persons, (detail,))

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
        keyed: bool = True,
        context: Mapping[str, Any] | None = None,
    ) -> ConsultResult:
        described = {"ssin": ssin, "period": encode_period(window), "code": code, "sector": sector}

        def refuse(tx: Transaction, detail: Detail) -> ConsultResult:
            return ConsultResult(self.ticket(), REFUSED, (), (detail,))

        def decide(tx: Transaction) -> ConsultResult:
            check = check_ssin(ssin)
            if not check.valid:
                return refuse(tx, Detail(Severity.ERROR, Reason.INVALID_SSIN, check.reason + ".", (("SSIN", ssin),)))
            found = consult(tx.integrations_of(ssin, window, code, sector), window, code, sector)
            return ConsultResult(self.ticket(), Summary(Ok.YES, 0), found)

        exchange = self.exchange(institution, "Consult", reference, with_context(described, context), CONSULTS, keyed)
        return self.answer(exchange, nonce, refuse, decide)

    def integrations(
        self, ssin: str, window: Period, code: int | None = None, sector: int | None = None
    ) -> tuple[Integration, ...]:
        """What Consult would answer about ``ssin``, for the operator: read directly, in no institution's name,
        so no nonce, no Reference and no audit record (the operator is no caller of the gateway)."""
        with self.store.transaction() as tx:
            return consult(tx.integrations_of(ssin, window, code, sector), window, code, sector)

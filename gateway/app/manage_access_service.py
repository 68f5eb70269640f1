"""The legacy front's use case: a ManageAccess document's service requests carried out as the v1 operations.

Invariant: a REGISTER is ``DirectoryService.integrate``, an UNREGISTER ``desintegrate`` and a LIST ``consult``,
called once per service request, in order, so both fronts share one code path and one audit trail; the
document's own checks (identity, at most ten service requests, ServiceId and Version, a mandatory Purpose, the
proof of authentication) refuse before anything is applied, and every refusal is an audit record too. The
Reference is audited, never a key. The request's WS-Security nonce, if any, is claimed by the document's first
transaction. Service request ``n`` of a document is audited under the document's Ticket with its last two
characters replaced by ``n`` (``01`` .. ``10``), and the reply carries the first of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from gateway.app.directory_service import DirectoryService
from gateway.app.exchange import REFUSED, Answers, new_ticket
from gateway.app.ports import InstitutionRecord, NonceClaim, Transaction
from gateway.domain.directory import Detail, DirectoryRequest, Ok, Reason, Severity, Status
from gateway.domain.manage_access import (
    MAX_SERVICE_REQUESTS,
    Action,
    DocumentOutcome,
    ManageAccessDocument,
    ManageAccessRequest,
    Register,
    Registration,
    ServiceOutcome,
    ServiceRequest,
    check_identity,
    check_mandatory,
    check_proof,
    check_service,
    document_summary,
    refused_document,
    registers,
    too_many_service_requests,
)
from gateway.domain.periods import Period, overlaps
from gateway.domain.results import Result, decode, encode

__all__ = ["OPERATION", "REFUSALS", "ManageAccessService", "Refusal"]

OPERATION = "ManageAccess"  # the audit trail's name for what this front refuses before a v1 operation runs


@dataclass(frozen=True, slots=True)
class Refusal(Result):
    """What this front refused before a v1 operation ran: the audit record's Ticket and the reason."""

    details: tuple[Detail, ...]


def _decode_refusal(value: Any) -> Refusal:
    return decode(Refusal, value)


REFUSALS: Answers[Refusal] = Answers(encode, _decode_refusal)


@dataclass
class ManageAccessService:
    """REGISTER, UNREGISTER and LIST for an authenticated institution, through the directory's use cases."""

    directory: DirectoryService
    ticket: Callable[[], str] = new_ticket

    def handle(
        self, institution: InstitutionRecord, document: ManageAccessDocument, *, nonce: NonceClaim | None = None
    ) -> DocumentOutcome:
        base = self.ticket()
        tickets = [f"{base[:-2]}{n:02d}" for n in range(1, max(len(document.services), 1) + 1)]
        context = _context(document)
        if len(document.services) > MAX_SERVICE_REQUESTS:
            whole: Detail | None = too_many_service_requests(len(document.services))
        else:
            whole = check_identity(document.user, institution.id, institution.sector)
        if whole is not None:
            self._audit_refusal(institution, document.reference, tickets[0], context, whole, nonce)
            return refused_document(tickets[0], whole, document.services)
        done: list[ServiceOutcome] = []
        for position, service in enumerate(document.services, start=1):
            here = {**context, "service_request": position}
            done.append(self._service(institution, document.reference, tickets[position - 1], here, service, nonce))
            nonce = None  # claimed by the first transaction
        return _document(tickets[0], tuple(done))

    def refuse(
        self,
        institution: InstitutionRecord,
        reason: Detail,
        reference: str | None = None,
        *,
        count: int = 1,
        nonce: NonceClaim | None = None,
    ) -> DocumentOutcome:
        """A document refused before it could be read (not well-formed, a DOCTYPE, schema-invalid): audited, and
        answered with ``count`` refused service requests."""
        ticket = f"{self.ticket()[:-2]}01"
        self._audit_refusal(institution, reference, ticket, {"front": "ssdn"}, reason, nonce)
        return refused_document(ticket, reason, count=count)

    # -- one service request ---------------------------------------------------------------------------------

    def _service(
        self,
        institution: InstitutionRecord,
        reference: str | None,
        ticket: str,
        context: dict[str, Any],
        service: ServiceRequest,
        nonce: NonceClaim | None,
    ) -> ServiceOutcome:
        request = service.body
        refusal = check_service(service.service_id, service.version, request is not None)
        if refusal is None and request is not None:
            context = {**context, **_described(request)}
            refusal = check_mandatory(request) or check_proof(request)
            if refusal is None and request.action is Action.LIST and request.end is not None:
                refusal = _order(request)
        if refusal is not None or request is None:
            assert refusal is not None
            self._audit_refusal(institution, reference, ticket, context, refusal, nonce)
            return ServiceOutcome(service.service_id, service.version, request, REFUSED, (refusal,), None, ticket)
        directory = replace(self.directory, ticket=lambda: ticket)
        if request.action is Action.LIST:
            return self._list(directory, institution, reference, context, service, request, nonce)
        assert request.purpose is not None
        change = DirectoryRequest(request.purpose, request.start, request.end, (request.ssin,))
        operate = directory.integrate if request.action is Action.REGISTER else directory.desintegrate
        result = operate(institution, change, reference, nonce=nonce, keyed=False, context=context)
        person = result.persons[0]
        details = (*result.details, *person.details)
        registrations: tuple[Registration, ...] | None = None
        if person.status is not Status.REFUSED:
            asked = Period(request.start, request.end)
            registrations = tuple(
                Registration(request.purpose, p, institution.id, Register.SECONDARY)
                for p in person.periods or ()
                if overlaps(p, asked)
            )
        return ServiceOutcome(
            service.service_id, service.version, request, result.summary, details, registrations, result.ticket
        )

    def _list(
        self,
        directory: DirectoryService,
        institution: InstitutionRecord,
        reference: str | None,
        context: dict[str, Any],
        service: ServiceRequest,
        request: ManageAccessRequest,
        nonce: NonceClaim | None,
    ) -> ServiceOutcome:
        window = Period(request.start, request.end)
        result = directory.consult(
            institution,
            request.ssin,
            window,
            request.purpose,
            None,
            reference,
            nonce=nonce,
            keyed=False,
            context=context,
        )
        shown = None
        if result.summary.ok is not Ok.NO:
            sector = institution.sector if request.sector is None else request.sector
            shown = registers(result.integrations, request.asked_register, sector)
        return ServiceOutcome(
            service.service_id, service.version, request, result.summary, result.details, shown, result.ticket
        )

    def _audit_refusal(
        self,
        institution: InstitutionRecord,
        reference: str | None,
        ticket: str,
        context: Mapping[str, Any],
        reason: Detail,
        nonce: NonceClaim | None,
    ) -> None:
        """The refusal's audit record, through the directory's exchange bookkeeping (the nonce claimed with it)."""
        exchange = self.directory.exchange(institution, OPERATION, reference, context, REFUSALS, keyed=False)

        def refused(tx: Transaction, detail: Detail) -> Refusal:
            return Refusal(ticket, REFUSED, (detail,))

        self.directory.answer(exchange, nonce, refused, lambda tx: Refusal(ticket, REFUSED, (reason,)))


def _order(request: ManageAccessRequest) -> Detail | None:
    assert request.end is not None
    if request.end >= request.start:
        return None
    return Detail(
        Severity.ERROR,
        Reason.END_BEFORE_START,
        f"The end date {request.end.isoformat()} lies before the start date {request.start.isoformat()}.",
        (("StartDate", request.start.isoformat()), ("EndDate", request.end.isoformat())),
    )


def _document(ticket: str, services: tuple[ServiceOutcome, ...]) -> DocumentOutcome:
    summary, generic = document_summary([s.summary for s in services])
    return DocumentOutcome(ticket, summary, () if generic is None else (generic,), services)


def _context(document: ManageAccessDocument) -> dict[str, Any]:
    user = document.user
    return {
        "front": "ssdn",
        "user_id": user.user_id,
        "email": user.email,
        "org_unit": user.org_unit,
        "matrix_id": user.matrix_id,
        "matrix_sub_id": user.matrix_sub_id,
        "time_request": document.time_request,
    }


def _described(request: ManageAccessRequest) -> dict[str, Any]:
    """The service request as audited: its action and everything the client said, names of the proof included."""
    proof = request.proof
    person = proof.person
    return {
        "action": request.action.value,
        "ssin": request.ssin,
        "purpose": request.purpose,
        "period": [request.start.isoformat(), request.end.isoformat() if request.end else None],
        "sector": request.sector,
        "query_register": request.query_register.value if request.query_register else None,
        "proof": {
            "sis_card": proof.sis_card,
            "id_card": proof.id_card,
            "last_name": person.last_name if person else None,
            "first_name": person.first_name if person else None,
            "birth_date": person.birth_date if person else None,
        },
    }

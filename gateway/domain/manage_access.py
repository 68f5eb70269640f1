"""The network's ManageAccess service as the gateway's domain sees it: the request's values, the checks the
contract asks for (identity, proof of authentication, mandatory Purpose) and the PRIMARY and SECONDARY registers.

Invariant: these functions only compute. A ManageAccess action the checks refuse comes back as the ``Detail``
that says why, before anything is read or written; the registers are derived from the directory's integrations
alone (the SECONDARY register of a sector: one entry per institution; the PRIMARY register: one entry per sector,
code and merged period), so both fronts show the same directory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from gateway.domain.directory import RETURN_CODES, Detail, Integration, Ok, Severity, Summary
from gateway.domain.identifiers import check_ssin
from gateway.domain.periods import Period, normalize

__all__ = [
    "MAX_SERVICE_REQUESTS",
    "SERVICE_ID",
    "SERVICE_VERSION",
    "Action",
    "AuthorizedUser",
    "DocumentOutcome",
    "LegacyReason",
    "ManageAccessDocument",
    "ManageAccessRequest",
    "PersonData",
    "Proof",
    "Register",
    "Registration",
    "ServiceOutcome",
    "ServiceRequest",
    "check_identity",
    "check_mandatory",
    "check_proof",
    "check_service",
    "document_summary",
    "identity_card_valid",
    "refused_document",
    "registers",
    "too_many_service_requests",
]

SERVICE_ID = "OCMWCPASManageAccess"
SERVICE_VERSION = "20050930"
MAX_SERVICE_REQUESTS = 10


class Action(StrEnum):
    REGISTER = "REGISTER"
    UNREGISTER = "UNREGISTER"
    LIST = "LIST"


class Register(StrEnum):
    """A register a LIST reads (``ALL``: both) and the register a registration comes from."""

    PRIMARY = "PRIMARY"
    SECONDARY = "SECONDARY"
    ALL = "ALL"


class LegacyReason(StrEnum):
    """The reasons only the legacy front gives (docs/legacy-reason-codes.md has their 8-digit forms)."""

    MANDATORY_ARGUMENT_MISSING = "MANDATORY_ARGUMENT_MISSING"
    ORGUNIT_MISMATCH = "ORGUNIT_MISMATCH"
    MATRIXID_MISMATCH = "MATRIXID_MISMATCH"
    PROOF_MISSING = "PROOF_MISSING"
    PROOF_BIRTH_DATE_MISMATCH = "PROOF_BIRTH_DATE_MISMATCH"
    PROOF_IDENTITY_CARD_INVALID = "PROOF_IDENTITY_CARD_INVALID"
    UNKNOWN_SERVICE = "UNKNOWN_SERVICE"
    UNKNOWN_VERSION = "UNKNOWN_VERSION"
    TOO_MANY_SERVICE_REQUESTS = "TOO_MANY_SERVICE_REQUESTS"
    # The network's generic codes of a whole document (ReplyContext), 30000001 and 20000001.
    SERVICE_REQUEST_ERROR = "SERVICE_REQUEST_ERROR"
    SERVICE_REQUEST_WARNING = "SERVICE_REQUEST_WARNING"


@dataclass(frozen=True, slots=True)
class AuthorizedUser:
    """Who the document says sends it, each value as written (``org_unit`` and ``matrix_id`` are checked)."""

    user_id: str
    email: str
    org_unit: str | None
    matrix_id: int
    matrix_sub_id: int | None


@dataclass(frozen=True, slots=True)
class PersonData:
    last_name: str
    first_name: str | None
    birth_date: str  # yyyy-mm-dd, month or day 00 when unknown


@dataclass(frozen=True, slots=True)
class Proof:
    """A ProofOfAuthentication: each part optional; all absent is an empty proof."""

    sis_card: str | None = None
    id_card: str | None = None
    person: PersonData | None = None

    @property
    def empty(self) -> bool:
        return self.sis_card is None and self.id_card is None and self.person is None


@dataclass(frozen=True, slots=True)
class ManageAccessRequest:
    """One service request's body, its values read (digits ASCII, dates calendar days)."""

    ssin: str
    purpose: int | None
    start: date
    end: date | None
    action: Action
    sector: int | None
    query_register: Register | None
    proof: Proof

    @property
    def asked_register(self) -> Register:
        """The register a LIST reads: QueryRegister, ALL when absent."""
        return self.query_register or Register.ALL


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    """One ServiceRequest of a document: its ServiceId and Version as written, and its body when the body is a
    ManageAccessRequest (None otherwise)."""

    service_id: str
    version: str
    body: ManageAccessRequest | None


@dataclass(frozen=True, slots=True)
class ManageAccessDocument:
    """An SSDN request document: who it says sends it, the client's Reference and time, the service requests."""

    user: AuthorizedUser
    reference: str | None
    time_request: str | None
    services: tuple[ServiceRequest, ...]


@dataclass(frozen=True, slots=True)
class Registration:
    """One entry of a reply: a code for a period, held by an institution (SECONDARY) or a sector (PRIMARY)."""

    purpose: int
    period: Period
    org_unit: str
    register: Register


@dataclass(frozen=True, slots=True)
class ServiceOutcome:
    """What one service request came to: its summary and specific reasons, and — unless it was refused — the
    registrations of its ManageAccessReply."""

    service_id: str
    version: str
    request: ManageAccessRequest | None
    summary: Summary
    details: tuple[Detail, ...]
    registrations: tuple[Registration, ...] | None
    ticket: str


@dataclass(frozen=True, slots=True)
class DocumentOutcome:
    """A whole document's answer: the Ticket, the ReplyContext's summary and details, one outcome a service
    request (in order)."""

    ticket: str
    summary: Summary
    details: tuple[Detail, ...]
    services: tuple[ServiceOutcome, ...]


def _error(reason: str, diagnostic: str, *information: tuple[str, str]) -> Detail:
    return Detail(Severity.ERROR, reason, diagnostic, tuple(information))


_SHOWN_CHARS = 64  # a refusal quotes at most this much of a value the document wrote


def _shown(value: str) -> str:
    """A value of the document as a refusal quotes it: whole when short, else its start and its length, so a
    megabyte OrgUnit or ServiceId is not copied into the reply once per Diagnostic and Information."""
    if len(value) <= _SHOWN_CHARS:
        return value
    return f"{value[:_SHOWN_CHARS]}... ({len(value)} characters)"


def too_many_service_requests(count: int) -> Detail:
    return _error(
        LegacyReason.TOO_MANY_SERVICE_REQUESTS,
        f"The document holds {count} service requests; the gateway handles at most {MAX_SERVICE_REQUESTS} "
        "in one document. Nothing was applied: send them in several documents.",
        ("ServiceRequests", str(count)),
    )


def check_service(service_id: str, version: str, has_body: bool) -> Detail | None:
    """Why a service request is not one the gateway serves (``OCMWCPASManageAccess`` version 20050930)."""
    if service_id != SERVICE_ID:
        return _error(
            LegacyReason.UNKNOWN_SERVICE,
            f"The gateway offers the service {SERVICE_ID} only, not {_shown(service_id)!r}; nothing was applied.",
            ("ServiceId", _shown(service_id)),
        )
    if version != SERVICE_VERSION:
        return _error(
            LegacyReason.UNKNOWN_VERSION,
            f"The service {SERVICE_ID} is served in version {SERVICE_VERSION}, not {_shown(version)!r}; nothing was "
            "applied.",
            ("Version", _shown(version)),
        )
    if not has_body:
        return _error(
            LegacyReason.UNKNOWN_SERVICE,
            f"A service request for {SERVICE_ID} must hold a ManageAccessRequest of the namespace "
            "http://www.ksz-bcss.fgov.be/XSD/SSDN/OCMW_CPAS/ManageAccess; nothing was applied.",
            ("ServiceId", _shown(service_id)),
        )
    return None


def _enterprise_number(text: str) -> str:
    """An OrgUnit as the enterprise number it names: spaces and dots dropped, a 9-digit form given its 0."""
    digits = "".join(c for c in text if c not in " .")
    return "0" + digits if len(digits) == 9 else digits


def check_identity(user: AuthorizedUser, institution_id: str, sector: int) -> Detail | None:
    """The document must speak for the authenticated institution: OrgUnit (when not empty) and MatrixID."""
    org_unit = (user.org_unit or "").strip()
    if org_unit and _enterprise_number(org_unit) != institution_id:
        return _error(
            LegacyReason.ORGUNIT_MISMATCH,
            f"AuthorizedUser/OrgUnit {_shown(org_unit)} is not the enterprise number {institution_id} of the "
            "institution that sent the document; nothing was applied.",
            ("OrgUnit", _shown(org_unit)),
            ("Institution", institution_id),
        )
    if user.matrix_id != sector:
        return _error(
            LegacyReason.MATRIXID_MISMATCH,
            f"AuthorizedUser/MatrixID {user.matrix_id} is not the sector {sector} of the institution "
            f"{institution_id} that sent the document; nothing was applied.",
            ("MatrixID", str(user.matrix_id)),
            ("Sector", str(sector)),
        )
    return None


def check_mandatory(request: ManageAccessRequest) -> Detail | None:
    """REGISTER and UNREGISTER need a Purpose (the network's 31000007 when it is missing)."""
    if request.action is not Action.LIST and request.purpose is None:
        return _error(
            LegacyReason.MANDATORY_ARGUMENT_MISSING,
            f"The expected mandatory argument is not provided or empty: {request.action.value} needs a Purpose "
            "(the quality code); nothing was applied.",
            ("FieldName", "Purpose"),
        )
    return None


def identity_card_valid(number: str) -> bool:
    """An identity card number: 12 digits whose last two are the first ten modulo 97 (97 when that is 0)."""
    if len(number) != 12 or not number.isascii() or not number.isdigit():
        return False
    rest = int(number[:10]) % 97
    return int(number[10:]) == (rest or 97)


def _ssin_birth(ssin: str) -> tuple[int, int, int] | None:
    """Year, month and day (0: unknown) the SSIN encodes; None when the SSIN itself is invalid."""
    check = check_ssin(ssin)
    if not check.valid or check.century is None:
        return None
    month = int(ssin[2:4])
    month -= 40 if month >= 40 else 20 if month >= 20 else 0
    return check.century + int(ssin[0:2]), month, int(ssin[4:6])


def _birth_agrees(ssin: str, birth_date: str) -> bool:
    encoded = _ssin_birth(ssin)
    if encoded is None:
        return True  # the SSIN is refused on its own (INVALID_SSIN), with its own reason
    year, month, day = (int(part) for part in birth_date.split("-"))
    if year != encoded[0]:
        return False
    if month and encoded[1] and month != encoded[1]:
        return False
    return not (day and encoded[2] and day != encoded[2])


def check_proof(request: ManageAccessRequest) -> Detail | None:
    """REGISTER and UNREGISTER need a proof that is not empty; any proof given must agree with the SSIN."""
    proof = request.proof
    if proof.empty:
        if request.action is Action.LIST:
            return None
        return _error(
            LegacyReason.PROOF_MISSING,
            f"{request.action.value} needs a proof of authentication of the person (a SIS card number, an "
            "identity card number or the person's data); the ProofOfAuthentication is empty. Nothing was applied.",
            ("SSIN", request.ssin),
        )
    if proof.id_card is not None and not identity_card_valid(proof.id_card):
        return _error(
            LegacyReason.PROOF_IDENTITY_CARD_INVALID,
            f"The identity card number {proof.id_card} is not a valid one: its last two digits must be its first "
            "ten modulo 97. Nothing was applied.",
            ("IdentityCardNumber", proof.id_card),
        )
    if proof.person is not None and not _birth_agrees(request.ssin, proof.person.birth_date):
        return _error(
            LegacyReason.PROOF_BIRTH_DATE_MISMATCH,
            f"The birth date {proof.person.birth_date} of the proof does not agree with the birth date that SSIN "
            f"{request.ssin} encodes. Nothing was applied.",
            ("SSIN", request.ssin),
            ("BirthDate", proof.person.birth_date),
        )
    return None


def registers(integrations: Iterable[Integration], asked: Register, sector: int) -> tuple[Registration, ...]:
    """The registrations a LIST shows: PRIMARY (every sector's, merged per sector and code) and/or SECONDARY
    (sector ``sector``'s, one per institution), PRIMARY first, each ordered by holder, code and start."""
    found = tuple(integrations)
    shown: list[Registration] = []
    if asked in (Register.PRIMARY, Register.ALL):
        by_sector: dict[tuple[int, int], list[Period]] = {}
        for i in found:
            by_sector.setdefault((i.institution.sector, i.code), []).append(i.period)
        for (holder, code), periods in sorted(by_sector.items()):
            shown.extend(Registration(code, p, str(holder), Register.PRIMARY) for p in normalize(periods))
    if asked in (Register.SECONDARY, Register.ALL):
        own = sorted(
            (i for i in found if i.institution.sector == sector),
            key=lambda i: (i.institution.id, i.code, i.period.start),
        )
        shown.extend(Registration(i.code, i.period, i.institution.id, Register.SECONDARY) for i in own)
    return tuple(shown)


def document_summary(services: Sequence[Summary]) -> tuple[Summary, Detail | None]:
    """The ReplyContext's outcome: YES when every service request succeeded without warning; otherwise the
    network's generic code (30000001 for an error, else 20000001) and NO when none succeeded, else WARNING."""
    if services and all(s.ok is Ok.YES for s in services):
        return Summary(Ok.YES, RETURN_CODES[Ok.YES]), None
    if not services or any(s.ok is Ok.NO for s in services):
        ok = Ok.NO if all(s.ok is Ok.NO for s in services) else Ok.WARNING
        generic = Detail(
            Severity.ERROR, LegacyReason.SERVICE_REQUEST_ERROR, "At least one service request has generated an error."
        )
        return Summary(ok, RETURN_CODES[ok]), generic
    generic = Detail(
        Severity.WARNING, LegacyReason.SERVICE_REQUEST_WARNING, "At least one service request has generated a warning."
    )
    return Summary(Ok.WARNING, RETURN_CODES[Ok.WARNING]), generic


_REFUSED = Summary(Ok.NO, RETURN_CODES[Ok.NO])


def refused_document(
    ticket: str,
    reason: Detail,
    services: Sequence[ServiceRequest] = (),
    *,
    count: int = 1,
) -> DocumentOutcome:
    """A document refused as a whole: the generic code and the reason in the ReplyContext, and each service
    request (or, when they could not be read, ``count`` of them) refused with the reason in its ServiceReply."""
    summary, generic = document_summary(())
    replies = tuple(
        ServiceOutcome(s.service_id, s.version, s.body, _REFUSED, (reason,), None, ticket) for s in services
    ) or tuple(
        ServiceOutcome(SERVICE_ID, SERVICE_VERSION, None, _REFUSED, (reason,), None, ticket) for _ in range(count)
    )
    return DocumentOutcome(ticket, summary, tuple(d for d in (generic, reason) if d is not None), replies)

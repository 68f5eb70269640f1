"""The reference directory's operations as pure functions: integrate (R2), desintegrate (R3), consult (R4).

Invariant: these functions only compute. Given one institution's current periods per person for one code,
they return per-person outcomes and the periods after the operation; storage applies them. For each
institution, person and code the periods stay a normalized set (disjoint, non-adjacent: R2.5).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from gateway.domain.catalogue import Catalogue, QualityCode
from gateway.domain.identifiers import check_ssin
from gateway.domain.periods import (
    LAST_DAY,
    Period,
    PeriodSet,
    covers,
    intersect,
    normalize,
    overlaps,
    subtract,
    union,
)
from gateway.errors import DateOutOfRange

__all__ = [
    "Attestation",
    "Detail",
    "DirectoryRequest",
    "Institution",
    "Integration",
    "Ok",
    "PersonOutcome",
    "Reason",
    "Severity",
    "Status",
    "Summary",
    "consult",
    "desintegrate",
    "integrate",
    "new_request_period",
    "persons_to_read",
    "resolve_integration_period",
    "summarize",
]

NEW_REQUEST_DAYS = 30  # R2.6


class Severity(StrEnum):
    INFORMATION = "INFORMATION"
    WARNING = "WARNING"
    ERROR = "ERROR"


class Status(StrEnum):
    INTEGRATED = "INTEGRATED"
    ALREADY_INTEGRATED = "ALREADY_INTEGRATED"
    DESINTEGRATED = "DESINTEGRATED"
    NOTHING_TO_REMOVE = "NOTHING_TO_REMOVE"
    REFUSED = "REFUSED"


class Reason(StrEnum):
    """The contract's reason codes (spelled exactly as on the wire)."""

    INVALID_SSIN = "INVALID_SSIN"
    UNKNOWN_QUALITY_CODE = "UNKNOWN_QUALITY_CODE"
    MANUAL_INTEGRATION_NOT_ALLOWED = "MANUAL_INTEGRATION_NOT_ALLOWED"
    END_BEFORE_START = "END_BEFORE_START"
    PERIOD_EXCEEDS_MAXIMUM = "PERIOD_EXCEEDS_MAXIMUM"
    ALREADY_INTEGRATED = "ALREADY_INTEGRATED"
    NOTHING_TO_REMOVE = "NOTHING_TO_REMOVE"
    ATTESTATION_AT_RISK = "ATTESTATION_AT_RISK"
    DUPLICATE_PERSON = "DUPLICATE_PERSON"
    REFERENCE_REUSED = "REFERENCE_REUSED"
    DATE_OUT_OF_RANGE = "DATE_OUT_OF_RANGE"


class Ok(StrEnum):
    YES = "YES"
    WARNING = "WARNING"
    NO = "NO"


RETURN_CODES = {Ok.YES: 0, Ok.WARNING: 1, Ok.NO: 10000}


@dataclass(frozen=True, slots=True)
class Detail:
    """One explained fact of an answer: severity, machine reason code, a sentence, named values."""

    severity: Severity
    reason: str
    diagnostic: str
    information: tuple[tuple[str, str], ...] = ()

    def value(self, name: str) -> str | None:
        """The Information value named ``name`` (e.g. MaximumEndDate), if the detail carries one."""
        return next((v for k, v in self.information if k == name), None)


@dataclass(frozen=True, slots=True)
class Institution:
    id: str  # 10-digit enterprise number
    name: str
    sector: int


@dataclass(frozen=True, slots=True)
class Integration:
    """One period of the directory: an institution knows a person in a quality code for these days."""

    institution: Institution
    ssin: str
    code: int
    period: Period


@dataclass(frozen=True, slots=True)
class Attestation:
    """An allowed multifunctional attestation: it needs ``code`` over its ``validity`` (R5.6, R3.6)."""

    ticket: str
    ssin: str
    code: int
    validity: Period


@dataclass(frozen=True, slots=True)
class DirectoryRequest:
    """An Integrate or Desintegrate request of one institution: a code, a period and the persons, in order."""

    code: int
    start: date
    end: date | None
    ssins: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PersonOutcome:
    """The result for one person, in request order.

    ``periods`` holds the institution's periods for the person and code after the operation (``None`` only
    when the SSIN itself is invalid); ``changed`` says whether storage must write them.
    """

    ssin: str
    status: Status
    details: tuple[Detail, ...] = ()
    periods: PeriodSet | None = None
    changed: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status is not Status.REFUSED

    @property
    def warned(self) -> bool:
        return any(d.severity is Severity.WARNING for d in self.details)


@dataclass(frozen=True, slots=True)
class Summary:
    ok: Ok
    return_code: int


def _error(reason: Reason, diagnostic: str, *information: tuple[str, str]) -> Detail:
    return Detail(Severity.ERROR, reason, diagnostic, tuple(information))


def _check_code(catalogue: Catalogue, sector: int, code: int) -> QualityCode | Detail:
    quality = catalogue.code(sector, code)
    if quality is None:
        return _error(
            Reason.UNKNOWN_QUALITY_CODE,
            f"Quality code {code:02d} does not exist in the catalogue of sector {sector}.",
            ("QualityCode", str(code)),
        )
    if not quality.manual:
        return _error(
            Reason.MANUAL_INTEGRATION_NOT_ALLOWED,
            f"Quality code {code:02d} ({quality.label}) cannot be integrated or desintegrated by request; "
            "it reaches the directory through the network only.",
            ("QualityCode", str(code)),
        )
    return quality


def _check_order(start: date, end: date | None) -> Detail | None:
    if end is not None and end < start:
        return _error(
            Reason.END_BEFORE_START,
            f"The end date {end.isoformat()} lies before the start date {start.isoformat()}.",
            ("StartDate", start.isoformat()),
            ("EndDate", end.isoformat()),
        )
    return None


def resolve_integration_period(
    catalogue: Catalogue, sector: int, code: int, start: date, end: date | None
) -> Period | Detail:
    """The period an integration request asks for (R2.2), or the reason it is refused (R1.4, R2.3)."""
    quality = _check_code(catalogue, sector, code)
    if isinstance(quality, Detail):
        return quality
    order = _check_order(start, end)
    if order is not None:
        return order
    try:
        max_end = quality.max_period.max_end(start)
    except DateOutOfRange:  # the code's maximum ends after LAST_DAY: every day the directory holds is within it
        if end is None:
            return _error(
                Reason.DATE_OUT_OF_RANGE,
                f"Without an end date, quality code {code:02d} is integrated for {quality.max_period.describe()}: "
                f"from {start.isoformat()} that ends after {LAST_DAY.isoformat()}, the last day the directory "
                f"holds. Send an end date of {LAST_DAY.isoformat()} at the latest.",
                ("StartDate", start.isoformat()),
                ("MaximumEndDate", LAST_DAY.isoformat()),
            )
        max_end = None
    if end is None:
        return Period(start, max_end)
    if max_end is not None and end > max_end:
        return _error(
            Reason.PERIOD_EXCEEDS_MAXIMUM,
            f"Quality code {code:02d} may be integrated for at most {quality.max_period.describe()}: "
            f"from {start.isoformat()} the period may end on {max_end.isoformat()} at the latest, "
            f"not on {end.isoformat()}.",
            ("MaximumEndDate", max_end.isoformat()),
        )
    return Period(start, end)


def _resolve_removal(catalogue: Catalogue, sector: int, code: int, start: date, end: date | None) -> Period | Detail:
    quality = _check_code(catalogue, sector, code)
    if isinstance(quality, Detail):
        return quality
    order = _check_order(start, end)
    return order if order is not None else Period(start, end)


def new_request_period(today: date) -> Period:
    """R2.6: a new request integrates its main beneficiary in code 01 for 30 days, today included."""
    return Period(today, today + timedelta(days=NEW_REQUEST_DAYS - 1))


def persons_to_read(ssins: Iterable[str]) -> tuple[str, ...]:
    """The distinct valid SSINs of a request in first-seen order: whose periods storage must read."""
    seen: dict[str, None] = {}
    for ssin in ssins:
        if ssin not in seen and check_ssin(ssin).valid:
            seen[ssin] = None
    return tuple(seen)


_Decide = Callable[[str, PeriodSet], PersonOutcome]


def _refused(refusal: Detail) -> _Decide:
    def decide(ssin: str, periods: PeriodSet) -> PersonOutcome:
        return PersonOutcome(ssin, Status.REFUSED, (refusal,), periods)

    return decide


def _per_person(
    ssins: Sequence[str],
    current: Mapping[str, PeriodSet],
    refusal: Detail | None,
    decide: _Decide,
) -> tuple[PersonOutcome, ...]:
    """Walk the persons in order: an invalid SSIN or a repeat is refused, every other person ``decide``s."""
    outcomes: list[PersonOutcome] = []
    after: dict[str, PeriodSet] = {}
    for ssin in ssins:
        check = check_ssin(ssin)
        if not check.valid:
            details: tuple[Detail, ...] = (_error(Reason.INVALID_SSIN, check.reason + ".", ("SSIN", ssin)),)
            if refusal is not None:
                details += (refusal,)
            outcomes.append(PersonOutcome(ssin, Status.REFUSED, details))
            continue
        if ssin in after:
            outcomes.append(
                PersonOutcome(
                    ssin,
                    Status.REFUSED,
                    (
                        _error(
                            Reason.DUPLICATE_PERSON,
                            f"SSIN {ssin} appears more than once; only its first occurrence was handled.",
                            ("SSIN", ssin),
                        ),
                    ),
                    after[ssin],
                )
            )
            continue
        periods = normalize(current.get(ssin, ()))
        outcome = decide(ssin, periods)
        after[ssin] = outcome.periods if outcome.periods is not None else periods
        outcomes.append(outcome)
    return tuple(outcomes)


def integrate(
    catalogue: Catalogue, sector: int, request: DirectoryRequest, current: Mapping[str, PeriodSet]
) -> tuple[PersonOutcome, ...]:
    """R2: integrate each person of ``request`` for the institution of ``sector``.

    ``current`` maps each SSIN to the institution's periods for ``request.code`` (missing means none).
    """
    wanted = resolve_integration_period(catalogue, sector, request.code, request.start, request.end)
    if isinstance(wanted, Detail):
        return _per_person(request.ssins, current, wanted, _refused(wanted))

    def decide(ssin: str, periods: PeriodSet) -> PersonOutcome:
        if covers(periods, wanted):
            info = Detail(
                Severity.INFORMATION,
                Reason.ALREADY_INTEGRATED,
                f"SSIN {ssin} is already integrated in code {request.code:02d} for every day of {wanted.describe()}.",
                (("SSIN", ssin),),
            )
            return PersonOutcome(ssin, Status.ALREADY_INTEGRATED, (info,), periods)
        return PersonOutcome(ssin, Status.INTEGRATED, (), union(periods, [wanted]), changed=True)

    return _per_person(request.ssins, current, None, decide)


def desintegrate(
    catalogue: Catalogue,
    sector: int,
    request: DirectoryRequest,
    current: Mapping[str, PeriodSet],
    attestations: Mapping[str, Sequence[Attestation]] | None = None,
) -> tuple[PersonOutcome, ...]:
    """R3: remove ``[start, end]`` (or everything from ``start`` on) from each person's periods.

    ``attestations`` maps an SSIN to its recorded multifunctional attestations: removing days of their code
    within their validity period is still done, with an ``ATTESTATION_AT_RISK`` warning (R3.6).
    """
    removal = _resolve_removal(catalogue, sector, request.code, request.start, request.end)
    if isinstance(removal, Detail):
        return _per_person(request.ssins, current, removal, _refused(removal))
    recorded = attestations or {}

    def decide(ssin: str, periods: PeriodSet) -> PersonOutcome:
        removed = intersect(periods, removal)
        if not removed:
            info = Detail(
                Severity.INFORMATION,
                Reason.NOTHING_TO_REMOVE,
                f"SSIN {ssin} has no integration in code {request.code:02d} from this institution "
                f"within {removal.describe()}; nothing was removed.",
                (("SSIN", ssin),),
            )
            return PersonOutcome(ssin, Status.NOTHING_TO_REMOVE, (info,), periods)
        warnings = tuple(
            Detail(
                Severity.WARNING,
                Reason.ATTESTATION_AT_RISK,
                f"The removed days include days of code {a.code:02d} that the multifunctional attestation "
                f"{a.ticket} needs for its validity period {a.validity.describe()}.",
                (("AttestationTicket", a.ticket), ("ValidityPeriod", str(a.validity))),
            )
            for a in recorded.get(ssin, ())
            if a.code == request.code and any(overlaps(r, a.validity) for r in removed)
        )
        return PersonOutcome(ssin, Status.DESINTEGRATED, warnings, subtract(periods, removal), changed=True)

    return _per_person(request.ssins, current, None, decide)


def consult(
    integrations: Iterable[Integration],
    window: Period,
    code: int | None = None,
    sector: int | None = None,
) -> tuple[Integration, ...]:
    """R4: every integration overlapping ``window``, filtered, ordered by institution, code and start."""
    found = [
        i
        for i in integrations
        if overlaps(i.period, window)
        and (code is None or i.code == code)
        and (sector is None or i.institution.sector == sector)
    ]
    return tuple(sorted(found, key=lambda i: (i.institution.id, i.code, i.period.start)))


def summarize(outcomes: Sequence[PersonOutcome]) -> Summary:
    """The contract's summary rule: YES when all succeeded without warning, NO when none succeeded."""
    if not outcomes or not any(o.succeeded for o in outcomes):
        ok = Ok.NO
    elif all(o.succeeded and not o.warned for o in outcomes):
        ok = Ok.YES
    else:
        ok = Ok.WARNING
    return Summary(ok, RETURN_CODES[ok])

"""The access-control decision: may an institution send this flow, form or attestation for these persons?

Invariant: ``decide`` is pure. Given a flow of the catalogue, the persons with their roles, the dates of the
request and the *requesting institution's own* integrations, it allows the request only when every checked
person passes every date test of the flow in a qualifying code, and it explains each person's outcome: the
rule, the integration periods that satisfied it, or the exact days that were missing (RULES.md R5, R5.8).
It also plans the flow's effects (automatic integrations, R6.1 and R2.6) without applying them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeAlias, get_args, get_origin, get_type_hints

from gateway.domain.catalogue import OCMW_SECTOR, Catalogue, CatalogueError, read_data_file
from gateway.domain.directory import Detail, Severity, new_request_period, resolve_integration_period
from gateway.domain.identifiers import check_ssin
from gateway.domain.periods import Period, PeriodSet, covers_day, missing, normalize, overlaps

__all__ = [
    "REQUEST_DATES",
    "AccessDecision",
    "AccessReason",
    "DateTest",
    "Effect",
    "Flow",
    "FlowCatalogue",
    "FlowDates",
    "FlowPerson",
    "FlowRequest",
    "PersonDecision",
    "PlannedIntegration",
    "RawPeriod",
    "RequestDate",
    "RequestDates",
    "Role",
    "decide",
    "load_flow_catalogue",
]

DEFAULT_FLOW_FILE = "flows.json"
AIDS = ("LIVING_WAGE", "EQUIVALENT_LIVING_WAGE", "OTHER_FINANCIAL_AID", "EMPLOYMENT_ART60")
DATE_NAMES = ("today", "EffectiveDate")
PERIOD_NAMES = ("ConsultationPeriod", "ValidityPeriod", "DecisionPeriod", "DeliveryYear")


class Role(StrEnum):
    SUBJECT = "SUBJECT"
    MAIN = "MAIN"
    PARTNER = "PARTNER"
    ADDITIONAL = "ADDITIONAL"


class AccessReason(StrEnum):
    """Reason codes of the access-control layer (contract, CheckAccess and SendFlow)."""

    ACCESS_DENIED = "ACCESS_DENIED"
    UNKNOWN_FLOW = "UNKNOWN_FLOW"
    MISSING_FLOW_DATE = "MISSING_FLOW_DATE"
    INVALID_FLOW_DATE = "INVALID_FLOW_DATE"
    AID_NOT_APPLICABLE = "AID_NOT_APPLICABLE"
    INVALID_ROLE = "INVALID_ROLE"
    NOT_INTEGRATED = "NOT_INTEGRATED"
    NOT_INTEGRATED_ON_DAY = "NOT_INTEGRATED_ON_DAY"
    NO_DAY_IN_COMMON = "NO_DAY_IN_COMMON"
    PERIOD_NOT_COVERED = "PERIOD_NOT_COVERED"
    INVALID_SSIN = "INVALID_SSIN"
    DUPLICATE_PERSON = "DUPLICATE_PERSON"
    END_BEFORE_START = "END_BEFORE_START"
    PERIOD_EXCEEDS_MAXIMUM = "PERIOD_EXCEEDS_MAXIMUM"
    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"


# -- the catalogue -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DateTest:
    """``on_day``: integrated on the named date; ``overlap``: a day in common with the named period;
    ``covers``: integrated on every day of the named period."""

    kind: str
    name: str

    def describe(self) -> str:
        return {
            "on_day": f"integrated on {self.name}",
            "overlap": f"at least one day in common with {self.name}",
            "covers": f"integrated for the whole {self.name}",
        }[self.kind]


@dataclass(frozen=True, slots=True)
class Effect:
    """An automatic integration the flow makes when allowed: persons of ``roles`` in a code for a period."""

    rule: str
    roles: tuple[Role, ...]
    period: str  # a period name, or "NewRequest" for R2.6's [today, today + 29 days]
    code: int | None = None
    codes_by_aid: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Flow:
    id: str
    rule: str
    roles: tuple[Role, ...]
    checked: tuple[Role, ...]
    codes: tuple[int, ...] = ()
    codes_by_aid: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    tests: tuple[DateTest, ...] = ()
    effects: tuple[Effect, ...] = ()
    form: bool = False
    records_attestation: bool = False
    provider_url: str | None = None
    provider_action: str | None = None

    def needs(self) -> tuple[str, ...]:
        """The request dates (and ``Aid``) this flow cannot be decided without."""
        names = [t.name for t in self.tests] + [e.period for e in self.effects]
        wanted = [n for n in dict.fromkeys(names) if n in DATE_NAMES[1:] + PERIOD_NAMES]
        if self.codes_by_aid or any(e.codes_by_aid for e in self.effects):
            wanted.append("Aid")
        return tuple(wanted)


@dataclass(frozen=True)
class FlowCatalogue:
    flows: Mapping[str, Flow]
    sector: int = OCMW_SECTOR

    def get(self, flow_id: str) -> Flow | None:
        return self.flows.get(flow_id)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FlowCatalogue:
        flows: dict[str, Flow] = {}
        try:
            for f in data["flows"]:
                flow = Flow(
                    id=str(f["id"]),
                    rule=str(f.get("rule", f["id"])),
                    roles=tuple(Role(r) for r in f["roles"]),
                    checked=tuple(Role(r) for r in f.get("checked", f["roles"])),
                    codes=tuple(int(c) for c in f.get("codes", ())),
                    codes_by_aid={str(a): tuple(int(c) for c in cs) for a, cs in f.get("codes_by_aid", {}).items()},
                    tests=tuple(_parse_test(t) for t in f.get("tests", ())),
                    effects=tuple(_parse_effect(e) for e in f.get("effects", ())),
                    form=bool(f.get("form", False)),
                    records_attestation=bool(f.get("records_attestation", False)),
                    provider_url=(f.get("provider") or {}).get("url"),
                    provider_action=(f.get("provider") or {}).get("soap_action"),
                )
                if flow.id in flows:
                    raise ValueError(f"flow {flow.id} is defined twice")
                flows[flow.id] = flow
            sector = int(data.get("sector", OCMW_SECTOR))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise CatalogueError(f"malformed flow catalogue: {exc}") from exc
        return cls(flows, sector)


def _parse_test(t: Mapping[str, Any]) -> DateTest:
    kind = str(t["kind"])
    if kind == "on_day":
        name = str(t["date"])
        if name not in DATE_NAMES:
            raise ValueError(f"unknown date {name!r}")
    elif kind in ("overlap", "covers"):
        name = str(t["period"])
        if name not in PERIOD_NAMES:
            raise ValueError(f"unknown period {name!r}")
    else:
        raise ValueError(f"unknown date test {kind!r}")
    return DateTest(kind, name)


def _parse_effect(e: Mapping[str, Any]) -> Effect:
    period = str(e["period"])
    if period not in (*PERIOD_NAMES, "NewRequest"):
        raise ValueError(f"unknown effect period {period!r}")
    code = e.get("code")
    by_aid = {str(a): int(c) for a, c in e.get("codes_by_aid", {}).items()}
    if (code is None) == (not by_aid):
        raise ValueError("an effect names either 'code' or 'codes_by_aid'")
    return Effect(
        rule=str(e.get("rule", "")),
        roles=tuple(Role(r) for r in e["roles"]),
        period=period,
        code=None if code is None else int(code),
        codes_by_aid=by_aid,
    )


def load_flow_catalogue(source: str | Path | None = None) -> FlowCatalogue:
    """The flow catalogue from a file path, or the default one shipped in ``gateway/data``."""
    shipped_or_path = DEFAULT_FLOW_FILE if source is None else Path(source)
    return FlowCatalogue.from_dict(read_data_file(shipped_or_path, "flow catalogue"))


# -- the request and the decision ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlowPerson:
    ssin: str
    role: Role


RawPeriod: TypeAlias = tuple[date, date | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestDates:
    """The dates (and the aid) a flow request may bring, the only place they are named.

    Each field is the contract's element of the same name in camel case (``consultation_period`` is
    ``rep:ConsultationPeriod``), in the schema's order, so the message readers and writers, the client's keyword
    arguments and the audit's description all derive from these fields. Periods stay raw ``(start, end)`` pairs
    so that a reversed one reaches the decision and is refused there (END_BEFORE_START).
    """

    consultation_period: RawPeriod | None = None
    effective_date: date | None = None
    validity_period: RawPeriod | None = None
    decision_period: RawPeriod | None = None
    delivery_year: int | None = None
    aid: str | None = None


@dataclass(frozen=True, slots=True)
class RequestDate:
    """One field of ``RequestDates``: its attribute, the contract's name of it and the kind of value it holds
    (``tuple`` for a raw period, ``date``, ``int`` for a year, ``str`` for the aid)."""

    attribute: str
    name: str
    kind: type


def _request_dates() -> tuple[RequestDate, ...]:
    hints = get_type_hints(RequestDates)
    found = []
    for f in fields(RequestDates):
        [kind] = [a for a in get_args(hints[f.name]) if a is not type(None)]
        found.append(RequestDate(f.name, "".join(p.capitalize() for p in f.name.split("_")), get_origin(kind) or kind))
    return tuple(found)


REQUEST_DATES = _request_dates()
_ATTRIBUTES = {d.name: d.attribute for d in REQUEST_DATES}


@dataclass(frozen=True, slots=True)
class FlowDates(RequestDates):
    """The dates a decision uses: the request's, and the gateway's today."""

    today: date

    def raw(self, name: str) -> tuple[date, date | None] | date | None:
        """The date or raw period a flow names ``name`` (DATE_NAMES, PERIOD_NAMES); DeliveryYear as its year."""
        if name == "today":
            return self.today
        value = getattr(self, _ATTRIBUTES[name])
        if name == "DeliveryYear" and value is not None:
            return (date(value, 1, 1), date(value, 12, 31))
        assert value is None or isinstance(value, date | tuple)
        return value


@dataclass(frozen=True, slots=True)
class PersonDecision:
    ssin: str
    role: Role
    allowed: bool
    rule: str
    details: tuple[Detail, ...] = ()
    satisfied_by: PeriodSet = ()
    missing_days: PeriodSet = ()


@dataclass(frozen=True, slots=True)
class PlannedIntegration:
    """An integration a flow's effect will make (R6.1, R2.6), with the period as requested."""

    ssin: str
    code: int
    period: Period
    rule: str


@dataclass(frozen=True, slots=True)
class AccessDecision:
    flow_id: str
    allowed: bool
    persons: tuple[PersonDecision, ...] = ()
    details: tuple[Detail, ...] = ()  # request-level reasons (a refused request as a whole, or the summary)
    effects: tuple[PlannedIntegration, ...] = ()
    attestation_code: int | None = None  # set when an allowed attestation is to be recorded (R3.6)
    attestation_validity: Period | None = None


def _error(reason: AccessReason, diagnostic: str, *information: tuple[str, str]) -> Detail:
    return Detail(Severity.ERROR, reason, diagnostic, tuple(information))


def _refuse(flow_id: str, detail: Detail) -> AccessDecision:
    return AccessDecision(flow_id, False, (), (detail,))


def qualifying_codes(flow: Flow, aid: str | None) -> tuple[int, ...]:
    if flow.codes_by_aid:
        return flow.codes_by_aid.get(aid or "", ())
    return flow.codes


def decide(
    flows: FlowCatalogue,
    catalogue: Catalogue,
    institution_sector: int,
    flow_id: str,
    persons: Sequence[FlowPerson],
    dates: FlowDates,
    integrations: Mapping[str, Mapping[int, PeriodSet]],
) -> AccessDecision:
    """Decide a flow request (R5) and plan its effects (R6.1, R2.6).

    ``integrations`` maps each SSIN to the requesting institution's periods per quality code; other
    institutions' integrations must not be in it, since they never satisfy a rule.
    """
    flow = flows.get(flow_id)
    if flow is None:
        return _refuse(
            flow_id, _error(AccessReason.UNKNOWN_FLOW, f"Flow {flow_id!r} is not in the catalogue.", ("Flow", flow_id))
        )
    if institution_sector != flows.sector:
        return _refuse(
            flow_id,
            _error(
                AccessReason.ACCESS_DENIED,
                f"Only institutions of sector {flows.sector} may send flow {flow_id}; yours is sector "
                f"{institution_sector}.",
                ("Sector", str(institution_sector)),
            ),
        )
    refusal = _check_request(flow, persons, dates)
    if refusal is not None:
        return _refuse(flow_id, refusal)

    codes = qualifying_codes(flow, dates.aid)
    seen: set[str] = set()
    decisions = []
    for person in persons:
        decisions.append(_decide_person(flow, codes, person, dates, integrations.get(person.ssin, {}), seen))
        seen.add(person.ssin)
    allowed = all(d.allowed for d in decisions)
    if not allowed:
        refused = sum(not d.allowed for d in decisions)
        summary = _error(
            AccessReason.ACCESS_DENIED,
            f"Flow {flow_id} is refused: {refused} of {len(decisions)} person(s) do not meet rule {flow.rule}.",
            ("Flow", flow_id),
        )
        return AccessDecision(flow_id, False, tuple(decisions), (summary,))

    planned = _plan_effects(flow, catalogue, institution_sector, persons, dates)
    if isinstance(planned, Detail):
        return AccessDecision(flow_id, False, tuple(decisions), (planned,))
    validity = None
    if flow.records_attestation and dates.validity_period is not None:
        validity = Period(*dates.validity_period)
    return AccessDecision(
        flow_id,
        True,
        tuple(decisions),
        (),
        planned,
        attestation_code=codes[0] if flow.records_attestation and codes else None,
        attestation_validity=validity,
    )


def _check_request(flow: Flow, persons: Sequence[FlowPerson], dates: FlowDates) -> Detail | None:
    """The request-level checks: roles, required dates, Aid, reversed periods."""
    for p in persons:
        if p.role not in flow.roles:
            return _error(
                AccessReason.INVALID_ROLE,
                f"Flow {flow.id} takes persons in role {', '.join(flow.roles)}, not {p.role}.",
                ("Role", p.role.value),
                ("SSIN", p.ssin),
            )
    if flow.form:
        mains = sum(p.role is Role.MAIN for p in persons)
        partners = sum(p.role is Role.PARTNER for p in persons)
        if mains != 1:
            return _error(
                AccessReason.INVALID_ROLE,
                f"Form {flow.id} names exactly one MAIN beneficiary; this request names {mains}.",
                ("Role", "MAIN"),
            )
        if partners > 1:
            return _error(
                AccessReason.INVALID_ROLE,
                f"Form {flow.id} names at most one PARTNER; this request names {partners}.",
                ("Role", "PARTNER"),
            )
    if dates.delivery_year is not None and not 1 <= dates.delivery_year <= 9999:
        return _error(
            AccessReason.INVALID_FLOW_DATE,
            f"DeliveryYear {dates.delivery_year} is not a calendar year.",
            ("FieldName", "DeliveryYear"),
        )
    for name in flow.needs():
        value = dates.aid if name == "Aid" else dates.raw(name)
        if value is None:
            return _error(
                AccessReason.MISSING_FLOW_DATE,
                f"Flow {flow.id} needs {name}, which the request lacks.",
                ("FieldName", name),
            )
    applicable = set(flow.codes_by_aid).union(*(e.codes_by_aid for e in flow.effects))
    if dates.aid is not None and applicable and dates.aid not in applicable:
        return _error(
            AccessReason.AID_NOT_APPLICABLE,
            f"Flow {flow.id} has no quality code for aid {dates.aid}; it applies to {', '.join(sorted(applicable))}.",
            ("Aid", dates.aid),
        )
    for name in PERIOD_NAMES:
        raw = dates.raw(name)
        if isinstance(raw, tuple) and raw[1] is not None and raw[1] < raw[0]:
            return _error(
                AccessReason.END_BEFORE_START,
                f"{name} ends ({raw[1].isoformat()}) before it starts ({raw[0].isoformat()}).",
                ("FieldName", name),
            )
    return None


def _window(dates: FlowDates, name: str) -> Period:
    raw = dates.raw(name)
    if isinstance(raw, tuple):
        return Period(*raw)
    assert raw is not None  # _check_request made sure the flow's dates are there
    return Period(raw, raw)


def _decide_person(
    flow: Flow,
    codes: Sequence[int],
    person: FlowPerson,
    dates: FlowDates,
    own: Mapping[int, PeriodSet],
    seen: set[str],
) -> PersonDecision:
    check = check_ssin(person.ssin)
    if not check.valid:
        return PersonDecision(
            person.ssin,
            person.role,
            False,
            flow.rule,
            (_error(AccessReason.INVALID_SSIN, check.reason + ".", ("SSIN", person.ssin)),),
        )
    if person.ssin in seen:
        return PersonDecision(
            person.ssin,
            person.role,
            False,
            flow.rule,
            (
                _error(
                    AccessReason.DUPLICATE_PERSON,
                    f"SSIN {person.ssin} is named more than once in this request.",
                    ("SSIN", person.ssin),
                ),
            ),
        )
    if person.role not in flow.checked or not flow.tests:
        return PersonDecision(person.ssin, person.role, True, flow.rule)

    by_code = [(c, normalize(own.get(c, ()))) for c in codes]
    qualifying = normalize(p for _, ps in by_code for p in ps)
    code_names = "/".join(f"{c:02d}" for c in codes) or "(none)"
    if not qualifying:
        days = normalize(_window(dates, t.name) for t in flow.tests)
        detail = _error(
            AccessReason.NOT_INTEGRATED,
            f"SSIN {person.ssin} is not integrated by this institution in code {code_names} at all; "
            f"rule {flow.rule} needs it {', '.join(t.describe() for t in flow.tests)}.",
            ("SSIN", person.ssin),
            ("QualityCode", code_names),
        )
        return PersonDecision(person.ssin, person.role, False, flow.rule, (detail,), (), days)

    satisfied: list[Period] = []
    gaps: list[Period] = []
    details: list[Detail] = []
    for test in flow.tests:
        window = _window(dates, test.name)
        # The integration periods (per code, as stored) that meet this test.
        meeting = [p for _, ps in by_code for p in ps if overlaps(p, window)]
        if test.kind == "on_day":
            if covers_day(qualifying, window.start):
                satisfied.extend(p for p in meeting if p.contains(window.start))
                continue
            when = "today" if test.name == "today" else f"on its {test.name}"
            reason, text = AccessReason.NOT_INTEGRATED_ON_DAY, f"{when} ({window.start.isoformat()})"
            lacking: PeriodSet = (window,)
        elif test.kind == "overlap":
            if meeting:
                satisfied.append(min(meeting, key=lambda p: p.start))
                continue
            reason, text, lacking = (
                AccessReason.NO_DAY_IN_COMMON,
                f"on any day of {test.name} ({window.describe()})",
                (window,),
            )
        else:
            lacking = missing(qualifying, window)
            if not lacking:
                satisfied.extend(sorted(meeting, key=lambda p: p.start))
                continue
            reason, text = AccessReason.PERIOD_NOT_COVERED, f"for the whole {test.name} ({window.describe()})"
        gaps.extend(lacking)
        details.append(
            _error(
                reason,
                f"SSIN {person.ssin} is not integrated by this institution in code {code_names} {text}; missing: "
                f"{', '.join(p.describe() for p in lacking)}.",
                ("SSIN", person.ssin),
                ("QualityCode", code_names),
                ("Rule", flow.rule),
            )
        )
    if details:
        return PersonDecision(person.ssin, person.role, False, flow.rule, tuple(details), (), normalize(gaps))
    unique = tuple(dict.fromkeys(satisfied))
    return PersonDecision(person.ssin, person.role, True, flow.rule, (), unique)


def _plan_effects(
    flow: Flow,
    catalogue: Catalogue,
    sector: int,
    persons: Iterable[FlowPerson],
    dates: FlowDates,
) -> tuple[PlannedIntegration, ...] | Detail:
    """The integrations the flow's effects make; a period past the code's maximum refuses the whole flow."""
    planned: list[PlannedIntegration] = []
    for effect in flow.effects:
        code = effect.code if effect.code is not None else effect.codes_by_aid[dates.aid or ""]
        if effect.period == "NewRequest":
            period: Period | Detail = new_request_period(dates.today)
        else:
            window = _window(dates, effect.period)
            period = resolve_integration_period(catalogue, sector, code, window.start, window.end)
        if isinstance(period, Detail):
            return period
        for p in persons:
            if p.role in effect.roles:
                planned.append(PlannedIntegration(p.ssin, code, period, effect.rule))
    return tuple(planned)


@dataclass(frozen=True, slots=True)
class FlowRequest(RequestDates):
    """A CheckAccess or SendFlow request: the flow, the persons with their roles, the request's dates and the
    payload for the flow's provider (SendFlow only)."""

    flow: str
    persons: tuple[FlowPerson, ...]
    payload: bytes | None = None

    def dates(self, today: date) -> FlowDates:
        return FlowDates(today=today, **{d.attribute: getattr(self, d.attribute) for d in REQUEST_DATES})

    def describe(self) -> dict[str, Any]:
        """The request as the audit trail and the Reference fingerprint keep it (JSON values)."""
        described: dict[str, Any] = {"flow": self.flow, "persons": [[p.ssin, p.role.value] for p in self.persons]}
        for d in REQUEST_DATES:
            value = getattr(self, d.attribute)
            if isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = [value[0].isoformat(), value[1].isoformat() if value[1] else None]
            described[d.attribute] = value
        described["payload"] = None if self.payload is None else self.payload.decode("utf-8", "replace")
        return described

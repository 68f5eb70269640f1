"""What an operation answers, as plain values, and their JSON form for the audit trail and stored answers.

Invariant: ``decode_*(encode_*(x)) == x`` for every result, so an answer replayed for a Reference is the
very answer first given (same Ticket, same details).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from gateway.domain.access import PersonDecision, PlannedIntegration, Role
from gateway.domain.directory import Detail, Institution, Integration, Ok, PersonOutcome, Severity, Status, Summary
from gateway.domain.periods import Period, PeriodSet

__all__ = [
    "ConsultResult",
    "FlowResult",
    "OperationResult",
    "decode_consult",
    "decode_detail",
    "decode_flow",
    "decode_operation",
    "decode_period",
    "encode_consult",
    "encode_detail",
    "encode_flow",
    "encode_operation",
    "encode_period",
]


@dataclass(frozen=True, slots=True)
class OperationResult:
    """The answer to Integrate or Desintegrate: summary, ticket, request-level details, one outcome a person."""

    ticket: str
    summary: Summary
    persons: tuple[PersonOutcome, ...]
    details: tuple[Detail, ...] = ()


@dataclass(frozen=True, slots=True)
class ConsultResult:
    ticket: str
    summary: Summary
    integrations: tuple[Integration, ...]
    details: tuple[Detail, ...] = ()


def encode_period(p: Period) -> list[str | None]:
    return [p.start.isoformat(), p.end.isoformat() if p.end else None]


def decode_period(v: Any) -> Period:
    start, end = v
    return Period(date.fromisoformat(start), date.fromisoformat(end) if end else None)


def encode_detail(d: Detail) -> dict[str, Any]:
    return {
        "severity": d.severity.value,
        "reason": str(d.reason),
        "diagnostic": d.diagnostic,
        "information": [list(i) for i in d.information],
    }


def decode_detail(v: Mapping[str, Any]) -> Detail:
    return Detail(
        Severity(v["severity"]),
        v["reason"],
        v["diagnostic"],
        tuple((str(k), str(x)) for k, x in v["information"]),
    )


def _encode_summary(s: Summary) -> dict[str, Any]:
    return {"ok": s.ok.value, "return_code": s.return_code}


def _decode_summary(v: Mapping[str, Any]) -> Summary:
    return Summary(Ok(v["ok"]), int(v["return_code"]))


def _encode_periods(periods: PeriodSet | None) -> list[list[str | None]] | None:
    return None if periods is None else [encode_period(p) for p in periods]


def encode_operation(r: OperationResult) -> dict[str, Any]:
    return {
        "ticket": r.ticket,
        "summary": _encode_summary(r.summary),
        "details": [encode_detail(d) for d in r.details],
        "persons": [
            {
                "ssin": o.ssin,
                "status": o.status.value,
                "details": [encode_detail(d) for d in o.details],
                "periods": _encode_periods(o.periods),
                "changed": o.changed,
            }
            for o in r.persons
        ],
    }


def decode_operation(v: Mapping[str, Any]) -> OperationResult:
    return OperationResult(
        ticket=v["ticket"],
        summary=_decode_summary(v["summary"]),
        details=tuple(decode_detail(d) for d in v["details"]),
        persons=tuple(
            PersonOutcome(
                ssin=o["ssin"],
                status=Status(o["status"]),
                details=tuple(decode_detail(d) for d in o["details"]),
                periods=None if o["periods"] is None else tuple(decode_period(p) for p in o["periods"]),
                changed=bool(o["changed"]),
            )
            for o in v["persons"]
        ),
    )


def encode_consult(r: ConsultResult) -> dict[str, Any]:
    return {
        "ticket": r.ticket,
        "summary": _encode_summary(r.summary),
        "details": [encode_detail(d) for d in r.details],
        "integrations": [
            {
                "institution": [i.institution.id, i.institution.name, i.institution.sector],
                "ssin": i.ssin,
                "code": i.code,
                "period": encode_period(i.period),
            }
            for i in r.integrations
        ],
    }


def decode_consult(v: Mapping[str, Any]) -> ConsultResult:
    return ConsultResult(
        ticket=v["ticket"],
        summary=_decode_summary(v["summary"]),
        details=tuple(decode_detail(d) for d in v["details"]),
        integrations=tuple(
            Integration(
                Institution(i["institution"][0], i["institution"][1], int(i["institution"][2])),
                i["ssin"],
                int(i["code"]),
                decode_period(i["period"]),
            )
            for i in v["integrations"]
        ),
    )


@dataclass(frozen=True, slots=True)
class FlowResult:
    """The answer to CheckAccess or SendFlow: the decision per person, what the flow integrated, the provider's
    answer (SendFlow only, as XML bytes)."""

    ticket: str
    summary: Summary
    allowed: bool
    persons: tuple[PersonDecision, ...]
    details: tuple[Detail, ...] = ()
    integrations_made: tuple[PlannedIntegration, ...] = ()
    provider_response: bytes | None = None


def encode_flow(r: FlowResult) -> dict[str, Any]:
    return {
        "ticket": r.ticket,
        "summary": _encode_summary(r.summary),
        "allowed": r.allowed,
        "details": [encode_detail(d) for d in r.details],
        "persons": [
            {
                "ssin": p.ssin,
                "role": p.role.value,
                "allowed": p.allowed,
                "rule": p.rule,
                "details": [encode_detail(d) for d in p.details],
                "satisfied_by": [encode_period(x) for x in p.satisfied_by],
                "missing_days": [encode_period(x) for x in p.missing_days],
            }
            for p in r.persons
        ],
        "integrations_made": [
            {"ssin": i.ssin, "code": i.code, "period": encode_period(i.period), "rule": i.rule}
            for i in r.integrations_made
        ],
        "provider_response": None if r.provider_response is None else r.provider_response.decode("utf-8"),
    }


def decode_flow(v: Mapping[str, Any]) -> FlowResult:
    return FlowResult(
        ticket=v["ticket"],
        summary=_decode_summary(v["summary"]),
        allowed=bool(v["allowed"]),
        details=tuple(decode_detail(d) for d in v["details"]),
        persons=tuple(
            PersonDecision(
                ssin=p["ssin"],
                role=Role(p["role"]),
                allowed=bool(p["allowed"]),
                rule=p["rule"],
                details=tuple(decode_detail(d) for d in p["details"]),
                satisfied_by=tuple(decode_period(x) for x in p["satisfied_by"]),
                missing_days=tuple(decode_period(x) for x in p["missing_days"]),
            )
            for p in v["persons"]
        ),
        integrations_made=tuple(
            PlannedIntegration(i["ssin"], int(i["code"]), decode_period(i["period"]), i["rule"])
            for i in v["integrations_made"]
        ),
        provider_response=None if v["provider_response"] is None else str(v["provider_response"]).encode("utf-8"),
    )

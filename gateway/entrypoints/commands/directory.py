"""The operator's questions to the directory, asked of the database directly: ``consult`` (who has integrated a
person) and ``check`` (would an institution be allowed a flow for these persons).

Invariant: both read through the application layer's queries (``DirectoryService.integrations``,
``AccessService.decide``): the same reads and the same domain decision as Consult and CheckAccess, but in no
institution's name, so nothing is written — no nonce, no Reference, no audit record (the operator holds the
database already; docs/operations.md says where such reading is traced). On a terminal or a pipe they print an
aligned table, with ``--json`` one JSON document; a malformed SSIN, an unknown flow or institution, an unusable
database is one line on standard error and exit code 2. ``check`` exits 0 when allowed, 1 when refused.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.entrypoints.commands.argtypes import day, enterprise_number, whole_number

if TYPE_CHECKING:
    from gateway.app.ports import Store
    from gateway.domain.access import AccessDecision, FlowPerson
    from gateway.domain.directory import Detail, Integration
    from gateway.domain.periods import Period

__all__ = ["handle_check", "handle_consult", "person", "raw_period", "register"]


def register(subparsers: Any) -> None:
    from gateway.domain.access import AIDS, REQUEST_DATES, Role
    from gateway.entrypoints.configuration import database_options
    from gateway.entrypoints.settings import DEFAULT_DB

    consult = subparsers.add_parser(
        "consult",
        help="list every institution's integrations of a person (read from the database, not audited)",
        description="List every institution's integrations of SSIN (institution, sector, quality code, period) "
        "that overlap the window --from .. --to (by default all of them), read from the database directly.",
    )
    consult.add_argument("ssin", metavar="SSIN")
    consult.add_argument("--from", dest="start", type=day, metavar="YYYY-MM-DD", help="first day of the window")
    consult.add_argument("--to", dest="end", type=day, metavar="YYYY-MM-DD", help="last day of the window (none)")
    consult.add_argument("--code", type=whole_number(0), metavar="CODE", help="only this quality code")
    consult.add_argument("--sector", type=whole_number(0), metavar="SECTOR", help="only institutions of this sector")
    consult.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    database_options(consult, DEFAULT_DB)
    consult.set_defaults(handler=handle_consult)

    roles = ", ".join(r.value for r in Role)
    check = subparsers.add_parser(
        "check",
        help="decide a flow for persons as CheckAccess would (read from the database, nothing written)",
        description="Decide whether institution --institution may send FLOW for the persons, as CheckAccess "
        "would, without any side effect: per person the rule, allowed or not, and the days missing. Exit code "
        "0 when allowed, 1 when refused, 2 for unusable arguments.",
    )
    check.add_argument("flow", metavar="FLOW")
    check.add_argument("persons", nargs="+", type=person, metavar="SSIN:ROLE", help=f"a person and role ({roles})")
    check.add_argument("--institution", required=True, type=enterprise_number, metavar="ID")
    for requested in REQUEST_DATES:
        flag = "--" + requested.attribute.replace("_", "-")
        if requested.kind is tuple:
            check.add_argument(flag, type=raw_period, metavar="FROM/TO", help=f"the {requested.name} (TO optional)")
        elif requested.kind is date:
            check.add_argument(flag, type=day, metavar="YYYY-MM-DD", help=f"the {requested.name}")
        elif requested.kind is int:
            check.add_argument(flag, type=whole_number(1, 9999), metavar="YEAR", help=f"the {requested.name}")
        else:
            check.add_argument(flag, choices=AIDS, help=f"the {requested.name}")
    check.add_argument("--today", type=day, metavar="YYYY-MM-DD", help="the gateway's day (today in Brussels)")
    check.add_argument("--flows", type=Path, metavar="FILE", help="an operator's flow catalogue, as serve --flows")
    check.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    database_options(check, DEFAULT_DB)
    check.set_defaults(handler=handle_check)


def person(text: str) -> FlowPerson:
    """``SSIN:ROLE``, the role in any case."""
    from gateway.domain.access import FlowPerson, Role

    ssin, colon, role = text.partition(":")
    names = ", ".join(r.value for r in Role)
    if not colon or role.upper() not in Role.__members__:
        raise argparse.ArgumentTypeError(f"{text!r} is not SSIN:ROLE with a role among {names}")
    return FlowPerson(ssin.strip(), Role(role.upper()))


def raw_period(text: str) -> tuple[date, date | None]:
    """``FROM/TO`` or ``FROM/`` (open); a period that ends before it starts is left for the decision to refuse."""
    start, _, end = text.partition("/")
    try:
        return day(start), (day(end) if end else None)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a period FROM/TO: {exc}") from exc


# -- shared -------------------------------------------------------------------------------------------------


def _fail(message: str) -> int:
    print(f"ksz-gateway: error: {message}", file=sys.stderr)
    return 2


def _with_store(url: str, work: Callable[[Store], int]) -> int:
    from gateway.adapters.storage import open_store
    from gateway.errors import GatewayError

    store = open_store(url)
    try:
        return work(store)
    except BrokenPipeError:
        raise
    except OSError as exc:
        return _fail(str(exc))
    except GatewayError as exc:
        return _fail(exc.message)
    finally:
        store.close()


def _bad_ssin(ssin: str) -> str | None:
    from gateway.domain.identifiers import check_ssin

    found = check_ssin(ssin)
    return None if found.valid else f"{ssin!r} is not a valid SSIN: {found.reason}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns aligned on the widest cell, two spaces apart, the last column unpadded."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = [str(c).ljust(w) for c, w in zip(cells[:-1], widths[:-1], strict=True)]
        return "  ".join([*padded, str(cells[-1])]).rstrip()

    return "\n".join([line(headers), *(line(r) for r in rows)])


def _period(period: Period) -> list[str | None]:
    return [period.start.isoformat(), period.end.isoformat() if period.end else None]


def _dump(document: Any) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


# -- consult ------------------------------------------------------------------------------------------------


def handle_consult(args: argparse.Namespace) -> int:
    from gateway.app.directory_service import DirectoryService
    from gateway.domain.periods import Period

    problem = _bad_ssin(args.ssin)
    if problem is not None:
        return _fail(problem)
    start: date = args.start or date.min
    if args.end is not None and args.end < start:
        return _fail(f"--to {args.end.isoformat()} lies before --from {start.isoformat()}")
    window = Period(start, args.end)

    def run(store: Store) -> int:
        found = DirectoryService(store, store.catalogue()).integrations(args.ssin, window, args.code, args.sector)
        if args.json:
            _dump(
                {
                    "ssin": args.ssin,
                    "window": _period(window),
                    "code": args.code,
                    "sector": args.sector,
                    "integrations": [_integration(i) for i in found],
                }
            )
            return 0
        if found:
            rows = [
                [i.institution.id, i.institution.name, str(i.institution.sector), f"{i.code:02d}", *_days(i.period)]
                for i in found
            ]
            print(table(["INSTITUTION", "NAME", "SECTOR", "CODE", "START", "END"], rows))
        over = "all days" if window == Period(date.min) else window.describe()
        print(f"{len(found)} integration(s) of {args.ssin} over {over}.")
        return 0

    return _with_store(args.db, run)


def _days(period: Period) -> list[str]:
    return [period.start.isoformat(), period.end.isoformat() if period.end else "(open)"]


def _integration(i: Integration) -> dict[str, Any]:
    return {
        "institution": {"id": i.institution.id, "name": i.institution.name, "sector": i.institution.sector},
        "code": i.code,
        "period": _period(i.period),
    }


# -- check --------------------------------------------------------------------------------------------------


def handle_check(args: argparse.Namespace) -> int:
    from gateway.app.access_service import AccessService
    from gateway.app.exchange import brussels_today
    from gateway.domain.access import REQUEST_DATES, FlowRequest
    from gateway.entrypoints.commands.serve import check_flow_catalogue

    for p in args.persons:
        problem = _bad_ssin(p.ssin)
        if problem is not None:
            return _fail(problem)
    flows = check_flow_catalogue(args.flows)
    if flows is None:
        return 2
    if flows.get(args.flow) is None:
        known = ", ".join(sorted(flows.flows))
        return _fail(f"no flow {args.flow!r} in the flow catalogue (flows: {known})")
    request = FlowRequest(
        flow=args.flow, persons=tuple(args.persons), **{d.attribute: getattr(args, d.attribute) for d in REQUEST_DATES}
    )
    today: date = args.today or brussels_today()

    def run(store: Store) -> int:
        with store.transaction() as tx:
            institution = tx.institution(args.institution)
        if institution is None:
            return _fail(f"no institution {args.institution}")
        service = AccessService(store, store.catalogue(), flows, today=lambda: today)
        decision = service.decide(institution, request)
        if args.json:
            _dump({**_decision_json(decision, institution.id, today), "enabled": institution.enabled})
        else:
            state = "" if institution.enabled else " (disabled: its requests are refused before any decision)"
            print(
                f"Flow {decision.flow_id} for institution {institution.id} ({institution.name}, sector "
                f"{institution.sector}){state} on {today.isoformat()}: {'ALLOWED' if decision.allowed else 'REFUSED'}"
            )
            rows = [
                [
                    p.ssin,
                    p.role.value,
                    p.rule,
                    "yes" if p.allowed else "no",
                    ", ".join(d.describe() for d in p.missing_days) or "-",
                    "; ".join(f"{d.reason}: {d.diagnostic}" for d in p.details) or "-",
                ]
                for p in decision.persons
            ]
            if rows:
                print(table(["SSIN", "ROLE", "RULE", "ALLOWED", "MISSING DAYS", "REASONS"], rows))
            for detail in decision.details:
                print(f"{detail.reason}: {detail.diagnostic}")
        return 0 if decision.allowed else 1

    return _with_store(args.db, run)


def _detail(d: Detail) -> dict[str, Any]:
    return {
        "severity": d.severity.value,
        "reason": d.reason,
        "diagnostic": d.diagnostic,
        "information": dict(d.information),
    }


def _decision_json(decision: AccessDecision, institution: str, today: date) -> dict[str, Any]:
    return {
        "flow": decision.flow_id,
        "institution": institution,
        "today": today.isoformat(),
        "allowed": decision.allowed,
        "persons": [
            {
                "ssin": p.ssin,
                "role": p.role.value,
                "rule": p.rule,
                "allowed": p.allowed,
                "satisfied_by": [_period(x) for x in p.satisfied_by],
                "missing_days": [_period(x) for x in p.missing_days],
                "details": [_detail(d) for d in p.details],
            }
            for p in decision.persons
        ],
        "details": [_detail(d) for d in decision.details],
    }

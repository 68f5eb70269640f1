"""The operator's view of failed authentications: ``security failures``, ``security blocked`` and ``security
unblock``; and the ``--auth-failures-...`` options ``serve`` and ``security blocked`` share.

Invariant: ``failures`` and ``blocked`` only read; ``blocked`` computes the throttles from the records exactly as
the serving processes do (``gateway.app.auth_guard.current_throttles``), with the numbers given by the same
options, so it shows what a server started with those options refuses; ``unblock`` clears records (kept, marked
cleared) and nothing else, and says how many. An unusable database is one line and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from gateway.entrypoints.commands.argtypes import seconds, whole_number
from gateway.entrypoints.settings import DEFAULT_DB, Settings

if TYPE_CHECKING:
    from gateway.app.auth_guard import ThrottlePolicy
    from gateway.app.ports import Store

__all__ = ["add_throttle_options", "register", "since", "throttle_settings"]

_DEFAULTS = Settings()
_DURATION = re.compile(r"([0-9]{1,9})([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def since(text: str) -> datetime:
    """``--since``: a duration back from now (``90s``, ``30m``, ``12h``, ``7d``) or an ISO date or time (UTC when
    it names no offset)."""
    found = _DURATION.fullmatch(text.strip())
    if found:
        return datetime.now(UTC) - timedelta(seconds=int(found.group(1)) * _UNIT[found.group(2)])
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a duration such as 30m, 12h or 7d nor a date or time such as 2015-01-10T08:00"
        ) from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def add_throttle_options(parser: argparse.ArgumentParser) -> None:
    """The ``--auth-failures-...`` options, bounded, their defaults those of ``Settings``."""
    options: list[tuple[str, Callable[[str], Any], float, str, str]] = [
        (
            "--auth-failures-window",
            whole_number(1, 7 * 24 * 3600),
            _DEFAULTS.auth_failures_window_seconds,
            "SECONDS",
            "failed authentications of one institution from one address are counted within this window",
        ),
        (
            "--auth-failures-soft",
            whole_number(1, 1000),
            _DEFAULTS.auth_failures_soft,
            "N",
            "from this many failures on, that pair waits a doubling delay before its next attempt is looked at",
        ),
        (
            "--auth-failures-hard",
            whole_number(1, 1000),
            _DEFAULTS.auth_failures_hard,
            "N",
            "from this many failures on, that pair is locked out (at least --auth-failures-soft)",
        ),
        (
            "--auth-failures-lockout",
            whole_number(1, 7 * 24 * 3600),
            _DEFAULTS.auth_failures_lockout_seconds,
            "SECONDS",
            "how long a locked-out pair, or an address over its limit, is refused",
        ),
        (
            "--auth-failures-address-limit",
            whole_number(1, 100_000),
            _DEFAULTS.auth_failures_address_limit,
            "N",
            "failures within the window from one address, over every institution, that lock that address out",
        ),
        (
            "--auth-failures-delay",
            seconds(0, 3600, above_low=True),
            _DEFAULTS.auth_failures_delay_seconds,
            "SECONDS",
            "the first delay past --auth-failures-soft, doubled for each further failure",
        ),
        (
            "--auth-failures-retention",
            whole_number(1, 3650),
            _DEFAULTS.auth_failures_retention_days,
            "DAYS",
            "failed authentications are kept this long, then deleted",
        ),
        (
            "--auth-failures-refresh",
            seconds(0, 60),
            _DEFAULTS.auth_failures_refresh_seconds,
            "SECONDS",
            "how often a worker reads the failures other workers recorded (0: before every attempt)",
        ),
    ]
    for flag, parse, default, metavar, text in options:
        shown = default if isinstance(default, int) else f"{default:g}"
        parser.add_argument(flag, type=parse, default=default, metavar=metavar, help=f"{text} ({shown})")


def throttle_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The ``Settings`` fields the ``--auth-failures-...`` options give."""
    return {
        "auth_failures_window_seconds": args.auth_failures_window,
        "auth_failures_soft": args.auth_failures_soft,
        "auth_failures_hard": args.auth_failures_hard,
        "auth_failures_lockout_seconds": args.auth_failures_lockout,
        "auth_failures_address_limit": args.auth_failures_address_limit,
        "auth_failures_delay_seconds": args.auth_failures_delay,
        "auth_failures_retention_days": args.auth_failures_retention,
        "auth_failures_refresh_seconds": args.auth_failures_refresh,
    }


def register(subparsers: Any) -> None:
    from gateway.entrypoints.configuration import database_options

    def db_option(p: argparse.ArgumentParser) -> None:
        database_options(p, DEFAULT_DB)

    security = subparsers.add_parser(
        "security",
        help="failed authentications on every front, and the addresses refused for them",
        description="Failed authentications (SOAP fronts and console logins) and the throttles they cause.",
    )
    actions = security.add_subparsers(dest="security_command", required=True, metavar="ACTION")
    failures = actions.add_parser("failures", help="list failed authentications, newest first")
    failures.add_argument("--institution", metavar="ID", help="only those claiming this institution (as sent)")
    failures.add_argument("--address", metavar="ADDRESS", help="only those from this address")
    failures.add_argument("--since", type=since, metavar="WHEN", help="only since then: 30m, 12h, 7d or an ISO time")
    failures.add_argument("--limit", type=whole_number(1), default=1000, metavar="N", help="at most N (1000)")
    failures.add_argument("--json", action="store_true", help="one JSON object per line")
    db_option(failures)
    failures.set_defaults(handler=handle_failures)

    blocked = actions.add_parser(
        "blocked", help="the institutions and addresses refused now (give the server's --auth-failures-... options)"
    )
    blocked.add_argument("--json", action="store_true", help="one JSON object per line")
    db_option(blocked)
    add_throttle_options(blocked)
    blocked.set_defaults(handler=handle_blocked)

    unblock = actions.add_parser(
        "unblock", help="forgive an address's failures (for one institution, or all): its attempts are looked at again"
    )
    unblock.add_argument("--address", required=True, metavar="ADDRESS", help="the address to forgive")
    unblock.add_argument("--institution", metavar="ID", help="only its failures for this institution (as claimed)")
    db_option(unblock)
    unblock.set_defaults(handler=handle_unblock)


def _with_store(url: str, work: Callable[[Store], int]) -> int:
    from gateway.adapters.storage import open_store
    from gateway.errors import GatewayError

    try:
        store = open_store(url)
    except (OSError, GatewayError) as exc:
        print(f"ksz-gateway: error: {exc}", file=sys.stderr)
        return 2
    try:
        store.upgrade()
        return work(store)
    except OSError as exc:
        print(f"ksz-gateway: error: {exc}", file=sys.stderr)
        return 2
    except GatewayError as exc:
        print(f"ksz-gateway: error: {exc.message}", file=sys.stderr)
        return 2
    finally:
        store.close()


def _stamp(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def handle_failures(args: argparse.Namespace) -> int:
    def run(store: Store) -> int:
        found = store.auth_failures(
            since=args.since, institution=args.institution, address=args.address, limit=args.limit
        )
        for f in found:
            if args.json:
                line = {
                    "at": _stamp(f.at),
                    "front": f.front,
                    "institution": f.institution,
                    "address": f.address,
                    "kind": f.kind,
                    "cleared": f.cleared,
                }
                print(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
            else:
                cleared = "  (cleared)" if f.cleared else ""
                claimed = f.institution or "-"
                print(f"{_stamp(f.at)}  {f.front:<11}  {f.address:<15}  {claimed:<12}  {f.kind}{cleared}")
        if not args.json:
            print(f"{len(found)} failed authentication(s).")
        return 0

    return _with_store(args.db, run)


def _policy(args: argparse.Namespace) -> ThrottlePolicy | None:
    from gateway.entrypoints.compose import throttle_policy

    try:
        return throttle_policy(Settings(**throttle_settings(args)))
    except ValueError as exc:
        print(f"ksz-gateway: error: the --auth-failures-... options contradict each other: {exc}", file=sys.stderr)
        return None


def handle_blocked(args: argparse.Namespace) -> int:
    from gateway.app.auth_guard import current_throttles

    policy = _policy(args)
    if policy is None:
        return 2

    def run(store: Store) -> int:
        now = datetime.now(UTC)
        held = current_throttles(store, policy, now)
        for t in held:
            if args.json:
                line = {
                    "address": t.address,
                    "institution": t.institution or None,
                    "reason": t.reason,
                    "failures": t.failures,
                    "until": _stamp(t.until),
                    "retry_after": t.retry_after(now),
                }
                print(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
            else:
                whom = t.institution or "(every institution)"
                print(
                    f"{t.address:<15}  {whom:<20}  {t.reason:<7}  until {_stamp(t.until)} (in {t.retry_after(now)} s), "
                    f"after {t.failures} failure(s)"
                )
        if not args.json:
            print(f"{len(held)} throttle(s) holding.")
        return 0

    return _with_store(args.db, run)


def handle_unblock(args: argparse.Namespace) -> int:
    def run(store: Store) -> int:
        cleared = store.clear_auth_failures(args.address, args.institution)
        whom = f" for {args.institution}" if args.institution else ""
        print(
            f"Cleared {cleared} failed authentication(s) from {args.address}{whom}: its attempts are looked at again."
        )
        return 0

    return _with_store(args.db, run)

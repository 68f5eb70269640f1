"""The ``provider`` command: a demo SOAP provider that flows can be forwarded to, run in the foreground.

Invariant: it only ever serves ``DemoProvider`` (acknowledge, fault or answer late), which keeps what it
received in memory only; it runs until interrupted, then closes its socket and says how many it took.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gateway.entrypoints.commands.argtypes import seconds, tcp_port

__all__ = ["register"]

MODES = ("ok", "fault", "slow")


def register(subparsers: Any) -> None:
    provider = subparsers.add_parser(
        "provider",
        help="run a demo SOAP provider that SendFlow can forward a flow's payload to",
        description=(
            "Run a demo SOAP 1.1 provider at http://HOST:PORT/provider, for demos and tests: it acknowledges each "
            "message (ok), answers a SOAP fault (fault), or acknowledges after --delay seconds (slow). Point a flow "
            'of a catalogue given to "serve --flows" at it with "provider": {"url": ...}.'
        ),
    )
    provider.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    provider.add_argument(
        "--port", type=tcp_port(zero_picks_free=True), default=8090, help="TCP port (8090; 0 picks a free one)"
    )
    provider.add_argument("--mode", choices=MODES, default="ok", help="how it answers (ok)")
    provider.add_argument(
        "--delay",
        type=seconds(0, 3600),
        default=5.0,
        metavar="S",
        help="seconds a slow provider waits before answering (5)",
    )
    provider.set_defaults(handler=handle_provider)


def handle_provider(args: argparse.Namespace) -> int:
    from gateway.tools.demo_provider import DemoProvider

    try:
        server = DemoProvider(args.host, args.port, mode=args.mode, delay=args.delay)
    except OSError as exc:
        print(f"Cannot listen on {args.host}:{args.port}: {exc.strerror or exc}.", file=sys.stderr)
        return 1
    how = {
        "ok": "acknowledges every message",
        "fault": "answers every message with a SOAP fault",
        "slow": f"acknowledges every message after {args.delay:g} s",
    }[args.mode]
    print(f"Demo provider at {server.url}: it {how}. Stop it with Ctrl-C.")
    print(f'In a flow catalogue for "serve --flows": "provider": {{"url": "{server.url}"}}')
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    print(f"Demo provider stopped; it acknowledged {len(server.received)} message(s).")
    return 0

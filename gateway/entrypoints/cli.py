"""The ``ksz-gateway`` command line: one sub-command per module of ``gateway.entrypoints.commands``.

Each module there has ``register(subparsers)``, which adds its sub-commands and sets ``handler`` to a function
``(args) -> exit code``; heavy imports happen inside the handlers, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]

COMMAND_MODULES = (
    "gateway.entrypoints.commands.serve",
    "gateway.entrypoints.commands.db",
    "gateway.entrypoints.commands.audit",
    "gateway.entrypoints.commands.tools",
    "gateway.entrypoints.commands.provider",
    "gateway.entrypoints.commands.certificates",
    "gateway.entrypoints.commands.security",
    "gateway.entrypoints.commands.keys",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ksz-gateway",
        description="A KSZ-style reference directory and access gateway (SOAP 1.1).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from gateway.errors import GatewayError

    args = build_parser().parse_args(list(argv) if argv is not None else sys.argv[1:])
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
    except GatewayError as exc:  # an unusable key file, a database away: one line, no traceback
        print(f"ksz-gateway: error: {exc.message}", file=sys.stderr)
        return 2

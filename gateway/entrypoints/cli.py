"""The ``ksz-gateway`` command line: one sub-command per module of ``gateway.entrypoints.commands``.

Each module there has ``register(subparsers)``, which adds its sub-commands and sets ``handler`` to a function
``(args) -> exit code``; heavy imports happen inside the handlers, so ``--help`` stays fast. A command that takes
``--config`` has its options layered over the configuration file and ``KSZ_GATEWAY_*`` variables first
(gateway.entrypoints.configuration); a mistake there is one line and exit code 2.

Invariant: like any Unix tool, a command whose reader goes away (``ksz-gateway audit | head``) ends quietly, with
exit code 141 (128 + SIGPIPE, what a shell reports for a tool the signal ended) and nothing on standard error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

__all__ = ["BROKEN_PIPE_EXIT", "build_parser", "main"]

COMMAND_MODULES = (
    "gateway.entrypoints.commands.serve",
    "gateway.entrypoints.commands.db",
    "gateway.entrypoints.commands.audit",
    "gateway.entrypoints.commands.tools",
    "gateway.entrypoints.commands.provider",
    "gateway.entrypoints.commands.certificates",
    "gateway.entrypoints.commands.security",
    "gateway.entrypoints.commands.keys",
    "gateway.entrypoints.commands.config",
    "gateway.entrypoints.commands.directory",
)
BROKEN_PIPE_EXIT = 141


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
    from gateway.entrypoints.configuration import SettingError, configure
    from gateway.errors import GatewayError

    arguments = list(argv) if argv is not None else sys.argv[1:]
    parser = build_parser()
    args = parser.parse_args(arguments)
    try:
        try:
            args = configure(parser, args, arguments)
        except SettingError as exc:
            print(f"ksz-gateway: error: {exc.message}", file=sys.stderr)
            return 2
        code = int(args.handler(args))
        sys.stdout.flush()  # here, not at exit, so that a reader gone away is noticed below
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Whatever is still buffered can go nowhere: point standard output at /dev/null, so that the flush at
        # exit does not fail again and print a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return BROKEN_PIPE_EXIT
    except GatewayError as exc:  # an unusable key file, a database away: one line, no traceback
        print(f"ksz-gateway: error: {exc.message}", file=sys.stderr)
        return 2

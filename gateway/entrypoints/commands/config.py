"""The operator's check of a configuration file: ``config check FILE``.

Invariant: the check reads the file and the ``KSZ_GATEWAY_*`` variables exactly as ``serve --config FILE`` would
(gateway.entrypoints.configuration), then the files the settings name (TLS, flow catalogue, password); it prints
the effective settings with where each came from, a secret never in clear, and exits 0 when ``serve`` would start
with them, 2 with the first mistake otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    config = subparsers.add_parser("config", help="check a configuration file")
    actions = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="check a configuration file and print the effective settings of serve (secrets masked)",
        description="Check FILE as 'ksz-gateway serve --config FILE' would read it, under the KSZ_GATEWAY_* "
        "variables of this environment, and print each setting with where it comes from. Exit code 0 when "
        "serve would start with them, 2 otherwise.",
    )
    check.add_argument("file", type=Path, metavar="FILE")
    check.set_defaults(handler=handle_check)


def _shown(name: str, value: Any) -> str:
    from gateway.entrypoints.configuration import is_secret, masked

    if is_secret(name, value):
        return '"***"'
    value = masked(value)
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple | list):
        return "[" + ", ".join(json.dumps(str(v)) for v in value) + "]"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return json.dumps(str(value))


def handle_check(args: argparse.Namespace) -> int:
    from gateway.entrypoints.cli import build_parser
    from gateway.entrypoints.commands.serve import _tls_problem, check_flow_catalogue
    from gateway.entrypoints.configuration import (
        SettingError,
        check_keys,
        effective,
        keys_of,
        read_config,
        resolve_password,
        serve_parser,
        unknown_variables,
    )

    serve = serve_parser(build_parser())
    keys = keys_of(serve)
    defaults = vars(serve.parse_args([]))
    try:
        config = read_config(args.file)
        check_keys(config, keys)
        layered = effective(keys, defaults, config, os.environ, {})
        resolve_password(argparse.Namespace(**layered.values), layered.sources)
    except SettingError as exc:
        print(f"ksz-gateway: error: {exc.message}", file=sys.stderr)
        return 2
    for warning in unknown_variables(os.environ, keys):
        print(f"ksz-gateway: warning: {warning}", file=sys.stderr)

    values = layered.values
    width = max(len(name) for name in keys)
    print(f"Effective settings of 'ksz-gateway serve --config {args.file}':")
    for name in keys:
        print(f"  {name:<{width}} = {_shown(name, values[name]):<40} # {layered.sources[name]}")
    problem = _tls_problem(values.get("certfile"), values.get("keyfile"), values.get("client_ca"))
    if problem is not None:
        print(f"ksz-gateway: error: {problem}.", file=sys.stderr)
        return 2
    flows = values.get("flows")
    if flows is not None and check_flow_catalogue(Path(flows)) is None:
        return 2
    print(f"{args.file}: serve would start with these settings.")
    return 0

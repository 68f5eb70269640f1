"""Tools for integrators: ``validate`` checks message files against the project's schemas."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("validate", help="check XML messages against xsd/, printing each error with path and line")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.set_defaults(handler=_validate)


def _validate(args: argparse.Namespace) -> int:
    from gateway.validate import check_file

    failed = 0
    for path in args.files:
        try:
            problems = check_file(path)
        except OSError as exc:
            print(f"{path}: cannot read: {exc.strerror}", file=sys.stderr)
            failed += 1
            continue
        if problems:
            failed += 1
            for problem in problems:
                print(f"{path}: {problem}")
        else:
            print(f"{path}: valid")
    print(f"{len(args.files) - failed} valid, {failed} invalid")
    return 1 if failed else 0

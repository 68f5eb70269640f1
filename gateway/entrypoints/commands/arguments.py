"""Argument types of the command line: each turns one word into a value, or says in one sentence why it cannot.

Invariant: a type raises only ``argparse.ArgumentTypeError``, whose message argparse prints as the error, so a
wrong argument stops the command before it opens or changes anything.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from typing import TypeVar

from gateway.domain.periods import parse_day

__all__ = ["bounded", "day"]

N = TypeVar("N", int, float)


def day(text: str) -> date:
    """A calendar day ``YYYY-MM-DD`` (``--today``, ...)."""
    try:
        return parse_day(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def bounded(kind: Callable[[str], N], low: N, high: N, what: str) -> Callable[[str], N]:
    """A number of ``kind`` from ``low`` to ``high``, both included; ``what`` names it in the error."""

    def parse(text: str) -> N:
        try:
            value = kind(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from exc
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not {what} (from {low:g} to {high:g})")
        return value

    parse.__name__ = what  # what argparse calls the type in its own messages
    return parse

"""The argument types the operator's commands share: whole numbers and seconds within bounds, TCP ports, days,
enterprise numbers, lists of proxy addresses and the metrics' path.

Invariant: each type returns a value within its bounds or raises ``argparse.ArgumentTypeError`` with a message
naming the form expected (argparse prints it after the option's name); none reads anything but its text.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import re
from collections.abc import Callable
from datetime import date

from gateway.domain.periods import parse_day

__all__ = [
    "address_list",
    "day",
    "enterprise_number",
    "is_enterprise_number",
    "metrics_path",
    "seconds",
    "tcp_port",
    "whole_number",
]


def whole_number(low: int, high: int | None = None, *, beyond: str = "") -> Callable[[str], int]:
    """A whole number from ``low`` to ``high`` (no upper bound for None); ``beyond`` explains the bounds."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from exc
        if value < low or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"{value} must be {bounds}{beyond}")
        return value

    return parse


def seconds(low: float, high: float, *, above_low: bool = False, beyond: str = "") -> Callable[[str], float]:
    """A number of seconds from ``low`` (excluded when ``above_low``) to ``high``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from exc
        too_low = value <= low if above_low else value < low
        if math.isnan(value) or too_low or value > high:
            bounds = f"more than {low:g} and at most {high:g}" if above_low else f"from {low:g} to {high:g}"
            raise argparse.ArgumentTypeError(f"{text} must be {bounds} seconds{beyond}")
        return value

    return parse


def tcp_port(*, zero_picks_free: bool = False) -> Callable[[str], int]:
    """A TCP port; 0 (the system picks a free one) only where ``zero_picks_free``."""
    if zero_picks_free:
        return whole_number(0, 65535, beyond=" (a TCP port; 0 picks a free one)")
    return whole_number(1, 65535, beyond=" (a TCP port)")


def day(text: str) -> date:
    """A calendar day ``YYYY-MM-DD`` (``--today``, ...), read as every other date of the project is."""
    try:
        return parse_day(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def is_enterprise_number(text: str) -> bool:
    """A Belgian enterprise number (KBO/BCE): 10 digits whose last two are 97 - (first eight mod 97)."""
    if len(text) != 10 or not text.isascii() or not text.isdigit():
        return False
    return 97 - (int(text[:8]) % 97) == int(text[8:])


def enterprise_number(text: str) -> str:
    if not is_enterprise_number(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an enterprise number: 10 digits, the last two being 97 - (first eight mod 97)"
        )
    return text


def address_list(text: str) -> tuple[str, ...]:
    """Comma-separated IP addresses or CIDR networks (host bits clear), or ``*`` for every address; as gunicorn's
    ``forwarded_allow_ips`` reads them. An empty text is the empty list."""
    items = tuple(item.strip() for item in text.split(",") if item.strip())
    for item in items:
        if item == "*":
            continue
        try:
            ipaddress.ip_network(item)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(
                f"{item!r} is not an IP address or a network such as 10.0.0.0/8 (host bits clear): {exc}"
            ) from exc
    return items


_PATH = re.compile(r"/[A-Za-z0-9._~-]+(?:/[A-Za-z0-9._~-]+)*")
# Paths the gateway serves already: the fronts (and all below them), the probes.
_TAKEN = ("/soap", "/connectors", "/console", "/health", "/ready")


def metrics_path(text: str) -> str:
    """Where the metrics are served: an absolute path of plain segments, none the gateway already serves."""
    if len(text) > 100 or not _PATH.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text[:100]!r} is not a path such as /metrics (segments of letters, digits, '.', '_', '~', '-')"
        )
    taken = next((t for t in _TAKEN if text == t or text.startswith(t + "/")), None)
    if taken is not None:
        raise argparse.ArgumentTypeError(f"{text} is served by the gateway already ({taken})")
    return text

"""What of a request may be written to a log: every value bounded in length, its control characters escaped, and
every SSIN in it masked to its first six digits (``850730*****``).

Invariant: ``shown(x)`` is at most ``limit`` characters (``MAX_SHOWN`` by default) plus a short marker saying how
much was cut, holds no control, format or line-separator character (each is written as ``\\x{NN}``, ``\\u{NNNN}``),
and no run of eleven digits, even one written with separators (``90.01.01-901.93``, ``900101 901 93``): a log
line cannot be flooded, split or forged by what a caller sent, and carries no national number in clear. Logs
travel further than the audit trail, which keeps the SSINs; the log keeps enough to find the audit record.

``masked_text`` is the formatter's last line of defence over a whole rendered line: there, only runs of eleven or
more digits standing alone are masked, since the gateway's own words hold addresses and numbers whose digits must
stay readable.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MAX_SHOWN", "MAX_TEXT", "escape", "mask_ssin", "mask_ssins", "masked_text", "shown", "shown_ticket"]

MAX_SHOWN = 200  # characters of one request-derived value in a log line
MAX_TEXT = 4000  # characters of one rendered message (a traceback is bounded separately)
_KEPT_DIGITS = 6
_MASK = "*****"

# Eleven or more digits, in groups joined by at most one separator each (a space, dot, dash or slash, the way a
# national number is written by hand or by a form, or a control or invisible character slipped in to hide one).
# Masking keeps the first six digits.
_WRITTEN_SSIN = re.compile(r"\d(?:[ ./\-\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]?\d){10,}")
# Eleven or more digits in a row, neither preceded nor followed by a letter or digit (not inside a ticket's hex).
_BARE_SSIN = re.compile(r"(?<![0-9A-Za-z])\d{11,}(?![0-9A-Za-z])")
# A Ticket the gateway made (``exchange.new_ticket``): ``KSZGW-`` and 30 random hex digits, which name an audit record.
_MINTED_TICKET = re.compile(r"KSZGW-[0-9a-f]{30}")
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _six(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return digits[:_KEPT_DIGITS] + _MASK


def mask_ssins(text: str) -> str:
    """``text`` with every run of eleven or more digits (separators allowed) masked to its first six digits."""
    return _WRITTEN_SSIN.sub(_six, text)


def mask_ssin(value: str) -> str:
    """A value that stands for an SSIN, masked: its first six digits and ``*****`` when it holds eleven digits or
    more (whatever surrounds them), else shown as any other value."""
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 11:
        return digits[:_KEPT_DIGITS] + _MASK
    return shown(value)


def masked_text(text: str) -> str:
    """A rendered log message with every standing-alone run of eleven or more digits masked."""
    return _BARE_SSIN.sub(_six, text)


def _escaped_char(char: str) -> str:
    # In braces, so that the hex digits of an escape never run on into digits beside it.
    code = ord(char)
    return f"\\x{{{code:02x}}}" if code < 0x100 else f"\\u{{{code:04x}}}"


def escape(text: str) -> str:
    """``text`` with every control, format, private, unassigned or line-separator character escaped."""
    if text.isprintable():
        return text
    return "".join(_escaped_char(c) if unicodedata.category(c) in _ESCAPED_CATEGORIES else c for c in text)


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """A request-derived value as a log may show it: SSINs masked, control characters escaped, at most ``limit``
    characters and, when cut, a marker of its whole length. Only the first ``4 * limit`` characters are ever
    looked at, so a megabyte costs no more than a short value."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit and text.isprintable() and _WRITTEN_SSIN.search(text) is None:
        return text  # the usual case: nothing to mask, escape or cut
    head = text[: 4 * limit + 32]  # beyond what is shown: a run of digits across the cut is still masked whole
    out = escape(mask_ssins(head))
    if len(out) <= limit and len(head) == len(text):
        return out
    return f"{out[:limit]}…({len(text)} chars)"


def shown_ticket(value: str) -> str:
    """A Ticket as a log shows it: one the gateway made, whole (its random hex holds eleven decimal digits in a row
    in about one Ticket in twenty, and they are no SSIN, and a masked Ticket no longer finds its audit record); any
    other value as ``shown`` shows it."""
    return value if _MINTED_TICKET.fullmatch(value) else shown(value, 64)

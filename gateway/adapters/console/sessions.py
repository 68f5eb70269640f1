"""The console's sessions: all of a session's data in one cookie, signed with HMAC-SHA256 by the server.

Invariant: a session is believed only when its cookie carries the server's signature over exactly its content,
was issued less than ``ABSOLUTE_SECONDS`` ago and was used less than ``IDLE_SECONDS`` ago; anything else is no
session at all. Nothing of a session is kept on the server: the institution, the household the worker typed,
the language and the days a refused CheckAccess found missing live in the signed cookie only (readable by the
browser that holds it, never by its scripts: the cookie is ``HttpOnly``), so every worker process of one server
reads it alike when they share the key. A session's CSRF token is derived from its random id with the same key,
so a token answers for one session only, and a secret's mark (also derived) ends every session of an institution
whose secret was rotated. A logout is remembered (``Revocations``) in the memory of the process that served it until
the session would have ended anyway: with one process (the default) a logged-out cookie is dead at once; with
several worker processes the others still take it until its idle time runs out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from gateway.domain.periods import Period, PeriodSet

__all__ = [
    "ABSOLUTE_SECONDS",
    "COOKIE_NAME",
    "IDLE_SECONDS",
    "MAX_COOKIE_BYTES",
    "Member",
    "Missing",
    "Revocations",
    "Session",
    "SessionCodec",
]

COOKIE_NAME = "ksz_console"
IDLE_SECONDS = 30 * 60  # a session unused this long has ended
ABSOLUTE_SECONDS = 12 * 60 * 60  # a session this old has ended, however busy
MAX_COOKIE_BYTES = 3800  # browsers keep 4096 bytes a cookie, attributes included
_VERSION = "v1"


@dataclass(frozen=True, slots=True)
class Member:
    """One member of the household the worker typed: an SSIN and the name the worker gave it."""

    ssin: str
    name: str


@dataclass(frozen=True, slots=True)
class Missing:
    """What the last refused CheckAccess found missing, per person: the timeline draws these days in red."""

    flow: str
    rule: str
    persons: tuple[tuple[str, PeriodSet], ...]

    def of(self, ssin: str) -> PeriodSet:
        return next((days for who, days in self.persons if who == ssin), ())


@dataclass(frozen=True, slots=True)
class Session:
    """A browser's session: anonymous (``institution is None``, before login) or an institution's."""

    sid: str
    issued: int  # epoch seconds
    seen: int
    lang: str = "en"
    institution: str | None = None
    secret_mark: str = ""
    household: tuple[Member, ...] = ()
    missing: Missing | None = None

    @classmethod
    def new(cls, now: int, lang: str = "en") -> Session:
        return cls(secrets.token_urlsafe(18), now, now, lang)

    def touched(self, now: int) -> Session:
        return replace(self, seen=now)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _periods(days: PeriodSet) -> list[list[str | None]]:
    return [[p.start.isoformat(), p.end.isoformat() if p.end else None] for p in days]


def _read_periods(raw: Any) -> PeriodSet:
    return tuple(Period(date.fromisoformat(s), date.fromisoformat(e) if e else None) for s, e in raw)


class SessionCodec:
    """Writes sessions into cookie values and reads them back, with ``key`` (at least 32 bytes)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the console's session key must have at least 32 bytes")
        self._key = key

    def _mac(self, purpose: str, text: str) -> str:
        return hmac.new(self._key, f"{purpose}\x00{text}".encode(), hashlib.sha256).hexdigest()

    def csrf_token(self, session: Session) -> str:
        """The token every form of ``session`` carries; no other session's forms are accepted with it."""
        return self._mac("csrf", session.sid)[:40]

    def csrf_ok(self, session: Session, token: str) -> bool:
        return hmac.compare_digest(self.csrf_token(session).encode(), token.encode("utf-8", "replace"))

    def secret_mark(self, institution_id: str, secret: str) -> str:
        """A mark of the institution's current secret: it changes when the secret is rotated."""
        return self._mac("secret", f"{institution_id}\x00{secret}")[:24]

    def encode(self, session: Session) -> str:
        content: dict[str, Any] = {
            "sid": session.sid,
            "iat": session.issued,
            "seen": session.seen,
            "lang": session.lang,
            "inst": session.institution,
            "mark": session.secret_mark,
            "hh": [[m.ssin, m.name] for m in session.household],
        }
        if session.missing is not None:
            content["miss"] = {
                "flow": session.missing.flow,
                "rule": session.missing.rule,
                "persons": [[ssin, _periods(days)] for ssin, days in session.missing.persons],
            }
        payload = _b64(json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode())
        body = f"{_VERSION}.{payload}"
        return f"{body}.{self._mac('session', body)}"

    def decode(self, value: str, now: int) -> Session | None:
        """The session ``value`` holds, or None: not ours, altered, malformed, idle too long or too old."""
        version, _, rest = value.partition(".")
        payload, _, mac = rest.partition(".")
        if version != _VERSION or not payload or not mac:
            return None
        if not hmac.compare_digest(self._mac("session", f"{version}.{payload}").encode(), mac.encode()):
            return None
        try:
            content = json.loads(_unb64(payload))
            session = Session(
                sid=str(content["sid"]),
                issued=int(content["iat"]),
                seen=int(content["seen"]),
                lang=str(content["lang"]),
                institution=None if content["inst"] is None else str(content["inst"]),
                secret_mark=str(content["mark"]),
                household=tuple(Member(str(s), str(n)) for s, n in content["hh"]),
                missing=None
                if "miss" not in content
                else Missing(
                    str(content["miss"]["flow"]),
                    str(content["miss"]["rule"]),
                    tuple((str(s), _read_periods(d)) for s, d in content["miss"]["persons"]),
                ),
            )
        except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError):
            return None  # signed by us, so only an older layout of the content: no session
        if now - session.seen > IDLE_SECONDS or now - session.issued > ABSOLUTE_SECONDS or session.seen > now + 60:
            return None
        return session


class Revocations:
    """The ids of sessions logged out in this process, each forgotten once it would have expired by itself."""

    def __init__(self, max_ids: int = 100_000) -> None:
        self._until: dict[str, int] = {}
        self._max = max_ids
        self._lock = threading.Lock()

    def revoke(self, session: Session) -> None:
        with self._lock:
            if len(self._until) >= self._max:
                self._prune(session.seen)
            if len(self._until) >= self._max:  # all still alive: the oldest are dropped first
                for sid in list(self._until)[: len(self._until) - self._max + 1]:
                    del self._until[sid]
            self._until[session.sid] = min(session.issued + ABSOLUTE_SECONDS, session.seen + IDLE_SECONDS)

    def revoked(self, session: Session, now: int) -> bool:
        with self._lock:
            until = self._until.get(session.sid)
            if until is not None and until < now:
                del self._until[session.sid]
                return False
            return until is not None

    def _prune(self, now: int) -> None:
        for sid in [sid for sid, until in self._until.items() if until < now]:
            del self._until[sid]
